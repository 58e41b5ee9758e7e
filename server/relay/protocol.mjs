// @ts-check
// The relay's wire format, shared by the relay and its Node client (the browser client
// speaks the same bytes). Every WebSocket message is one binary frame:
//
//   0      'T' (0x54)            magic: a stray text or foreign frame fails at byte 0
//   1      version (1)           a relay refuses versions it does not speak, by name
//   2      op                    OP below
//   3      flags (0)             reserved
//   4..7   request id (u32 BE)   echoed in the reply; 0 for pushes
//   8..9   meta length (u16 BE)  ≤ MAX_META_BYTES
//   10..   meta (UTF-8 JSON object), then payload (opaque bytes) to the end of the frame
//
// A frame is at most MAX_FRAME_BYTES. A message whose encoding is larger travels as FRAG
// frames (meta {x: transfer id, i: index, n: count}; payload = the next slice of the encoded
// message), sent in order and reassembled up to MAX_MESSAGE_BYTES; see Reassembler.
export const MAGIC = 0x54;
export const VERSION = 1;
export const HEADER_BYTES = 10;
export const MAX_FRAME_BYTES = 1024 * 1024;
export const MAX_META_BYTES = 32 * 1024;
/** a logical message (an update, a page, a read reply) reassembled from fragments */
export const MAX_MESSAGE_BYTES = 16 * 1024 * 1024;
/** fragment payload size: a FRAG frame with its header and meta stays under MAX_FRAME_BYTES */
export const FRAGMENT_BYTES = MAX_FRAME_BYTES - 1024;

export const OP = Object.freeze({
  // client → relay (each gets OK or ERROR with the same request id)
  AUTH: 1,
  APPEND: 2,
  READ: 3,
  PAGE_PUT: 4,
  PAGE_GET: 5,
  OWNERS: 6,
  SUBSCRIBE: 7,
  UNSUBSCRIBE: 8,
  SNAP_BEGIN: 9,
  SNAP_CHUNK: 10,
  SNAP_COMMIT: 11,
  SNAP_INFO: 12,
  SNAP_READ: 13,
  PING: 14,
  /** an opaque presence message (encrypted by the client) for the handle's other subscribers: never stored */
  PRESENCE: 15,
  // relay → client
  OK: 64,
  ERROR: 65,
  EV_UPDATE: 66,
  EV_PAGE: 67,
  EV_PRESENCE: 68,
  // both ways
  FRAG: 127,
});
/** @type {Set<number>} */
const OPS = new Set(Object.values(OP));

export class ProtocolError extends Error {
  /** @param {string} code @param {string} message */
  constructor(code, message) {
    super(message);
    this.code = code;
  }
}

/**
 * @typedef {{ op: number, id: number, meta: Record<string, unknown>, payload: Uint8Array }} Frame
 */

const enc = new TextEncoder();
const dec = new TextDecoder('utf-8', { fatal: true });

/**
 * @param {number} op @param {number} id @param {Record<string, unknown>} [meta]
 * @param {Uint8Array | readonly Uint8Array[]} [payload] one buffer, or parts written one after
 *   another (a reply of many items is copied once, into the frame, not first into one buffer)
 * @returns {Uint8Array}
 */
