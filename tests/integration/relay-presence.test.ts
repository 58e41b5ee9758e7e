// Presence through the relay (src/sync/relay-presence.ts) between two devices whose only path
// is a relay on PGlite in this process: each hears the other, a change of name or digest
// arrives, a device that goes away times out, and one whose relay drops hears nobody.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { startRelay } from '../../server/relay/relay.mjs';
import { createRelayPresence, type PresenceState, type RelayPresence } from '../../src/sync/relay-presence.ts';
import { createRelayConnection, type RelayConnection, type SocketLike } from '../../src/transport/relay.ts';
import { deriveRelayKeys, type RelayKeys } from '../../src/transport/relay-crypto.ts';
import { newSecret } from '../../src/transport/room.ts';

type Relay = Awaited<ReturnType<typeof startRelay>>;
const WS = WebSocket as unknown as new (url: string) => SocketLike;
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
async function until(cond: () => boolean, ms = 10_000): Promise<number> {
  const t0 = Date.now();
  while (!cond()) {
    if (Date.now() - t0 > ms) throw new Error(`condition not met in ${ms} ms: ${cond.toString().slice(0, 160)}`);
    await sleep(10);
  }
  return Date.now() - t0;
}

let dir: string;
let relay: Relay;
beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'tabdrive-relay-presence-'));
  relay = await startRelay({ dataDir: dir, log: () => {}, limits: { presenceMinIntervalMs: 100 } });
}, 120_000);
afterAll(async () => {
  await relay?.close();
  rmSync(dir, { recursive: true, force: true });
}, 60_000);

const UUID_A = '11111111-1111-4111-8111-111111111111';
const UUID_B = '22222222-2222-4222-8222-222222222222';

function device(keys: RelayKeys, state: { -readonly [K in keyof PresenceState]: PresenceState[K] }): { conn: RelayConnection; presence: RelayPresence; state: typeof state; changes: number } {
  const conn = createRelayConnection({ url: `ws://127.0.0.1:${relay.port}`, handle: keys.handle, token: keys.token, WebSocketImpl: WS, minBackoffMs: 50, maxBackoffMs: 200 });
  const d = { conn, state, changes: 0, presence: createRelayPresence({ conn, keys, self: () => state, now: () => Date.now(), intervalMs: 200, timeoutMs: 700 }) };
  d.presence.onChange(() => d.changes++);
  return d;
}

describe('presence through the relay', () => {
  it('devices reached only through the relay list each other, with their changes, and time out when gone', async () => {
    const keys = await deriveRelayKeys(newSecret());
    const a = device(keys, { device: UUID_A, name: 'Laptop', schema: 9, digest: null, busy: false });
    const b = device(keys, { device: UUID_B, name: 'Phone', schema: 9, digest: 'd1', busy: true });
    try {
      await until(() => a.presence.peers().length === 1 && b.presence.peers().length === 1);
      expect(a.presence.peers()).toEqual([{ device: UUID_B, name: 'Phone', path: 'relay', connected: true, synced: true, schema: 9 }]);
      expect(b.presence.states()[0]).toMatchObject({ device: UUID_A, name: 'Laptop', digest: null, busy: false });
      // messages keep coming, one per interval; changes arrive at the next one
      const sent = a.presence.stats.sent;
      a.state.name = 'Work laptop';
      // a digest as anti-entropy makes it: one `table=count:hash` per table
      a.state.digest = Array.from({ length: 14 }, (_, i) => `table_${i}=12345:0123456789abcdef`).join(';');
      await until(() => b.presence.states()[0]?.name === 'Work laptop');
      expect(b.presence.states()[0]?.digest).toBe(a.state.digest);
      expect(a.presence.stats.sent).toBeGreaterThan(sent);
      expect(a.presence.stats.invalid + b.presence.stats.invalid).toBe(0);
      // a's relay connection drops: from then a hears nobody (until it is back and b speaks)
      let heardWhenDropped = -1;
      a.conn.onState((s) => {
        if (s !== 'connected' && heardWhenDropped < 0) heardWhenDropped = a.presence.peers().length;
      });
      a.conn.drop();
      await until(() => heardWhenDropped >= 0, 2000);
      expect(heardWhenDropped).toBe(0);
      await until(() => a.presence.peers().length === 1, 5000);
      // a goes away: b lists it no more within the timeout (700 ms) and an interval
      a.presence.destroy();
      a.conn.destroy();
      const ms = await until(() => b.presence.peers().length === 0, 5000);
      expect(ms).toBeGreaterThan(200);
      expect(ms).toBeLessThan(2000);
    } finally {
      for (const d of [a, b]) {
        d.presence.destroy();
        d.conn.destroy();
      }
    }
  });

  it('another library hears nothing', async () => {
    const keys = await deriveRelayKeys(newSecret());
    const other = await deriveRelayKeys(newSecret());
    const a = device(keys, { device: UUID_A, name: 'Laptop', schema: null, digest: null, busy: false });
    const c = device(other, { device: UUID_B, name: 'Stranger', schema: null, digest: null, busy: false });
    try {
      await until(() => a.presence.stats.sent >= 3 && c.presence.stats.sent >= 3);
      expect(a.presence.peers()).toEqual([]);
      expect(c.presence.peers()).toEqual([]);
    } finally {
      for (const d of [a, c]) {
        d.presence.destroy();
        d.conn.destroy();
      }
    }
  });
});
