// The relay on its embedded default — PGlite keeping its data in a folder, in-process fan-out
// and leases — in this process, with limits small enough to reach. Hostile clients included.
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { RelayClient } from '../../server/relay/client.mjs';
import { MAX_FRAME_BYTES, OP, VERSION, encodeFrame } from '../../server/relay/protocol.mjs';
import { openDb } from '../../server/relay/db.mjs';
import { startRelay } from '../../server/relay/relay.mjs';
import { decryptBlob, deriveRelayKeys, encryptBlob, ownerHandle, type RelayKeys } from '../../src/transport/relay-crypto.ts';
import { newSecret } from '../../src/transport/room.ts';
import { encodePresence, parsePresence } from '../../src/sync/relay-presence.ts';
import { sleep, until } from './support/servers.ts';

type Relay = Awaited<ReturnType<typeof startRelay>>;
const te = new TextEncoder();
const td = new TextDecoder();
const MARKERS = ['MARKER-', 'lib-0190beef-marker', 'Bobs-Phone', 'wedding-video.mp4'];
const LIMITS = {
  messagesPerSec: 300,
  messageBurst: 600,
  abuseDrops: 100,
  maxBadFrames: 8,
  authTimeoutMs: 1500,
  leaseMs: 2000,
  orphanAfterMs: 300,
  orphanSweepMs: 200,
  pollMs: 100,
  maxReassemblyBytesTotal: 6 * 1024 * 1024,
};

let dir: string;
let relay: Relay;
let url: string;
const open: RelayClient[] = [];

async function library(): Promise<RelayKeys> {
  const secret = newSecret();
  MARKERS.push(secret);
  return deriveRelayKeys(secret);
}
async function client(keys?: RelayKeys): Promise<RelayClient> {
  const c = await RelayClient.connect(url);
  open.push(c);
  if (keys) await c.auth(keys.handle, keys.token);
  return c;
}
const blob = (keys: RelayKeys, text: string): Promise<Uint8Array> => encryptBlob(keys, te.encode(text), 'update');

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'tabdrive-relay-pglite-'));
  relay = await startRelay({ dataDir: dir, limits: LIMITS, log: () => {} });
  url = `ws://127.0.0.1:${relay.port}`;
}, 120_000);

afterAll(async () => {
  for (const c of open) c.close();
  await relay?.close();
  rmSync(dir, { recursive: true, force: true });
}, 60_000);

