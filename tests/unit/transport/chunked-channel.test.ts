// The chunked channel over a fake data-channel pair that behaves like Chromium's: a send over
// 256 KiB throws, bufferedAmount grows with what is in flight and drains asynchronously,
// `bufferedamountlow` fires when it falls to the threshold.
import { describe, expect, it } from 'vitest';
import { createDeflateRaw, deflateRawSync } from 'node:zlib';
import { FRAME_BYTES, HIGH_WATER, MAX_INFLATE_RATIO, MAX_MESSAGE_BYTES, newChannelStats, wrapChannel, type DataChannelLike, type SendFailure } from '../../../src/transport/chunked-channel.ts';

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

function setup(opts: { maxMessageBytes?: number; onSendFailure?: (f: SendFailure) => void } = {}) {
  const pair = fakePair();
  const sa = newChannelStats();
  const sb = newChannelStats();
  const wa = wrapChannel(pair.a, { stats: sa, ...opts });
  const wb = wrapChannel(pair.b, { stats: sb, ...opts });
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

  it('messages sent while others are still being pumped arrive intact and in send order', async () => {
    const { wa, got, pair, sb } = setup();
    const msgs = [bytes(2 * 1024 * 1024, 5), bytes(3, 6), bytes(700_000, 7), bytes(1, 8)];
    wa.send(msgs[0]!);
    await new Promise((r) => setTimeout(r, 0)); // the first is mid-flight …
    wa.send(msgs[1]!); // … when the others are queued behind it
    wa.send(msgs[2]!);
    await new Promise((r) => setTimeout(r, 0));
    wa.send(msgs[3]!);
    await until(() => got.length === msgs.length);
    expect(got.map((g) => g.byteLength)).toEqual(msgs.map((m) => m.byteLength));
    for (let i = 0; i < msgs.length; i++) expect(Buffer.compare(Buffer.from(got[i]!), Buffer.from(msgs[i]!))).toBe(0);
    expect(sb.dropped).toBe(0);
    expect(pair.peak()).toBeLessThanOrEqual(HIGH_WATER + FRAME_BYTES);
  });

  it('never puts more than the high-water mark (+ one frame) into the real channel, and reports bufferedAmount honestly', async () => {
    const { wa, got, pair } = setup();
    const samples: number[] = [];
    wa.send(bytes(20 * 1024 * 1024));
    // while pumping, the wrapper's bufferedAmount covers its own queue as well
    samples.push(wa.bufferedAmount);
    await until(() => got.length === 1);
    expect(samples[0]).toBeGreaterThan(HIGH_WATER);
    expect(pair.peak()).toBeLessThanOrEqual(HIGH_WATER + FRAME_BYTES);
    expect(wa.bufferedAmount).toBe(0);
  });

  it('a send failure mid-message is reported, discards the rest of that message, and the next message still arrives', async () => {
    const failures: SendFailure[] = [];
    const { pair, wa, sa, sb, got } = setup({ onSendFailure: (f) => failures.push(f) });
    const realSend = pair.a.send.bind(pair.a);
    let n = 0;
    pair.a.send = (d) => {
      if (++n === 3) throw new TypeError('Failure to send data');
      realSend(d);
    };
    wa.send(bytes(1024 * 1024, 9)); // 17 frames: the third fails
    wa.send(bytes(5000, 10));
    await until(() => got.length === 1);
    await new Promise((r) => setTimeout(r, 20));
    expect(failures).toEqual([{ label: 'x', error: 'Failure to send data', bytes: 1024 * 1024 }]);
    expect(sa.sendFailures).toBe(1);
    expect(got).toHaveLength(1);
    expect(Buffer.compare(Buffer.from(got[0]!), Buffer.from(bytes(5000, 10)))).toBe(0);
    expect(sb.dropped).toBe(1); // the receiver abandoned the partial message
    expect(sb.inbound).toBeNull();
  });

  it('refuses to reassemble a message over the bound, and refuses to send one', async () => {
    const failures: SendFailure[] = [];
    const { pair, wa, sb, got } = setup({ maxMessageBytes: 100_000, onSendFailure: (f) => failures.push(f) });
    const big = new Uint8Array(17 + 10);
    const v = new DataView(big.buffer);
    v.setUint8(0, 1);
    v.setUint32(1, 1);
    v.setUint32(5, 0);
    v.setUint32(9, 4);
    v.setUint32(13, 200_000); // announces 200 kB > 100 kB bound
    pair.b.deliver(big);
    expect(sb.dropped).toBe(1);
    expect(sb.inbound).toBeNull();
    wa.send(bytes(100_001));
    expect(failures.map((f) => f.bytes)).toEqual([100_001]);
    wa.send(bytes(99_000));
    await until(() => got.length === 1);
    expect(got[0]!.byteLength).toBe(99_000);
  });

  it('sums the progress of messages arriving on several channels at once', () => {
    const stats = newChannelStats();
    const p1 = fakePair();
    const p2 = fakePair();
    wrapChannel(p1.b, { stats });
    wrapChannel(p2.b, { stats });
    const frame = (index: number, count: number, total: number, len: number) => {
      const f = new Uint8Array(17 + len);
      const v = new DataView(f.buffer);
      v.setUint8(0, 1);
      v.setUint32(1, 7);
      v.setUint32(5, index);
      v.setUint32(9, count);
      v.setUint32(13, total);
      return f;
    };
    const P = FRAME_BYTES - 17;
    p1.b.deliver(frame(0, 4, 4 * P, P));
    p2.b.deliver(frame(0, 2, 2 * P, P));
    expect(stats.inbound).toEqual({ received: 2 * P, total: 6 * P });
    p2.b.deliver(frame(1, 2, 2 * P, P)); // the second one completes
    expect(stats.inbound).toEqual({ received: P, total: 4 * P });
  });
});

