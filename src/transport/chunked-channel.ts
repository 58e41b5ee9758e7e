/**
 * Chunked data channels: the seam that lets y-webrtc carry messages of any size.
 *
 * Chromium drops (throws on) any data-channel message over 256 KiB, and y-webrtc swallows the
 * error, so a fresh browser never receives a document larger than ~1,100 records and every
 * later update from that peer stalls behind the missing one (reference/ywebrtc-large-updates).
 * simple-peer accepts a custom `wrtc` implementation: ours hands it RTCPeerConnections whose
 * data channels are wrapped so that
 *  - `send(message)` splits it into frames of at most FRAME_BYTES (header + payload), queues
 *    them and pumps them into the real channel only while its `bufferedAmount` is below the
 *    high-water mark, resuming on `bufferedamountlow` (flow control, no send-queue overflow);
 *  - the receiving side validates every frame header (unknown type, index/count out of
 *    range, oversized total → the frame is dropped and counted), reassembles in order (data
 *    channels are reliable and ordered) and delivers whole messages to simple-peer;
 *  - reassembly is bounded (MAX_MESSAGE_BYTES) so a hostile peer cannot exhaust memory;
 *  - a send that fails is counted and reported, never silently swallowed;
 *  - the progress of the message being received is observable: a fresh device's first sync
 *    (y-protocols step 2) is one big message, and this is the "Backfilling n%" the UI shows.
 *
 *  - with `compress`, a message of COMPRESS_MIN bytes or more travels deflated when that is
 *    smaller (a 100k-entry backfill: 31 MB → 6 MB, measured; WebRTC moved it at a few MB/s
 *    here): compression and inflation are asynchronous, so sends after a compressed one wait
 *    for it and messages after a compressed one are delivered after it — order is kept both
 *    ways; messages are inflated one at a time, in order, each into a buffer bounded by
 *    `maxMessageBytes` like reassembly and by MAX_INFLATE_RATIO × its wire bytes (no inflation
 *    bombs: three 255 KB zero-bombs inflating at once took 1.57 GB), what waits behind an
 *    inflation is bounded by `maxMessageBytes` too, and a payload that does not inflate, or
 *    would pass a bound, is dropped and counted.
 *  - `admit` (optional) sees each whole message before simple-peer does and may refuse it
 *    (the transport limits how often a peer gets the whole document: full-sync-limit.ts).
 *
 * Frame: [kind u8: 1 plain, 2 deflated][message id u32][index u32][count u32][total bytes u32]
 * payload; `total` counts the bytes on the wire (deflated ones for kind 2).
 *
 * Invariants: the real channel never holds more than HIGH_WATER + one frame of ours; a frame
 * handed to the real channel is ≤ FRAME_BYTES (< Chromium's 256 KiB max-message-size); one
 * sender's frames go out in order (a FIFO queue, no interleaving), so the receiver keeps at
 * most ONE partial message per channel, of at most `maxMessageBytes`; a message is delivered
 * whole or not at all (a send failure discards the rest of that message's frames, and the
 * receiver, missing a frame, drops the partial message and counts it).
 */

import { deflate, inflate } from './deflate.ts';

export const FRAME_BYTES = 64 * 1024;
const HEADER = 17;
const PAYLOAD = FRAME_BYTES - HEADER;
export const HIGH_WATER = 1024 * 1024;
export const LOW_WATER = 256 * 1024;
/**
 * Bound on one message, reassembled or inflated (64 MiB). A 100k-entry backfill is ~31 MB;
 * 256 MiB let three deflated zero-bombs (255 KB each) take 1.57 GB of a victim's memory.
 */
export const MAX_MESSAGE_BYTES = 64 * 1024 * 1024;
export const COMPRESS_MIN = 256 * 1024;
/**
 * Most a deflated message may expand (inflated ÷ wire bytes). The sync document deflates
 * ~5:1 (a 100k backfill, measured); deflate can reach ~1032:1 (zeros). Senders send plain
 * what would deflate better than this, so receivers can cut an inflation at this ratio: a
 * bomb then costs at most 64× its wire bytes. Without it, live memory was bounded but each
 * bomb left 64 MiB of garbage behind, faster than the GC reclaimed it (Chromium: 9 bombs in
 * 0.6 s → +415 MiB peak; 3 → +161 MiB).
 */
