/**
 * The relay as one more peer (issue 12, client half; ARCHITECTURE "The always-on relay").
 * Both channels of ARCHITECTURE "Two channels" go through it, encrypted with the library's
 * blob key (transport/relay-crypto.ts); the relay sees opaque bytes under opaque handles.
 *
 * Shared document:
 *  RS1 Every update this device commits locally (LOCAL_ORIGIN, and write-backs, doc.ts D6) is encrypted into a durable
 *      outbox (IndexedDB) before it is sent, and leaves the outbox only when the relay
 *      acknowledged its APPEND (after the relay's store committed). Its id makes a retry
 *      idempotent. The outbox is bounded: past `outboxMax` entries it is replaced by one
 *      entry holding the whole document state (which contains every update it replaces).
 *  RS2 The first time a device meets a relay (per relay URL and library handle) it uploads
 *      its whole document state once: what it wrote before there was a relay is not lost
 *      to devices that only ever meet the relay. A relay whose log is behind this device's
 *      cursor lost its data: the device starts over (cursor 0, whole state again).
 *  RS3 Updates from the relay are applied with RELAY_ORIGIN, so the sync engine commits them
 *      like any remote update and they never enter the outbox (no echo). The cursor (the
 *      relay's seq up to which this device applied everything) is persisted only once those
 *      updates are committed to this device's database (engine idle).
 *  RS4 Document work is serialized (one lane): a pull, a live push, a reconnect's pull and a
 *      compaction never interleave, so the cursor only grows through contiguous seqs.
 *  RS5 Compaction by clients: a device that has applied the whole log (cursor = last), with an
 *      empty outbox, uploads its document state as an encrypted snapshot covering its cursor
 *      once the log holds `snapshotEvery` updates after the last snapshot — under the relay's
 *      lease, so one device at a time. A device whose cursor is below the relay's compacted
 *      seq reads the snapshot first, then the log after it.
 *  RS7 An outbox entry goes only to the handle it was sealed for. The outbox belongs to the
 *      device's database, which outlives a rotation (sync/rotation.ts): what it still holds
 *      under another handle, sealed with that secret's key, is dropped when the relay sync
 *      starts (counted, `outboxDropped`) — never sent where no member could open it. Its
 *      content is in the document, which RS2 uploads whole at the new handle's first meeting.
 *
 * Owned state (the stream, sync/stream.ts): the relay is a pseudo-peer, RELAY_PEER. Its
 * "announced" watermarks are the relay's per-owner tops (OWNERS, then EV_PAGE pushes), mapped
 * back from owner handles to the device uuids this device knows; the stream plans pulls from
 * it like from any peer (a real peer as far ahead wins: RELAY_PEER sorts last), and its PULLs
 * become PAGE_GET, answered with decrypted pages. This device uploads its own pages from its
 * database after the relay's top for it (the database is the outbox: pages can always be
 * read again), after every local commit and on every connect. A page the relay pushes live
 * (EV_PAGE) that continues what this device holds is used as it is (RS6), not pulled again.
 */
import * as Y from 'yjs';
import { createStore, type UseStore } from 'idb-keyval';
import { isOwnOrigin } from './doc.ts';
import { streamMessages } from './stream.ts';
import type { Marks } from '../core/stream.ts';
import type { StorageClient } from '../storage/client.ts';
import { listeners, type NetCounters, type StreamNet } from '../transport/stream-net.ts';
import { OP, type RelayConnection, type RelayPush } from '../transport/relay.ts';
import { decryptBlob, encryptBlob, ownerHandle, type RelayKeys } from '../transport/relay-crypto.ts';

export const RELAY_ORIGIN = 'tabdrive:relay';
/** The relay's address in the stream: the highest uuid, so planPulls prefers any device as far ahead. */
export const RELAY_PEER = 'ffffffff-ffff-4fff-bfff-ffffffffffff';
const OUTBOX = 'o:';
/** the handle the outbox's entries are sealed for (RS7) */
const SEALED_FOR = 'm:sealed-for';
const OUTBOX_MAX = 1000;
const APPEND_WINDOW = 16;
const PAGE_BATCH = 4;
/** a page pull answered this recently means the stream is pulling from the relay */
const PAGE_ACTIVE_MS = 2000;
const SNAPSHOT_EVERY = 1000;
const SNAPSHOT_CHUNK = 512 * 1024;

