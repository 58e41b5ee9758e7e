/**
 * The files channel's wire format (thumbnails of other devices' files, "Get from device"),
 * riding the owned-state stream's nets (transport/stream-net.ts: BroadcastChannel between
 * tabs, chunked data channels between browsers; both encrypted) — never the relay.
 *
 * Message: TAG u8 (0xF1) · version u8 · type u8 · body. The stream's messages start with
 * their version (1), so `splitNet` tells the two apart by the first byte and each side sees
 * only its own (an older build without this channel counts ours as rejected, nothing more).
 *
 *   THUMB_ASK  JSON { c: content }
 *   THUMB      content (36 ASCII) · width u16 · height u16 · type length u8 · type · bytes
 *   THUMB_NONE JSON { c: content }
 *   GET        JSON { t: transfer, c: content, s: size, o: offset, w: window bytes }
 *   CHUNK      transfer (36 ASCII) · offset f64 · bytes
 *   ACK        JSON { t, o: bytes written by the receiver }
 *   END        JSON { t, s: size, h: hash-tree root (hex) }
 *   FAIL       JSON { t, r: reason }
 *   CANCEL     JSON { t }
 *
 * Decoding never throws: anything malformed is null (the caller counts it).
 */
import { isUuid } from '../core/uuid.ts';
import { listeners, type StreamNet } from '../transport/stream-net.ts';

export const TAG = 0xf1;
export const VERSION = 1;
export const T = { THUMB_ASK: 1, THUMB: 2, THUMB_NONE: 3, GET: 4, CHUNK: 5, ACK: 6, END: 7, FAIL: 8, CANCEL: 9 } as const;
export type FailReason = 'missing' | 'changed' | 'busy' | 'bad-request';
const REASONS: readonly string[] = ['missing', 'changed', 'busy', 'bad-request'];

const ascii = new TextEncoder();
const text = new TextDecoder();

export type FilesMessage =
  | { readonly type: typeof T.THUMB_ASK; readonly content: string }
  | { readonly type: typeof T.THUMB; readonly content: string; readonly width: number; readonly height: number; readonly mime: string; readonly bytes: Uint8Array }
  | { readonly type: typeof T.THUMB_NONE; readonly content: string }
  | { readonly type: typeof T.GET; readonly transfer: string; readonly content: string; readonly size: number; readonly offset: number; readonly window: number }
  | { readonly type: typeof T.CHUNK; readonly transfer: string; readonly offset: number; readonly bytes: Uint8Array }
  | { readonly type: typeof T.ACK; readonly transfer: string; readonly offset: number }
  | { readonly type: typeof T.END; readonly transfer: string; readonly size: number; readonly root: string }
  | { readonly type: typeof T.FAIL; readonly transfer: string; readonly reason: FailReason }
  | { readonly type: typeof T.CANCEL; readonly transfer: string };

const head = (type: number, bodyBytes: number): Uint8Array => {
  const m = new Uint8Array(3 + bodyBytes);
  m[0] = TAG;
  m[1] = VERSION;
  m[2] = type;
  return m;
};
const json = (type: number, v: unknown): Uint8Array => {
  const b = ascii.encode(JSON.stringify(v));
  const m = head(type, b.byteLength);
  m.set(b, 3);
  return m;
};

export function encode(msg: FilesMessage): Uint8Array {
  switch (msg.type) {
    case T.THUMB_ASK:
    case T.THUMB_NONE:
      return json(msg.type, { c: msg.content });
    case T.THUMB: {
      const mime = ascii.encode(msg.mime);
      const m = head(msg.type, 36 + 5 + mime.byteLength + msg.bytes.byteLength);
      m.set(ascii.encode(msg.content), 3);
      const v = new DataView(m.buffer);
      v.setUint16(39, msg.width);
      v.setUint16(41, msg.height);
      m[43] = mime.byteLength;
      m.set(mime, 44);
      m.set(msg.bytes, 44 + mime.byteLength);
      return m;
    }
    case T.GET:
      return json(msg.type, { t: msg.transfer, c: msg.content, s: msg.size, o: msg.offset, w: msg.window });
    case T.CHUNK: {
      const m = head(msg.type, 44 + msg.bytes.byteLength);
      m.set(ascii.encode(msg.transfer), 3);
      new DataView(m.buffer).setFloat64(39, msg.offset);
      m.set(msg.bytes, 47);
      return m;
    }
    case T.ACK:
      return json(msg.type, { t: msg.transfer, o: msg.offset });
    case T.END:
      return json(msg.type, { t: msg.transfer, s: msg.size, h: msg.root });
    case T.FAIL:
      return json(msg.type, { t: msg.transfer, r: msg.reason });
    case T.CANCEL:
      return json(msg.type, { t: msg.transfer });
  }
}