export const MAX_INFLATE_RATIO = 64;
const PLAIN = 1;
const DEFLATED = 2;
/** A message of our own protocol (the owned-state stream), not y-webrtc's: it goes to
 *  `hooks.onStream`, never to simple-peer, and counts in no backfill progress. */
const STREAM = 3;


/**
 * Asynchronous steps that must run in order (deflating a send, inflating a delivery), and
 * whether any is pending — then what follows waits in line. Steps report their own failures.
 */
function lane(): { readonly busy: boolean; then(step: () => unknown): void } {
  let tail: Promise<void> | null = null;
  return {
    get busy() {
      return tail !== null;
    },
    then(step) {
      const run: Promise<void> = (tail ?? Promise.resolve())
        .then(step)
        .catch(() => undefined)
        .then(() => {
          if (tail === run) tail = null;
        });
      tail = run;
    },
  };
}

export interface ChannelStats {
  framesSent: number;
  framesReceived: number;
  messagesSent: number;
  messagesReceived: number;
  bytesSent: number;
  bytesReceived: number;
  dropped: number;
  /** whole messages the sync protocol could not read (garbage inside valid frames) */
  undecodable: number;
  sendFailures: number;
  lastError: string | null;
  /** the message being received right now, if it spans several frames */
  inbound: { received: number; total: number } | null;
}

export function newChannelStats(): ChannelStats {
  return { framesSent: 0, framesReceived: 0, messagesSent: 0, messagesReceived: 0, bytesSent: 0, bytesReceived: 0, dropped: 0, undecodable: 0, sendFailures: 0, lastError: null, inbound: null };
}

/** The part of RTCDataChannel the wrapper drives and simple-peer uses. */
export interface DataChannelLike {
  binaryType: string;
  bufferedAmount: number;
  bufferedAmountLowThreshold: number;
  readonly label: string;
  readonly readyState: string;
  onmessage: ((ev: { data: unknown }) => void) | null;
  onbufferedamountlow: ((ev: unknown) => void) | null;
  onopen: ((ev: unknown) => void) | null;
  onclose: ((ev: unknown) => void) | null;
  onerror: ((ev: unknown) => void) | null;
  send(data: ArrayBuffer | ArrayBufferView): void;
  close(): void;
}

/** Receivers of the open channels: tests inject hostile inbound data through `injectInbound`. */
const live = new Set<(data: unknown) => void>();
export function injectInbound(data: unknown): number {
  for (const r of live) r(data);
  return live.size;
}

/** A failed `send` on the real channel (y-webrtc would have swallowed it). */
export interface SendFailure {
  readonly label: string;
  readonly error: string;
  /** bytes of the message that can no longer be delivered */
  readonly bytes: number;
}

export interface ChunkedHooks {
  readonly stats: ChannelStats;
  /** anything in `stats` changed (throttled for progress: every 16th frame) */
  readonly onChange?: () => void;
  readonly onSendFailure?: (f: SendFailure) => void;
  /** a wrapped channel opened or closed (the peer set a status is derived from changed) */
  readonly onChannel?: (event: 'open' | 'close') => void;
  /** bound on one reassembled message (default MAX_MESSAGE_BYTES) */
  readonly maxMessageBytes?: number;
  /** deflate messages of COMPRESS_MIN bytes or more when that makes them smaller */
  readonly compress?: boolean;
  /** a channel that can carry stream messages opened or closed (the stream net keeps a list) */
  readonly onStreamChannel?: (channel: StreamEndpoint, event: 'open' | 'close') => void;
  /** a whole stream message arrived on `channel` */
  readonly onStream?: (channel: StreamEndpoint, message: Uint8Array) => void;
  /** sees every whole inbound message first; false drops it (the caller counts why) */
  readonly admit?: (message: Uint8Array, channel: DataChannelLike) => boolean;
}

/** One data channel as the owned-state stream sees it: same framing, pacing and bounds. */
export interface StreamEndpoint {
  send(message: Uint8Array): void;
  readonly open: boolean;
}

/**
 * Inbound progress is per channel (two peers may backfill us at once); `stats.inbound` is
 * their sum, so the UI shows one figure.
 */
