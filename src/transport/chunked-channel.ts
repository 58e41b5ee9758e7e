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
 * Frame: [kind u8 = 1][message id u32][index u32][count u32][total bytes u32] payload.
 */

export const FRAME_BYTES = 64 * 1024;
const HEADER = 17;
const PAYLOAD = FRAME_BYTES - HEADER;
export const HIGH_WATER = 1024 * 1024;
export const LOW_WATER = 256 * 1024;
export const MAX_MESSAGE_BYTES = 256 * 1024 * 1024;

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

export interface ChunkedHooks {
  readonly stats: ChannelStats;
  readonly onChange?: () => void;
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
  const queue: Uint8Array[] = [];
  let queued = 0;
  let nextId = 1;
  let current: { id: number; count: number; total: number; next: number; parts: Uint8Array[]; got: number } | null = null;
  const handlers: Record<'onmessage' | 'onbufferedamountlow' | 'onopen' | 'onclose' | 'onerror', ((ev: never) => void) | null> = {
    onmessage: null, onbufferedamountlow: null, onopen: null, onclose: null, onerror: null,
  };
  let lowThreshold = 0;

  real.binaryType = 'arraybuffer';
  real.bufferedAmountLowThreshold = LOW_WATER;

  const fail = (e: unknown): void => {
    stats.sendFailures++;
    stats.lastError = e instanceof Error ? e.message : String(e);
    hooks.onChange?.();
  };
  const pump = (): void => {
    while (queue.length && real.readyState === 'open' && real.bufferedAmount < HIGH_WATER) {
      const frame = queue.shift()!;
      queued -= frame.byteLength;
      try {
        real.send(frame);
        stats.framesSent++;
        stats.bytesSent += frame.byteLength;
      } catch (e) {
        fail(e);
        return;
      }
    }
    if (queued + real.bufferedAmount <= lowThreshold) handlers.onbufferedamountlow?.({} as never);
  };
  const drop = (): void => {
    stats.dropped++;
    current = null;
    stats.inbound = null;
    hooks.onChange?.();
  };
  const receive = (data: unknown): void => {
    const bytes = toBytes(data);
    if (!bytes || bytes.byteLength < HEADER || bytes[0] !== 1) return drop();
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    const id = view.getUint32(1);
    const index = view.getUint32(5);
    const count = view.getUint32(9);
    const total = view.getUint32(13);
    const payload = bytes.subarray(HEADER);
    if (count === 0 || index >= count || total > MAX_MESSAGE_BYTES || count !== Math.max(1, Math.ceil(total / PAYLOAD)) || payload.byteLength > PAYLOAD) return drop();
    stats.framesReceived++;
    stats.bytesReceived += bytes.byteLength;
    if (index === 0) {
      if (current) stats.dropped++; // an unfinished message was abandoned by the sender
      current = { id, count, total, next: 0, parts: [], got: 0 };
    }
    if (!current || current.id !== id || current.next !== index || current.total !== total) return drop();
    current.parts.push(payload.slice());
    current.got += payload.byteLength;
    current.next++;
    if (current.got > total) return drop();
    if (current.next < count) {
      stats.inbound = { received: current.got, total };
      if (current.next % 16 === 1) hooks.onChange?.();
      return;
    }
    if (current.got !== total) return drop();
    const parts = current.parts;
    current = null;
    stats.inbound = null;
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
    stats.messagesReceived++;
    hooks.onChange?.();
    try {
      handlers.onmessage?.({ data: message.buffer.slice(message.byteOffset, message.byteOffset + message.byteLength) } as never);
    } catch (e) {
      // y-webrtc reads the message synchronously; a message it cannot decode must not take
      // the channel (or the page) down with it.
      stats.undecodable++;
      stats.lastError = e instanceof Error ? e.message : String(e);
      hooks.onChange?.();
    }
  };
  live.add(receive);

  real.onmessage = (ev) => receive(ev.data);
  real.onbufferedamountlow = () => pump();
  real.onopen = (ev) => {
    pump();
    handlers.onopen?.(ev as never);
  };
  real.onclose = (ev) => {
    live.delete(receive);
    handlers.onclose?.(ev as never);
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
      if (bytes.byteLength > MAX_MESSAGE_BYTES) {
        fail(new Error(`message of ${bytes.byteLength} bytes exceeds ${MAX_MESSAGE_BYTES}`));
        return;
      }
      const id = nextId++ >>> 0;
      const count = Math.max(1, Math.ceil(bytes.byteLength / PAYLOAD));
      for (let i = 0; i < count; i++) {
        const part = bytes.subarray(i * PAYLOAD, Math.min(bytes.byteLength, (i + 1) * PAYLOAD));
        const frame = new Uint8Array(HEADER + part.byteLength);
        const v = new DataView(frame.buffer);
        v.setUint8(0, 1);
        v.setUint32(1, id);
        v.setUint32(5, i);
        v.setUint32(9, count);
        v.setUint32(13, bytes.byteLength);
        frame.set(part, HEADER);
        queue.push(frame);
        queued += frame.byteLength;
      }
      stats.messagesSent++;
      pump();
    },
    close() {
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

/**
 * A `wrtc` implementation for simple-peer: the browser's own classes, except that every data
 * channel — created here or announced by the remote side — is chunked.
 */
export function chunkedWrtc(hooks: ChunkedHooks): { RTCPeerConnection: typeof RTCPeerConnection; RTCSessionDescription: typeof RTCSessionDescription; RTCIceCandidate: typeof RTCIceCandidate } {
  class ChunkedPeerConnection extends RTCPeerConnection {
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
  return { RTCPeerConnection: ChunkedPeerConnection, RTCSessionDescription, RTCIceCandidate };
}