describe('relay on PGlite: updates', () => {
  it('appends get consecutive seqs; retries (also concurrent ones) return the first seq and store nothing', async () => {
    const keys = await library();
    const c = await client(keys);
    const acks = await Promise.all(Array.from({ length: 200 }, async (_, i) => c.append(keys.handle, `u-${i}`, await blob(keys, `MARKER-${i}`))));
    expect(acks.map((a) => a.seq).sort((a, b) => a - b)).toEqual(Array.from({ length: 200 }, (_, i) => i + 1));
    // the same ids again, twice at once: same seqs, dup
    const again = await Promise.all(Array.from({ length: 40 }, (_, k) => c.append(keys.handle, `u-${k % 20}`, new Uint8Array([1]))));
    again.forEach((r, k) => expect(r).toEqual({ seq: acks[k % 20]!.seq, dup: true }));
    const all = await c.readAll(keys.handle, 0);
    expect(all.map((x) => x.seq)).toEqual(Array.from({ length: 200 }, (_, i) => i + 1));
    const bySeq = new Map(acks.map((a, i) => [a.seq, i]));
    for (const x of all) expect(td.decode(await decryptBlob(keys, x.data, 'update'))).toBe(`MARKER-${bySeq.get(x.seq)}`);
    // reads are paged and resume after a cursor
    const page = await c.read(keys.handle, 150, 20);
    expect(page.items.map((x) => x.seq)).toEqual(Array.from({ length: 20 }, (_, i) => 151 + i));
    expect(page.more).toBe(true);
    expect(page.last).toBe(200);
    expect((await c.read(keys.handle, 200)).items).toEqual([]);
  });

  it('an update over 1 MiB is sent in fragments, reassembled, stored and read back whole', async () => {
    const keys = await library();
    const c = await client(keys);
    const data = await encryptBlob(keys, new Uint8Array(3 * 1024 * 1024).map((_, i) => i & 255), 'update');
    const r = await c.append(keys.handle, 'big', data);
    const got = await c.read(keys.handle, 0);
    expect(got.items.length).toBe(1);
    expect(Buffer.from(got.items[0]!.data).equals(Buffer.from(data))).toBe(true);
    expect(r.seq).toBe(1);
    // over the per-update limit: refused with a reason, nothing stored
    await expect(c.append(keys.handle, 'huge', new Uint8Array(9 * 1024 * 1024))).rejects.toMatchObject({ code: 'bad_request' });
    expect((await c.read(keys.handle, 0)).last).toBe(1);
  });

  it('the first writer registers a handle; a wrong token is refused; reads and writes need the token', async () => {
    const keys = await library();
    const owner = await client();
    expect(await owner.auth(keys.handle, keys.token)).toEqual({ registered: true });
    expect(await (await client()).auth(keys.handle, keys.token)).toEqual({ registered: false });
    const thief = await client();
    await expect(thief.auth(keys.handle, 'cd'.repeat(32))).rejects.toMatchObject({ code: 'bad_token' });
    await expect(thief.append(keys.handle, 'x', new Uint8Array([1]))).rejects.toMatchObject({ code: 'unauthorized' });
    await expect(thief.read(keys.handle, 0)).rejects.toMatchObject({ code: 'unauthorized' });
    await expect(thief.subscribe(keys.handle)).rejects.toMatchObject({ code: 'unauthorized' });
    // guessing tokens gets the connection closed
    for (let i = 0; i < 3; i++) await thief.auth(keys.handle, `${i}f`.repeat(32)).catch(() => {});
    expect(await until(() => thief.closed !== null, 3000)).toBe(true);
  });
});

describe('relay on PGlite: owned-state pages and live fan-out', () => {
  it('pages are stored once per (owner, range), read after a watermark, listed per owner', async () => {
    const keys = await library();
    const c = await client(keys);
    const a = await ownerHandle(keys, 'device-a');
    const b = await ownerHandle(keys, 'device-b');
    const page = (o: string, i: number): Promise<Uint8Array> => encryptBlob(keys, te.encode(`MARKER-page-${o}-${i}`), `page:${o}`);
    for (let i = 0; i < 5; i++) expect((await c.putPage(keys.handle, a, i * 100 + 1, i * 100 + 100, await page(a, i))).dup).toBe(false);
    expect((await c.putPage(keys.handle, a, 1, 100, await page(a, 0))).dup).toBe(true);
    await c.putPage(keys.handle, b, 1, 7, await page(b, 0));
    const got = await c.getPages(keys.handle, a, 250);
    expect(got.items.map((p) => [p.from, p.to])).toEqual([
      [201, 300],
      [301, 400],
      [401, 500],
    ]);
    expect(td.decode(await decryptBlob(keys, got.items[0]!.data, `page:${a}`))).toBe(`MARKER-page-${a}-2`);
    const owners = await c.request(OP.OWNERS, { h: keys.handle });
    expect(owners.meta.owners).toEqual([[a, 500], [b, 7]].sort((x, y) => String(x[0]).localeCompare(String(y[0]))));
  });

  it('a reader that stops reading its socket does not hold up the replies of others (reads take turns after its socket drains)', async () => {
    const keys = await library();
    const o = await ownerHandle(keys, 'slow');
    const w = await client(keys);
    const big = new Uint8Array(700 * 1024);
    for (let i = 0; i < 8; i++) {
      for (let k = 0; k < big.length; k += 65536) crypto.getRandomValues(big.subarray(k, k + 65536));
      await w.putPage(keys.handle, o, i * 10, i * 10 + 10, await encryptBlob(keys, big, `page:${o}`));
    }
    const slow = await client(keys);
    const socket = (slow.ws as unknown as { _socket: { pause(): void; resume(): void } })._socket;
    socket.pause(); // reads nothing more: its replies pile up in the relay's socket buffer
    const asked = Array.from({ length: 40 }, () => slow.getPages(keys.handle, o, 0).catch(() => null));
    await sleep(300);
    // more than maxReadsInProgress (4) readers are served meanwhile, in full
    const others = await Promise.all(Array.from({ length: 6 }, async () => {
      const c = await client(keys);
      let after = 0;
      let n = 0;
      for (;;) {
        const r = await c.getPages(keys.handle, o, after);
        for (const p of r.items) {
          expect((await decryptBlob(keys, p.data, `page:${o}`)).length).toBe(big.length);
          after = p.to;
          n++;
        }
        if (!r.more) return n;
      }
    }));
    expect(others).toEqual([8, 8, 8, 8, 8, 8]);
    socket.resume();
    expect((await Promise.all(asked)).every((r) => r !== null && r.items.length > 0)).toBe(true);
  }, 60_000);

  it('subscribers get new updates and pages of their handle only, in order', async () => {
    const keys = await library();
    const other = await library();
    const w = await client(keys);
    const wOther = await client(other);
    const s = await client(keys);
    await s.auth(other.handle, other.token);
    const seen: string[] = [];
    s.onPush((p) => seen.push(p.op === OP.EV_UPDATE ? `u${String(p.meta.seq)}` : `p${String(p.meta.from)}`));
    await s.subscribe(keys.handle);
    for (let i = 0; i < 10; i++) await w.append(keys.handle, `s-${i}`, await blob(keys, `MARKER-${i}`));
    await w.putPage(keys.handle, await ownerHandle(keys, 'd'), 1, 10, await blob(keys, 'MARKER-page'));
    await wOther.append(other.handle, 'o-1', await blob(other, 'MARKER-other'));
    expect(await until(() => seen.length >= 11, 3000)).toBe(true);
    await sleep(100);
    expect(seen).toEqual([...Array.from({ length: 10 }, (_, i) => `u${i + 1}`), 'p1']);
  });
});