const inflight = new WeakMap<ChannelStats, Map<symbol, { received: number; total: number }>>();
function setInbound(stats: ChannelStats, key: symbol, v: { received: number; total: number } | null): void {
  let m = inflight.get(stats);
  if (!m) inflight.set(stats, (m = new Map<symbol, { received: number; total: number }>()));
  if (v) m.set(key, v);
  else m.delete(key);
  if (m.size === 0) {
    stats.inbound = null;
    return;
  }
  let received = 0;
  let total = 0;
  for (const x of m.values()) {
    received += x.received;
    total += x.total;
  }
  stats.inbound = { received, total };
}

function toBytes(data: unknown): Uint8Array | null {
  if (data instanceof ArrayBuffer) return new Uint8Array(data);
  if (ArrayBuffer.isView(data)) return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  if (typeof data === 'string') return new TextEncoder().encode(data);
  return null;
}

/** Wraps one real data channel; the returned object is what simple-peer sees. */
export function wrapChannel(real: DataChannelLike, hooks: ChunkedHooks): DataChannelLike {
  const { stats } = hooks;
  const maxMessage = hooks.maxMessageBytes ?? MAX_MESSAGE_BYTES;
  const key = Symbol(real.label);
  const queue: { frame: Uint8Array; id: number; total: number }[] = [];
  let queued = 0;
  let nextId = 1;
  let current: { kind: number; id: number; count: number; total: number; next: number; parts: Uint8Array[]; got: number } | null = null;
  const sends = lane();
  const deliveries = lane();
  /** wire bytes of messages waiting in `deliveries` (≤ maxMessage) */
  let backlog = 0;
  let closed = false;
  const handlers: Record<'onmessage' | 'onbufferedamountlow' | 'onopen' | 'onclose' | 'onerror', ((ev: never) => void) | null> = {
    onmessage: null, onbufferedamountlow: null, onopen: null, onclose: null, onerror: null,
  };
  let lowThreshold = 0;

  real.binaryType = 'arraybuffer';
  real.bufferedAmountLowThreshold = LOW_WATER;

  const fail = (e: unknown, bytes: number): void => {
    stats.sendFailures++;
    stats.lastError = e instanceof Error ? e.message : String(e);
    hooks.onSendFailure?.({ label: real.label, error: stats.lastError, bytes });
    hooks.onChange?.();
  };
  const pump = (): void => {
    while (queue.length && real.readyState === 'open' && real.bufferedAmount < HIGH_WATER) {
      const { frame, id, total } = queue.shift()!;
      queued -= frame.byteLength;
      try {
        real.send(frame);
        stats.framesSent++;
        stats.bytesSent += frame.byteLength;
      } catch (e) {
        // The message cannot arrive whole any more: discard its remaining frames (the
        // receiver drops the partial message) so that the NEXT message still goes through.
        while (queue.length && queue[0]!.id === id) queued -= queue.shift()!.frame.byteLength;
        fail(e, total);
        return;
      }
    }
    if (queued + real.bufferedAmount <= lowThreshold) handlers.onbufferedamountlow?.({} as never);
  };
  /** Frames one message (as it goes on the wire) into the send queue. */
  const enqueue = (bytes: Uint8Array, kind: number): void => {
    if (closed) return;
    const id = nextId++ >>> 0;
    const count = Math.max(1, Math.ceil(bytes.byteLength / PAYLOAD));
    for (let i = 0; i < count; i++) {
      const part = bytes.subarray(i * PAYLOAD, Math.min(bytes.byteLength, (i + 1) * PAYLOAD));
      const frame = new Uint8Array(HEADER + part.byteLength);
      const v = new DataView(frame.buffer);
      v.setUint8(0, kind);
      v.setUint32(1, id);
      v.setUint32(5, i);
      v.setUint32(9, count);
      v.setUint32(13, bytes.byteLength);
      frame.set(part, HEADER);
      queue.push({ frame, id, total: bytes.byteLength });
      queued += frame.byteLength;
    }
    pump();
  };
  const drop = (): void => {
    stats.dropped++;
    current = null;
    setInbound(stats, key, null);
    hooks.onChange?.();
  };
  const receive = (data: unknown): void => {
    const bytes = toBytes(data);
    const kind = bytes?.[0];
    if (!bytes || bytes.byteLength < HEADER || (kind !== PLAIN && kind !== DEFLATED && kind !== STREAM)) return drop();
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    const id = view.getUint32(1);
    const index = view.getUint32(5);
    const count = view.getUint32(9);
    const total = view.getUint32(13);
    const payload = bytes.subarray(HEADER);
    if (count === 0 || index >= count || total > maxMessage || count !== Math.max(1, Math.ceil(total / PAYLOAD)) || payload.byteLength > PAYLOAD) return drop();
    stats.framesReceived++;
    stats.bytesReceived += bytes.byteLength;
    if (index === 0) {
      if (current) stats.dropped++; // an unfinished message was abandoned by the sender
      current = { kind, id, count, total, next: 0, parts: [], got: 0 };
    }
    if (!current || current.kind !== kind || current.id !== id || current.next !== index || current.total !== total) return drop();
    current.parts.push(payload.slice());
    current.got += payload.byteLength;
    current.next++;
    if (current.got > total) return drop();
    if (current.next < count) {
      if (kind !== STREAM) setInbound(stats, key, { received: current.got, total });
      if (current.next % 16 === 1) hooks.onChange?.();
      return;
    }
    if (current.got !== total) return drop();
    const parts = current.parts;
    current = null;
    setInbound(stats, key, null);
    let message: Uint8Array;
    if (parts.length === 1) message = parts[0]!;
    else {
      message = new Uint8Array(total);
      let o = 0;
      for (const p of parts) {
        message.set(p, o);
        o += p.byteLength;
      }
    }
    if (kind === STREAM) {
      if (!closed) hooks.onStream?.(endpoint, message);
      return;
    }
    if (!deliveries.busy && kind === PLAIN) return deliver(message);
    // Waiting behind an inflation: what waits is bounded too (a peer sending deflated messages
    // faster than they inflate must not queue without end). Over the bound: dropped, counted.
    if (backlog + message.byteLength > maxMessage) {
      stats.dropped++;
      stats.lastError = `inbound backlog past ${maxMessage} bytes`;
      hooks.onChange?.();
      return;
    }
    backlog += message.byteLength;
    // One message at a time, in order: an inflation starts only when the one before it has
    // been delivered or dropped, so at most one inflated buffer exists per channel.
    deliveries.then(async () => {
      try {
        if (kind === PLAIN) return deliver(message);
        let inflated: Uint8Array;
        try {
          inflated = await inflate(message, Math.min(maxMessage, message.byteLength * MAX_INFLATE_RATIO));
        } catch (e) {
          stats.dropped++;
          stats.lastError = e instanceof Error ? e.message : String(e);
          hooks.onChange?.();
          return;
        }
        deliver(inflated);
      } finally {
        backlog -= message.byteLength;
      }
    });
  };
  const deliver = (message: Uint8Array): void => {
    if (closed) return;
    if (hooks.admit && !hooks.admit(message, wrapper)) return;
    stats.messagesReceived++;
    hooks.onChange?.();
    try {
      // Every message here is a fresh buffer of its own (a frame's copy, a reassembly, an
      // inflation): handed over as it is — a copy of a 64 MiB message is 64 MiB more peak.
      const whole = message.byteOffset === 0 && message.byteLength === message.buffer.byteLength;
      handlers.onmessage?.({ data: whole ? message.buffer : message.buffer.slice(message.byteOffset, message.byteOffset + message.byteLength) } as never);
    } catch (e) {
      // y-webrtc reads the message synchronously; a message it cannot decode must not take
      // the channel (or the page) down with it.
      stats.undecodable++;
      stats.lastError = e instanceof Error ? e.message : String(e);
      hooks.onChange?.();
    }
  };
  live.add(receive);
  const endpoint: StreamEndpoint = {
    send: (message) => enqueue(message, STREAM),
    get open() {
      return !closed && real.readyState === 'open';
    },
  };

  real.onmessage = (ev) => receive(ev.data);
  real.onbufferedamountlow = () => pump();
  let announced = false;
  const announce = (): void => {
    if (announced || closed) return;
    announced = true;
    hooks.onChannel?.('open');
    hooks.onStreamChannel?.(endpoint, 'open');
  };
  real.onopen = (ev) => {
    pump();
    handlers.onopen?.(ev as never);
    announce();
  };
  // A channel the remote side created may be open already when it is handed over (no 'open'
  // event follows): its stream side is announced all the same (simple-peer handles its own).
  if (real.readyState === 'open') queueMicrotask(announce);
  real.onclose = (ev) => {
    closed = true;
    live.delete(receive);
    // frames still queued die with the channel; y-webrtc re-runs the sync handshake on the
    // next connection, so nothing is lost for good
    queue.length = 0;
    queued = 0;
    current = null;
    setInbound(stats, key, null);
    handlers.onclose?.(ev as never);
    hooks.onChannel?.('close');
    hooks.onStreamChannel?.(endpoint, 'close');
  };
  real.onerror = (ev) => handlers.onerror?.(ev as never);

  const wrapper = {
    get binaryType() {
      return 'arraybuffer';
    },
    set binaryType(_v: string) {
      /* always arraybuffer on the wire */
    },
    get bufferedAmount() {
      return real.bufferedAmount + queued;
    },
    get bufferedAmountLowThreshold() {
      return lowThreshold;
    },
    set bufferedAmountLowThreshold(v: number) {
      lowThreshold = v;
    },
    get label() {
      return real.label;
    },
    get readyState() {
      return real.readyState;
    },
    send(data: ArrayBuffer | ArrayBufferView) {
      const bytes = toBytes(data);
      if (!bytes) throw new TypeError('chunked channel: unsupported message type');
      if (bytes.byteLength > maxMessage) {
        fail(new Error(`message of ${bytes.byteLength} bytes exceeds ${maxMessage}`), bytes.byteLength);
        return;
      }
      stats.messagesSent++;
      if (hooks.compress && bytes.byteLength >= COMPRESS_MIN) {
        const own = bytes.slice(); // the caller may reuse its buffer while we deflate
        const deflated = deflate(own).catch(() => own);
        sends.then(async () => {
          const d = await deflated;
          // deflated only when smaller, and not beyond what receivers inflate (MAX_INFLATE_RATIO)
          if (d.byteLength < own.byteLength && own.byteLength <= d.byteLength * MAX_INFLATE_RATIO) enqueue(d, DEFLATED);
          else enqueue(own, PLAIN);
        });
      } else if (sends.busy) {
        const own = bytes.slice();
        sends.then(() => enqueue(own, PLAIN));
      } else enqueue(bytes, PLAIN);
    },
    close() {
      closed = true;
      queue.length = 0;
      queued = 0;
      real.close();
    },
  } as DataChannelLike;
  for (const k of Object.keys(handlers) as (keyof typeof handlers)[]) {
    Object.defineProperty(wrapper, k, {
      get: () => handlers[k],
      set: (fn: ((ev: never) => void) | null) => {
        handlers[k] = fn;
      },
      enumerable: true,
    });
  }
  return wrapper;
}

