// The browser's relay client (transport/relay.ts, sync/relay-sync.ts) against a real relay on
// PGlite in this process: the shared document's outbox, pull, live updates and no echo; the
// outbox across a relay restart; the relay as a stream peer (pages up, pulls answered).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import * as Y from 'yjs';
import { startRelay } from '../../server/relay/relay.mjs';
import { RelayClient } from '../../server/relay/client.mjs';
import type { StorageClient } from '../../src/storage/client.ts';
import { LOCAL_ORIGIN } from '../../src/sync/doc.ts';
import { createIdbRelayStore, createMemoryRelayStore, createRelaySync, RELAY_PEER, RELAY_ORIGIN, withMemoryFallback, type RelayStore, type RelaySync } from '../../src/sync/relay-sync.ts';
import { streamMessages } from '../../src/sync/stream.ts';
import { createRelayConnection, parseRelayUrl, type RelayConnection, type SocketLike } from '../../src/transport/relay.ts';
import { decryptBlob, deriveRelayKeys, ownerHandle, type RelayKeys } from '../../src/transport/relay-crypto.ts';
import { newSecret } from '../../src/transport/room.ts';

type Relay = Awaited<ReturnType<typeof startRelay>>;
const WS = WebSocket as unknown as new (url: string) => SocketLike;
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
async function until(cond: () => boolean | Promise<boolean>, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`condition not met in ${ms} ms: ${cond.toString().slice(0, 120)}`);
    await sleep(20);
  }
}

let dir: string;
let relay: Relay;
let port: number;
const cleanup: (() => void)[] = [];

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'tabdrive-relay-client-'));
  relay = await startRelay({ dataDir: dir, log: () => {} });
  port = relay.port;
}, 120_000);
afterEach(() => {
  for (const f of cleanup.splice(0)) f();
});
afterAll(async () => {
  await relay?.close();
  rmSync(dir, { recursive: true, force: true });
}, 60_000);

const UUID_A = '11111111-1111-4111-8111-111111111111';
const UUID_B = '22222222-2222-4222-8222-222222222222';

interface Device {
  doc: Y.Doc;
  sync: RelaySync;
  conn: RelayConnection;
  store: RelayStore;
  received: [string, Uint8Array][];
  marksMoved: number;
}

/** A device: a document, a connection, the relay sync; storage answers the devices table and serves `pages`. */
function device(keys: RelayKeys, self: string, o: { store?: RelayStore; doc?: Y.Doc; devices?: string[]; pages?: { from: number; to: number; bytes: Uint8Array }[]; url?: string } = {}): Device {
  const doc = o.doc ?? new Y.Doc();
  const conn = createRelayConnection({ url: o.url ?? `ws://127.0.0.1:${port}`, handle: keys.handle, token: keys.token, WebSocketImpl: WS, minBackoffMs: 50, maxBackoffMs: 200 });
  const store = o.store ?? createMemoryRelayStore();
  const pages = o.pages ?? [];
  const storage = {
    call: (method: string, p: { owner?: string; after?: number; count?: number }) => {
      if (method === 'query') return Promise.resolve({ ok: true, value: (o.devices ?? [UUID_A, UUID_B]).map((uuid) => ({ uuid })) });
      if (method === 'servePages') return Promise.resolve({ ok: true, value: { pages: pages.filter((x) => x.from >= (p.after ?? 0)).slice(0, p.count), held: pages.at(-1)?.to ?? 0 } });
      return Promise.reject(new Error(`unexpected storage call ${method}`));
    },
  } as unknown as Pick<StorageClient, 'call'>;
  const d: Device = { doc, conn, store, received: [], marksMoved: 0, sync: null as unknown as RelaySync };
  d.sync = createRelaySync({
    conn,
    keys,
    doc,
    self,
    store,
    idle: () => Promise.resolve(),
    storage,
    marks: () => ({ [self]: pages.at(-1)?.to ?? 0 }),
    onMarks: () => void d.marksMoved++,
    now: () => Date.now(),
  });
  d.sync.net.onReceive((from, m) => d.received.push([from, m]));
  cleanup.push(() => {
    d.sync.destroy();
    conn.destroy();
  });
  return d;
}
const write = (d: Device, key: string, value: string): void => d.doc.transact(() => void d.doc.getMap('shared').set(key, value), LOCAL_ORIGIN);
const connected = (d: Device): boolean => d.conn.stats.state === 'connected';

