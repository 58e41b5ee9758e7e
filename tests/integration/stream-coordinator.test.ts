// The stream coordinator (src/sync/stream.ts) between real storage engines on the seeded hub:
// a backfill that loses its peer mid-way resumes from another peer where it stopped, and a
// peer that asks for everything again and again is refused after about two copies a minute.
import initSqlJs, { type SqlJsStatic } from 'sql.js';
import { IDBFactory } from 'fake-indexeddb';
import { beforeAll, describe, expect, it } from 'vitest';
import type { Fields, OwnedChange, SharedChange } from '../../src/core/change.ts';
import { createHlcClock } from '../../src/core/hlc.ts';
import { createPrng } from '../../src/core/prng.ts';
import { createInProcessStorage, type StorageClient } from '../../src/storage/client.ts';
import { createStorageEngine } from '../../src/storage/engine.ts';
import { createStream, type Stream } from '../../src/sync/stream.ts';
import { createMemoryHub } from '../../src/transport/stream-net.ts';
import { entryData, locationData, uuidFactory } from '../support/fixtures.ts';

let SQL: SqlJsStatic;
beforeAll(async () => {
  SQL = await initSqlJs();
});

const A = '0aaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa';
const B = '0bbbbbbb-bbbb-4bbb-8bbb-bbbbbbbbbbbb';
const C = '0ccccccc-cccc-4ccc-8ccc-cccccccccccc';
const ids = uuidFactory('coordinator');
let now = 1_760_000_000_000;

interface Node {
  readonly id: string;
  readonly storage: StorageClient;
  /** storage calls made and not yet answered */
  readonly outstanding: () => number;
  stream: Stream;
}

/** The engine's client, counting calls in flight: a page is applied (or served) only when its
 *  call has answered, after the engine's journal writes, which take a varying number of turns
 *  of the event loop (fake-indexeddb completes on setImmediate). */
function counted(inner: StorageClient): { storage: StorageClient; outstanding: () => number } {
  let n = 0;
  const storage: StorageClient = {
    call: async (method, params, transfer) => {
      n++;
      try {
        return await inner.call(method, params, transfer);
      } finally {
        n--;
      }
    },
    onHealth: (cb) => inner.onHealth(cb),
    settled: () => inner.settled(),
    terminate: () => inner.terminate(),
  };
  return { storage, outstanding: () => n };
}

async function node(id: string, hub: ReturnType<typeof createMemoryHub>, nodes: Node[], pageRows = 5): Promise<Node> {
  const engine = createStorageEngine({ sql: SQL, idb: new IDBFactory(), now: () => now, pageRows, imageDebounceMs: 1e9, imageMaxDelayMs: 1e9 });
  const { storage, outstanding } = counted(createInProcessStorage(engine));
  const boot = await storage.call('open', { dbName: id, deviceUuid: id });
  if (!boot.ok) throw new Error(boot.error.message);
  const n: Node = { id, storage, outstanding, stream: null as unknown as Stream };
  n.stream = createStream({
    self: id,
    storage,
    net: hub.join(id),
    peers: () => nodes.filter((x) => x !== n && hub.linked(id, x.id)).map((x) => ({ device: x.id, marks: x.stream.marks() })),
    announce: () => undefined,
    initial: boot.value.marks,
    now: () => now,
    tickMs: null,
  });
  nodes.push(n);
  return n;
}

/** Until no node has a storage call in flight, and still none a turn later (an answered call
 *  may start another: a served pull, the next page). Whatever the machine's load, what was
 *  delivered has then been applied, and its answers are in the hub. */
async function settle(nodes: readonly Node[]): Promise<void> {
  const until = Date.now() + 30_000;
  for (let idle = 0; idle < 2; ) {
    await new Promise((res) => setImmediate(res));
    idle = nodes.some((n) => n.outstanding() > 0) ? 0 : idle + 1;
    if (Date.now() > until) throw new Error('the nodes\' storage did not settle within 30 s');
  }
}

/** Pokes and delivers, letting the storage settle after each delivery, until two rounds in a
 *  row move nothing (so a poke came after the last page was applied); `stopAfter` cuts it short
 *  after that many messages (what they started has settled when it returns). */