/** Where the outbox and the cursor live: IndexedDB in the browser, a Map in tests. */
export interface RelayStore {
  get(key: string): Promise<unknown>;
  set(key: string, value: unknown): Promise<void>;
  del(keys: readonly string[]): Promise<void>;
  /** the outbox, oldest first (keys sort by time), at most `limit` entries */
  outbox(limit: number): Promise<[string, Uint8Array][]>;
  outboxSize(): Promise<number>;
}

export function createMemoryRelayStore(): RelayStore & { readonly map: Map<string, unknown> } {
  const map = new Map<string, unknown>();
  const outboxKeys = (): string[] => [...map.keys()].filter((k) => k.startsWith(OUTBOX)).sort();
  return {
    map,
    get: (k) => Promise.resolve(map.get(k)),
    set: (k, v) => Promise.resolve(void map.set(k, v)),
    del: (ks) => Promise.resolve(ks.forEach((k) => map.delete(k))),
    outbox: (limit) => Promise.resolve(outboxKeys().slice(0, limit).map((k): [string, Uint8Array] => [k, map.get(k) as Uint8Array])),
    outboxSize: () => Promise.resolve(outboxKeys().length),
  };
}

/**
 * IndexedDB that fails (some private windows, a full disk) must not stop the relay: the store
 * goes on in memory for the tab's life, and says so once.
 */
export function withMemoryFallback(primary: RelayStore, onFallback: (e: unknown) => void): RelayStore {
  const memory = createMemoryRelayStore();
  let use: RelayStore = primary;
  const run = async <T>(fn: (s: RelayStore) => Promise<T>): Promise<T> => {
    if (use === memory) return fn(memory);
    try {
      return await fn(use);
    } catch (e) {
      use = memory;
      onFallback(e);
      return fn(memory);
    }
  };
  return {
    get: (k) => run((s) => s.get(k)),
    set: (k, v) => run((s) => s.set(k, v)),
    del: (ks) => run((s) => s.del(ks)),
    outbox: (limit) => run((s) => s.outbox(limit)),
    outboxSize: () => run((s) => s.outboxSize()),
  };
}

export function createIdbRelayStore(name: string): RelayStore {
  const store: UseStore = createStore(name, 'kv');
  const req = <T>(r: IDBRequest<T>): Promise<T> =>
    new Promise((res, rej) => {
      r.onsuccess = () => res(r.result);
      r.onerror = () => rej(r.error ?? new Error('IndexedDB request failed'));
    });
  const range = (): IDBKeyRange => IDBKeyRange.bound(OUTBOX, `${OUTBOX}\uffff`);
  return {
    get: (k) => store('readonly', (s) => req(s.get(k))),
    set: (k, v) => store('readwrite', (s) => req(s.put(v, k)).then(() => undefined)),
    del: (ks) => store('readwrite', async (s) => void (await Promise.all(ks.map((k) => req(s.delete(k)))))),
    outbox: (limit) =>
      store('readonly', async (s) => {
        const [keys, values] = await Promise.all([req(s.getAllKeys(range(), limit)), req(s.getAll(range(), limit))]);
        return keys.map((k, i): [string, Uint8Array] => [k as string, values[i] as Uint8Array]);
      }),
    outboxSize: () => store('readonly', (s) => req(s.count(range()))),
  };
}

export interface RelaySyncDeps {
  readonly conn: RelayConnection;
  readonly keys: RelayKeys;
  readonly doc: Y.Doc;
  readonly self: string;
  readonly store: RelayStore;
  /** resolves once every remote document update seen so far is committed (engine.idle) */
  readonly idle: () => Promise<void>;
  readonly storage: Pick<StorageClient, 'call'>;
  /** this device's watermarks (the stream's) */
  readonly marks: () => Marks;
  /** the relay's watermarks moved: plan pulls again (stream.poke) */
  readonly onMarks: () => void;
  readonly now: () => number;
  readonly outboxMax?: number;
  /** a caught-up device compacts once the relay's log holds this many updates after its snapshot */
  readonly snapshotEvery?: number;
}

