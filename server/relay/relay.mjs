// @ts-check
// tabdrive's always-on relay (DESIGN §3, §6): a WebSocket service that stores and serves
// opaque bytes — encrypted document updates, encrypted owned-state pages, encrypted
// snapshots — under opaque handles derived from invite secrets. It never sees a library id,
// a secret or plaintext. Protocol: ./protocol.mjs. Store: ./store.mjs. Fan-out: ./bus.mjs.
//
// It faces the network, so every client is treated as hostile:
//  - frames over 1 MiB close the socket (1009); anything else malformed gets an ERROR frame,
//    and a connection that keeps sending garbage is closed (1008); a wrong protocol version
//    gets an ERROR naming both versions, then a close (1002);
//  - nothing but AUTH and PING before a handle is authenticated; a connection that has not
//    authenticated in `authTimeoutMs`, or guesses tokens, is closed;
//  - per-connection token buckets (messages/s, bytes/s): excess is refused and counted, and a
//    connection that keeps exceeding them is closed; a connection with too many requests in
//    progress stops being read (TCP back-pressure) until they finish;
//  - fragmented messages are bounded per message, per connection and in time;
//  - a subscriber whose unsent bytes pass `maxBufferedBytes` is dropped (it catches up by
//    reading after reconnecting) instead of buffering without bound;
//  - connections are capped in total and per remote address; a browser page may connect only
//    from the app's origins (as for signaling: any loopback origin, plus `origins`), so a
//    site a visitor happens to open cannot use the visitor's local relay as free storage.
import http from 'node:http';
import { randomBytes } from 'node:crypto';
import { WebSocketServer } from 'ws';
import { clientAddress, originAllowed } from '../signaling.mjs';
import { localBus, redisBus } from './bus.mjs';
import { openDb } from './db.mjs';
import { StoreError, openStore } from './store.mjs';
import {
  MAX_FRAME_BYTES,
  MAX_MESSAGE_BYTES,
  OP,
  ProtocolError,
  Reassembler,
  VERSION,
  clientIdField,
  decodeFrame,
  encodeFrame,
  fragment,
  hexField,
  intField,
} from './protocol.mjs';

export const LIMITS = {
  maxConnections: 512,
  maxConnectionsPerAddress: 256,
  maxHandlesPerConn: 16,
  /** requests in progress per connection before the socket stops being read */
  maxInflight: 64,
  /** … and before further requests are refused outright (frames already read) */
  maxInflightHard: 1024,
  /** request bytes held by requests in progress, per connection and in all, before reading pauses */
  maxInflightBytes: 32 * 1024 * 1024,
  maxInflightBytesTotal: 256 * 1024 * 1024,
  messagesPerSec: 1000,
  messageBurst: 4000,
  bytesPerSec: 16 * 1024 * 1024,
  byteBurst: 64 * 1024 * 1024,
  /** this many refused frames within `abuseWindowMs` closes the connection */
  abuseDrops: 500,
  abuseWindowMs: 10_000,
  /** this many malformed frames closes the connection */
  maxBadFrames: 16,
  maxBadTokens: 4,
  authTimeoutMs: 15_000,
  pingIntervalMs: 30_000,
  maxBufferedBytes: 16 * 1024 * 1024,
  /** reassembly buffers (fragmented messages in flight), per connection and in all */
  maxReassemblyBytes: MAX_MESSAGE_BYTES,
  maxReassemblyBytesTotal: 256 * 1024 * 1024,
  maxUpdateBytes: 8 * 1024 * 1024,
  maxPageBytes: 8 * 1024 * 1024,
  /** store reads being turned into replies (READ, PAGE_GET, SNAP_READ) at once, in all: what
   *  many concurrent catch-ups hold in memory is this many replies, not one per reader */
  maxReadsInProgress: 4,
  /** a connection with more unsent bytes than this is not served its next read until its
   *  socket drains (a slow reader slows its own catch-up, not the relay's memory) */
  serveBufferedBytes: 1024 * 1024,
  readMaxItems: 500,
  readMaxBytes: 768 * 1024,
  pageMaxItems: 200,
  /** the compaction lease */
  leaseMs: 60_000,
  /** store poll of subscribed handles while the bus is down … */
  pollMs: 300,
  /** … and as a safety net while it is up */
  safetyPollMs: 5000,
  /** an unfinished snapshot upload untouched this long is collected */
  orphanAfterMs: 10 * 60_000,
  orphanSweepMs: 60_000,
  /** bus messages carry the payload up to this size; larger ones are read from the store */
  busInlineBytes: 64 * 1024,
  /** presence: an opaque message of at most this size, fanned out and forgotten … */
  presenceMaxBytes: 4096,
  /** … at most one per connection and handle in this time (faster ones are refused, counted) */
  presenceMinIntervalMs: 1000,
};

