/**
 * "Get from device": a file only another device holds, streamed to this one over the files
 * channel (files-wire.ts), chunked, flow-controlled, resumable and verified. No DOM: reading,
 * keeping, hashing and time come in as dependencies (the browser passes File slices, the
 * IndexedDB part store and WebCrypto; tests pass memory and Node's WebCrypto).
 *
 * Invariants:
 *  F1 Flow control: a sender never has more than `window` bytes sent beyond the last offset
 *     the receiver ACKed, and a receiver ACKs an offset only once the bytes up to it are
 *     kept — so memory on both sides is bounded by the window, whatever the file's size.
 *  F2 Chunks are CHUNK bytes at offsets k·CHUNK (the last one shorter): a receiver keeps
 *     exactly the bytes [0, received) and resumes by asking again from `received`, from the
 *     same or any other device holding the content, after a disconnect or a reload.
 *  F3 Verified twice before anything is offered: the sender hashes the whole file as it reads
 *     (a tree: SHA-256 of each chunk, the root over size and the leaves; a resumed sender
 *     hashes the part it does not send again), the receiver computes the same tree from what
 *     it kept; and the receiver recomputes the entry's sampled content identity
 *     (core/content-hash.ts) from the kept bytes. Any mismatch: a clear error, nothing kept.
 *  F5 A verified file stays as this device's copy (`Part.keep`): a later get of the content
 *     is answered from it, checked again by its sampled identity, with no transfer. Before a
 *     transfer starts, the store makes room for the whole file within its budget (parts.ts C1),
 *     never taking a content being received here nor the last one verified (it may be shown).
 *  F4 A peer's bytes never throw here: a message that is malformed, for a transfer nobody
 *     runs, from a device that is not the source, at an offset that is not the next one, or
 *     longer than a chunk is counted (`stats.rejected`) and ignored. Messages a source sent
 *     before this receiver left it (it went offline, stalled, or the attempt was cancelled,
 *     finished or asked again) are dropped too, but counted apart (`stats.late`): presence
 *     and the bytes travel on different channels, so an honest source's queued chunks still
 *     land after its departure was heard, and they say nothing of hostility.
 */
import { contentHash, type HashDeps } from '../core/content-hash.ts';
import { contentUuid } from '../core/uuid.ts';
import type { StreamNet } from '../transport/stream-net.ts';
import { decode, encode, T, type FailReason, type FilesMessage } from './files-wire.ts';

export const CHUNK = 256 * 1024;
/** bytes in flight per transfer (F1) */
export const WINDOW = 16 * CHUNK;
const MAX_WINDOW = 64 * CHUNK;
/** transfers one device serves to one peer at once */
const SERVE_PER_PEER = 2;
/** a receiver that hears nothing for this long looks for a source again */
export const STALL_MS = 6_000;
/** a sender dropped by its receiver (no ACK) is forgotten after this */
const SENDER_IDLE_MS = 60_000;
const TICK_MS = 1_000;
/** attempts left that are still told apart from a stranger's (F4): far more than run at once */
const LEFT_KEPT = 256;

/** Kept bytes of one transfer, appended in order (F2). */
export interface Part {
  /** bytes kept, from 0 */
  readonly size: number;
  append(bytes: Uint8Array): Promise<void>;
  /** everything kept, as one Blob (disk-backed in the browser) */
  blob(): Promise<Blob>;
  /** forget the bytes (failure, or the caller is done) */
  discard(): Promise<void>;
  /** verified: this device's copy of the content (F5) */
  readonly kept: boolean;
  /** marks the part verified and used now */
  keep(): Promise<void>;
}
/** What the store holds of one content: a verified copy, or a part still being received. */
export interface KeptRecord {
  readonly content: string;
  readonly size: number;
  /** last written or used (ms) */
  readonly used: number;
  readonly kept: boolean;
}
export interface PartStore {
  /** the part kept for a content identity (empty when new) */
  open(content: string, size: number): Promise<Part>;
  list(): Promise<KeptRecord[]>;
  /** makes room for `size` bytes of `content` (F5); the contents removed; throws (words) when it cannot */
  room(content: string, size: number, protect: ReadonlySet<string>): Promise<string[]>;
  remove(content: string): Promise<void>;
  /** drops parts not written for long (parts.ts C2); how many */
  sweep(): Promise<number>;
}