describe('shared document through the relay', () => {
  it('local updates are appended encrypted, the other device pulls and receives them live, nothing echoes', async () => {
    const keys = await deriveRelayKeys(newSecret());
    const a = device(keys, UUID_A);
    write(a, 'before', 'connect'); // written before the connection is up: the outbox keeps it
    await until(() => connected(a));
    write(a, 'tag-1', 'holiday');
    await a.sync.settled();
    expect(a.sync.status().outbox).toBe(0);

    const b = device(keys, UUID_B);
    await until(() => b.doc.getMap('shared').get('tag-1') === 'holiday');
    expect(b.doc.getMap('shared').get('before')).toBe('connect');
    // live: a's next edit reaches b without a reconnect
    write(a, 'tag-2', 'work');
    await until(() => b.doc.getMap('shared').get('tag-2') === 'work');
    // b's relay-applied updates never went back to the relay: its outbox held only its (empty) baseline
    await b.sync.settled();
    const before = b.sync.status().updatesUp;
    write(a, 'tag-3', 'x');
    await until(() => b.doc.getMap('shared').get('tag-3') === 'x');
    await b.sync.settled();
    expect(b.sync.status().updatesUp).toBe(before);

    // the relay holds ciphertext only: every stored blob decrypts with the library key, and no plaintext is in it
    const raw = await RelayClient.connect(`ws://127.0.0.1:${port}`);
    await raw.auth(keys.handle, keys.token);
    const all = await raw.readAll(keys.handle);
    raw.close();
    expect(all.length).toBeGreaterThanOrEqual(4);
    for (const it of all) {
      expect(Buffer.from(it.data).includes(Buffer.from('holiday'))).toBe(false);
      await decryptBlob(keys, it.data, 'update');
    }
  }, 30_000);

  it('updates applied from the relay carry RELAY_ORIGIN, and the cursor survives a restart of the device', async () => {
    const keys = await deriveRelayKeys(newSecret());
    const a = device(keys, UUID_A);
    await until(() => connected(a));
    for (let i = 0; i < 30; i++) write(a, `k${i}`, `v${i}`);
    await a.sync.settled();

    const store = createMemoryRelayStore();
    const docB = new Y.Doc();
    const origins = new Set<unknown>();
    docB.on('update', (_u: Uint8Array, origin: unknown) => origins.add(origin));
    const b = device(keys, UUID_B, { store, doc: docB });
    await until(() => docB.getMap('shared').get('k29') === 'v29');
    await b.sync.settled();
    expect(origins.has(RELAY_ORIGIN)).toBe(true);
    const cursor = b.sync.status().cursor;
    expect(cursor).toBeGreaterThan(0);
    b.sync.destroy();
    b.conn.destroy();
    // the same device again (same store, its document as it was): it reads only what came after its cursor
    write(a, 'late', 'yes');
    await a.sync.settled();
    const b2 = device(keys, UUID_B, { store, doc: docB });
    await until(() => docB.getMap('shared').get('late') === 'yes');
    await b2.sync.settled();
    expect(b2.sync.status().updatesDown).toBeLessThanOrEqual(2);
  }, 30_000);

  it('a relay that is down: writes wait in the outbox (IndexedDB) and drain when it is back', async () => {
    const keys = await deriveRelayKeys(newSecret());
    const down = mkdtempSync(join(tmpdir(), 'tabdrive-relay-client-down-'));
    let r2: Relay | null = await startRelay({ dataDir: down, log: () => {} });
    const url = `ws://127.0.0.1:${r2.port}`;
    const p = r2.port;
    try {
      const store = createIdbRelayStore(`tabdrive-relay-test-${Math.random()}`);
      const a = device(keys, UUID_A, { store, url });
      await until(() => connected(a));
      await a.sync.settled();
      await r2.close();
      r2 = null;
      await until(() => !connected(a), 20_000);
      for (let i = 0; i < 25; i++) write(a, `offline-${i}`, String(i));
      await until(async () => (await store.outboxSize()) === 25, 20_000);
      expect(a.sync.status().outbox).toBe(25);
      r2 = await startRelay({ dataDir: down, port: p, log: () => {} });
      await until(() => connected(a), 30_000);
      await until(() => a.sync.status().outbox === 0, 30_000);
      const b = device(keys, UUID_B, { url });
      await until(() => b.doc.getMap('shared').get('offline-24') === '24', 30_000);
    } finally {
      await r2?.close();
      rmSync(down, { recursive: true, force: true });
    }
  }, 120_000);

  it('the outbox is bounded: past its limit the whole state replaces it', async () => {
    const keys = await deriveRelayKeys(newSecret());
    const doc = new Y.Doc();
    const store = createMemoryRelayStore();
    // no relay at this address: nothing drains
    const conn = createRelayConnection({ url: 'ws://127.0.0.1:9', handle: keys.handle, token: keys.token, WebSocketImpl: WS, minBackoffMs: 1000, maxBackoffMs: 1000 });
    const sync = createRelaySync({ conn, keys, doc, self: UUID_A, store, idle: () => Promise.resolve(), storage: { call: () => Promise.resolve({ ok: true, value: [] }) } as unknown as Pick<StorageClient, 'call'>, marks: () => ({}), onMarks: () => undefined, now: () => Date.now(), outboxMax: 10 });
    cleanup.push(() => {
      sync.destroy();
      conn.destroy();
    });
    for (let i = 0; i < 25; i++) doc.transact(() => doc.getMap('shared').set(`k${i}`, i), LOCAL_ORIGIN);
    await until(async () => sync.status().outbox > 0 && (await store.outboxSize()) === sync.status().outbox);
    await sleep(100);
    expect(await store.outboxSize()).toBeLessThanOrEqual(10);
    // what is left holds every write
    const copy = new Y.Doc();
    for (const [, blob] of await store.outbox(100)) Y.applyUpdate(copy, await decryptBlob(keys, blob, 'update'));
    expect(copy.getMap('shared').get('k24')).toBe(24);
    expect(copy.getMap('shared').get('k0')).toBe(0);
  }, 20_000);
});