/**
 * @typedef {import('./store.mjs').Store} Store
 * @typedef {import('./bus.mjs').Bus} Bus
 * @typedef {import('./protocol.mjs').Frame} Frame
 * @typedef {{
 *   ws: import('ws').WebSocket, socket: import('node:stream').Duplex, addr: string,
 *   authed: Map<string, Buffer>, subs: Set<string>, reasm: Reassembler,
 *   inflight: number, inflightBytes: number, paused: boolean, badFrames: number, badTokens: number,
 *   msgTokens: number, byteTokens: number, refill: number, drops: number[], xfer: number, alive: boolean,
 *   closed: boolean, serial: number, presenceAt: Map<string, number>, lastRead: Promise<void>,
 * }} Conn
 * @typedef {{ hex: string, handle: Buffer, conns: Set<Conn>, lastSeq: number, lastPseq: number, chain: Promise<void> }} Feed
 */

class RequestError extends Error {
  /** @param {string} code @param {string} message */
  constructor(code, message) {
    super(message);
    this.code = code;
  }
}

/**
 * @param {{
 *   host?: string, port?: number, limits?: Partial<typeof LIMITS>,
 *   origins?: readonly string[],
 *   trustProxy?: boolean,
 *   databaseUrl?: string, dataDir?: string, redisUrl?: string,
 *   log?: (m: string) => void,
 * }} [opts]
 */
