import { describe, expect, it } from 'vitest';
import * as Y from 'yjs';
import { encodeHlc } from '../../../src/core/hlc.ts';
import { createLatencyProbe, newestStamp } from '../../../src/sync/latency.ts';

const DEV = '0aaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa';
const stamp = (wall: number) => encodeHlc({ wall, counter: 0, device: DEV });

function updateOf(fn: (doc: Y.Doc) => void): Uint8Array {
  const doc = new Y.Doc();
  let out: Uint8Array | null = null;
  doc.on('update', (u: Uint8Array) => (out = u));
  doc.transact(() => fn(doc));
  return out!;
}

describe('latency probe', () => {
  it('reads the newest stamp of shared-log keys and owned records', () => {
    const u = updateOf((d) => {
      d.getMap('shared').set(stamp(1_000), { model: 'tag' });
      d.getMap(`owned:${DEV}`).set('entry:x', { hlc: stamp(5_000), data: {} });
    });
    expect(newestStamp(u)).toBe(5_000);
    expect(newestStamp(updateOf((d) => d.getMap('acks').set(DEV, 'not a stamp')))).toBeNull();
    expect(newestStamp(new Uint8Array([1, 2, 3]))).toBeNull(); // garbage: no sample, no throw
  });

  it('turns received stamps into samples when their commit lands', () => {
    let now = 10_000;
    const p = createLatencyProbe(() => now, 3);
    p.received(updateOf((d) => d.getMap('shared').set(stamp(9_990), {})));
    p.committed();
    for (const w of [9_995, 9_996, 9_997]) {
      p.received(updateOf((d) => d.getMap('shared').set(stamp(w), {})));
      now += 1;
      p.committed();
    }
    expect(p.samples().map((s) => s.ms)).toEqual([6, 6, 6]); // kept the last 3
  });
});