describe('a rotation (RS7)', () => {
  it('what the outbox still holds under the old handle is dropped, never sent to the new one; the new handle gets it all in the whole state', async () => {
    const before = await deriveRelayKeys(newSecret());
    const after = await deriveRelayKeys(newSecret());
    const doc = new Y.Doc();
    const store = createMemoryRelayStore();
    // under the old secret, with no relay reachable: the writes stay in the outbox
    const stuck = device(before, UUID_A, { store, doc, url: 'ws://127.0.0.1:9' });
    for (let i = 0; i < 5; i++) doc.transact(() => doc.getMap('shared').set(`old${i}`, i), LOCAL_ORIGIN);
    await until(async () => (await store.outboxSize()) === 5);
    stuck.sync.destroy();
    stuck.conn.destroy();
    // the device moved: the same database (store, document), the new secret, a live relay
    const moved = device(after, UUID_A, { store, doc });
    doc.transact(() => doc.getMap('shared').set('new', 1), LOCAL_ORIGIN);
    await until(() => moved.sync.status().outbox === 0 && moved.sync.status().updatesUp > 0, 30_000);
    await moved.sync.settled();
    // everything under the new handle opens with the new key, and holds the old writes too
    const client = await RelayClient.connect(`ws://127.0.0.1:${port}`);
    try {
      await client.auth(after.handle, after.token);
      const copy = new Y.Doc();
      for (const it of await client.readAll(after.handle)) Y.applyUpdate(copy, await decryptBlob(after, it.data, 'update'));
      expect(copy.getMap('shared').toJSON()).toEqual({ old0: 0, old1: 1, old2: 2, old3: 3, old4: 4, new: 1 });
    } finally {
      client.ws.close();
    }
    expect(moved.sync.status().undecryptable).toBe(0);
    expect(moved.sync.status().outboxDropped).toBe(5);
    // a restart under the same handle keeps its outbox
    moved.sync.destroy();
    moved.conn.destroy();
    doc.transact(() => doc.getMap('shared').set('later', 1), LOCAL_ORIGIN);
    const again = device(after, UUID_A, { store, doc, url: 'ws://127.0.0.1:9' });
    doc.transact(() => doc.getMap('shared').set('later2', 1), LOCAL_ORIGIN);
    await until(async () => (await store.outboxSize()) === 1);
    expect(again.sync.status().outboxDropped).toBe(0);
  }, 60_000);
});

