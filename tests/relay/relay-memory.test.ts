// Issue 12: "Relay memory ≤ 150 MB during 10 concurrent 100k catch-ups; no frame over 1 MiB".
// One library holding a 100k-entry library's worth of owned pages (52 pages of ~112 KiB, the
// size a real 100,000-entry library packs into; scripts/bench-relay.mjs measures that) and 80
// document updates is loaded into a relay process; then 10 protocol-level clients catch up at
// once, as the browser does (READ the log, OWNERS, then PAGE_GET with one pull in flight per
// owner), each checking every frame it receives (size, decoding, and every page decrypts to
// what was stored, in order, no range missing) and every frame it sends. The relay process's
// RSS (/proc/<pid>/status VmRSS) is sampled every 20 ms throughout, and must stay ≤ 150 MB on
// both engines. On PGlite (npm start's default) the database runs inside the relay's process,
// so its WASM engine is counted: the relay process started as `npm start` starts it
// (server/relay/launch.mjs) is the whole footprint.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { RelayClient } from '../../server/relay/client.mjs';
import { MAX_FRAME_BYTES, OP } from '../../server/relay/protocol.mjs';
import { decryptBlob, deriveRelayKeys, encryptBlob, ownerHandle, type RelayKeys } from '../../src/transport/relay-crypto.ts';
import { newSecret } from '../../src/transport/room.ts';
import { missingServers, startPostgres, startRedis, startRelayProcess, type Postgres, type Redis, type RelayProcess } from './support/servers.ts';

const CLIENTS = 10;
const PAGES = 52;
const PAGE_ROWS = 2000;
const PAGE_BYTES = 112 * 1024;
const UPDATES = 80;
const LIMIT_MB = 150;
const skipServers = missingServers();

function rssMB(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : NaN;
}

/** Samples a process's RSS every 20 ms until stopped; returns the maximum. */
function sampler(pid: number): { stop(): number } {
  let max = rssMB(pid);
  const t = setInterval(() => (max = Math.max(max, rssMB(pid))), 20);
  return {
    stop() {
      clearInterval(t);
      return Math.max(max, rssMB(pid));
    },
  };
}

interface Library {
  keys: RelayKeys;
  owner: string;
  /** page i's plaintext starts with its index; the rest is random (like deflated rows) */
  digests: string[];
  updates: number;
}

const hash = async (b: Uint8Array): Promise<string> => Buffer.from(await crypto.subtle.digest('SHA-256', b as Uint8Array<ArrayBuffer>)).toString('hex');

async function load(url: string): Promise<Library> {
  const keys = await deriveRelayKeys(newSecret());
  const owner = await ownerHandle(keys, '0190f00d-cafe-4bad-8bee-000000000001');
  const c = await RelayClient.connect(url);
  await c.auth(keys.handle, keys.token);
  const digests: string[] = [];
  for (let i = 0; i < PAGES; i++) {
    const plain = new Uint8Array(PAGE_BYTES);
    for (let o = 0; o < plain.length; o += 65536) crypto.getRandomValues(plain.subarray(o, Math.min(plain.length, o + 65536)));
    plain[0] = i;
    digests.push(await hash(plain));
    await c.putPage(keys.handle, owner, i * PAGE_ROWS, (i + 1) * PAGE_ROWS, await encryptBlob(keys, plain, `page:${owner}`));
  }
  for (let i = 0; i < UPDATES; i++) await c.append(keys.handle, `u-${i}`, await encryptBlob(keys, new TextEncoder().encode(`update ${i} `.repeat(80)), 'update'));
  c.close();
  return { keys, owner, digests, updates: UPDATES };
}