export function encodeFrame(op, id, meta = {}, payload = new Uint8Array(0)) {
  const m = enc.encode(JSON.stringify(meta));
  if (m.length > MAX_META_BYTES) throw new ProtocolError('meta_too_large', `meta is ${m.length} bytes (max ${MAX_META_BYTES})`);
  const parts = payload instanceof Uint8Array ? [payload] : payload;
  let size = 0;
  for (const p of parts) size += p.length;
  const out = new Uint8Array(HEADER_BYTES + m.length + size);
  const v = new DataView(out.buffer);
  out[0] = MAGIC;
  out[1] = VERSION;
  out[2] = op;
  out[3] = 0;
  v.setUint32(4, id >>> 0);
  v.setUint16(8, m.length);
  out.set(m, HEADER_BYTES);
  let at = HEADER_BYTES + m.length;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/**
 * Decodes one frame; throws ProtocolError (never anything else) on any malformed input.
 * @param {Uint8Array} bytes
 * @returns {Frame}
 */
export function decodeFrame(bytes) {
  if (bytes.length < HEADER_BYTES) throw new ProtocolError('bad_frame', `frame of ${bytes.length} bytes is shorter than the header`);
  if (bytes[0] !== MAGIC) throw new ProtocolError('bad_frame', 'not a relay frame (bad magic byte)');
  if (bytes[1] !== VERSION) throw new ProtocolError('bad_version', `protocol version ${bytes[1]} is not supported (this relay speaks ${VERSION})`);
  const op = /** @type {number} */ (bytes[2]);
  if (!OPS.has(op)) throw new ProtocolError('bad_op', `unknown op ${op}`);
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const id = v.getUint32(4);
  const metaLen = v.getUint16(8);
  if (metaLen > MAX_META_BYTES || HEADER_BYTES + metaLen > bytes.length) throw new ProtocolError('bad_frame', 'meta length out of range');
  /** @type {unknown} */
  let meta;
  try {
    meta = metaLen === 0 ? {} : JSON.parse(dec.decode(bytes.subarray(HEADER_BYTES, HEADER_BYTES + metaLen)));
  } catch {
    throw new ProtocolError('bad_frame', 'meta is not UTF-8 JSON');
  }
  if (meta === null || typeof meta !== 'object' || Array.isArray(meta)) throw new ProtocolError('bad_frame', 'meta is not a JSON object');
  return { op, id, meta: /** @type {Record<string, unknown>} */ (meta), payload: bytes.subarray(HEADER_BYTES + metaLen) };
}

/**
 * The frames that carry one message: itself if it fits, else FRAG frames.
 * @param {Uint8Array} encoded a whole encoded frame @param {number} transfer id for FRAG frames
 * @returns {Uint8Array[]}
 */
export function fragment(encoded, transfer) {
  if (encoded.length <= MAX_FRAME_BYTES) return [encoded];
  if (encoded.length > MAX_MESSAGE_BYTES) throw new ProtocolError('too_large', `message of ${encoded.length} bytes exceeds ${MAX_MESSAGE_BYTES}`);
  const n = Math.ceil(encoded.length / FRAGMENT_BYTES);
  const out = [];
  for (let i = 0; i < n; i++) out.push(encodeFrame(OP.FRAG, transfer, { i, n }, encoded.subarray(i * FRAGMENT_BYTES, (i + 1) * FRAGMENT_BYTES)));
  return out;
}

/**
 * Reassembles FRAG frames per transfer id, with limits: fragments in order, at most
 * `maxTransfers` open at once, at most `maxBytes` buffered in all, each message at most
 * MAX_MESSAGE_BYTES, and an open transfer older than `timeoutMs` is dropped.
 */
export class Reassembler {
  /** @param {{ maxTransfers?: number, maxBytes?: number, timeoutMs?: number, now?: () => number }} [opts] */
  constructor(opts = {}) {
    this.maxTransfers = opts.maxTransfers ?? 4;
    this.maxBytes = opts.maxBytes ?? MAX_MESSAGE_BYTES;
    this.timeoutMs = opts.timeoutMs ?? 60_000;
    this.now = opts.now ?? Date.now;
    /** @type {Map<number, { n: number, parts: Uint8Array[], bytes: number, started: number }>} */
    this.open = new Map();
    this.buffered = 0;
  }

  /**
   * Feeds one FRAG frame; returns the reassembled message's bytes when it is complete.
   * @param {Frame} f @returns {Uint8Array | null}
   */
  push(f) {
    this.expire();
    const { i, n } = f.meta;
    if (!Number.isInteger(i) || !Number.isInteger(n) || /** @type {number} */ (n) < 2 || /** @type {number} */ (n) > Math.ceil(MAX_MESSAGE_BYTES / FRAGMENT_BYTES) + 1) {
      throw new ProtocolError('bad_fragment', 'fragment index/count out of range');
    }
    const idx = /** @type {number} */ (i);
    const count = /** @type {number} */ (n);
    let t = this.open.get(f.id);
    if (!t) {
      if (idx !== 0) throw new ProtocolError('bad_fragment', `transfer ${f.id} starts at fragment ${idx}`);
      if (this.open.size >= this.maxTransfers) throw new ProtocolError('too_many_transfers', `more than ${this.maxTransfers} fragmented messages at once`);
      t = { n: count, parts: [], bytes: 0, started: this.now() };
      this.open.set(f.id, t);
    }
    if (t.n !== count || idx !== t.parts.length) {
      this.drop(f.id);
      throw new ProtocolError('bad_fragment', `transfer ${f.id}: fragment ${idx}/${count} out of order`);
    }
    if (t.bytes + f.payload.length > MAX_MESSAGE_BYTES || this.buffered + f.payload.length > this.maxBytes) {
      this.drop(f.id);
      throw new ProtocolError('too_large', `fragmented message over the limit (${MAX_MESSAGE_BYTES} bytes per message, ${this.maxBytes} buffered)`);
    }
    t.parts.push(f.payload.slice());
    t.bytes += f.payload.length;
    this.buffered += f.payload.length;
    if (t.parts.length < t.n) return null;
    this.drop(f.id);
    const out = new Uint8Array(t.bytes);
    let o = 0;
    for (const p of t.parts) {
      out.set(p, o);
      o += p.length;
    }
    return out;
  }

  /** @param {number} id */
  drop(id) {
    const t = this.open.get(id);
    if (!t) return;
    this.buffered -= t.bytes;
    this.open.delete(id);
  }

  expire() {
    const now = this.now();
    for (const [id, t] of this.open) if (now - t.started > this.timeoutMs) this.drop(id);
  }
}

// ---- validation of meta fields (every request field passes one of these) ----

const HEX = /^[0-9a-f]+$/;
const CLIENT_ID = /^[A-Za-z0-9_-]{1,64}$/;

/** @param {Record<string, unknown>} meta @param {string} key @param {number} minBytes @param {number} maxBytes @returns {Buffer} */
export function hexField(meta, key, minBytes, maxBytes) {
  const v = meta[key];
  if (typeof v !== 'string' || v.length % 2 !== 0 || v.length < minBytes * 2 || v.length > maxBytes * 2 || !HEX.test(v)) {
    throw new ProtocolError('bad_request', `${key} must be ${minBytes === maxBytes ? minBytes : `${minBytes}–${maxBytes}`} bytes as lowercase hex`);
  }
  return Buffer.from(v, 'hex');
}

/** @param {Record<string, unknown>} meta @param {string} key @param {number} min @param {number} max @param {number} [dflt] */
export function intField(meta, key, min, max, dflt) {
  const v = meta[key] ?? dflt;
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < min || v > max) throw new ProtocolError('bad_request', `${key} must be an integer in [${min}, ${max}]`);
  return v;
}

/** @param {Record<string, unknown>} meta @param {string} key */
export function clientIdField(meta, key) {
  const v = meta[key];
  if (typeof v !== 'string' || !CLIENT_ID.test(v)) throw new ProtocolError('bad_request', `${key} must be 1–64 characters of [A-Za-z0-9_-]`);
  return v;
}
