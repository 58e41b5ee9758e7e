// The chunked channel over a fake data-channel pair that behaves like Chromium's: a send over
// 256 KiB throws, bufferedAmount grows with what is in flight and drains asynchronously,
// `bufferedamountlow` fires when it falls to the threshold.
import { describe, expect, it } from 'vitest';
import { FRAME_BYTES, HIGH_WATER, newChannelStats, wrapChannel, type DataChannelLike } from '../../../src/transport/chunked-channel.ts';

const MAX = 262_144;

function fakePair() {
  let peak = 0;
  const make = (): DataChannelLike & { other?: DataChannelLike & { deliver: (d: Uint8Array) => void }; deliver: (d: Uint8Array) => void } => {
    const ch = {
      binaryType: 'blob',
      bufferedAmount: 0,
      bufferedAmountLowThreshold: 0,
      label: 'x',
      readyState: 'open',
      onmessage: null as DataChannelLike['onmessage'],
      onbufferedamountlow: null as DataChannelLike['onbufferedamountlow'],
      onopen: null,
      onclose: null,
      onerror: null,
      other: undefined as undefined | ReturnType<typeof make>,
      send(data: ArrayBuffer | ArrayBufferView) {
        const bytes = new Uint8Array((data as Uint8Array).slice());
        if (bytes.byteLength > MAX) throw new TypeError('Trying to send message larger than max-message-size');
        ch.bufferedAmount += bytes.byteLength;
        peak = Math.max(peak, ch.bufferedAmount);
        setTimeout(() => {
          ch.bufferedAmount -= bytes.byteLength;
          ch.other!.deliver(bytes);
          if (ch.bufferedAmount <= ch.bufferedAmountLowThreshold) ch.onbufferedamountlow?.({});
        }, 0);
      },
      close() {
        ch.readyState = 'closed';
      },
      deliver(d: Uint8Array) {
        ch.onmessage?.({ data: d.buffer });
      },
    };
    return ch;
  };
  const a = make();
  const b = make();
  a.other = b;
  b.other = a;
  return { a, b, peak: () => peak };
}

function setup() {
  const pair = fakePair();
  const sa = newChannelStats();
  const sb = newChannelStats();
  const wa = wrapChannel(pair.a, { stats: sa });
  const wb = wrapChannel(pair.b, { stats: sb });
  const got: Uint8Array[] = [];
  wb.onmessage = (ev) => got.push(new Uint8Array(ev.data as ArrayBuffer));
  return { pair, wa, wb, sa, sb, got };
}
const bytes = (n: number, seed = 1) => Uint8Array.from({ length: n }, (_, i) => (i * 31 + seed) & 0xff);
const until = async (f: () => boolean) => {
  for (let i = 0; i < 20_000 && !f(); i++) await new Promise((r) => setTimeout(r, 0));
};

describe('chunked data channel', () => {
  it('delivers 1 B, 256 KiB + 1 and 30 MB messages intact and in order', async () => {
    const { wa, got, sb, pair } = setup();
    const msgs = [bytes(1), bytes(MAX + 1, 2), bytes(30 * 1024 * 1024, 3), bytes(10, 4)];
    for (const m of msgs) wa.send(m);
    await until(() => got.length === msgs.length);
    expect(got.map((g) => g.byteLength)).toEqual(msgs.map((m) => m.byteLength));
    for (let i = 0; i < msgs.length; i++) expect(Buffer.compare(Buffer.from(got[i]!), Buffer.from(msgs[i]!))).toBe(0);
    expect(sb.dropped).toBe(0);
    expect(pair.peak()).toBeLessThanOrEqual(HIGH_WATER + FRAME_BYTES); // flow control held
  });

  it('the same 30 MB message through a raw channel throws like Chromium (the failure we fix)', () => {
    const { pair } = setup();
    expect(() => pair.a.send(bytes(MAX + 1))).toThrow(/max-message-size/);
  });

  it('reports progress of a large inbound message', async () => {
    const { wa, sb, got } = setup();
    const seen: number[] = [];
    const timer = setInterval(() => sb.inbound && seen.push(sb.inbound.received / sb.inbound.total), 0);
    wa.send(bytes(8 * 1024 * 1024));
    await until(() => got.length === 1);
    clearInterval(timer);
    expect(seen.length).toBeGreaterThan(0);
    expect(seen.every((x) => x > 0 && x < 1)).toBe(true);
    expect(sb.inbound).toBeNull();
  });

  it('drops and counts malformed frames without breaking later messages', async () => {
    const { pair, wa, sb, got } = setup();
    pair.b.deliver(new Uint8Array([9, 9, 9])); // too short
    pair.b.deliver(Uint8Array.from({ length: 40 }, () => 7)); // wrong kind
    const liar = new Uint8Array(17 + 4);
    const v = new DataView(liar.buffer);
    v.setUint8(0, 1);
    v.setUint32(1, 5);
    v.setUint32(5, 3); // index 3 of count 2
    v.setUint32(9, 2);
    v.setUint32(13, 4);
    pair.b.deliver(liar);
    const huge = new Uint8Array(17);
    const hv = new DataView(huge.buffer);
    hv.setUint8(0, 1);
    hv.setUint32(9, 70_000);
    hv.setUint32(13, 0xffffffff); // 4 GiB announced
    pair.b.deliver(huge);
    expect(sb.dropped).toBe(4);
    wa.send(bytes(300_000));
    await until(() => got.length === 1);
    expect(got[0]!.byteLength).toBe(300_000);
  });

  it('counts a failing send instead of swallowing it', () => {
    const { pair, wa, sa } = setup();
    pair.a.send = () => {
      throw new Error('channel broke');
    };
    wa.send(bytes(10));
    expect(sa.sendFailures).toBe(1);
    expect(sa.lastError).toBe('channel broke');
  });
});
