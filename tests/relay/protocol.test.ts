// The relay's frame format (server/relay/protocol.mjs): round trips, fragmentation with its
// limits, and that no input makes the decoder throw anything but a ProtocolError.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  FRAGMENT_BYTES,
  MAX_FRAME_BYTES,
  MAX_MESSAGE_BYTES,
  OP,
  ProtocolError,
  Reassembler,
  VERSION,
  decodeFrame,
  encodeFrame,
  fragment,
  type Frame,
} from '../../server/relay/protocol.mjs';

describe('relay frames', () => {
  it('round-trip op, id, meta and payload', () => {
    const payload = new Uint8Array([0, 1, 2, 255]);
    const f = decodeFrame(encodeFrame(OP.APPEND, 0xfffffffe, { h: 'ab', id: 'x' }, payload));
    expect(f.op).toBe(OP.APPEND);
    expect(f.id).toBe(0xfffffffe);
    expect(f.meta).toEqual({ h: 'ab', id: 'x' });
    expect([...f.payload]).toEqual([...payload]);
  });

  it('a payload given in parts is the same frame as the parts joined', () => {
    const parts = [new Uint8Array([1, 2]), new Uint8Array(0), new Uint8Array([3, 4, 5])];
    expect([...encodeFrame(OP.OK, 7, { items: [[1, 2], [2, 3]] }, parts)]).toEqual([...encodeFrame(OP.OK, 7, { items: [[1, 2], [2, 3]] }, new Uint8Array([1, 2, 3, 4, 5]))]);
    expect([...decodeFrame(encodeFrame(OP.OK, 7, {}, [])).payload]).toEqual([]);
  });

  it('refuse a wrong magic byte, a wrong version, an unknown op, a short header, bad meta', () => {
    const good = encodeFrame(OP.PING, 1, {});
    const code = (b: Uint8Array): string => {
      try {
        decodeFrame(b);
        return 'ok';
      } catch (e) {
        expect(e).toBeInstanceOf(ProtocolError);
        return (e as ProtocolError).code;
      }
    };
    expect(code(good)).toBe('ok');
    const wrongMagic = good.slice();
    wrongMagic[0] = 0x7b;
    expect(code(wrongMagic)).toBe('bad_frame');
    const v2 = good.slice();
    v2[1] = VERSION + 1;
    expect(code(v2)).toBe('bad_version');
    const op = good.slice();
    op[2] = 99;
    expect(code(op)).toBe('bad_op');
    expect(code(good.subarray(0, 5))).toBe('bad_frame');
    const longMeta = good.slice();
    new DataView(longMeta.buffer).setUint16(8, 500);
    expect(code(longMeta)).toBe('bad_frame');
    const arr = encodeFrame(OP.PING, 1, {});
    const notObject = new Uint8Array([...arr.subarray(0, 8), 0, 2, ...new TextEncoder().encode('[]')]);
    expect(code(notObject)).toBe('bad_frame');
    const notUtf8 = new Uint8Array([...arr.subarray(0, 8), 0, 2, 0xff, 0xfe]);
    expect(code(notUtf8)).toBe('bad_frame');
  });

  it('any bytes decode or fail with a ProtocolError, never anything else', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), fc.boolean(), (bytes, header) => {
        const b = header && bytes.length >= 10 ? Uint8Array.from([0x54, VERSION, ...bytes.subarray(2)]) : bytes;
        try {
          decodeFrame(b);
        } catch (e) {
          expect(e).toBeInstanceOf(ProtocolError);
        }
      }),
      { numRuns: 2000 },
    );
  });
});

describe('fragmentation', () => {
  const big = (n: number): Uint8Array => Uint8Array.from({ length: n }, (_, i) => (i * 31) & 255);

  it('a message over 1 MiB travels as frames of at most 1 MiB and reassembles exactly', () => {
    const enc = encodeFrame(OP.APPEND, 7, { id: 'x' }, big(3 * 1024 * 1024 + 5));
    const frames = fragment(enc, 9);
    expect(frames.length).toBe(Math.ceil(enc.length / FRAGMENT_BYTES));
    expect(frames.every((f) => f.length <= MAX_FRAME_BYTES)).toBe(true);
    const r = new Reassembler();
    let out: Uint8Array | null = null;
    for (const f of frames) out = r.push(decodeFrame(f));
    expect(out).not.toBeNull();
    expect(Buffer.from(out!).equals(Buffer.from(enc))).toBe(true);
    expect(r.buffered).toBe(0);
    expect(fragment(encodeFrame(OP.PING, 1, {}), 1).length).toBe(1);
  });

  it('refuses messages over the limit, out-of-order fragments, too many transfers, and forgets stale ones', () => {
    expect(() => fragment(new Uint8Array(MAX_MESSAGE_BYTES + 1), 1)).toThrow(ProtocolError);
    const frag = (x: number, i: number, n: number, len = 10): Frame => decodeFrame(encodeFrame(OP.FRAG, x, { i, n }, new Uint8Array(len)));
    const r = new Reassembler({ maxTransfers: 2, maxBytes: 1000 });
    expect(() => r.push(frag(1, 1, 3))).toThrow(/starts at fragment 1/);
    r.push(frag(1, 0, 3));
    expect(() => r.push(frag(1, 2, 3))).toThrow(/out of order/);
    expect(r.open.size).toBe(0);
    r.push(frag(2, 0, 3));
    r.push(frag(3, 0, 3));
    expect(() => r.push(frag(4, 0, 3))).toThrow(/more than 2/);
    expect(() => r.push(frag(2, 1, 3, 2000))).toThrow(/over the limit/);
    expect(() => r.push(frag(5, 0, 1))).toThrow(/out of range/);
    let now = 0;
    const t = new Reassembler({ timeoutMs: 100, now: () => now });
    t.push(frag(1, 0, 2));
    now = 500;
    expect(() => t.push(frag(1, 1, 2))).toThrow(/starts at fragment 1/);
    expect(t.buffered).toBe(0);
  });
});