/** One device's catch-up over the protocol, checking every frame both ways. */
async function catchUp(url: string, lib: Library): Promise<{ framesIn: number; bytesIn: number; largestIn: number; largestOut: number }> {
  const { keys, owner } = lib;
  const c = await RelayClient.connect(url);
  const seen = { framesIn: 0, bytesIn: 0, largestIn: 0, largestOut: 0 };
  c.ws.on('message', (d: Buffer) => {
    seen.framesIn++;
    seen.bytesIn += d.length;
    seen.largestIn = Math.max(seen.largestIn, d.length);
  });
  const send = c.ws.send.bind(c.ws);
  c.ws.send = ((data: Uint8Array, ...rest: unknown[]) => {
    seen.largestOut = Math.max(seen.largestOut, data.byteLength);
    return (send as (...a: unknown[]) => void)(data, ...rest);
  }) as typeof c.ws.send;
  try {
    await c.auth(keys.handle, keys.token);
    await c.subscribe(keys.handle);
    const updates = await c.readAll(keys.handle, 0);
    expect(updates.map((u) => u.seq)).toEqual(Array.from({ length: lib.updates }, (_, i) => i + 1));
    for (const u of updates) await decryptBlob(keys, u.data, 'update');
    const owners = (await c.request(OP.OWNERS, { h: keys.handle })).meta['owners'];
    expect(owners).toEqual([[owner, PAGES * PAGE_ROWS]]);
    let after = 0;
    let i = 0;
    for (;;) {
      const r = await c.getPages(keys.handle, owner, after);
      for (const p of r.items) {
        expect([p.from, p.to]).toEqual([i * PAGE_ROWS, (i + 1) * PAGE_ROWS]);
        expect(await hash(await decryptBlob(keys, p.data, `page:${owner}`))).toBe(lib.digests[i]);
        after = p.to;
        i++;
      }
      if (!r.more) break;
    }
    expect(i).toBe(PAGES);
    expect(c.errors).toEqual([]);
    return seen;
  } finally {
    c.close();
  }
}

async function tenCatchUps(relay: RelayProcess, engine: string): Promise<{ before: number; max: number }> {
  const pid = relay.proc.pid!;
  const lib = await load(relay.url);
  const before = rssMB(pid);
  const s = sampler(pid);
  const t0 = performance.now();
  const results = await Promise.all(Array.from({ length: CLIENTS }, () => catchUp(relay.url, lib)));
  const ms = performance.now() - t0;
  const max = s.stop();
  const largestIn = Math.max(...results.map((r) => r.largestIn));
  const largestOut = Math.max(...results.map((r) => r.largestOut));
  const mib = results.reduce((a, r) => a + r.bytesIn, 0) / 1048576;
  console.log(
    `[figure] relay on ${engine}, ${CLIENTS} concurrent catch-ups of ${PAGES} pages (${((PAGES * PAGE_BYTES) / 1048576).toFixed(1)} MiB, 104,000 rows) + ${UPDATES} updates: ` +
      `${ms.toFixed(0)} ms, ${mib.toFixed(1)} MiB served; relay RSS ${before.toFixed(0)} MB before → max ${max.toFixed(0)} MB; largest frame in ${largestIn} B, out ${largestOut} B`,
  );
  expect(largestIn).toBeLessThanOrEqual(MAX_FRAME_BYTES);
  expect(largestOut).toBeLessThanOrEqual(MAX_FRAME_BYTES);
  const h = await relay.health();
  expect(h['slowConsumers']).toBe(0);
  expect(h['storeErrors']).toBe(0);
  return { before, max };
}

describe('relay memory: 10 concurrent 100k catch-ups', () => {
  const stop: (() => Promise<void> | void)[] = [];
  afterAll(async () => {
    for (const f of stop.reverse()) await f();
  }, 60_000);

  it('on PGlite: relay RSS ≤ 150 MB throughout; every page intact, no frame over 1 MiB', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tabdrive-relay-memory-'));
    stop.push(() => rmSync(dir, { recursive: true, force: true }));
    const relay = await startRelayProcess({ RELAY_DATA_DIR: dir, DATABASE_URL: '', REDIS_URL: '' });
    stop.push(() => relay.stop());
    const { max } = await tenCatchUps(relay, 'PGlite');
    expect(max).toBeLessThanOrEqual(LIMIT_MB);
    await relay.stop();
  }, 240_000);

  it.skipIf(skipServers)('on PostgreSQL + Redis: relay RSS ≤ 150 MB throughout; no frame over 1 MiB', async () => {
    const pg: Postgres = await startPostgres();
    stop.push(() => pg.stop());
    const redis: Redis = await startRedis();
    stop.push(() => redis.stop());
    const relay = await startRelayProcess({ DATABASE_URL: pg.url, REDIS_URL: redis.url });
    stop.push(() => relay.stop());
    const { max } = await tenCatchUps(relay, 'PostgreSQL');
    expect(max).toBeLessThanOrEqual(LIMIT_MB);
    await relay.stop();
  }, 240_000);
});