const count = (x: unknown): x is number => typeof x === 'number' && Number.isSafeInteger(x) && x >= 0;

/** The message, or null when it is not one of ours or is malformed. */
export function decode(m: Uint8Array): FilesMessage | null {
  if (m.byteLength < 3 || m[0] !== TAG || m[1] !== VERSION) return null;
  const type = m[2];
  if (type === T.THUMB) {
    if (m.byteLength < 44) return null;
    const content = text.decode(m.subarray(3, 39));
    const v = new DataView(m.buffer, m.byteOffset, m.byteLength);
    const n = m[43]!;
    if (!isUuid(content) || m.byteLength < 44 + n) return null;
    return { type, content, width: v.getUint16(39), height: v.getUint16(41), mime: text.decode(m.subarray(44, 44 + n)), bytes: m.slice(44 + n) };
  }
  if (type === T.CHUNK) {
    if (m.byteLength < 47) return null;
    const transfer = text.decode(m.subarray(3, 39));
    const offset = new DataView(m.buffer, m.byteOffset, m.byteLength).getFloat64(39);
    if (!isUuid(transfer) || !count(offset)) return null;
    return { type, transfer, offset, bytes: m.subarray(47) };
  }
  let o: Record<string, unknown>;
  try {
    const v: unknown = JSON.parse(text.decode(m.subarray(3)));
    if (typeof v !== 'object' || v === null) return null;
    o = v as Record<string, unknown>;
  } catch {
    return null;
  }
  switch (type) {
    case T.THUMB_ASK:
    case T.THUMB_NONE:
      return isUuid(o['c']) ? { type, content: o['c'] } : null;
    case T.GET: {
      const { t, c, s, o: off, w } = o;
      return isUuid(t) && isUuid(c) && count(s) && count(off) && count(w) && off <= s ? { type, transfer: t, content: c, size: s, offset: off, window: w } : null;
    }
    case T.ACK:
      return isUuid(o['t']) && count(o['o']) ? { type, transfer: o['t'], offset: o['o'] } : null;
    case T.END:
      return isUuid(o['t']) && count(o['s']) && typeof o['h'] === 'string' && /^[0-9a-f]{64}$/.test(o['h']) ? { type, transfer: o['t'], size: o['s'], root: o['h'] } : null;
    case T.FAIL:
      return isUuid(o['t']) && typeof o['r'] === 'string' && REASONS.includes(o['r']) ? { type, transfer: o['t'], reason: o['r'] as FailReason } : null;
    case T.CANCEL:
      return isUuid(o['t']) ? { type, transfer: o['t'] } : null;
    default:
      return null;
  }
}

/** Whether a net message belongs to the files channel (by its first byte). */
export const isFilesMessage = (m: Uint8Array): boolean => m.byteLength > 0 && m[0] === TAG;

/**
 * One net seen as two: messages whose first byte is TAG go to `files`, all others to `rest`
 * (the stream). Sending, pausing and counters are the base net's; destroying `files` only
 * detaches its listeners.
 */
export function splitNet(base: StreamNet): { readonly files: StreamNet; readonly rest: StreamNet } {
  const mine = listeners();
  const others = listeners();
  base.onReceive((from, m) => (isFilesMessage(m) ? mine.emit(from, m) : others.emit(from, m)));
  const view = (out: ReturnType<typeof listeners>, own: boolean): StreamNet => ({
    get counters() {
      return base.counters;
    },
    send: (to, m) => base.send(to, m),
    onReceive: (cb) => out.add(cb),
    reaches: (d) => base.reaches?.(d) ?? false,
    setPaused: (p) => base.setPaused(p),
    destroy: () => (own ? undefined : base.destroy()),
  });
  return { files: view(mine, true), rest: view(others, false) };
}
