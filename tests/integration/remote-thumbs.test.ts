// Thumbnails of another device's files (media/remote-thumbs.ts R1–R3) over the in-memory net.
import { describe, expect, it } from 'vitest';
import { createPrng } from '../../src/core/prng.ts';
import { decode, encode, splitNet, T } from '../../src/media/files-wire.ts';
import { createRemoteThumbs, PER_PEER, type RemoteThumbs } from '../../src/media/remote-thumbs.ts';
import type { Thumb, ThumbStore } from '../../src/media/thumbnails.ts';
import { createMemoryHub } from '../../src/transport/stream-net.ts';

const A = 'aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa';
const B = 'bbbbbbbb-bbbb-4bbb-8bbb-bbbbbbbbbbbb';
const C = 'cccccccc-cccc-4ccc-8ccc-cccccccccccc';
const content = (i: number) => `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`;
const thumb = (w = 200, h = 150): Thumb => ({ type: 'image/webp', bytes: new Uint8Array([1, 2, 3, w & 255]).buffer, width: w, height: h });
const memStore = (): ThumbStore & { m: Map<string, Thumb> } => {
  const m = new Map<string, Thumb>();
  return { m, get: (c) => Promise.resolve(m.get(c)), put: (c, t) => Promise.resolve(void m.set(c, t)) };
};
const tick = () => new Promise((r) => setTimeout(r, 0));

function setup() {
  const hub = createMemoryHub(createPrng('thumbs'));
  const stores = new Map<string, ReturnType<typeof memStore>>();
  const make = (self: string, decodes = true): RemoteThumbs => {
    const store = memStore();
    stores.set(self, store);
    return createRemoteThumbs({
      self,
      net: hub.join(self),
      store,
      keep: (c, t) => store.put(c, t),
      // the browser decodes; here the claimed size is the decoded one when `decodes`
      decodes: () => Promise.resolve(decodes ? { width: 200, height: 150 } : null),
      holders: () => Promise.resolve([A]),
      online: () => [A, B, C].filter((d) => d !== self && hub.linked(self, d)),
      now: () => 0,
    });
  };
  const settle = async () => {
    for (let i = 0; i < 50; i++) {
      hub.deliver();
      await tick();
    }
  };
  return { hub, make, stores, settle };
}

describe('remote thumbnails (remote-thumbs.ts)', () => {
  it('asks the holder, keeps what it sends, at most PER_PEER asks in flight (R1, R2)', async () => {
    const s = setup();
    const a = s.make(A);
    const b = s.make(B);
    for (let i = 0; i < 10; i++) await s.stores.get(A)!.put(content(i), thumb());
    for (let i = 0; i < 10; i++) b.want(content(i));
    await tick();
    await tick();
    expect(s.hub.pending()).toBe(PER_PEER); // the rest wait for answers
    await s.settle();
    expect(s.stores.get(B)!.m.size).toBe(10);
    expect(a.stats.served).toBe(10);
    expect(b.stats.received).toBe(10);
  });

  it('"none" is remembered; a reply nobody asked for, or that does not decode, is dropped (R1, R2)', async () => {
    const s = setup();
    s.make(A);
    const b = s.make(B, false);
    await s.stores.get(A)!.put(content(1), thumb());
    b.want(content(1)); // A has it but B cannot decode it
    b.want(content(2)); // nobody has it
    await s.settle();
    expect(s.stores.get(B)!.m.size).toBe(0);
    expect(b.stats.rejected).toBe(1);
    const asked = b.stats.asked;
    b.poke();
    await s.settle();
    expect(b.stats.asked).toBe(asked); // not asked again within NONE_MS
    const evil = s.hub.join(C);
    evil.send(B, encode({ type: T.THUMB, content: content(9), width: 10, height: 10, mime: 'image/webp', bytes: new Uint8Array(4) }));
    evil.send(B, encode({ type: T.THUMB_NONE, content: content(9) }));
    await s.settle();
    expect(b.stats.unasked).toBe(2);
    expect(s.stores.get(B)!.m.has(content(9))).toBe(false);
  });

  it('an ask for a thumbnail not kept is answered "none" (R3)', async () => {
    const s = setup();
    s.make(A);
    const peer = s.hub.join(B);
    const got: number[] = [];
    peer.onReceive((_f, m) => got.push(decode(m)?.type ?? -1));
    peer.send(A, encode({ type: T.THUMB_ASK, content: content(5) }));
    await s.settle();
    expect(got).toEqual([T.THUMB_NONE]);
  });
});

describe('splitNet (files-wire.ts)', () => {
  it('hands the files channel its messages and the stream the rest, by the first byte', async () => {
    const hub = createMemoryHub(createPrng('split'));
    const a = hub.join(A);
    const { files, rest } = splitNet(hub.join(B));
    const gotFiles: number[] = [];
    const gotRest: number[] = [];
    files.onReceive((_f, m) => gotFiles.push(m[2]!));
    rest.onReceive((_f, m) => gotRest.push(m[1]!));
    a.send(B, encode({ type: T.THUMB_ASK, content: content(1) }));
    a.send(B, new Uint8Array([1, 2, 0x7b, 0x7d])); // a stream message: version 1, type 2
    hub.deliver();
    await tick();
    expect(gotFiles).toEqual([T.THUMB_ASK]);
    expect(gotRest).toEqual([2]);
  });
});