export interface TransferDeps {
  readonly self: string;
  readonly net: StreamNet;
  /** SHA-256 */
  readonly digest: (bytes: Uint8Array) => Promise<Uint8Array>;
  readonly parts: PartStore;
  /** a file of this device with this content, or why not (serving side) */
  readonly resolve: (content: string) => Promise<Blob | null>;
  /** devices connected now */
  readonly online: () => readonly string[];
  readonly now: () => number;
  readonly randomUuid: () => string;
  readonly schedule?: (fn: () => void, ms: number) => () => void;
  /** null: only when poked (tests step time themselves) */
  readonly tickMs?: number | null;
  readonly stallMs?: number;
  /** test hook: the sender flips a byte of every chunk it sends (a corrupt or hostile sender) */
  readonly corruptSends?: () => boolean;
  /** test hook: the sender waits this long (ms) before each chunk (a slow link, to interrupt) */
  readonly sendDelay?: () => number;
}

export type TransferStatus = 'asking' | 'receiving' | 'waiting' | 'verifying' | 'done' | 'failed' | 'cancelled';

export interface TransferView {
  readonly content: string;
  readonly size: number;
  readonly received: number;
  readonly status: TransferStatus;
  /** the device sending now, or last */
  readonly source: string | null;
  /** what is happening or went wrong, in words */
  readonly message: string | null;
  /** the verified file, once `done` */
  readonly file: Blob | null;
}

export interface TransferStats {
  chunksIn: number;
  chunksOut: number;
  bytesIn: number;
  bytesOut: number;
  resumed: number;
  rejected: number;
  /** an honest source's messages that arrived after this receiver left it (F4) */
  late: number;
  verifyFailed: number;
  served: number;
  /** gets answered from this device's kept copy, with no transfer (F5) */
  fromCopy: number;
  /** copies or parts removed to make room (F5) */
  evicted: number;
}

export interface Transfers {
  /** starts (or returns the running) transfer of a content identity from `sources` (devices holding it) */
  get(o: { readonly content: string; readonly size: number; readonly sources: readonly string[] }): TransferView;
  view(content: string): TransferView | null;
  onChange(cb: (v: TransferView) => void): () => void;
  cancel(content: string): Promise<void>;
  /** look for sources now (presence changed) */
  poke(): void;
  /** this device's verified copies (F5) */
  copies(): Promise<KeptRecord[]>;
  /** forgets this device's copy of a content (not while it is being received) */
  removeCopy(content: string): Promise<void>;
  readonly stats: TransferStats;
  destroy(): void;
}

/** cancelled or failed: nothing more is kept for it, and its status stays */
const over = (r: { readonly view: TransferView }): boolean => r.view.status === 'cancelled' || r.view.status === 'failed';

const hex = (b: Uint8Array): string => Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');

/** Root of the hash tree (F3): SHA-256("tabdrive:tree:v1" ‖ size u64 ‖ leaf₀ ‖ leaf₁ …). */
export async function treeRoot(size: number, leaves: readonly Uint8Array[], digest: (b: Uint8Array) => Promise<Uint8Array>): Promise<string> {
  const label = new TextEncoder().encode('tabdrive:tree:v1');
  const m = new Uint8Array(label.byteLength + 8 + 32 * leaves.length);
  m.set(label, 0);
  new DataView(m.buffer).setBigUint64(label.byteLength, BigInt(size));
  leaves.forEach((l, i) => m.set(l, label.byteLength + 8 + 32 * i));
  return hex(await digest(m));
}

interface Receiving {
  view: TransferView;
  /** this attempt's id: each ask is a new one, so a former source's late messages are refused */
  id: string;
  readonly sources: readonly string[];
  part: Part | null;
  readonly leaves: Uint8Array[];
  /** writes and leaf digests run one at a time, in order */
  lane: Promise<void>;
  /** bytes handed to the lane (≥ view.received, which counts what is kept) */
  accepted: number;
  source: string | null;
  heard: number;
  /** sources that failed this transfer: not asked again by it */
  readonly refused: Set<string>;
  end: { size: number; root: string } | null;
}

interface Sending {
  readonly peer: string;
  readonly id: string;
  readonly content: string;
  readonly file: Blob;
  readonly size: number;
  readonly window: number;
  next: number;
  acked: number;
  readonly leaves: Uint8Array[];
  pumping: boolean;
  ended: boolean;
  heard: number;
  stopped: boolean;
}