describe('relay on PGlite: presence', () => {
  it('is fanned out to the handle\'s other subscribers only, never stored, rate-limited and bounded', async () => {
    const keys = await library();
    const other = await library();
    const device = '0190f00d-cafe-4bad-8bee-0000000000a1';
    const [a, b, c, d] = [await client(keys), await client(keys), await client(keys), await client(other)];
    const got = new Map<RelayClient, Uint8Array[]>();
    for (const x of [a, b, c, d]) {
      got.set(x, []);
      x.onPush((p) => p.op === OP.EV_PRESENCE && got.get(x)!.push(p.payload));
    }
    for (const x of [a, b]) await x.subscribe(keys.handle);
    await d.subscribe(other.handle);
    // c is authenticated but not subscribed: it gets nothing
    const rows = async (): Promise<number> => {
      let n = 0;
      for (const t of ['relay_handles', 'relay_updates', 'relay_pages', 'relay_snapshots', 'relay_snapshot_chunks']) n += Number((await relay.store.db.query(`SELECT count(*) AS n FROM ${t}`)).rows[0]!['n']);
      return n;
    };
    const before = await rows();
    const state = { device, name: 'Bobs-Phone', schema: 9, digest: 'MARKER-digest', busy: false };
    const msg = await encodePresence(keys, state, Date.now());
    expect(await a.presence(keys.handle, msg)).toEqual({});
    expect(await until(() => got.get(b)!.length === 1, 3000)).toBe(true);
    await sleep(200);
    // not to its sender, another library, or a connection that did not subscribe
    expect([got.get(a)!.length, got.get(c)!.length, got.get(d)!.length]).toEqual([0, 0, 0]);
    const plain = await decryptBlob(keys, got.get(b)![0]!, 'presence');
    expect(parsePresence(plain, Date.now())).toEqual(state);
    expect(Buffer.from(got.get(b)![0]!).includes(Buffer.from('Bobs-Phone'))).toBe(false);
    // a second one within the interval is refused and counted; after it, accepted
    const refusedBefore = relay.stats().presenceRefused;
    await expect(a.presence(keys.handle, msg)).rejects.toMatchObject({ code: 'rate_limited' });
    expect(relay.stats().presenceRefused).toBe(refusedBefore + 1);
    // oversized, empty, and unauthenticated ones are refused
    await expect(b.presence(keys.handle, new Uint8Array(4097))).rejects.toMatchObject({ code: 'bad_request' });
    await expect(b.presence(keys.handle, new Uint8Array(0))).rejects.toMatchObject({ code: 'bad_request' });
    await expect(d.presence(keys.handle, msg)).rejects.toMatchObject({ code: 'unauthorized' });
    await sleep(1100);
    await a.presence(keys.handle, msg);
    expect(await until(() => got.get(b)!.length === 2, 3000)).toBe(true);
    // nothing of it reached the store
    expect(await rows()).toBe(before);
  });

  it('a message is checked field by field: wrong shapes, foreign uuids, stale times are not presence', () => {
    const now = Date.now();
    const ok = { v: 1, device: '0190f00d-cafe-4bad-8bee-0000000000a1', name: 'n', schema: null, digest: null, busy: true, at: now };
    const enc = (o: unknown): Uint8Array => te.encode(JSON.stringify(o));
    expect(parsePresence(enc(ok), now)).toEqual({ device: ok.device, name: 'n', schema: null, digest: null, busy: true });
    for (const bad of [
      { ...ok, v: 2 },
      { ...ok, device: 'not-a-uuid' },
      { ...ok, name: 'x'.repeat(201) },
      { ...ok, schema: 0 },
      { ...ok, schema: '3' },
      { ...ok, digest: 5 },
      { ...ok, digest: 'x'.repeat(2049) },
      { ...ok, busy: 'no' },
      { ...ok, at: now - 10 * 60_000 },
      [ok],
      null,
    ]) expect(parsePresence(enc(bad), now)).toBeNull();
    expect(parsePresence(new Uint8Array([0xff, 0xfe]), now)).toBeNull();
  });
});