describe('chunked data channel, compressing', () => {
  const text = (n: number, seed: number) => new TextEncoder().encode(Array.from({ length: Math.ceil(n / 8) }, (_, i) => `"entry:${(i * 7919 + seed) % 100000}",`).join('')).slice(0, n);

  it('sends large messages deflated, small ones as they are, and delivers all intact and in send order', async () => {
    const pair = fakePair();
    const sa = newChannelStats();
    const sb = newChannelStats();
    const wa = wrapChannel(pair.a, { stats: sa, compress: true });
    const wb = wrapChannel(pair.b, { stats: sb, compress: true });
    const got: Uint8Array[] = [];
    wb.onmessage = (ev) => got.push(new Uint8Array(ev.data as ArrayBuffer));
    const msgs = [text(10, 1), text(4 * 1024 * 1024, 2), text(20, 3), text(300_000, 4), bytes(5, 5)];
    for (const m of msgs) wa.send(m);
    await until(() => got.length === msgs.length);
    expect(got.map((g) => g.byteLength)).toEqual(msgs.map((m) => m.byteLength));
    for (let i = 0; i < msgs.length; i++) expect(Buffer.compare(Buffer.from(got[i]!), Buffer.from(msgs[i]!))).toBe(0);
    const raw = msgs.reduce((n, m) => n + m.byteLength, 0);
    expect(sa.bytesSent).toBeLessThan(raw / 3); // the wire carried the deflated bytes
    expect(sb.dropped).toBe(0);
  });

  it('drops and counts a deflated payload that does not inflate, and one that inflates past the bound', async () => {
    const pair = fakePair();
    const sb = newChannelStats();
    const wa = wrapChannel(pair.a, { stats: newChannelStats(), compress: true });
    const wb = wrapChannel(pair.b, { stats: sb, maxMessageBytes: 1024 * 1024 });
    const got: Uint8Array[] = [];
    wb.onmessage = (ev) => got.push(new Uint8Array(ev.data as ArrayBuffer));
    const frame = (payload: Uint8Array) => {
      const f = new Uint8Array(17 + payload.byteLength);
      const v = new DataView(f.buffer);
      v.setUint8(0, 2);
      v.setUint32(1, 77);
      v.setUint32(5, 0);
      v.setUint32(9, 1);
      v.setUint32(13, payload.byteLength);
      f.set(payload, 17);
      return f;
    };
    pair.b.deliver(frame(bytes(100, 9))); // not deflate data
    const bomb = new Uint8Array(await new Response(new Blob([new Uint8Array(64 * 1024 * 1024)]).stream().pipeThrough(new CompressionStream('deflate-raw'))).arrayBuffer());
    pair.b.deliver(frame(bomb)); // 64 MB of zeros in ~64 KB
    wa.send(text(20, 1)); // and the channel still works, in order
    await until(() => got.length === 1 && sb.dropped === 2);
    expect(sb.dropped).toBe(2);
    expect(got[0]!.byteLength).toBe(20);
  });

  it('three inflate bombs in a row: inflated one at a time into a bounded buffer, dropped and counted; peak memory stays bounded, nothing throws', async () => {
    // 250 MiB of zeros deflated (~255 KB), streamed so that building it costs little memory.
    const bomb = await new Promise<Uint8Array>((resolve, reject) => {
      const z = createDeflateRaw();
      const out: Buffer[] = [];
      z.on('data', (b: Buffer) => out.push(b));
      z.on('end', () => resolve(new Uint8Array(Buffer.concat(out))));
      z.on('error', reject);
      const zeros = Buffer.alloc(1024 * 1024);
      for (let i = 0; i < 250; i++) z.write(zeros);
      z.end();
    });
    expect(bomb.byteLength).toBeLessThan(300_000);
    const pair = fakePair();
    const sb = newChannelStats();
    const wa = wrapChannel(pair.a, { stats: newChannelStats(), compress: true });
    const wb = wrapChannel(pair.b, { stats: sb }); // the default bound, MAX_MESSAGE_BYTES
    const got: Uint8Array[] = [];
    const errors: unknown[] = [];
    wb.onmessage = (ev) => got.push(new Uint8Array(ev.data as ArrayBuffer));
    const onError = (e: unknown) => errors.push(e);
    process.on('unhandledRejection', onError);
    process.on('uncaughtException', onError);
    // frames of one deflated message, as a hostile peer would send them
    const frames = (id: number, payload: Uint8Array): Uint8Array[] => {
      const per = FRAME_BYTES - 17;
      const count = Math.ceil(payload.byteLength / per);
      return Array.from({ length: count }, (_, i) => {
        const part = payload.subarray(i * per, (i + 1) * per);
        const f = new Uint8Array(17 + part.byteLength);
        const v = new DataView(f.buffer);
        v.setUint8(0, 2);
        v.setUint32(1, id);
        v.setUint32(5, i);
        v.setUint32(9, count);
        v.setUint32(13, payload.byteLength);
        f.set(part, 17);
        return f;
      });
    };
    const base = process.memoryUsage();
    let peakRss = base.rss;
    let peakBuffers = base.arrayBuffers;
    const sample = () => {
      const m = process.memoryUsage();
      peakRss = Math.max(peakRss, m.rss);
      peakBuffers = Math.max(peakBuffers, m.arrayBuffers);
    };
    // The inflation runs on promise jobs (a timer would never fire during it): sample memory
    // at every chunk any stream reader gets, and on a timer besides.
    const sampler = setInterval(sample, 1);
    const proto = ReadableStreamDefaultReader.prototype;
    const realRead = proto.read; // eslint-disable-line @typescript-eslint/unbound-method
    proto.read = function (this: ReadableStreamDefaultReader<unknown>) {
      return realRead.call(this).then((r) => (sample(), r));
    } as typeof proto.read;
    try {
      for (let id = 1; id <= 3; id++) for (const f of frames(id, bomb)) pair.b.deliver(f);
      const honest = text(2 * 1024 * 1024, 7); // deflated on the wire, inflates within the bound
      wa.send(honest);
      wa.send(text(20, 8));
      await until(() => got.length === 2);
      sample();
      expect(sb.dropped).toBe(3);
      expect(sb.lastError).toMatch(/inflates past/);
      expect(got.map((g) => g.byteLength)).toEqual([honest.byteLength, 20]); // in order, after the bombs
      expect(Buffer.compare(Buffer.from(got[0]!), Buffer.from(honest))).toBe(0);
    } finally {
      proto.read = realRead;
      clearInterval(sampler);
      process.off('unhandledRejection', onError);
      process.off('uncaughtException', onError);
    }
    expect(errors).toEqual([]);
    const mib = (n: number) => (n / 1024 / 1024).toFixed(0);
    console.log(`three ${bomb.byteLength}-byte inflate bombs (250 MiB of zeros each): peak ArrayBuffer memory +${mib(peakBuffers - base.arrayBuffers)} MiB, peak RSS +${mib(peakRss - base.rss)} MiB, bound ${mib(MAX_MESSAGE_BYTES)} MiB per message, 0 crashes`);
    // One inflation at a time, cut at the bound: a bomb costs ≤ the bound plus one slice's
    // output. Three bombs inflating at once to 256 MiB each peaked at 1.57 GB before.
    expect(peakBuffers - base.arrayBuffers).toBeLessThan(2 * MAX_MESSAGE_BYTES);
  });

  it('a message that deflates better than MAX_INFLATE_RATIO travels plain; a deflated one that expands past it is dropped even under the size bound', async () => {
    const pair = fakePair();
    const sa = newChannelStats();
    const sb = newChannelStats();
    const wa = wrapChannel(pair.a, { stats: sa, compress: true });
    const wb = wrapChannel(pair.b, { stats: sb });
    const got: Uint8Array[] = [];
    wb.onmessage = (ev) => got.push(new Uint8Array(ev.data as ArrayBuffer));
    const zeros = new Uint8Array(4 * 1024 * 1024); // deflates ~1000:1
    wa.send(zeros);
    await until(() => got.length === 1);
    expect(got[0]!.byteLength).toBe(zeros.byteLength);
    expect(sa.bytesSent).toBeGreaterThan(zeros.byteLength); // plain on the wire
    // 1 MiB of zeros deflated by a hostile sender: 1 MiB < the 64 MiB bound, but > 64× its wire size
    const bomb = new Uint8Array(deflateRawSync(Buffer.alloc(1024 * 1024)));
    expect(bomb.byteLength * MAX_INFLATE_RATIO).toBeLessThan(1024 * 1024);
    const f = new Uint8Array(17 + bomb.byteLength);
    const v = new DataView(f.buffer);
    v.setUint8(0, 2);
    v.setUint32(1, 99);
    v.setUint32(5, 0);
    v.setUint32(9, 1);
    v.setUint32(13, bomb.byteLength);
    f.set(bomb, 17);
    pair.b.deliver(f);
    wa.send(text(20, 1));
    await until(() => got.length === 2);
    expect(sb.dropped).toBe(1);
    expect(got[1]!.byteLength).toBe(20);
  });
});