describe('the relay URL', () => {
  it('is a ws: or wss: URL, nothing else', () => {
    expect(parseRelayUrl('ws://127.0.0.1:4445')).toBe('ws://127.0.0.1:4445/');
    expect(parseRelayUrl('wss://relay.example/x')).toBe('wss://relay.example/x');
    for (const bad of ['http://127.0.0.1:4445', 'javascript:alert(1)', '127.0.0.1:4445', '', 'ws//x']) expect(parseRelayUrl(bad)).toBeNull();
  });
});

describe('the outbox store', () => {
  it('goes on in memory when IndexedDB fails, keeping what it is given, and says so once', async () => {
    const broken: RelayStore = {
      get: () => Promise.reject(new Error('QuotaExceededError')),
      set: () => Promise.reject(new Error('QuotaExceededError')),
      del: () => Promise.reject(new Error('QuotaExceededError')),
      outbox: () => Promise.reject(new Error('QuotaExceededError')),
      outboxSize: () => Promise.reject(new Error('QuotaExceededError')),
    };
    const said: unknown[] = [];
    const s = withMemoryFallback(broken, (e) => said.push(e));
    await s.set('o:1', new Uint8Array([1]));
    await s.set('m:cursor', 5);
    expect(await s.outboxSize()).toBe(1);
    expect(await s.get('m:cursor')).toBe(5);
    await s.del(['o:1']);
    expect(await s.outbox(10)).toEqual([]);
    expect(said.length).toBe(1);
  });
});

describe('compaction by clients', () => {
  it('a caught-up device replaces a long log by an encrypted snapshot; a new device reads the snapshot, then the log after it', async () => {
    const keys = await deriveRelayKeys(newSecret());
    const doc = new Y.Doc();
    const conn = createRelayConnection({ url: `ws://127.0.0.1:${port}`, handle: keys.handle, token: keys.token, WebSocketImpl: WS });
    const storage = { call: () => Promise.resolve({ ok: true, value: [] }) } as unknown as Pick<StorageClient, 'call'>;
    const mk = (d: Y.Doc, c: RelayConnection, self: string) =>
      createRelaySync({ conn: c, keys, doc: d, self, store: createMemoryRelayStore(), idle: () => Promise.resolve(), storage, marks: () => ({}), onMarks: () => undefined, now: () => Date.now(), snapshotEvery: 20 });
    const a = mk(doc, conn, UUID_A);
    cleanup.push(() => {
      a.destroy();
      conn.destroy();
    });
    await until(() => conn.stats.state === 'connected');
    for (let i = 0; i < 30; i++) {
      doc.transact(() => void doc.getMap('shared').set(`k${i}`, i), LOCAL_ORIGIN);
      await a.settled();
    }
    await until(() => a.status().snapshotsUp >= 1);
    const compactedAt = a.status().compacted;
    expect(compactedAt).toBeGreaterThanOrEqual(20);
    doc.transact(() => void doc.getMap('shared').set('after', 'snapshot'), LOCAL_ORIGIN);
    await a.settled();

    const raw = await RelayClient.connect(`ws://127.0.0.1:${port}`);
    await raw.auth(keys.handle, keys.token);
    const log = await raw.read(keys.handle, 0);
    raw.close();
    expect(log.compacted).toBe(compactedAt);
    expect(log.items.every((x) => x.seq > compactedAt)).toBe(true);

    const docB = new Y.Doc();
    const connB = createRelayConnection({ url: `ws://127.0.0.1:${port}`, handle: keys.handle, token: keys.token, WebSocketImpl: WS });
    const b = mk(docB, connB, UUID_B);
    cleanup.push(() => {
      b.destroy();
      connB.destroy();
    });
    await until(() => docB.getMap('shared').get('after') === 'snapshot');
    expect(docB.getMap('shared').get('k0')).toBe(0);
    expect(docB.getMap('shared').get('k29')).toBe(29);
    expect(b.status().snapshotsDown).toBe(1);
    expect(b.status().updatesDown).toBeLessThan(15);
  }, 30_000);
});