describe('relay on PGlite: snapshots', () => {
  it('a leased, chunked upload commits atomically and drops only what it covers', async () => {
    const keys = await library();
    const c = await client(keys);
    for (let i = 0; i < 30; i++) await c.append(keys.handle, `c-${i}`, await blob(keys, `MARKER-${i}`));
    const begin = await c.request(OP.SNAP_BEGIN, { h: keys.handle, cursor: 20 });
    const snap = Number(begin.meta.snap);
    const lease = String(begin.meta.lease);
    // one compactor at a time
    await expect((await client(keys)).request(OP.SNAP_BEGIN, { h: keys.handle, cursor: 25 })).rejects.toMatchObject({ code: 'lease_held' });
    // a chunk without the lease is refused
    await expect(c.request(OP.SNAP_CHUNK, { h: keys.handle, snap, i: 0, lease: 'nope' }, new Uint8Array([1]))).rejects.toMatchObject({ code: 'lease_lost' });
    const chunks = await Promise.all([0, 1, 2].map((i) => encryptBlob(keys, te.encode(`MARKER-snapshot-${i}`), `snapshot:${i}`)));
    await c.request(OP.SNAP_CHUNK, { h: keys.handle, snap, i: 0, lease }, chunks[0]);
    await c.request(OP.SNAP_CHUNK, { h: keys.handle, snap, i: 2, lease }, chunks[2]);
    // a gap: refused, and nothing was dropped
    await expect(c.request(OP.SNAP_COMMIT, { h: keys.handle, snap, chunks: 3, lease })).rejects.toMatchObject({ code: 'incomplete' });
    expect((await c.read(keys.handle, 0)).items.length).toBe(30);
    await c.request(OP.SNAP_CHUNK, { h: keys.handle, snap, i: 1, lease }, chunks[1]);
    expect((await c.request(OP.SNAP_COMMIT, { h: keys.handle, snap, chunks: 3, lease })).meta.cursor).toBe(20);
    const r = await c.read(keys.handle, 0);
    expect(r.compacted).toBe(20);
    expect(r.items.map((x) => x.seq)).toEqual(Array.from({ length: 10 }, (_, i) => 21 + i));
    expect(r.snapshot).toMatchObject({ id: snap, cursor: 20, chunks: 3 });
    const info = await c.request(OP.SNAP_INFO, { h: keys.handle });
    expect(info.meta.snapshot).toMatchObject({ id: snap, cursor: 20 });
    const chunk1 = await c.request(OP.SNAP_READ, { h: keys.handle, snap, i: 1 });
    expect(td.decode(await decryptBlob(keys, chunk1.payload, 'snapshot:1'))).toBe('MARKER-snapshot-1');
    // the lease was released; an older snapshot than the current is refused
    await expect(c.request(OP.SNAP_BEGIN, { h: keys.handle, cursor: 15 })).rejects.toMatchObject({ code: 'stale_snapshot' });
    // a newer one replaces it, and the older snapshot's chunks go
    const b2 = await c.request(OP.SNAP_BEGIN, { h: keys.handle, cursor: 30 });
    await c.request(OP.SNAP_CHUNK, { h: keys.handle, snap: b2.meta.snap, i: 0, lease: b2.meta.lease }, chunks[0]);
    await c.request(OP.SNAP_COMMIT, { h: keys.handle, snap: b2.meta.snap, chunks: 1, lease: b2.meta.lease });
    await expect(c.request(OP.SNAP_READ, { h: keys.handle, snap, i: 1 })).rejects.toMatchObject({ code: 'not_found' });
    expect((await c.read(keys.handle, 0)).items).toEqual([]);
  });

  it('an interrupted upload is collected: its chunks go, and the next compactor can start', async () => {
    const keys = await library();
    const c = await client(keys);
    for (let i = 0; i < 5; i++) await c.append(keys.handle, `o-${i}`, await blob(keys, `MARKER-${i}`));
    const begin = await c.request(OP.SNAP_BEGIN, { h: keys.handle, cursor: 5 });
    await c.request(OP.SNAP_CHUNK, { h: keys.handle, snap: begin.meta.snap, i: 0, lease: begin.meta.lease }, new Uint8Array(1000));
    c.close(); // the uploader vanishes
    const count = async (): Promise<number> => Number((await relay.store.db.query('SELECT count(*) AS n FROM relay_snapshot_chunks WHERE snapshot_id = $1', [begin.meta.snap])).rows[0]!.n);
    expect(await count()).toBe(1);
    const t0 = Date.now();
    while ((await count()) > 0 && Date.now() - t0 < 5000) await sleep(100);
    expect(await count()).toBe(0);
    expect(relay.stats().orphansCollected).toBeGreaterThanOrEqual(1);
    // once the lease has lapsed another client compacts
    await sleep(LIMITS.leaseMs);
    const c2 = await client(keys);
    const b2 = await c2.request(OP.SNAP_BEGIN, { h: keys.handle, cursor: 5 });
    expect(Number(b2.meta.snap)).toBeGreaterThan(Number(begin.meta.snap));
  });
});