export interface RelayStatus {
  readonly state: 'connecting' | 'connected' | 'offline';
  readonly url: string;
  /** the relay's seq up to which this device applied the shared document's updates */
  readonly cursor: number;
  /** the relay's last seq, as last seen */
  readonly last: number;
  readonly outbox: number;
  readonly bytesUp: number;
  readonly bytesDown: number;
  readonly updatesUp: number;
  readonly updatesDown: number;
  readonly pagesUp: number;
  readonly pagesDown: number;
  /** of pagesDown, pages used as the relay pushed them (RS6), not pulled */
  readonly pagesLive: number;
  /** owners whose pages the relay holds, and their rows (seqs) in all */
  readonly owners: number;
  readonly rows: number;
  readonly undecryptable: number;
  /** outbox entries sealed for another handle (a rotation) dropped at start (RS7) */
  readonly outboxDropped: number;
  /** the relay's log starts after this seq (a snapshot covers the rest) */
  readonly compacted: number;
  /** snapshots this device uploaded, and read */
  readonly snapshotsUp: number;
  readonly snapshotsDown: number;
  readonly lastError: string | null;
}

export interface RelaySync {
  /** the stream's net to RELAY_PEER (join it to the other nets with `withRelay`) */
  readonly net: StreamNet;
  /** the relay as a stream peer with its watermarks (none while not connected) */
  peers(): { device: string; marks: Marks }[];
  /** a local commit with pages of this device's rows: upload them */
  committed(): void;
  status(): RelayStatus;
  /** while pulling from the relay: the fraction of the document pull done (null: pages only) */
  catchingUp(): { readonly fraction: number | null } | null;
  /** resolves when the outbox is empty, every update pulled and own pages uploaded (tests) */
  settled(): Promise<void>;
  destroy(): void;
}

const errText = (e: unknown): string => (e instanceof Error ? e.message : String(e));

/** `items` of a READ or PAGE_GET reply, checked against the payload (the relay is not trusted). */
function slices(meta: Record<string, unknown>, payload: Uint8Array, width: 2 | 3): { head: number[]; data: Uint8Array }[] {
  const items = meta['items'];
  if (!Array.isArray(items)) throw new Error('relay reply without items');
  const out: { head: number[]; data: Uint8Array }[] = [];
  let at = 0;
  for (const it of items) {
    if (!Array.isArray(it) || it.length !== width || !it.every((x) => typeof x === 'number' && Number.isSafeInteger(x) && x >= 0)) throw new Error('relay reply with a malformed item');
    const head = it as number[];
    const len = head[width - 1]!;
    if (at + len > payload.byteLength) throw new Error('relay reply shorter than its items');
    out.push({ head, data: payload.subarray(at, at + len) });
    at += len;
  }
  if (at !== payload.byteLength) throw new Error('relay reply lengths do not add up');
  return out;
}