async function pump(hub: ReturnType<typeof createMemoryHub>, nodes: Node[], rounds = 300, stopAfter = Infinity): Promise<number> {
  let delivered = 0;
  let quiet = 0;
  for (let r = 0; r < rounds && delivered < stopAfter && quiet < 2; r++) {
    for (const n of nodes) n.stream.poke();
    const moved = hub.deliver(Math.min(4, stopAfter - delivered));
    delivered += moved;
    await settle(nodes);
    quiet = !moved && !hub.pending() && !nodes.some((n) => n.stream.busy()) ? quiet + 1 : 0;
  }
  return delivered;
}

async function library(owner: Node, files: number): Promise<void> {
  const clock = createHlcClock({ device: owner.id, now: () => now });
  const loc = ids();
  const root = ids();
  const own = (model: OwnedChange['model'], uuid: string, data: Fields): OwnedChange => ({ kind: 'owned', model, owner: owner.id, uuid, hlc: clock.next(), data });
  const r = await owner.storage.call('commit', { changes: [own('location', loc, locationData(owner.id, 'Photos', root)), own('entry', root, entryData(loc, 'root', null, 'dir'))], hlc: null });
  if (!r.ok) throw new Error(r.error.message);
  const per = files > 500 ? 500 : 10;
  for (let i = 0; i < files; i += per) {
    const batch = Array.from({ length: Math.min(per, files - i) }, (_, k) => own('entry', ids(), entryData(loc, `f${i + k}.jpg`, root)));
    const w = await owner.storage.call('commit', { changes: batch, hlc: null });
    if (!w.ok) throw new Error(w.error.message);
    owner.stream.committed(w.value);
  }
}

const entries = async (n: Node): Promise<number> => {
  const r = await n.storage.call('query', { sql: 'SELECT count(*) AS n FROM entries', params: [] });
  return r.ok ? Number(r.value[0]!['n']) : -1;
};