describe('relay on PGlite: hostile clients', () => {
  const raw = async (): Promise<{ ws: WebSocket; frames: Buffer[]; closed: Promise<number> }> => {
    const ws = new WebSocket(url);
    const frames: Buffer[] = [];
    ws.on('message', (d: Buffer) => frames.push(d));
    ws.on('error', () => {});
    const closed = new Promise<number>((r) => ws.on('close', (code) => r(code)));
    await new Promise((r) => ws.once('open', r));
    return { ws, frames, closed };
  };
  const errorCodes = (frames: Buffer[]): string[] =>
    frames.map((f) => {
      const metaLen = f.readUInt16BE(8);
      return String((JSON.parse(f.subarray(10, 10 + metaLen).toString()) as { code?: string }).code);
    });

  it('an oversized frame closes the connection (1009); the relay keeps serving', async () => {
    const before = relay.stats().oversizeFrames;
    const h = await raw();
    h.ws.send(new Uint8Array(MAX_FRAME_BYTES + 1));
    expect(await h.closed).toBe(1009);
    expect(relay.stats().oversizeFrames).toBe(before + 1);
    const keys = await library();
    expect((await (await client(keys)).append(keys.handle, 'ok', new Uint8Array([1]))).seq).toBe(1);
  });

  it('garbage, text frames and relay-only ops get error frames; enough of them close the connection', async () => {
    const h = await raw();
    h.ws.send(Buffer.from('{"type":"subscribe"}'));
    h.ws.send(new Uint8Array([1, 2, 3]));
    h.ws.send(encodeFrame(OP.OK, 5, {}));
    h.ws.send(encodeFrame(OP.APPEND, 6, { h: 'zz', id: '!' }, new Uint8Array([1])));
    await until(() => h.frames.length >= 4, 3000);
    expect(errorCodes(h.frames)).toEqual(['bad_frame', 'bad_frame', 'bad_op', 'bad_request']);
    for (let i = 0; i < 10; i++) h.ws.send(new Uint8Array([0x54, VERSION, 200, 0, 0, 0, 0, 0, 0, 0]));
    expect(await h.closed).toBe(1008);
  });

  it('a wrong protocol version gets an error naming the versions, then a close (1002)', async () => {
    const before = relay.stats().badVersion;
    const h = await raw();
    const f = encodeFrame(OP.PING, 1, {});
    f[1] = VERSION + 1;
    h.ws.send(f);
    expect(await h.closed).toBe(1002);
    expect(errorCodes(h.frames)).toEqual(['bad_version']);
    expect(relay.stats().badVersion).toBe(before + 1);
  });

  it('pages of other origins cannot connect; the app\'s loopback origins and non-browser clients can', async () => {
    const attempt = (origin?: string): Promise<string> =>
      new Promise((res) => {
        const ws = new WebSocket(url, origin ? { origin } : {});
        ws.on('open', () => (ws.close(), res('open')));
        ws.on('unexpected-response', (_req, r) => res(String(r.statusCode)));
        ws.on('error', () => res('error'));
      });
    expect(await attempt('https://evil.example')).toBe('403');
    expect(await attempt('null')).toBe('403');
    expect(await attempt('http://127.0.0.1:4173')).toBe('open');
    expect(await attempt('http://localhost:5173')).toBe('open');
    expect(await attempt()).toBe('open');
  });

  it('unauthenticated writes are refused; a connection that never authenticates is closed', async () => {
    const keys = await library();
    const c = await client();
    await expect(c.append(keys.handle, 'x', new Uint8Array([1]))).rejects.toMatchObject({ code: 'unauthorized' });
    await expect(c.putPage(keys.handle, 'ab'.repeat(16), 1, 2, new Uint8Array([1]))).rejects.toMatchObject({ code: 'unauthorized' });
    expect(await until(() => c.closed !== null, LIMITS.authTimeoutMs + 2000)).toBe(true);
    expect(c.closed?.code).toBe(1008);
  });

  it('a flood is refused, counted and cut off; fragment abuse is bounded; other clients are unaffected', async () => {
    const keys = await library();
    const good = await client(keys);
    const before = relay.stats();
    const heap0 = process.memoryUsage().heapUsed;
    const flood = await client(keys);
    const ping = encodeFrame(OP.PING, 0, {});
    for (let i = 0; i < 3000 && !flood.closed; i++) flood.sendRaw(ping);
    expect(await until(() => flood.closed !== null, 10_000)).toBe(true);
    expect(flood.closed?.code).toBe(1008);
    expect(flood.errors.some((e) => e.code === 'rate_limited')).toBe(true);
    const after = relay.stats();
    expect(after.rateLimited - before.rateLimited).toBeGreaterThanOrEqual(LIMITS.abuseDrops);
    expect(after.closedForAbuse).toBeGreaterThan(before.closedForAbuse);
    // fragments: many transfers opened and never finished are refused beyond the limit
    const frag = await client(keys);
    for (let x = 1; x <= 6; x++) frag.sendRaw(encodeFrame(OP.FRAG, x, { i: 0, n: 16 }, new Uint8Array(1000 * 1024)));
    await until(() => frag.errors.length >= 2, 5000);
    expect(frag.errors.map((e) => e.code)).toContain('too_many_transfers');
    // a fragment claiming a message larger than the limit
    frag.sendRaw(encodeFrame(OP.FRAG, 99, { i: 0, n: 100 }, new Uint8Array(10)));
    await until(() => frag.errors.length >= 3, 5000);
    expect(frag.errors.at(-1)?.code).toBe('bad_fragment');
    // partial messages of all connections together are bounded too
    const frag2 = await client(keys);
    for (let x = 1; x <= 3; x++) frag2.sendRaw(encodeFrame(OP.FRAG, x, { i: 0, n: 16 }, new Uint8Array(1000 * 1024)));
    await until(() => frag2.errors.length >= 1, 5000);
    expect(frag2.errors.map((e) => e.code)).toContain('busy');
    expect(relay.stats().reassemblyBytes).toBeLessThanOrEqual(LIMITS.maxReassemblyBytesTotal);
    frag.close();
    frag2.close();
    expect(await until(() => relay.stats().reassemblyBytes === 0, 3000)).toBe(true);
    // the good client was served throughout
    expect((await good.append(keys.handle, 'still-here', await blob(keys, 'MARKER-ok'))).dup).toBe(false);
    const heapMB = (process.memoryUsage().heapUsed - heap0) / 1048576;
    console.log(`[figure] relay (PGlite, in-process) after a 3,000-frame flood and fragment abuse: heap ${heapMB >= 0 ? '+' : ''}${heapMB.toFixed(1)} MB; counters rateLimited=${after.rateLimited} closedForAbuse=${after.closedForAbuse} badFrames=${relay.stats().badFrames}`);
    expect(heapMB).toBeLessThan(100);
  });
});