describe('owned-state pages through the relay', () => {
  it("uploads this device's pages encrypted under its owner handle; another device sees the relay's marks and its pulls are answered", async () => {
    const keys = await deriveRelayKeys(newSecret());
    const te = new TextEncoder();
    const pages = [
      { from: 0, to: 2000, bytes: te.encode('page one') },
      { from: 2000, to: 4000, bytes: te.encode('page two') },
      { from: 4000, to: 4500, bytes: te.encode('page three') },
    ];
    const a = device(keys, UUID_A, { pages });
    await until(() => a.sync.status().pagesUp === 3);

    const raw = await RelayClient.connect(`ws://127.0.0.1:${port}`);
    await raw.auth(keys.handle, keys.token);
    const o = await ownerHandle(keys, UUID_A);
    const stored = await raw.getPages(keys.handle, o, 0);
    raw.close();
    expect(stored.items.map((p) => [p.from, p.to])).toEqual([[0, 2000], [2000, 4000], [4000, 4500]]);
    expect(Buffer.from(stored.items[0]!.data).includes(Buffer.from('page one'))).toBe(false);

    const b = device(keys, UUID_B);
    await until(() => (b.sync.peers()[0]?.marks[UUID_A] ?? 0) === 4500);
    expect(b.sync.peers()[0]?.device).toBe(RELAY_PEER);
    expect(b.marksMoved).toBeGreaterThan(0);
    // the stream's PULL, answered with PAGE messages (last flagged), decrypted
    const pull = new TextEncoder().encode(JSON.stringify({ o: UUID_A, a: 2000, n: 4 }));
    const msg = new Uint8Array(2 + pull.length);
    msg[0] = 1;
    msg[1] = 1;
    msg.set(pull, 2);
    expect(streamMessages.pull(msg)).toEqual({ owner: UUID_A, after: 2000, count: 4 });
    b.sync.net.send(RELAY_PEER, msg);
    await until(() => b.received.length === 2);
    const texts = b.received.map(([from, m]) => {
      expect(from).toBe(RELAY_PEER);
      expect(m[1]).toBe(2); // PAGE
      return new TextDecoder().decode(m.subarray(2 + 45));
    });
    expect(texts).toEqual(['page two', 'page three']);
    expect(b.received[1]![1][2 + 8]).toBe(1); // LAST
    // nothing after the top: NONE
    const none = new TextEncoder().encode(JSON.stringify({ o: UUID_A, a: 4500, n: 4 }));
    const m2 = new Uint8Array(2 + none.length);
    m2[0] = 1;
    m2[1] = 1;
    m2.set(none, 2);
    b.sync.net.send(RELAY_PEER, m2);
    await until(() => b.received.length === 3);
    expect(b.received[2]![1][1]).toBe(3); // NONE

    // live: a new page of a reaches b's marks through EV_PAGE
    pages.push({ from: 4500, to: 4600, bytes: te.encode('page four') });
    a.sync.committed();
    await until(() => (b.sync.peers()[0]?.marks[UUID_A] ?? 0) === 4600);
  }, 30_000);

  it('a pushed page that continues what this device holds is used as pushed (no pull); one that does not decrypt is counted and pulled', async () => {
    const keys = await deriveRelayKeys(newSecret());
    const te = new TextEncoder();
    const pages = [{ from: 0, to: 100, bytes: te.encode('page one') }];
    const a = device(keys, UUID_A, { pages });
    await until(() => a.sync.status().pagesUp === 1);
    const held: Record<string, number> = { [UUID_A]: 100 }; // b already applied page one
    const b2conn = createRelayConnection({ url: `ws://127.0.0.1:${port}`, handle: keys.handle, token: keys.token, WebSocketImpl: WS, minBackoffMs: 50, maxBackoffMs: 200 });
    const received: [string, Uint8Array][] = [];
    const b2 = createRelaySync({
      conn: b2conn,
      keys,
      doc: new Y.Doc(),
      self: UUID_B,
      store: createMemoryRelayStore(),
      idle: () => Promise.resolve(),
      storage: { call: (m: string) => (m === 'query' ? Promise.resolve({ ok: true, value: [{ uuid: UUID_A }, { uuid: UUID_B }] }) : Promise.resolve({ ok: true, value: { pages: [], held: 0 } })) } as unknown as Pick<StorageClient, 'call'>,
      marks: () => held,
      onMarks: () => undefined,
      now: () => Date.now(),
    });
    cleanup.push(() => {
      b2.destroy();
      b2conn.destroy();
    });
    b2.net.onReceive((from, m) => received.push([from, m]));
    await until(() => (b2.peers()[0]?.marks[UUID_A] ?? 0) === 100);
    pages.push({ from: 100, to: 150, bytes: te.encode('page two') }, { from: 150, to: 160, bytes: te.encode('page three') });
    a.sync.committed();
    await until(() => received.length === 2);
    for (const [from, m] of received) {
      expect(from).toBe(RELAY_PEER);
      expect(m[1]).toBe(2); // PAGE
      expect(m[2 + 8]).toBe(2); // LIVE: applied as a push, a gap makes the stream pull
    }
    expect(received.map(([, m]) => new TextDecoder().decode(m.subarray(2 + 45)))).toEqual(['page two', 'page three']);
    expect((b2.peers()[0]?.marks[UUID_A] ?? 0)).toBe(160);
    expect(b2.status().pagesDown).toBe(2); // and no PULL was sent to RELAY_PEER: no stream here asks
    expect(b2.status().pagesLive).toBe(2);

    // a page under a's owner handle that is not a's (a member with the write token, or a
    // broken relay): counted, not handed over; the relay's top still moves (the pull decides)
    const raw = await RelayClient.connect(`ws://127.0.0.1:${port}`);
    cleanup.push(() => raw.close());
    await raw.auth(keys.handle, keys.token);
    held[UUID_A] = 160;
    await raw.putPage(keys.handle, await ownerHandle(keys, UUID_A), 160, 170, crypto.getRandomValues(new Uint8Array(64)));
    await until(() => b2.status().undecryptable === 1);
    await until(() => (b2.peers()[0]?.marks[UUID_A] ?? 0) === 170);
    expect(received.length).toBe(2);
  }, 30_000);

  it('pages of an owner this device does not know yet wait until the devices table names it', async () => {
    const keys = await deriveRelayKeys(newSecret());
    const devices: string[] = [];
    const a = device(keys, UUID_A, { pages: [{ from: 0, to: 10, bytes: new Uint8Array([1, 2, 3]) }] });
    await until(() => a.sync.status().pagesUp === 1);
    const b = device(keys, UUID_B, { devices });
    await until(() => connected(b));
    await sleep(500);
    expect(b.sync.peers()[0]?.marks[UUID_A]).toBeUndefined();
    devices.push(UUID_A);
    // a new owner handle (another page) makes b look at its devices again
    const c = device(keys, '33333333-3333-4333-8333-333333333333', { pages: [{ from: 0, to: 5, bytes: new Uint8Array([4]) }] });
    await until(() => c.sync.status().pagesUp === 1);
    await until(() => (b.sync.peers()[0]?.marks[UUID_A] ?? 0) === 10);
  }, 30_000);

  it('paused: disconnected and no longer a peer; resumed: connected again', async () => {
    const keys = await deriveRelayKeys(newSecret());
    const a = device(keys, UUID_A);
    await until(() => connected(a));
    a.sync.net.setPaused(true);
    expect(a.conn.stats.state).toBe('offline');
    expect(a.sync.peers()).toEqual([]);
    await sleep(300);
    expect(a.conn.stats.state).toBe('offline');
    a.sync.net.setPaused(false);
    await until(() => connected(a));
  }, 20_000);
});
