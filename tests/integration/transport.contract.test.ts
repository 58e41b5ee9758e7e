// The transport contract: deliver small and large updates both ways, and catch up after a
// pause. Run here against the in-memory network the simulator uses. The real provider cannot
// run twice in one JS realm (y-webrtc refuses two docs in one room per realm), so the same
// three properties are asserted for it in Chromium: tests/e2e/sync-tabs.spec.ts (tabs) and
// tests/webrtc/two-browsers.spec.ts (browsers). Running this very suite in the browser is
// left to the transport issue's follow-up.
import { afterEach, describe, expect, it } from 'vitest';
import * as Y from 'yjs';
import { createPrng } from '../../src/core/prng.ts';
import { createMemoryNetwork } from '../../src/transport/memory.ts';

interface Pair {
  readonly a: Y.Doc;
  readonly b: Y.Doc;
  pauseB(): void;
  resumeB(): void;
  /** let the transport do its work */
  settle(): Promise<void>;
  destroy(): void;
}

const wait = (ms: number) => new Promise((r) => setTimeout(r, ms));

function memoryPair(): Pair {
  const net = createMemoryNetwork(createPrng('contract'));
  const a = new Y.Doc();
  const b = new Y.Doc();
  net.join('a', a);
  net.join('b', b);
  return {
    a, b,
    pauseB: () => net.isolate('b', true),
    resumeB: () => {
      net.isolate('b', false);
      net.syncAll(); // what a reconnect does
    },
    settle: async () => {
      net.deliver();
      await wait(0);
    },
    destroy: () => undefined,
  };
}

let current: Pair | null = null;
afterEach(() => current?.destroy());

const until = async (p: Pair, f: () => boolean) => {
  for (let i = 0; i < 100 && !f(); i++) await p.settle();
  return f();
};

describe.each([
  ['in-memory network', memoryPair],
])('transport contract: %s', (_name, make) => {
  it('delivers an update both ways', async () => {
    const p = (current = make());
    await p.settle();
    p.a.getMap('m').set('x', 1);
    expect(await until(p, () => p.b.getMap('m').get('x') === 1)).toBe(true);
    p.b.getMap('m').set('y', 2);
    expect(await until(p, () => p.a.getMap('m').get('y') === 2)).toBe(true);
  });

  it('delivers a 3 MB update', async () => {
    const p = (current = make());
    await p.settle();
    p.a.transact(() => {
      for (let i = 0; i < 12_000; i++) p.a.getMap('big').set(`k${i}`, { name: `IMG_${i}.jpg`, size: i, pad: 'x'.repeat(200) });
    });
    expect(Y.encodeStateAsUpdate(p.a).byteLength).toBeGreaterThan(2_500_000);
    expect(await until(p, () => p.b.getMap('big').size === 12_000)).toBe(true);
  });

  it('a paused side misses nothing: it catches up when resumed', async () => {
    const p = (current = make());
    await p.settle();
    p.pauseB();
    p.a.getMap('m').set('while-paused', true);
    await p.settle();
    expect(p.b.getMap('m').get('while-paused')).toBeUndefined();
    p.resumeB();
    expect(await until(p, () => p.b.getMap('m').get('while-paused') === true)).toBe(true);
  });
});
