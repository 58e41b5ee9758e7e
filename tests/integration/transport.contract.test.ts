// The transport contract (tests/support/transport-contract.ts) over every channel that carries
// the sync document, in Node: the in-memory network the simulator uses, our provider between
// two "tabs" (src/transport/ywebrtc/: Node's BroadcastChannel), and the always-on relay (a
// real relay on PGlite, src/sync/relay-sync.ts on both sides). The same cases run in Chromium
// between tabs (tests/e2e/transport-contract.spec.ts) and between browsers over WebRTC
// (tests/webrtc/transport-contract.spec.ts).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import * as Y from 'yjs';
import { startRelay } from '../../server/relay/relay.mjs';
import { createPrng } from '../../src/core/prng.ts';
import type { StorageClient } from '../../src/storage/client.ts';
import { LOCAL_ORIGIN } from '../../src/sync/doc.ts';
import { createMemoryRelayStore, createRelaySync } from '../../src/sync/relay-sync.ts';
import { createMemoryNetwork } from '../../src/transport/memory.ts';
import { createRelayConnection, type SocketLike } from '../../src/transport/relay.ts';
import { deriveRelayKeys } from '../../src/transport/relay-crypto.ts';
import { newSecret } from '../../src/transport/room.ts';
import { createTransport } from '../../src/transport/webrtc.ts';
import { contractRecord, TRANSPORT_CONTRACT, type ContractPair } from '../support/transport-contract.ts';

const cleanup: (() => void)[] = [];
afterEach(() => {
  for (const f of cleanup.splice(0)) f();
});

type Docs = { a: Y.Doc; b: Y.Doc };
/** The document half of a pair; writes are this device's own (LOCAL_ORIGIN: what the relay uploads). */
const docSide = (docs: Docs): Pick<ContractPair, 'set' | 'get' | 'fill' | 'size'> => ({
  set: (s, m, k, v) => Promise.resolve(docs[s].transact(() => void docs[s].getMap(m).set(k, v), LOCAL_ORIGIN)),
  get: (s, m, k) => Promise.resolve(docs[s].getMap(m).get(k)),
  fill: (s, m, n) =>
    Promise.resolve(
      docs[s].transact(() => {
        for (let i = 0; i < n; i++) docs[s].getMap(m).set(`r${i}`, contractRecord(i));
      }, LOCAL_ORIGIN),
    ),
  size: (s, m) => Promise.resolve(docs[s].getMap(m).size),
});
const wait = (ms: number) => (): Promise<void> => new Promise((r) => setTimeout(r, ms));

function memoryPair(): ContractPair {
  const net = createMemoryNetwork(createPrng('contract'));
  const docs = { a: new Y.Doc(), b: new Y.Doc() };
  net.join('a', docs.a);
  net.join('b', docs.b);
  return {
    ...docSide(docs),
    pauseB: () => Promise.resolve(net.isolate('b', true)),
    resumeB: () => {
      net.isolate('b', false);
      net.syncAll(); // what a reconnect's handshake does
      return Promise.resolve();
    },
    settle: async () => {
      net.deliver();
      await new Promise((r) => setTimeout(r, 0));
    },
  };
}

/** Our provider on both sides, tabs only (no signaling): BroadcastChannel in Node. */
async function tabsPair(): Promise<ContractPair> {
  const docs = { a: new Y.Doc(), b: new Y.Doc() };
  const room = `contract-${crypto.randomUUID()}`;
  const t = {
    a: createTransport({ doc: docs.a, room, password: 'contract', signaling: [], self: { device: crypto.randomUUID(), name: 'a' } }),
    b: createTransport({ doc: docs.b, room, password: 'contract', signaling: [], self: { device: crypto.randomUUID(), name: 'b' } }),
  };
  cleanup.push(() => {
    t.a.destroy();
    t.b.destroy();
  });
  for (let i = 0; i < 200 && !(t.a.connections().length > 0 && t.b.connections().length > 0); i++) await wait(10)();
  return { ...docSide(docs), pauseB: () => Promise.resolve(t.b.pause()), resumeB: () => Promise.resolve(t.b.resume()), settle: wait(20) };
}

let relayDir: string;
let relay: Awaited<ReturnType<typeof startRelay>>;
beforeAll(async () => {
  relayDir = mkdtempSync(join(tmpdir(), 'tabdrive-contract-relay-'));
  relay = await startRelay({ dataDir: relayDir, log: () => {} });
}, 120_000);
afterAll(async () => {
  await relay?.close();
  rmSync(relayDir, { recursive: true, force: true });
}, 60_000);

/** Two devices that only meet through the relay (relay-sync on each side, a real relay). */
async function relayPair(): Promise<ContractPair> {
  const keys = await deriveRelayKeys(newSecret());
  const docs = { a: new Y.Doc(), b: new Y.Doc() };
  const storage = { call: () => Promise.resolve({ ok: true, value: [] }) } as unknown as Pick<StorageClient, 'call'>;
  const side = (doc: Y.Doc, self: string) => {
    const conn = createRelayConnection({ url: `ws://127.0.0.1:${relay.port}`, handle: keys.handle, token: keys.token, WebSocketImpl: WebSocket as unknown as new (url: string) => SocketLike, minBackoffMs: 50, maxBackoffMs: 200 });
    const sync = createRelaySync({ conn, keys, doc, self, store: createMemoryRelayStore(), idle: () => Promise.resolve(), storage, marks: () => ({}), onMarks: () => {}, now: () => Date.now() });
    cleanup.push(() => {
      sync.destroy();
      conn.destroy();
    });
    return conn;
  };
  side(docs.a, crypto.randomUUID());
  const b = side(docs.b, crypto.randomUUID());
  return { ...docSide(docs), pauseB: () => Promise.resolve(b.setPaused(true)), resumeB: () => Promise.resolve(b.setPaused(false)), settle: wait(100) };
}

const pairs: [string, () => ContractPair | Promise<ContractPair>][] = [
  ['in-memory network', memoryPair],
  ['our provider between tabs (BroadcastChannel)', tabsPair],
  ['the relay', relayPair],
];
for (const [name, make] of pairs) {
  describe(`transport contract: ${name}`, () => {
    for (const c of TRANSPORT_CONTRACT) {
      it(c.name, async () => {
        await c.run(await make(), (v, what) => expect(v, what).toBe(true));
      }, 30_000);
    }
  });
}