export function createRelaySync(deps: RelaySyncDeps): RelaySync {
  const { conn, keys, doc, self, store } = deps;
  const h = keys.handle;
  const outboxMax = deps.outboxMax ?? OUTBOX_MAX;
  const slot = `${conn.stats.url}|${h}`;
  const cursorKey = `m:cursor:${slot}`;
  const basedKey = `m:based:${slot}`;
  const counters: NetCounters = { sent: 0, received: 0, bytesSent: 0, bytesReceived: 0, dropped: 0 };
  const out = listeners();
  const s = { updatesUp: 0, updatesDown: 0, pagesUp: 0, pagesDown: 0, pagesLive: 0, undecryptable: 0, outboxDropped: 0, snapshotsUp: 0, snapshotsDown: 0, lastError: null as string | null };
  const snapshotEvery = deps.snapshotEvery ?? SNAPSHOT_EVERY;
  let compacted = 0;
  let cursor = 0;
  let savedCursor = 0;
  let last = 0;
  let outboxCount = 0;
  let destroyed = false;
  let seq = 0;
  const loaded = (async () => {
    const c = await store.get(cursorKey);
    cursor = savedCursor = typeof c === 'number' && Number.isSafeInteger(c) && c >= 0 ? c : 0;
    const sealedFor = await store.get(SEALED_FOR);
    if (sealedFor !== h) {
      if (typeof sealedFor === 'string') {
        const stale = await store.outbox(Number.MAX_SAFE_INTEGER);
        await store.del(stale.map(([k]) => k));
        s.outboxDropped = stale.length;
      }
      await store.set(SEALED_FOR, h);
    }
    outboxCount = await store.outboxSize();
  })().catch((e: unknown) => void (s.lastError = `relay outbox: ${errText(e)}`));
  const fail = (e: unknown): void => {
    s.lastError = errText(e);
  };
  const connected = (): boolean => !destroyed && conn.stats.state === 'connected';

  // ---- shared document: outbox (RS1, RS2) ----

  let writeLane: Promise<unknown> = loaded;
  const newId = (): string => {
    const rand = Array.from(crypto.getRandomValues(new Uint8Array(6)), (b) => b.toString(36).padStart(2, '0')).join('');
    return `${deps.now().toString(36).padStart(9, '0')}${(seq++ % 1296).toString(36).padStart(2, '0')}-${rand}`;
  };
  function enqueue(update: Uint8Array): Promise<void> {
    const run = writeLane.then(async () => {
      const blob = await encryptBlob(keys, update, 'update');
      await store.set(`${OUTBOX}${newId()}`, blob);
      outboxCount++;
      if (outboxCount > outboxMax) await collapse();
      void drain();
    });
    writeLane = run.catch(fail);
    return writeLane.then(() => undefined);
  }
  /** RS1's bound: the whole state replaces the outbox (the updates it held are part of it). */
  async function collapse(): Promise<void> {
    const blob = await encryptBlob(keys, Y.encodeStateAsUpdate(doc), 'update');
    const all = await store.outbox(Number.MAX_SAFE_INTEGER);
    await store.set(`${OUTBOX}${newId()}`, blob);
    await store.del(all.map(([k]) => k));
    outboxCount = await store.outboxSize();
  }
  const onUpdate = (update: Uint8Array, origin: unknown): void => {
    if (isOwnOrigin(origin) && !destroyed) void enqueue(update);
  };
  doc.on('update', onUpdate);

  let draining: Promise<void> | null = null;
  let drainAgain = false;
  function drain(): Promise<void> {
    if (draining) {
      drainAgain = true;
      return draining;
    }
    if (!connected()) return Promise.resolve();
    draining = (async () => {
      try {
        do {
          drainAgain = false;
          for (;;) {
            const batch = await store.outbox(APPEND_WINDOW);
            if (!batch.length || !connected()) break;
            await Promise.all(
              batch.map(async ([k, blob]) => {
                await conn.request(OP.APPEND, { h, id: k.slice(OUTBOX.length) }, blob);
                s.updatesUp++;
              }),
            );
            await store.del(batch.map(([k]) => k));
            outboxCount = await store.outboxSize();
          }
        } while (drainAgain && connected());
      } catch (e) {
        fail(e);
      } finally {
        draining = null;
      }
    })();
    return draining;
  }

  // ---- shared document: pull and live updates (RS2–RS4) ----

  let docLane: Promise<unknown> = loaded;
  let pullQueued: Promise<void> | null = null;
  let pulling: { start: number } | null = null;
  const inDocLane = <T>(fn: () => Promise<T>): Promise<T> => {
    const run = docLane.then(fn);
    docLane = run.catch(fail);
    return run;
  };
  function saveCursorAfterCommit(): void {
    const at = cursor;
    void deps
      .idle()
      .then(async () => {
        if (at <= savedCursor && at !== 0) return;
        savedCursor = at;
        await store.set(cursorKey, at);
      })
      .catch(fail);
  }
  async function decryptAll(items: { seq: number; data: Uint8Array }[]): Promise<Uint8Array[]> {
    const plain: Uint8Array[] = [];
    for (const it of items) {
      try {
        plain.push(await decryptBlob(keys, it.data, 'update'));
      } catch (e) {
        s.undecryptable++;
        s.lastError = `update ${it.seq}: ${errText(e)}`;
      }
    }
    return plain;
  }
  function apply(updates: readonly Uint8Array[]): void {
    if (!updates.length) return;
    doc.transact(() => {
      for (const u of updates) {
        try {
          Y.applyUpdate(doc, u, RELAY_ORIGIN);
        } catch (e) {
          s.undecryptable++;
          s.lastError = `an update from the relay is not a document update: ${errText(e)}`;
        }
      }
    }, RELAY_ORIGIN);
    s.updatesDown += updates.length;
  }
  async function pullAll(): Promise<void> {
    pulling = { start: cursor };
    try {
      for (;;) {
        if (!connected()) return;
        const r = await conn.request(OP.READ, { h, after: cursor });
        last = Number(r.meta['last']) || 0;
        if (last < cursor) {
          // RS2: the relay lost its log (a new data folder): start over, send everything again
          cursor = savedCursor = 0;
          await store.set(cursorKey, 0);
          await store.del([basedKey]);
          pulling = { start: 0 };
          continue;
        }
        compacted = Number(r.meta['compacted']) || 0;
        if (compacted > cursor) {
          // RS5: the log before `compacted` is gone; its snapshot holds it
          await readSnapshot(r.meta['snapshot']);
          continue;
        }
        const items = slices(r.meta, r.payload, 2).map((x) => ({ seq: x.head[0]!, data: x.data }));
        if (!items.length) break;
        apply(await decryptAll(items));
        cursor = Math.max(cursor, items[items.length - 1]!.seq);
        saveCursorAfterCommit();
        if (r.meta['more'] !== true) break;
      }
    } finally {
      pulling = null;
    }
  }
  /**
   * RS5: a snapshot is the whole document state of a device that had applied every update up
   * to its cursor, encrypted with the cursor as context (the relay cannot pass off an older
   * one), in chunks. Applied like any update from the relay; the cursor moves to its cursor.
   */
  async function readSnapshot(info: unknown): Promise<void> {
    const x = typeof info === 'object' && info !== null ? (info as Record<string, unknown>) : {};
    const { id, cursor: at, chunks } = x;
    if (typeof id !== 'number' || typeof at !== 'number' || typeof chunks !== 'number' || !Number.isSafeInteger(chunks) || chunks < 1 || chunks > 4096 || !(at > cursor))
      throw new Error('the relay says its log starts at a snapshot but names none');
    const parts: Uint8Array[] = [];
    let size = 0;
    for (let i = 0; i < chunks; i++) {
      const r = await conn.request(OP.SNAP_READ, { h, snap: id, i });
      parts.push(r.payload);
      size += r.payload.byteLength;
    }
    const blob = new Uint8Array(size);
    let o = 0;
    for (const p of parts) {
      blob.set(p, o);
      o += p.byteLength;
    }
    apply([await decryptBlob(keys, blob, `snapshot:${at}`)]);
    s.snapshotsDown++;
    cursor = at;
    saveCursorAfterCommit();
  }
  /** RS5: caught up, nothing waiting to go up, and the log long enough: replace it by a snapshot (under the relay's lease). */
  async function maybeCompact(): Promise<void> {
    if (!connected() || cursor !== last || cursor - compacted < snapshotEvery || outboxCount > 0) return;
    // another device may have compacted since this one last read the log
    const info = (await conn.request(OP.SNAP_INFO, { h })).meta['snapshot'];
    const theirs = typeof info === 'object' && info !== null ? Number((info as Record<string, unknown>)['cursor']) : 0;
    if (Number.isSafeInteger(theirs) && theirs > compacted) compacted = theirs;
    if (cursor - compacted < snapshotEvery) return;
    const at = cursor;
    let begin;
    try {
      begin = await conn.request(OP.SNAP_BEGIN, { h, cursor: at });
    } catch (e) {
      if (e instanceof Error && /lease_held|stale_snapshot/.test(e.message)) return; // another device compacts
      throw e;
    }
    const snap = Number(begin.meta['snap']);
    const lease = String(begin.meta['lease']);
    const blob = await encryptBlob(keys, Y.encodeStateAsUpdate(doc), `snapshot:${at}`);
    const n = Math.ceil(blob.byteLength / SNAPSHOT_CHUNK);
    for (let i = 0; i < n; i++) await conn.request(OP.SNAP_CHUNK, { h, snap, i, lease }, blob.subarray(i * SNAPSHOT_CHUNK, (i + 1) * SNAPSHOT_CHUNK));
    await conn.request(OP.SNAP_COMMIT, { h, snap, chunks: n, lease });
    compacted = at;
    s.snapshotsUp++;
  }
  function pull(): Promise<void> {
    pullQueued ??= inDocLane(async () => {
      pullQueued = null;
      await pullAll();
      await maybeCompact();
    });
    return pullQueued;
  }
  function live(p: RelayPush): void {
    const at = Number(p.meta['seq']);
    if (!Number.isSafeInteger(at) || at <= 0) return;
    const data = p.payload.slice();
    void inDocLane(async () => {
      if (at <= cursor) return; // already applied (this device's own append comes back too)
      if (at !== cursor + 1) return void (await pullAll()); // a gap: read it from the log
      apply(await decryptAll([{ seq: at, data }]));
      cursor = at;
      last = Math.max(last, at);
      saveCursorAfterCommit();
      await maybeCompact();
    });
  }
  async function ensureBaseline(): Promise<void> {
    if ((await store.get(basedKey)) === true) return;
    await enqueue(Y.encodeStateAsUpdate(doc));
    await store.set(basedKey, true);
  }

  // ---- owned state: the relay as a stream peer ----

  const relayMarks = new Map<string, number>(); // device uuid → the relay's top
  const unknownOwners = new Map<string, number>(); // owner handle → top, device not known here yet
  const handleOf = new Map<string, string>();
  const deviceOf = new Map<string, string>();
  let lastPagePull = -Infinity;
  const handleFor = async (device: string): Promise<string> => {
    let o = handleOf.get(device);
    if (!o) {
      o = await ownerHandle(keys, device);
      handleOf.set(device, o);
      deviceOf.set(o, device);
    }
    return o;
  };
  /** Maps owner handles the relay named to the devices this device knows (the devices table). */
  async function learnDevices(): Promise<void> {
    const r = await deps.storage.call('query', { sql: 'SELECT uuid FROM devices', params: [] });
    if (!r.ok) throw new Error(`${r.error.type}: ${r.error.message}`);
    for (const row of r.value) if (typeof row['uuid'] === 'string') await handleFor(row['uuid']);
    let moved = false;
    for (const [o, top] of unknownOwners) {
      const d = deviceOf.get(o);
      if (!d) continue;
      unknownOwners.delete(o);
      moved = setTop(o, top) || moved;
    }
    if (moved) deps.onMarks();
  }
  let learning: Promise<void> | null = null;
  const learnSoon = (): void => {
    learning ??= new Promise<void>((r) => setTimeout(r, 300))
      .then(learnDevices)
      .catch(fail)
      .finally(() => (learning = null));
  };
  /** Records the relay's top for an owner handle; true when a known device's mark moved. */
  function setTop(o: string, top: number): boolean {
    const d = deviceOf.get(o);
    if (!d) {
      if (top > (unknownOwners.get(o) ?? 0)) unknownOwners.set(o, top);
      learnSoon();
      return false;
    }
    if (top <= (relayMarks.get(d) ?? 0)) return false;
    relayMarks.set(d, top);
    return true;
  }
  async function refreshOwners(): Promise<void> {
    const r = await conn.request(OP.OWNERS, { h });
    const owners = r.meta['owners'];
    if (!Array.isArray(owners)) throw new Error('relay OWNERS reply without owners');
    let moved = false;
    for (const x of owners) {
      if (Array.isArray(x) && typeof x[0] === 'string' && typeof x[1] === 'number' && Number.isSafeInteger(x[1])) moved = setTop(x[0], x[1]) || moved;
    }
    if (moved) deps.onMarks();
  }

  /** A PULL the stream addressed to the relay, answered like a peer's serve (PAGE…, or NONE). */
  async function servePull(owner: string, after: number, count: number): Promise<void> {
    lastPagePull = deps.now();
    const reply = (m: Uint8Array): void => {
      counters.received++;
      counters.bytesReceived += m.byteLength;
      out.emit(RELAY_PEER, m);
    };
    try {
      const o = await handleFor(owner);
      const r = await conn.request(OP.PAGE_GET, { h, o, after, limit: Math.min(count, PAGE_BATCH * 2) });
      const pages: { to: number; bytes: Uint8Array }[] = [];
      for (const x of slices(r.meta, r.payload, 3)) {
        try {
          pages.push({ to: x.head[1]!, bytes: await decryptBlob(keys, x.data, `page:${o}`) });
        } catch (e) {
          s.undecryptable++;
          s.lastError = `page of ${owner.slice(0, 8)} (${x.head[0]}, ${x.head[1]}]: ${errText(e)}`;
        }
      }
      lastPagePull = deps.now();
      if (!pages.length) return reply(streamMessages.none(owner, after));
      s.pagesDown += pages.length;
      pages.forEach((p, i) => reply(streamMessages.page(owner, p.to, i === pages.length - 1, p.bytes)));
    } catch (e) {
      fail(e);
      reply(streamMessages.none(owner, after)); // the stream asks again in a moment, from anyone
    }
  }

  /**
   * RS6: a page the relay pushed as another device uploaded it. When it continues what this
   * device holds of that owner (or the live page handed over just before it), it is decrypted
   * and handed to the stream as a live push — the worker validates it exactly as a pulled
   * page and refuses a gap, after which the stream pulls — and no PAGE_GET follows (the
   * relay's top moves without a poke). Anything else (an owner not known yet, a page ahead of
   * what is held, one that does not decrypt) only moves the relay's top, and the stream pulls.
   * Pushes are handled in arrival order (one lane), so consecutive pages stay in order.
   */
  const liveTop = new Map<string, number>(); // device → `to` of the last live page handed over
  let pushLane: Promise<unknown> = Promise.resolve();
  function livePage(p: RelayPush): void {
    const { o, from, to } = p.meta;
    if (typeof o !== 'string' || typeof to !== 'number' || !Number.isSafeInteger(to) || typeof from !== 'number' || !Number.isSafeInteger(from) || from < 0 || from >= to) return;
    const data = p.payload.slice();
    pushLane = pushLane
      .then(async () => {
        const device = deviceOf.get(o);
        if (device && device !== self) {
          const held = Math.max(deps.marks()[device] ?? 0, liveTop.get(device) ?? 0);
          if (from <= held && held < to) {
            let bytes: Uint8Array | null = null;
            try {
              bytes = await decryptBlob(keys, data, `page:${o}`);
            } catch (e) {
              s.undecryptable++;
              s.lastError = `pushed page of ${device.slice(0, 8)} (${from}, ${to}]: ${errText(e)}`;
            }
            if (bytes) {
              liveTop.set(device, to);
              s.pagesDown++;
              s.pagesLive++;
              counters.received++;
              counters.bytesReceived += bytes.byteLength;
              out.emit(RELAY_PEER, streamMessages.live(device, to, bytes));
              setTop(o, to);
              return;
            }
          }
        }
        if (setTop(o, to)) deps.onMarks();
      })
      .catch(fail);
  }

  let uploading: Promise<void> | null = null;
  let uploadAgain = false;
  function uploadOwn(): Promise<void> {
    if (uploading) {
      uploadAgain = true;
      return uploading;
    }
    if (!connected()) return Promise.resolve();
    uploading = (async () => {
      try {
        const o = await handleFor(self);
        do {
          uploadAgain = false;
          for (;;) {
            const top = relayMarks.get(self) ?? 0;
            const held = deps.marks()[self] ?? 0;
            if (held <= top || !connected()) break;
            const r = await deps.storage.call('servePages', { owner: self, after: top, count: PAGE_BATCH });
            if (!r.ok) throw new Error(`${r.error.type}: ${r.error.message}`);
            if (!r.value.pages.length) break;
            for (const p of r.value.pages) {
              const blob = await encryptBlob(keys, p.bytes, `page:${o}`);
              await conn.request(OP.PAGE_PUT, { h, o, from: p.from, to: p.to }, blob);
              s.pagesUp++;
              relayMarks.set(self, Math.max(relayMarks.get(self) ?? 0, p.to));
            }
          }
        } while (uploadAgain && connected());
      } catch (e) {
        fail(e);
      } finally {
        uploading = null;
      }
    })();
    return uploading;
  }

  // ---- connection ----

  async function onConnected(): Promise<void> {
    try {
      await loaded;
      await pull();
      // the devices the document names are in the database once it committed what was pulled:
      // only then do the relay's owner handles map to devices, and the page pulls can start
      // (before, a fresh device met unknown owners and waited for a retry)
      await deps.idle();
      await learnDevices();
      await refreshOwners();
      deps.onMarks();
      await ensureBaseline();
      void drain();
      await uploadOwn();
    } catch (e) {
      fail(e);
    }
  }
  /** the newest connect's work (pull, owners, the RS2 baseline): `settled` waits for it too */
  let connecting: Promise<void> = Promise.resolve();
  const offState = conn.onState((st) => {
    if (st === 'connected') connecting = onConnected();
    else deps.onMarks();
  });
  const offPush = conn.onPush((p) => {
    if (p.meta['h'] !== h) return;
    if (p.op === OP.EV_UPDATE) live(p);
    else if (p.op === OP.EV_PAGE) livePage(p);
  });
  if (conn.stats.state === 'connected') connecting = onConnected();

  const net: StreamNet = {
    counters,
    send(to, message) {
      if (to !== RELAY_PEER || !connected()) return;
      const p = streamMessages.pull(message);
      if (!p) return;
      counters.sent++;
      counters.bytesSent += message.byteLength;
      void servePull(p.owner, p.after, p.count);
    },
    onReceive: (cb) => out.add(cb),
    reaches: (d) => d === RELAY_PEER && connected(),
    setPaused: (p) => conn.setPaused(p),
    destroy: () => undefined,
  };

  return {
    net,
    peers: () => (connected() ? [{ device: RELAY_PEER, marks: Object.fromEntries(relayMarks) }] : []),
    committed: () => void uploadOwn(),
    status() {
      let rows = 0;
      for (const v of relayMarks.values()) rows += v;
      return {
        state: conn.stats.state,
        url: conn.stats.url,
        cursor,
        last,
        outbox: outboxCount,
        bytesUp: conn.stats.bytesUp,
        bytesDown: conn.stats.bytesDown,
        updatesUp: s.updatesUp,
        updatesDown: s.updatesDown,
        pagesUp: s.pagesUp,
        pagesDown: s.pagesDown,
        pagesLive: s.pagesLive,
        owners: relayMarks.size,
        rows,
        undecryptable: s.undecryptable,
        outboxDropped: s.outboxDropped,
        compacted,
        snapshotsUp: s.snapshotsUp,
        snapshotsDown: s.snapshotsDown,
        lastError: s.lastError ?? conn.stats.lastError,
      };
    },
    catchingUp() {
      if (pulling && last > pulling.start && last > cursor) return { fraction: (cursor - pulling.start) / (last - pulling.start) };
      if (deps.now() - lastPagePull < PAGE_ACTIVE_MS) return { fraction: null };
      return null;
    },
    async settled() {
      // a connect still at work would enqueue its baseline after this resolved
      await connecting;
      await writeLane;
      await pull();
      await drain();
      await uploadOwn();
      await docLane;
      await deps.idle();
    },
    destroy() {
      destroyed = true;
      doc.off('update', onUpdate);
      offState();
      offPush();
    },
  };
}

/** The stream's nets with the relay: messages for RELAY_PEER go to it, the rest as before. */
export function withRelay(base: StreamNet, relay: StreamNet): StreamNet {
  return {
    get counters() {
      return base.counters;
    },
    send(to, message) {
      if (to === RELAY_PEER) relay.send(to, message);
      else base.send(to, message);
    },
    onReceive(cb) {
      const a = base.onReceive(cb);
      const b = relay.onReceive(cb);
      return () => {
        a();
        b();
      };
    },
    reaches: (d) => (d === RELAY_PEER ? (relay.reaches?.(d) ?? false) : (base.reaches?.(d) ?? false)),
    setPaused(p) {
      base.setPaused(p);
      relay.setPaused(p);
    },
    destroy() {
      base.destroy();
      relay.destroy();
    },
  };
}