describe('relay on PGlite: the embedded default keeps its data', () => {
  it('stores only ciphertext under opaque handles (table scan), and a restart on the same folder keeps everything', async () => {
    const keys = await library();
    const c = await client(keys);
    const owner = await ownerHandle(keys, 'Bobs-Phone');
    for (let i = 0; i < 5; i++) await c.append(keys.handle, `k-${i}`, await blob(keys, `MARKER-lib-0190beef-marker wedding-video.mp4 #${i}`));
    await c.putPage(keys.handle, owner, 1, 5, await encryptBlob(keys, te.encode('MARKER-Bobs-Phone wedding-video.mp4'), `page:${owner}`));
    const q = relay.store.db;
    const tables = ['relay_handles', 'relay_updates', 'relay_pages', 'relay_snapshots', 'relay_snapshot_chunks'];
    let scanned = 0;
    for (const t of tables) {
      const rows = (await q.query(`SELECT * FROM ${t}`)).rows;
      for (const row of rows) {
        for (const v of Object.values(row)) {
          const bytes = v instanceof Uint8Array ? Buffer.from(v) : Buffer.from(String(v));
          scanned += bytes.length;
          for (const m of MARKERS) expect(bytes.includes(Buffer.from(m)), `${t} holds ${m}`).toBe(false);
        }
      }
    }
    console.log(`[figure] zero knowledge (PGlite): ${scanned} stored bytes scanned for ${MARKERS.length} markers: none found`);
    // restart on the same folder
    for (const x of open.splice(0)) x.close();
    await relay.close();
    relay = await startRelay({ dataDir: dir, limits: LIMITS, log: () => {} });
    url = `ws://127.0.0.1:${relay.port}`;
    const c2 = await client(keys);
    expect((await c2.readAll(keys.handle, 0)).map((x) => x.seq)).toEqual([1, 2, 3, 4, 5]);
    expect(await c2.append(keys.handle, 'k-2', new Uint8Array([1]))).toEqual({ seq: 3, dup: true });
    expect((await c2.getPages(keys.handle, owner, 0)).items.length).toBe(1);
  });

  it('refuses a data folder that is neither empty nor a store, touching nothing in it', async () => {
    const other = mkdtempSync(join(tmpdir(), 'tabdrive-relay-notastore-'));
    writeFileSync(join(other, 'notes.txt'), 'mine');
    await expect(openDb({ dataDir: other })).rejects.toThrow(/neither empty nor a relay store/);
    expect(readdirSync(other)).toEqual(['notes.txt']);
    expect(readFileSync(join(other, 'notes.txt'), 'utf8')).toBe('mine');
    rmSync(other, { recursive: true, force: true });
  });
});