describe('stream coordinator', () => {
  it('a forgotten owner is neither pulled, served nor applied; its own pushes are refused (I7)', async () => {
    const hub = createMemoryHub(createPrng('forget'));
    const nodes: Node[] = [];
    const a = await node(A, hub, nodes);
    const b = await node(B, hub, nodes);
    await library(a, 40);
    await pump(hub, nodes);
    expect(await entries(b)).toBe(41);
    // B applies the forget (the shared record, as the document brings it) and tells its stream
    const forget: SharedChange = { kind: 'shared', model: 'forgotten_device', uuid: A, hlc: createHlcClock({ device: B, now: () => now }).next(), op: 'insert', fields: { forgotten_by: B, forgotten_at: now } };
    const r = await b.storage.call('commit', { changes: [forget], hlc: null });
    expect(r.ok && r.value.tables).toEqual(expect.arrayContaining(['forgotten_devices', 'entries']));
    b.stream.forget([A]);
    expect(await entries(b)).toBe(0);
    expect(b.stream.marks()[A]).toBeUndefined();
    const served = await b.storage.call('servePages', { owner: A, after: 0, count: 4 });
    expect(served.ok && served.value).toEqual({ pages: [], held: 0 });
    // A, not told, writes more: its live pages and pulls reach B and are refused
    const refusedBefore = b.stream.stats.refused;
    await library(a, 10);
    await pump(hub, nodes);
    expect(await entries(b)).toBe(0);
    expect(b.stream.stats.refused).toBeGreaterThan(refusedBefore);
    // C knows of the forget from the start: it pulls nothing of A from anyone
    const c = await node(C, hub, nodes);
    c.stream.forget([A]);
    await pump(hub, nodes);
    expect(await entries(c)).toBe(0);
    expect(c.stream.stats.pagesIn).toBe(0);
    for (const n of nodes) n.stream.destroy();
  });

  it('a device serving a backfill says so between pulls, until the pulls have been quiet for a while (anti-entropy waits)', async () => {
    const hub = createMemoryHub(createPrng('serving'));
    const nodes: Node[] = [];
    const a = await node(A, hub, nodes);
    await library(a, 60);
    expect(a.stream.serving()).toBe(false); // live pushes to no one are not serving
    const b = await node(B, hub, nodes);
    await pump(hub, nodes);
    expect(await entries(b)).toBe(61);
    expect(a.stream.busy()).toBe(false); // nothing in progress right now …
    expect(a.stream.serving()).toBe(true); // … but a backfill was served a moment ago
    expect(b.stream.serving()).toBe(false); // the puller served nothing
    now += 9_000;
    expect(a.stream.serving()).toBe(true);
    now += 2_000;
    expect(a.stream.serving()).toBe(false);
    for (const n of nodes) n.stream.destroy();
  });

  it('a backfill whose peer goes away resumes where it stopped, from another peer', async () => {
    const hub = createMemoryHub(createPrng('resume'));
    const nodes: Node[] = [];
    const a = await node(A, hub, nodes);
    const b = await node(B, hub, nodes);
    await library(a, 120);
    await pump(hub, nodes);
    expect(await entries(b)).toBe(121);
    // C joins, linked only to B, and B vanishes after a few pages
    hub.setLink(A, C, false);
    const c = await node(C, hub, nodes);
    await pump(hub, nodes, 300, 6);
    const partial = await entries(c);
    expect(partial).toBeGreaterThan(0);
    expect(partial).toBeLessThan(121);
    const held = c.stream.marks()[A] ?? 0;
    hub.setLink(B, C, false);
    hub.setLink(A, C, true);
    const servedBefore = a.stream.stats.pagesOut;
    now += 30_000; // the quiet pull stalls and is planned again, from A
    await pump(hub, nodes);
    expect(await entries(c)).toBe(121);
    expect(c.stream.marks()[A]).toBe(a.stream.marks()[A]);
    expect(c.stream.stats.stalls).toBeGreaterThanOrEqual(1);
    // it went on from its watermark: A served only what C lacked
    expect(a.stream.stats.pagesOut - servedBefore).toBeLessThanOrEqual(Math.ceil((a.stream.marks()[A]! - held) / 5) + 1);
    for (const n of nodes) n.stream.destroy();
  });

  it('a location rewritten after its entries (a scan\'s totals) travels ahead with the first page: no entry waits for it (P6)', async () => {
    const hub = createMemoryHub(createPrng('ahead'));
    const nodes: Node[] = [];
    const a = await node(A, hub, nodes, 20);
    await library(a, 200);
    // the totals, last: the location's current row now has A's highest seq
    const loc = await a.storage.call('query', { sql: 'SELECT uuid, entry_uuid FROM locations', params: [] });
    if (!loc.ok) throw new Error(loc.error.message);
    const clock = createHlcClock({ device: A, now: () => now + 1000 });
    const totals = await a.storage.call('commit', { changes: [{ kind: 'owned', model: 'location', owner: A, uuid: String(loc.value[0]!['uuid']), hlc: clock.next(), data: { ...locationData(A, 'Photos', String(loc.value[0]!['entry_uuid'])), total_file_count: 200 } }], hlc: null });
    if (!totals.ok) throw new Error(totals.error.message);
    a.stream.committed(totals.value);
    hub.setLink(A, B, false); // no live pages: B pulls from the start
    const b = await node(B, hub, nodes, 20);
    hub.setLink(A, B, true);
    await pump(hub, nodes, 300, 3); // the first pull and its first pages only
    for (let i = 0; i < 200 && (b.stream.busy() || a.stream.busy()); i++) await new Promise((res) => setTimeout(res, 5));
    const q = async (sql: string) => {
      const r = await b.storage.call('query', { sql, params: [] });
      return r.ok ? Number(r.value[0]!['n']) : -1;
    };
    expect(await q('SELECT count(*) AS n FROM entries')).toBeGreaterThan(0);
    expect(await q('SELECT count(*) AS n FROM pending_owned')).toBe(0);
    expect(await q('SELECT total_file_count AS n FROM locations')).toBe(200);
    await pump(hub, nodes);
    expect(await entries(b)).toBe(201);
    expect(await q('SELECT count(*) AS n FROM pending_owned')).toBe(0);
    for (const n of nodes) n.stream.destroy();
  });

  it('a peer that answers with pages that do not decode is not asked again for a while: the rows come from another', async () => {
    const hub = createMemoryHub(createPrng('liar'));
    const nodes: Node[] = [];
    const a = await node(A, hub, nodes, 20);
    await library(a, 60);
    const H = '0ddddddd-dddd-4ddd-8ddd-dddddddddddd';
    const liar = hub.join(H); // claims to be far ahead on A's rows, answers every pull with garbage
    liar.onReceive((from, m) => {
      if (m[1] !== 1) return;
      const body = new Uint8Array(9 + 36 + 64);
      new DataView(body.buffer).setFloat64(0, 1000);
      body[8] = 1; // last of the reply
      body.set(new TextEncoder().encode(A), 9);
      crypto.getRandomValues(body.subarray(45));
      liar.send(from, new Uint8Array([1, 2, ...body]));
    });
    const c = await node(C, hub, nodes);
    const peersOfC = (): { device: string; marks: Record<string, number> }[] => [{ device: A, marks: a.stream.marks() }, { device: H, marks: { [A]: 1000 } }];
    c.stream.destroy();
    c.stream = createStream({ self: C, storage: c.storage, net: hub.join(C), peers: peersOfC, announce: () => undefined, initial: {}, now: () => now, tickMs: null });
    await pump(hub, nodes);
    expect(c.stream.stats.rejected).toBeGreaterThanOrEqual(1);
    expect(await entries(c)).toBe(61);
    expect(c.stream.marks()[A]).toBe(a.stream.marks()[A]);
    for (const n of nodes) n.stream.destroy();
  });

  it('a commit of more rows than a page holds is pushed as consecutive live pages, applied as they come', async () => {
    const hub = createMemoryHub(createPrng('big-commit'));
    const nodes: Node[] = [];
    const a = await node(A, hub, nodes);
    const b = await node(B, hub, nodes);
    const clock = createHlcClock({ device: A, now: () => now });
    const loc = ids();
    const root = ids();
    const changes: OwnedChange[] = [
      { kind: 'owned', model: 'location', owner: A, uuid: loc, hlc: clock.next(), data: locationData(A, 'One commit', root) },
      { kind: 'owned', model: 'entry', owner: A, uuid: root, hlc: clock.next(), data: entryData(loc, 'root', null, 'dir') },
      ...Array.from({ length: 2500 }, (_, i): OwnedChange => ({ kind: 'owned', model: 'entry', owner: A, uuid: ids(), hlc: clock.next(), data: entryData(loc, `f${i}.jpg`, root) })),
    ];
    const r = await a.storage.call('commit', { changes, hlc: null });
    if (!r.ok) throw new Error(r.error.message);
    expect(r.value.pages?.map((p) => [p.from, p.to])).toEqual([[0, 2000], [2000, 2502]]);
    a.stream.committed(r.value);
    await pump(hub, nodes);
    expect(await entries(b)).toBe(2501);
    expect(b.stream.stats.rejected).toBe(0);
    expect(b.stream.stats.gaps).toBe(0);
    for (const n of nodes) n.stream.destroy();
  });

  it('a peer that asks for everything again and again is refused after about two copies a minute', async () => {
    const hub = createMemoryHub(createPrng('greedy'));
    const nodes: Node[] = [];
    const a = await node(A, hub, nodes, 2000);
    await library(a, 3000); // 3,002 rows: 2 pages a copy
    const greedy = hub.join(B); // a raw net: PULLs from 0, as fast as it likes
    let pages = 0;
    greedy.onReceive((_from, m) => {
      if (m[1] === 2) pages++;
    });
    const pull = new Uint8Array([1, 1, ...new TextEncoder().encode(JSON.stringify({ o: A, a: 0, n: 4 }))]);
    for (let i = 0; i < 10; i++) {
      greedy.send(A, pull);
      hub.deliver();
      // wait for the answer (or the refusal) before asking again
      for (let k = 0; k < 50 && (a.stream.busy() || hub.pending()); k++) {
        await new Promise((res) => setTimeout(res, 10));
        hub.deliver();
      }
    }
    // a new device's backfill and a retry are served (2 × 3,002 rows + 2,000 of slack: 3 copies)
    expect(pages).toBeGreaterThanOrEqual(4);
    expect(pages).toBeLessThanOrEqual(6);
    expect(a.stream.stats.refused).toBeGreaterThanOrEqual(7);
    const capped = pages;
    now += 61_000; // the window passes
    greedy.send(A, pull);
    for (let i = 0; i < 100 && pages < capped + 2; i++) {
      hub.deliver();
      await new Promise((res) => setTimeout(res, 10));
    }
    expect(pages).toBe(capped + 2);
    a.stream.destroy();
  });
});