export async function startRelay(opts = {}) {
  const limits = { ...LIMITS, ...opts.limits };
  const log = opts.log ?? ((m) => console.log(`[relay] ${m}`));
  const db = await openDb({ url: opts.databaseUrl, dataDir: opts.dataDir });
  const store = await openStore(db, { orphanAfterMs: limits.orphanAfterMs });
  const bus = opts.redisUrl ? await redisBus(opts.redisUrl, { log }) : localBus();

  const counters = {
    connections: 0,
    connectionsRefused: 0,
    refusedOrigin: 0,
    framesIn: 0,
    framesOut: 0,
    badFrames: 0,
    badVersion: 0,
    oversizeFrames: 0,
    unauthorized: 0,
    badTokens: 0,
    rateLimited: 0,
    closedForAbuse: 0,
    slowConsumers: 0,
    appends: 0,
    duplicateAppends: 0,
    pages: 0,
    duplicatePages: 0,
    snapshots: 0,
    orphansCollected: 0,
    busMessages: 0,
    gapFills: 0,
    storePolls: 0,
    storeErrors: 0,
    presences: 0,
    presenceRefused: 0,
  };
  /** tells this process's connections apart in bus messages (a sender is not sent its own presence) */
  const processTag = randomBytes(6).toString('hex');
  let connSerial = 0;
  /** @type {Set<Conn>} */
  const conns = new Set();
  /** @type {Map<string, number>} */
  const perAddress = new Map();
  /** @type {Map<string, Feed>} */
  const feeds = new Map();
  /** what all connections hold: bytes of requests in progress, bytes of partial messages */
  const held = { inflight: 0, reassembly: 0 };
  /** @type {Set<Conn>} connections not being read (back-pressure) */
  const pausedConns = new Set();
  /** reads in progress, and those waiting for a turn (FIFO) */
  /** @type {{ running: number, waiting: (() => void)[] }} */
  const reads = { running: 0, waiting: [] };
  /** @type {Set<number>} */
  const STORE_READS = new Set([OP.READ, OP.PAGE_GET, OP.SNAP_READ]);

  /** Resolves once the socket's unsent bytes fall below `below` (or it closed). @param {Conn} c @param {number} below */
  async function drained(c, below) {
    while (!c.closed && c.ws.bufferedAmount > below) {
      await new Promise((r) => {
        const done = () => {
          clearTimeout(t);
          c.socket.off('drain', done);
          c.socket.off('close', done);
          r(undefined);
        };
        // 'drain' when the kernel took the bytes; the timer in case they went another way
        const t = setTimeout(done, 50);
        c.socket.once('drain', done);
        c.socket.once('close', done);
      });
    }
  }

  /**
   * A turn to read the store for a reply: after this connection's earlier replies left, and
   * while fewer than `maxReadsInProgress` replies are being built. Returns the release.
   * @param {Conn} c @returns {Promise<() => void>}
   */
  async function readTurn(c) {
    // One read at a time per connection: its requests arrive together (a client asking for
    // 40 pages at once), and each checking the drain alone would let all of them build
    // replies into a socket that is not being read, past maxBufferedBytes.
    const previous = c.lastRead;
    /** @type {() => void} */
    let finished = () => undefined;
    c.lastRead = new Promise((r) => (finished = () => r(undefined)));
    await previous;
    await drained(c, limits.serveBufferedBytes);
    if (reads.running >= limits.maxReadsInProgress) await new Promise((r) => reads.waiting.push(() => r(undefined)));
    else reads.running++;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      finished(); // this connection's next read may start (once its socket drained)
      const next = reads.waiting.shift();
      if (next) next(); // the turn passes on: `running` stays
      else reads.running--;
    };
  }

  // ---- live fan-out ----

  /** @param {Conn} c @param {number} op @param {number} id @param {Record<string, unknown>} meta @param {Uint8Array | Uint8Array[]} [payload] */
  function send(c, op, id, meta, payload) {
    if (c.closed) return;
    if (c.ws.bufferedAmount > limits.maxBufferedBytes) {
      counters.slowConsumers++;
      close(c, 1008, 'slow consumer: reconnect and read what you missed');
      return;
    }
    const frames = fragment(encodeFrame(op, id, meta, payload), (c.xfer = (c.xfer + 1) >>> 0));
    for (const f of frames) c.ws.send(f);
    counters.framesOut += frames.length;
  }

  /** @param {Feed} feed @param {number} op @param {Record<string, unknown>} meta @param {Uint8Array} payload @param {Conn} [except] */
  function fanOut(feed, op, meta, payload, except) {
    for (const c of feed.conns) if (c !== except) send(c, op, 0, meta, payload);
  }

  /** Delivers every update after feed.lastSeq up to `upto` (or all) from the store, in order. @param {Feed} feed @param {number} upto */
  async function fillUpdates(feed, upto) {
    for (let guard = 0; guard < 10_000 && feed.lastSeq < upto; guard++) {
      const r = await store.read(feed.handle, feed.lastSeq, 200, 4 * 1024 * 1024);
      if (!r.items.length) {
        // compacted away (the snapshot covers it) or not there: move on to what exists
        feed.lastSeq = Math.max(feed.lastSeq, Math.min(upto, r.compacted));
        if (feed.lastSeq < upto && r.last <= feed.lastSeq) return;
        if (!r.more) return;
        continue;
      }
      for (const it of r.items) {
        if (it.seq <= feed.lastSeq) continue;
        feed.lastSeq = it.seq;
        fanOut(feed, OP.EV_UPDATE, { h: feed.hex, seq: it.seq }, it.data);
      }
    }
  }

  /** @param {Feed} feed @param {number} upto */
  async function fillPages(feed, upto) {
    for (let guard = 0; guard < 10_000 && feed.lastPseq < upto; guard++) {
      const items = await store.pagesSince(feed.handle, feed.lastPseq, 50);
      if (!items.length) return;
      for (const p of items) {
        feed.lastPseq = p.pseq;
        fanOut(feed, OP.EV_PAGE, { h: feed.hex, o: p.owner.toString('hex'), from: p.from, to: p.to, pseq: p.pseq }, p.data);
      }
    }
  }

  /** Runs feed work one step at a time (deliveries stay in order); a failure is logged, never thrown. @param {Feed} feed @param {() => Promise<void>} fn */
  function onFeed(feed, fn) {
    feed.chain = feed.chain.then(fn).catch((e) => {
      counters.storeErrors++;
      log(`feed: ${errText(e)}`);
    });
    return feed.chain;
  }

  /** Bus messages: [u32 meta length][meta JSON][payload, possibly empty]. */
  bus.onMessage((hex, msg) => {
    const feed = feeds.get(hex);
    if (!feed || msg.length < 4) return;
    counters.busMessages++;
    /** @type {{ k: string, seq?: number, pseq?: number, o?: string, from?: number, to?: number, inline?: boolean, src?: string }} */
    let m;
    /** @type {Buffer} */
    let payload;
    try {
      const n = msg.readUInt32BE(0);
      m = JSON.parse(msg.subarray(4, 4 + n).toString());
      payload = msg.subarray(4 + n);
    } catch {
      return;
    }
    if (m.k === 'e') {
      // presence: delivered as it comes (no order to keep, nothing in the store to fill from)
      if (payload.length === 0 || payload.length > limits.presenceMaxBytes) return;
      const [tag, serial] = String(m.src ?? '').split(':');
      const except = tag === processTag ? [...feed.conns].find((c) => String(c.serial) === serial) : undefined;
      fanOut(feed, OP.EV_PRESENCE, { h: hex }, payload, except);
      return;
    }
    void onFeed(feed, async () => {
      if (m.k === 'u' && typeof m.seq === 'number') {
        if (m.seq <= feed.lastSeq) return;
        if (m.seq === feed.lastSeq + 1 && m.inline) {
          feed.lastSeq = m.seq;
          fanOut(feed, OP.EV_UPDATE, { h: hex, seq: m.seq }, payload);
        } else {
          counters.gapFills++;
          await fillUpdates(feed, m.seq);
        }
      } else if (m.k === 'p' && typeof m.pseq === 'number') {
        if (m.pseq <= feed.lastPseq) return;
        if (m.pseq === feed.lastPseq + 1 && m.inline) {
          feed.lastPseq = m.pseq;
          fanOut(feed, OP.EV_PAGE, { h: hex, o: m.o, from: m.from, to: m.to, pseq: m.pseq }, payload);
        } else {
          counters.gapFills++;
          await fillPages(feed, m.pseq);
        }
      }
    });
  });

  /** @param {string} hex @param {Record<string, unknown>} meta @param {Uint8Array} payload */
  function publish(hex, meta, payload) {
    const inline = payload.length <= limits.busInlineBytes;
    const m = Buffer.from(JSON.stringify({ ...meta, inline }));
    const head = Buffer.alloc(4);
    head.writeUInt32BE(m.length);
    const msg = Buffer.concat([head, m, inline ? payload : Buffer.alloc(0)]);
    // a lost message is caught up by the next poll of the store
    bus.publish(hex, msg).catch(() => {});
  }

  let lastSafetyPoll = Date.now();
  let polling = false;
  const poll = setInterval(() => {
    if (polling || feeds.size === 0) return;
    const now = Date.now();
    if (bus.healthy() && now - lastSafetyPoll < limits.safetyPollMs) return;
    lastSafetyPoll = now;
    polling = true;
    counters.storePolls++;
    store
      .heads([...feeds.values()].map((f) => f.handle))
      .then((heads) => {
        for (const h of heads) {
          const feed = feeds.get(h.handle.toString('hex'));
          if (!feed) continue;
          if (h.lastSeq > feed.lastSeq) void onFeed(feed, () => fillUpdates(feed, h.lastSeq));
          if (h.lastPseq > feed.lastPseq) void onFeed(feed, () => fillPages(feed, h.lastPseq));
        }
      })
      .catch(() => counters.storeErrors++)
      .finally(() => (polling = false));
  }, limits.pollMs);

  const sweep = setInterval(() => {
    store
      .collectOrphans()
      .then((n) => (counters.orphansCollected += n))
      .catch(() => counters.storeErrors++);
  }, limits.orphanSweepMs);

  /** @param {Conn} c @param {string} hex @param {Buffer} handle */
  async function subscribe(c, hex, handle) {
    let feed = feeds.get(hex);
    if (!feed) {
      const f = /** @type {Feed} */ ({ hex, handle, conns: new Set(), lastSeq: Infinity, lastPseq: Infinity, chain: Promise.resolve() });
      feed = f;
      feeds.set(hex, f);
      void onFeed(f, async () => {
        // subscribe first, then read the heads: nothing published in between is missed. If the
        // bus is down the subscription completes when it is back; polling covers the meantime.
        await Promise.race([bus.subscribe(hex).catch(() => {}), new Promise((r) => setTimeout(r, 1000))]);
        const [h] = await store.heads([handle]);
        f.lastSeq = h?.lastSeq ?? 0;
        f.lastPseq = h?.lastPseq ?? 0;
      });
    }
    feed.conns.add(c);
    c.subs.add(hex);
    await feed.chain;
    if (!Number.isFinite(feed.lastSeq)) {
      // the store did not answer: this feed never started; the next SUBSCRIBE makes a new one
      unsubscribe(c, hex);
      throw new RequestError('unavailable', 'the relay could not reach its storage; subscribe again later');
    }
    return { lastSeq: feed.lastSeq, lastPseq: feed.lastPseq };
  }

  /** @param {Conn} c @param {string} hex */
  function unsubscribe(c, hex) {
    c.subs.delete(hex);
    const feed = feeds.get(hex);
    if (!feed) return;
    feed.conns.delete(c);
    if (feed.conns.size === 0) {
      feeds.delete(hex);
      void bus.unsubscribe(hex).catch(() => {});
    }
  }

  // ---- requests ----

  /** @param {Conn} c @param {Record<string, unknown>} meta @returns {[string, Buffer]} */
  function authed(c, meta) {
    const handle = hexField(meta, 'h', 32, 32);
    const hex = handle.toString('hex');
    if (!c.authed.has(hex)) {
      counters.unauthorized++;
      throw new RequestError('unauthorized', 'authenticate to this handle (AUTH with its write token) first');
    }
    return [hex, handle];
  }

  /** @param {Conn} c @param {Frame} f @returns {Promise<[Record<string, unknown>, (Uint8Array | Uint8Array[])?]>} */
  async function handle(c, f) {
    const m = f.meta;
    switch (f.op) {
      case OP.PING:
        return [{ pong: Date.now() }];
      case OP.PRESENCE: {
        // Presence is the one thing the relay passes on without storing: the handle's other
        // subscribers (every relay process, through the bus) get it as EV_PRESENCE; a device
        // that stops sending simply times out at the others.
        const [hex] = authed(c, m);
        if (f.payload.length === 0 || f.payload.length > limits.presenceMaxBytes) throw new RequestError('bad_request', `a presence message is 1–${limits.presenceMaxBytes} bytes`);
        const now = Date.now();
        if (now - (c.presenceAt.get(hex) ?? -Infinity) < limits.presenceMinIntervalMs) {
          counters.presenceRefused++;
          throw new RequestError('rate_limited', `at most one presence message per ${limits.presenceMinIntervalMs} ms`);
        }
        c.presenceAt.set(hex, now);
        counters.presences++;
        publish(hex, { k: 'e', src: `${processTag}:${c.serial}` }, f.payload);
        return [{}];
      }
      case OP.AUTH: {
        const handle = hexField(m, 'h', 32, 32);
        const token = hexField(m, 't', 32, 32);
        if (c.authed.size >= limits.maxHandlesPerConn && !c.authed.has(handle.toString('hex'))) {
          throw new RequestError('too_many_handles', `at most ${limits.maxHandlesPerConn} handles per connection`);
        }
        try {
          const r = await store.auth(handle, token);
          c.authed.set(handle.toString('hex'), handle);
          return [{ registered: r.registered }];
        } catch (e) {
          if (e instanceof StoreError && e.code === 'bad_token') {
            counters.badTokens++;
            if (++c.badTokens >= limits.maxBadTokens) setImmediate(() => close(c, 1008, 'too many wrong tokens'));
          }
          throw e;
        }
      }
      case OP.APPEND: {
        const [hex, handle] = authed(c, m);
        const id = clientIdField(m, 'id');
        if (f.payload.length === 0 || f.payload.length > limits.maxUpdateBytes) throw new RequestError('bad_request', `an update is 1–${limits.maxUpdateBytes} bytes`);
        const r = await store.append(handle, id, f.payload);
        if (r.dup) counters.duplicateAppends++;
        else {
          counters.appends++;
          publish(hex, { k: 'u', seq: r.seq }, f.payload);
        }
        return [{ seq: r.seq, dup: r.dup }];
      }
      case OP.READ: {
        const [, handle] = authed(c, m);
        const after = intField(m, 'after', 0, Number.MAX_SAFE_INTEGER, 0);
        const limit = intField(m, 'limit', 1, limits.readMaxItems, limits.readMaxItems);
        const r = await store.read(handle, after, limit, limits.readMaxBytes);
        const snapshot = r.compacted > after ? await store.snapshotInfo(handle) : null;
        return [
          { items: r.items.map((x) => [x.seq, x.data.length]), last: r.last, compacted: r.compacted, more: r.more, snapshot },
          r.items.map((x) => x.data),
        ];
      }
      case OP.PAGE_PUT: {
        const [hex, handle] = authed(c, m);
        const owner = hexField(m, 'o', 8, 32);
        const from = intField(m, 'from', 0, Number.MAX_SAFE_INTEGER);
        const to = intField(m, 'to', from, Number.MAX_SAFE_INTEGER);
        if (f.payload.length === 0 || f.payload.length > limits.maxPageBytes) throw new RequestError('bad_request', `a page is 1–${limits.maxPageBytes} bytes`);
        const r = await store.putPage(handle, owner, from, to, f.payload);
        if (r.dup) counters.duplicatePages++;
        else {
          counters.pages++;
          publish(hex, { k: 'p', pseq: r.pseq, o: owner.toString('hex'), from, to }, f.payload);
        }
        return [{ pseq: r.pseq, dup: r.dup }];
      }
      case OP.PAGE_GET: {
        const [, handle] = authed(c, m);
        const owner = hexField(m, 'o', 8, 32);
        const after = intField(m, 'after', 0, Number.MAX_SAFE_INTEGER, 0);
        const limit = intField(m, 'limit', 1, limits.pageMaxItems, limits.pageMaxItems);
        const r = await store.getPages(handle, owner, after, limit, limits.readMaxBytes);
        return [{ items: r.items.map((x) => [x.from, x.to, x.data.length]), more: r.more }, r.items.map((x) => x.data)];
      }
      case OP.OWNERS: {
        const [, handle] = authed(c, m);
        const r = await store.owners(handle);
        return [{ owners: r.map((x) => [x.owner.toString('hex'), x.top]) }];
      }
      case OP.SUBSCRIBE: {
        const [hex, handle] = authed(c, m);
        return [await subscribe(c, hex, handle)];
      }
      case OP.UNSUBSCRIBE: {
        const [hex] = authed(c, m);
        unsubscribe(c, hex);
        return [{}];
      }
      case OP.SNAP_BEGIN: {
        const [hex, handle] = authed(c, m);
        const cursor = intField(m, 'cursor', 1, Number.MAX_SAFE_INTEGER);
        const lease = await bus.acquire(`compact:${hex}`, limits.leaseMs).catch(() => {
          throw new RequestError('unavailable', 'the lease service is unreachable; try again later');
        });
        if (!lease) throw new RequestError('lease_held', 'another client is compacting this library; try again later');
        try {
          const snap = await store.beginSnapshot(handle, cursor);
          return [{ snap, lease, leaseMs: limits.leaseMs }];
        } catch (e) {
          await bus.release(`compact:${hex}`, lease).catch(() => {});
          throw e;
        }
      }
      case OP.SNAP_CHUNK: {
        const [hex, handle] = authed(c, m);
        const snap = intField(m, 'snap', 1, Number.MAX_SAFE_INTEGER);
        const idx = intField(m, 'i', 0, 1_000_000);
        const lease = typeof m.lease === 'string' ? m.lease : '';
        if (f.payload.length === 0 || f.payload.length > MAX_FRAME_BYTES) throw new RequestError('bad_request', `a snapshot chunk is 1–${MAX_FRAME_BYTES} bytes`);
        await holdLease(hex, lease);
        await store.putSnapshotChunk(handle, snap, idx, f.payload);
        return [{}];
      }
      case OP.SNAP_COMMIT: {
        const [hex, handle] = authed(c, m);
        const snap = intField(m, 'snap', 1, Number.MAX_SAFE_INTEGER);
        const chunks = intField(m, 'chunks', 1, 1_000_000);
        const lease = typeof m.lease === 'string' ? m.lease : '';
        await holdLease(hex, lease);
        const r = await store.commitSnapshot(handle, snap, chunks);
        counters.snapshots++;
        await bus.release(`compact:${hex}`, lease).catch(() => {});
        return [{ cursor: r.cursor }];
      }
      case OP.SNAP_INFO: {
        const [, handle] = authed(c, m);
        return [{ snapshot: await store.snapshotInfo(handle) }];
      }
      case OP.SNAP_READ: {
        const [, handle] = authed(c, m);
        const snap = intField(m, 'snap', 1, Number.MAX_SAFE_INTEGER);
        const idx = intField(m, 'i', 0, 1_000_000);
        return [{}, await store.snapshotChunk(handle, snap, idx)];
      }
      default:
        throw new RequestError('bad_op', `op ${f.op} is not a request`);
    }
  }

  /** @param {string} hex @param {string} lease */
  async function holdLease(hex, lease) {
    const ok = await bus.renew(`compact:${hex}`, lease, limits.leaseMs).catch(() => {
      throw new RequestError('unavailable', 'the lease service is unreachable; try again later');
    });
    if (!ok) throw new RequestError('lease_lost', 'the compaction lease expired or is held by another client; start again');
  }

  // ---- connections ----

  /** @param {Conn} c @param {number} code @param {string} reason */
  function close(c, code, reason) {
    if (c.closed) return;
    c.closed = true;
    c.ws.close(code, reason);
    // a peer that does not complete the closing handshake is cut off
    setTimeout(() => c.ws.terminate(), 2000).unref();
  }

  /** @param {Conn} c @param {number} id @param {string} code @param {string} message */
  function sendError(c, id, code, message) {
    send(c, OP.ERROR, id, { code, message });
  }

  /** @param {Conn} c @param {number} bytes @returns {boolean} */
  function admit(c, bytes) {
    const now = Date.now();
    const dt = (now - c.refill) / 1000;
    c.refill = now;
    c.msgTokens = Math.min(limits.messageBurst, c.msgTokens + dt * limits.messagesPerSec);
    c.byteTokens = Math.min(limits.byteBurst, c.byteTokens + dt * limits.bytesPerSec);
    if (c.msgTokens >= 1 && c.byteTokens >= bytes) {
      c.msgTokens -= 1;
      c.byteTokens -= bytes;
      return true;
    }
    counters.rateLimited++;
    c.drops.push(now);
    while (c.drops.length && /** @type {number} */ (c.drops[0]) < now - limits.abuseWindowMs) c.drops.shift();
    if (c.drops.length >= limits.abuseDrops) {
      counters.closedForAbuse++;
      close(c, 1008, 'rate limit exceeded again and again');
    }
    return false;
  }

  function resumePaused() {
    if (held.inflight >= limits.maxInflightBytesTotal / 2) return;
    for (const p of pausedConns) {
      if (p.inflight < limits.maxInflight / 2 && p.inflightBytes < limits.maxInflightBytes / 2) {
        p.paused = false;
        pausedConns.delete(p);
        if (!p.closed) p.socket.resume();
      }
    }
  }

  /** @param {Conn} c @param {number} id @param {string} code @param {string} message */
  function badFrame(c, id, code, message) {
    counters.badFrames++;
    sendError(c, id, code, message);
    if (++c.badFrames >= limits.maxBadFrames) {
      counters.closedForAbuse++;
      close(c, 1008, 'too many malformed frames');
    }
  }

  /** @param {Conn} c @param {Buffer} data @param {boolean} isBinary */
  function onMessage(c, data, isBinary) {
    counters.framesIn++;
    if (c.closed) return;
    if (!isBinary) return badFrame(c, 0, 'bad_frame', 'text frames are not part of the protocol: send binary frames');
    if (!admit(c, data.length)) {
      if (c.drops.length === 1 || c.drops.length % 100 === 0) sendError(c, 0, 'rate_limited', 'too many messages or bytes per second; slow down');
      return;
    }
    /** @type {Frame} */
    let f;
    try {
      f = decodeFrame(data);
      if (f.op === OP.FRAG) {
        if (f.meta.i === 0 && held.reassembly + f.payload.length > limits.maxReassemblyBytesTotal) {
          throw new ProtocolError('busy', 'the relay holds too many partial messages; send it again later');
        }
        const before = c.reasm.buffered;
        /** @type {Uint8Array | null} */
        let whole;
        try {
          whole = c.reasm.push(f);
        } finally {
          held.reassembly += c.reasm.buffered - before;
        }
        if (!whole) return;
        f = decodeFrame(whole);
        if (f.op === OP.FRAG) throw new ProtocolError('bad_fragment', 'a fragment inside a fragmented message');
      }
    } catch (e) {
      const code = e instanceof ProtocolError ? e.code : 'bad_frame';
      if (code === 'bad_version') {
        counters.badVersion++;
        sendError(c, 0, code, `${errText(e)}; this relay speaks version ${VERSION}`);
        close(c, 1002, 'unsupported protocol version');
        return;
      }
      return badFrame(c, 0, code, errText(e));
    }
    if (f.op >= OP.OK) return badFrame(c, f.id, 'bad_op', `op ${f.op} is sent by the relay, not to it`);
    if (c.inflight >= limits.maxInflightHard) return sendError(c, f.id, 'busy', 'too many requests in progress on this connection');
    const bytes = f.payload.length;
    c.inflight++;
    c.inflightBytes += bytes;
    held.inflight += bytes;
    if (
      !c.paused &&
      (c.inflight >= limits.maxInflight || c.inflightBytes >= limits.maxInflightBytes || held.inflight >= limits.maxInflightBytesTotal)
    ) {
      c.paused = true;
      pausedConns.add(c);
      c.socket.pause();
    }
    const req = f;
    (STORE_READS.has(req.op) ? readTurn(c) : Promise.resolve(null))
      .then(async (release) => {
        try {
          const [meta, payload] = await handle(c, req);
          send(c, OP.OK, req.id, meta, payload);
        } finally {
          release?.();
        }
      })
      .catch((/** @type {unknown} */ e) => {
        if (e instanceof RequestError || e instanceof ProtocolError || e instanceof StoreError) return sendError(c, req.id, e.code, e.message);
        // the store is down or failed: nothing was acknowledged; the client retries
        counters.storeErrors++;
        log(`request failed: ${errText(e)}`);
        sendError(c, req.id, 'unavailable', 'the relay could not complete this request (storage unavailable); nothing was stored, retry later');
      })
      .finally(() => {
        c.inflight--;
        c.inflightBytes -= bytes;
        held.inflight -= bytes;
        resumePaused();
      });
  }

  const server = http.createServer((req, res) => {
    if (req.method === 'GET' && req.url === '/health') {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify(stats()));
      return;
    }
    res.writeHead(404).end();
  });
  // a malformed HTTP request or handshake closes that socket, nothing else
  server.on('clientError', (_e, socket) => socket.destroy());
  const wss = new WebSocketServer({ noServer: true, maxPayload: MAX_FRAME_BYTES, perMessageDeflate: false });
  wss.on('error', (e) => log(`websocket server: ${errText(e)}`));

  server.on('upgrade', (req, socket, head) => {
    socket.on('error', () => {});
    if (!originAllowed(req.headers.origin, opts.origins ?? [])) {
      counters.refusedOrigin++;
      socket.end('HTTP/1.1 403 Forbidden\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
      return;
    }
    const addr = clientAddress(req, opts.trustProxy === true);
    if (conns.size >= limits.maxConnections || (perAddress.get(addr) ?? 0) >= limits.maxConnectionsPerAddress) {
      counters.connectionsRefused++;
      socket.end('HTTP/1.1 503 Service Unavailable\r\nConnection: close\r\n\r\n');
      return;
    }
    try {
      wss.handleUpgrade(req, socket, head, (ws) => onConnection(ws, socket, addr));
    } catch (e) {
      log(`upgrade: ${errText(e)}`);
      socket.destroy();
    }
  });

  /** @param {import('ws').WebSocket} ws @param {import('node:stream').Duplex} socket @param {string} addr */
  function onConnection(ws, socket, addr) {
    /** @type {Conn} */
    const c = {
      ws,
      socket,
      addr,
      authed: new Map(),
      subs: new Set(),
      reasm: new Reassembler({ maxBytes: limits.maxReassemblyBytes }),
      inflight: 0,
      inflightBytes: 0,
      paused: false,
      badFrames: 0,
      badTokens: 0,
      msgTokens: limits.messageBurst,
      byteTokens: limits.byteBurst,
      refill: Date.now(),
      drops: [],
      xfer: 0,
      alive: true,
      closed: false,
      lastRead: Promise.resolve(),
      serial: ++connSerial,
      presenceAt: new Map(),
    };
    conns.add(c);
    perAddress.set(addr, (perAddress.get(addr) ?? 0) + 1);
    counters.connections++;
    const authTimer = setTimeout(() => {
      if (c.authed.size === 0) close(c, 1008, 'not authenticated in time');
    }, limits.authTimeoutMs);
    ws.on('message', (data, isBinary) => {
      // a throw here would be an uncaught exception in ws's emitter: the process would die
      try {
        onMessage(c, /** @type {Buffer} */ (data), isBinary);
      } catch (e) {
        counters.badFrames++;
        log(`message handler: ${errText(e)}`);
        close(c, 1011, 'internal error');
      }
    });
    ws.on('pong', () => (c.alive = true));
    ws.on('error', (/** @type {Error & { code?: string }} */ e) => {
      if (e.code === 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH') counters.oversizeFrames++;
      else counters.badFrames++;
    });
    ws.on('close', () => {
      clearTimeout(authTimer);
      c.closed = true;
      conns.delete(c);
      pausedConns.delete(c);
      held.reassembly -= c.reasm.buffered;
      c.reasm.open.clear();
      c.reasm.buffered = 0;
      const n = (perAddress.get(addr) ?? 1) - 1;
      if (n <= 0) perAddress.delete(addr);
      else perAddress.set(addr, n);
      for (const hex of [...c.subs]) unsubscribe(c, hex);
    });
  }

  const pinger = setInterval(() => {
    for (const c of conns) {
      // partial messages left hanging are dropped (the limit is per message's age)
      const before = c.reasm.buffered;
      c.reasm.expire();
      held.reassembly += c.reasm.buffered - before;
      if (!c.alive) {
        c.ws.terminate();
        continue;
      }
      c.alive = false;
      c.ws.ping();
    }
  }, limits.pingIntervalMs);

  function stats() {
    return { ...counters, open: conns.size, feeds: feeds.size, inflightBytes: held.inflight, reassemblyBytes: held.reassembly, busHealthy: bus.healthy() ? 1 : 0, rssMB: Math.round(process.memoryUsage().rss / 1048576) };
  }

  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, opts.host ?? '127.0.0.1', () => resolve(undefined));
  });
  const addr = server.address();
  const port = typeof addr === 'object' && addr ? addr.port : 0;
  log(`listening on ws://${opts.host ?? '127.0.0.1'}:${port} (store: ${db.kind}, fan-out: ${bus.kind})`);

  return {
    port,
    host: opts.host ?? '127.0.0.1',
    store,
    stats,
    async close() {
      clearInterval(poll);
      clearInterval(sweep);
      clearInterval(pinger);
      for (const c of conns) c.ws.terminate();
      await new Promise((r) => wss.close(() => r(undefined)));
      await new Promise((r) => server.close(() => r(undefined)));
      await bus.close();
      await db.close();
    },
  };
}

/** @param {unknown} e */
function errText(e) {
  return e instanceof Error ? e.message : String(e);
}