/** The three classes simple-peer takes as `wrtc`. */
export interface WrtcImpl {
  readonly RTCPeerConnection: typeof RTCPeerConnection;
  readonly RTCSessionDescription: typeof RTCSessionDescription;
  readonly RTCIceCandidate: typeof RTCIceCandidate;
}

/**
 * A `wrtc` implementation for simple-peer: `base`'s classes (the browser's own by default),
 * except that every data channel — created here or announced by the remote side — is chunked.
 */
export function chunkedWrtc(hooks: ChunkedHooks, base: WrtcImpl = globalThis): WrtcImpl {
  class ChunkedPeerConnection extends base.RTCPeerConnection {
    override createDataChannel(label: string, init?: RTCDataChannelInit): RTCDataChannel {
      return wrapChannel(super.createDataChannel(label, init) as unknown as DataChannelLike, hooks) as unknown as RTCDataChannel;
    }
    override set ondatachannel(fn: ((ev: RTCDataChannelEvent) => void) | null) {
      super.ondatachannel = fn
        ? (ev: RTCDataChannelEvent) => fn({ channel: wrapChannel(ev.channel as unknown as DataChannelLike, hooks) } as unknown as RTCDataChannelEvent)
        : null;
    }
    override get ondatachannel(): ((ev: RTCDataChannelEvent) => void) | null {
      return super.ondatachannel;
    }
  }
  return { RTCPeerConnection: ChunkedPeerConnection, RTCSessionDescription: base.RTCSessionDescription, RTCIceCandidate: base.RTCIceCandidate };
}