export function createTransfers(deps: TransferDeps): Transfers {
  const { net, self } = deps;
  const schedule = deps.schedule ?? ((fn: () => void, ms: number) => {
    const t = setTimeout(fn, ms);
    return () => clearTimeout(t);
  });
  const stallMs = deps.stallMs ?? STALL_MS;
  const stats: TransferStats = { chunksIn: 0, chunksOut: 0, bytesIn: 0, bytesOut: 0, resumed: 0, rejected: 0, late: 0, verifyFailed: 0, served: 0, fromCopy: 0, evicted: 0 };
  const receiving = new Map<string, Receiving>(); // by content
  const byId = new Map<string, Receiving>();
  const sending = new Map<string, Sending>(); // `${peer}|${id}`
  /** attempts this receiver left, by id → the source it had asked (F4, `late`); the oldest go first */
  const left = new Map<string, string>();
  const leave = (id: string, source: string | null): void => {
    if (source === null) return;
    left.set(id, source);
    if (left.size > LEFT_KEPT) left.delete(left.keys().next().value!);
  };
  /** a message for an attempt of this receiver's that `from` was asked for and has since been left */
  const isLate = (id: string, from: string): boolean => left.get(id) === from;
  /** Leaves the source (offline, quiet): the attempt's id is retired with it, so what the
   *  source still had on the wire is told late by its id alone. */
  const leaveSource = (r: Receiving): void => {
    if (r.source === null) return;
    leave(r.id, r.source);
    byId.delete(r.id);
    r.id = deps.randomUuid();
    byId.set(r.id, r);
    r.source = null;
  };
  const subscribers = new Set<(v: TransferView) => void>();
  let destroyed = false;
  /** the last content verified here: it may be on screen, so it is not evicted (F5) */
  let lastDone: string | null = null;
  let stopTick: (() => void) | null = null;

  const send = (to: string, m: FilesMessage): void => {
    if (!destroyed) net.send(to, encode(m));
  };
  const update = (r: Receiving, patch: Partial<TransferView>): void => {
    r.view = { ...r.view, ...patch };
    for (const cb of subscribers) {
      try {
        cb(r.view);
      } catch {
        /* a subscriber's bug is not the transfer's */
      }
    }
  };
  const finish = (r: Receiving): void => {
    receiving.delete(r.view.content);
    byId.delete(r.id);
    leave(r.id, r.source);
  };

  // ---- receiving ----

  /** Asks the next reachable source for the bytes after what is kept (F2). */
  function ask(r: Receiving): void {
    const online = new Set(deps.online());
    const next = r.sources.find((d) => d !== self && online.has(d) && !r.refused.has(d));
    if (!next) {
      if (r.sources.every((d) => r.refused.has(d))) {
        update(r, { status: 'failed', message: 'No device that holds this file can send it now.' });
        finish(r);
        void r.part?.discard();
        return;
      }
      leaveSource(r);
      if (r.view.status !== 'waiting' || r.view.message === null) update(r, { status: 'waiting', message: r.view.received > 0 ? 'The device went offline — resuming when it returns.' : 'The device holding this file is offline — getting it when it returns.' });
      return;
    }
    if (r.view.received > 0) stats.resumed++;
    if (r.source !== null && online.has(r.source)) send(r.source, { type: T.CANCEL, transfer: r.id });
    byId.delete(r.id);
    leave(r.id, r.source);
    r.id = deps.randomUuid();
    byId.set(r.id, r);
    r.source = next;
    r.heard = deps.now();
    r.end = null;
    r.accepted = r.view.received;
    send(next, { type: T.GET, transfer: r.id, content: r.view.content, size: r.view.size, offset: r.view.received, window: WINDOW });
    // after a loss the words stay until bytes flow again (onChunk)
    update(r, r.view.status === 'waiting' ? { source: next } : { status: r.view.received > 0 ? 'receiving' : 'asking', source: next, message: null });
  }

  async function start(r: Receiving): Promise<void> {
    try {
      r.part = await deps.parts.open(r.view.content, r.view.size);
      if (r.part.kept && r.part.size === r.view.size && (await fromCopy(r, r.part))) return;
      await makeRoom(r);
      // a kept part from before (a reload): its leaves again, from its bytes (F2, F3)
      const keep = r.part.size === r.view.size ? r.part.size : r.part.size - (r.part.size % CHUNK);
      if (keep !== r.part.size || keep > r.view.size) {
        await r.part.discard();
        r.part = await deps.parts.open(r.view.content, r.view.size);
      } else if (keep > 0) {
        const blob = await r.part.blob();
        for (let at = 0; at < keep; at += CHUNK) r.leaves.push(await deps.digest(new Uint8Array(await blob.slice(at, at + CHUNK).arrayBuffer())));
        update(r, { received: keep });
      }
    } catch (e) {
      update(r, { status: 'failed', message: keepError(e) });
      finish(r);
      return;
    }
    if (r.view.status === 'cancelled') return;
    ask(r);
  }

  function onChunk(from: string, m: Extract<FilesMessage, { type: typeof T.CHUNK }>): void {
    const r = byId.get(m.transfer);
    const { size } = r?.view ?? { size: 0 };
    const len = m.bytes.byteLength;
    const full = m.offset + CHUNK <= size;
    if (isLate(m.transfer, from)) return void stats.late++;
    if (!r || !r.part || r.source !== from || m.offset !== r.accepted || len === 0 || (full ? len !== CHUNK : m.offset + len !== size)) return void stats.rejected++;
    r.accepted += len;
    r.heard = deps.now();
    stats.chunksIn++;
    stats.bytesIn += len;
    const bytes = m.bytes.slice();
    const part = r.part;
    r.lane = r.lane.then(async () => {
      if (destroyed || over(r)) return;
      const leaf = await deps.digest(bytes);
      // a receiver destroyed meanwhile (the tab reloads) writes nothing more: its successor
      // resumes from exactly what the store holds; one cancelled meanwhile stays cancelled
      if (destroyed || over(r)) return;
      await part.append(bytes);
      if (over(r)) return;
      r.leaves.push(leaf);
      update(r, { received: part.size, status: 'receiving', message: null });
      if (r.source === from && byId.get(m.transfer) === r) send(from, { type: T.ACK, transfer: r.id, offset: part.size }); // F1: kept, then credited
      if (r.end && part.size === r.view.size) await verify(r);
    }).catch((e: unknown) => {
      // what the store counts is whole (parts.ts C3): a later get resumes from it
      if (r.source && byId.get(r.id) === r) send(r.source, { type: T.CANCEL, transfer: r.id });
      update(r, { status: 'failed', message: keepError(e) });
      finish(r);
    });
  }

  async function verify(r: Receiving): Promise<void> {
    if (!r.part || !r.end || r.view.status === 'verifying') return;
    update(r, { status: 'verifying', message: 'Checking the file…' });
    const fail = async (message: string): Promise<void> => {
      stats.verifyFailed++;
      update(r, { status: 'failed', message, file: null });
      finish(r);
      await r.part?.discard();
    };
    if (r.end.size !== r.view.size) return fail('The file changed on that device: it is no longer the file listed here.');
    const root = await treeRoot(r.view.size, r.leaves, deps.digest);
    if (root !== r.end.root) return fail('The file arrived damaged (its checksum does not match what the device sent), so it was not kept.');
    const blob = await r.part.blob();
    const hd: HashDeps = { read: async (o, n) => new Uint8Array(await blob.slice(o, o + n).arrayBuffer()), digest: deps.digest };
    if (contentUuid(await contentHash(r.view.size, hd)) !== r.view.content) return fail('The file changed on that device: its content no longer matches this entry, so it was not kept.');
    // not marked kept (a full store): still verified, and resumed from by a later get
    await r.part.keep().catch(() => undefined);
    lastDone = r.view.content;
    update(r, { status: 'done', message: null, file: blob });
    finish(r);
  }

  /** A get answered from this device's copy (F5): true when it was whole and still matches. */
  async function fromCopy(r: Receiving, part: Part): Promise<boolean> {
    const blob = await part.blob().catch(() => null);
    if (!blob || blob.size !== r.view.size) return false;
    const hd: HashDeps = { read: async (o, n) => new Uint8Array(await blob.slice(o, o + n).arrayBuffer()), digest: deps.digest };
    if (contentUuid(await contentHash(r.view.size, hd)) !== r.view.content) {
      await part.discard();
      r.part = await deps.parts.open(r.view.content, r.view.size);
      return false;
    }
    await part.keep().catch(() => undefined); // used now: the last to be evicted
    stats.fromCopy++;
    lastDone = r.view.content;
    update(r, { status: 'done', received: r.view.size, message: null, file: blob });
    finish(r);
    return true;
  }

  /** Room for the whole file before its first byte (F5, parts.ts C1). */
  async function makeRoom(r: Receiving): Promise<void> {
    const protect = new Set(receiving.keys());
    if (lastDone) protect.add(lastDone);
    stats.evicted += (await deps.parts.room(r.view.content, r.view.size, protect)).length;
  }

  // ---- sending ----

  async function serve(from: string, m: Extract<FilesMessage, { type: typeof T.GET }>): Promise<void> {
    const key = `${from}|${m.transfer}`;
    // a receiver runs one transfer per content: its former attempts at it are over
    for (const [k, s] of sending) {
      if (s.peer === from && (s.content === m.content || s.id === m.transfer)) {
        s.stopped = true;
        sending.delete(k);
      }
    }
    const busy = [...sending.values()].filter((s) => s.peer === from).length >= SERVE_PER_PEER;
    const fail = (reason: FailReason): void => send(from, { type: T.FAIL, transfer: m.transfer, reason });
    if (busy) return fail('busy');
    if ((m.offset % CHUNK !== 0 && m.offset !== m.size) || m.window < CHUNK) return fail('bad-request');
    const file = await deps.resolve(m.content).catch(() => null);
    if (!file) return fail('missing');
    if (file.size !== m.size) return fail('changed');
    const s: Sending = {
      peer: from, id: m.transfer, content: m.content, file, size: m.size, window: Math.min(m.window, MAX_WINDOW),
      next: m.offset, acked: m.offset, leaves: [], pumping: false, ended: false, heard: deps.now(), stopped: false,
    };
    sending.set(key, s);
    stats.served++;
    try {
      // a resumed transfer: the part not sent again is hashed all the same (F3)
      for (let at = 0; at < m.offset; at += CHUNK) {
        if (s.stopped || destroyed) return;
        s.leaves.push(await deps.digest(new Uint8Array(await file.slice(at, at + CHUNK).arrayBuffer())));
      }
    } catch {
      sending.delete(key);
      return fail('changed');
    }
    void pump(s);
  }

  async function pump(s: Sending): Promise<void> {
    if (s.pumping) return;
    s.pumping = true;
    const key = `${s.peer}|${s.id}`;
    try {
      while (!s.stopped && !destroyed && s.next < s.size && s.next < s.acked + s.window) {
        const delay = deps.sendDelay?.() ?? 0;
        if (delay > 0) await new Promise<void>((r) => schedule(r, delay));
        if (s.stopped || destroyed) return;
        const at = s.next;
        let bytes: Uint8Array;
        try {
          bytes = new Uint8Array(await s.file.slice(at, Math.min(s.size, at + CHUNK)).arrayBuffer());
        } catch {
          // a File whose bytes changed on disk since it was picked fails to read
          sending.delete(key);
          send(s.peer, { type: T.FAIL, transfer: s.id, reason: 'changed' });
          return;
        }
        if (s.stopped) return;
        s.leaves.push(await deps.digest(bytes));
        if (deps.corruptSends?.()) bytes[0] = bytes[0]! ^ 0xff;
        s.next = at + bytes.byteLength;
        send(s.peer, { type: T.CHUNK, transfer: s.id, offset: at, bytes });
        stats.chunksOut++;
        stats.bytesOut += bytes.byteLength;
      }
      if (!s.stopped && s.next === s.size && !s.ended) {
        s.ended = true;
        send(s.peer, { type: T.END, transfer: s.id, size: s.size, root: await treeRoot(s.size, s.leaves, deps.digest) });
      }
    } finally {
      s.pumping = false;
    }
  }

  function receive(from: string, bytes: Uint8Array): void {
    if (destroyed) return;
    const m = decode(bytes);
    if (!m) return void stats.rejected++;
    switch (m.type) {
      case T.GET:
        void serve(from, m);
        return;
      case T.ACK: {
        const s = sending.get(`${from}|${m.transfer}`);
        if (!s || m.offset > s.next || m.offset < s.acked) return void stats.rejected++;
        s.acked = m.offset;
        s.heard = deps.now();
        if (s.acked === s.size) sending.delete(`${from}|${m.transfer}`);
        else void pump(s);
        return;
      }
      case T.CANCEL: {
        const s = sending.get(`${from}|${m.transfer}`);
        if (s) s.stopped = true;
        sending.delete(`${from}|${m.transfer}`);
        return;
      }
      case T.CHUNK:
        return onChunk(from, m);
      case T.END: {
        const r = byId.get(m.transfer);
        if (isLate(m.transfer, from)) return void stats.late++;
        if (!r || r.source !== from || r.end) return void stats.rejected++;
        r.end = { size: m.size, root: m.root };
        r.heard = deps.now();
        r.lane = r.lane.then(() => (r.part && r.part.size === r.view.size ? verify(r) : undefined));
        return;
      }
      case T.FAIL: {
        const r = byId.get(m.transfer);
        if (isLate(m.transfer, from)) return void stats.late++;
        if (!r || r.source !== from) return void stats.rejected++;
        if (m.reason === 'changed') {
          update(r, { status: 'failed', message: 'The file changed on that device since it was indexed: rescan it there, then try again.' });
          finish(r);
          void r.part?.discard();
          return;
        }
        r.refused.add(from); // missing, busy, bad request: another source, if any
        ask(r);
        return;
      }
      default:
        return; // thumbnails: another module's messages
    }
  }

  /** Stalled or lost sources are left for another (F2); idle senders are forgotten. */
  function check(): void {
    const now = deps.now();
    const online = new Set(deps.online());
    for (const r of receiving.values()) {
      if (!r.part || r.view.status === 'verifying') continue;
      const gone = r.source !== null && !online.has(r.source);
      const quiet = r.source !== null && now - r.heard > stallMs;
      if (r.source === null || gone || quiet) {
        if (r.source !== null) update(r, { status: 'waiting', message: 'The device went offline — resuming when it returns.' });
        leaveSource(r);
        // what the lane still writes is kept; the next ask starts after it
        void r.lane.then(() => {
          if (r.source === null && receiving.get(r.view.content) === r) ask(r);
        });
      }
    }
    for (const [k, s] of sending) {
      if (now - s.heard > SENDER_IDLE_MS || !online.has(s.peer)) {
        s.stopped = true;
        sending.delete(k);
      }
    }
  }
  const tickMs = deps.tickMs === undefined ? TICK_MS : deps.tickMs;
  const loop = (): void => {
    if (tickMs === null || destroyed) return;
    stopTick = schedule(() => {
      check();
      loop();
    }, tickMs);
  };
  loop();
  const offReceive = net.onReceive(receive);
  // parts interrupted long ago (parts.ts C2); a failure here only leaves them for next time
  void deps.parts.sweep().catch(() => 0);

  return {
    stats,
    get(o) {
      const running = receiving.get(o.content);
      if (running) return running.view;
      const r: Receiving = {
        view: { content: o.content, size: o.size, received: 0, status: 'asking', source: null, message: null, file: null },
        id: deps.randomUuid(),
        sources: [...new Set(o.sources)],
        part: null,
        leaves: [],
        lane: Promise.resolve(),
        accepted: 0,
        source: null,
        heard: deps.now(),
        refused: new Set(),
        end: null,
      };
      receiving.set(o.content, r);
      byId.set(r.id, r);
      void start(r);
      return r.view;
    },
    view: (content) => receiving.get(content)?.view ?? null,
    onChange(cb) {
      subscribers.add(cb);
      return () => subscribers.delete(cb);
    },
    async cancel(content) {
      const r = receiving.get(content);
      if (!r) return;
      if (r.source) send(r.source, { type: T.CANCEL, transfer: r.id });
      update(r, { status: 'cancelled', message: null });
      finish(r);
      await r.lane;
      await r.part?.discard();
    },
    poke: check,
    copies: async () => (await deps.parts.list()).filter((c) => c.kept),
    async removeCopy(content) {
      if (receiving.has(content)) return;
      if (lastDone === content) lastDone = null;
      await deps.parts.remove(content);
    },
    destroy() {
      destroyed = true;
      stopTick?.();
      offReceive();
      for (const s of sending.values()) s.stopped = true;
      sending.clear();
    },
  };
}

/** The words for a failure to keep received bytes: a full disk said plainly. */
function keepError(e: unknown): string {
  const name = typeof e === 'object' && e !== null && 'name' in e ? String(e.name) : '';
  if (name === 'QuotaExceededError') return 'This browser has no room left to keep the file (its storage is full). What was received so far is kept: remove kept copies of other files or free disk space, then Get from device again.';
  if (name === 'NoRoom') return (e as Error).message;
  return `This device could not keep the file: ${e instanceof Error ? e.message : String(e)}`;
}
