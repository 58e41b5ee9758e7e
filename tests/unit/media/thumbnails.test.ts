import { describe, expect, it } from 'vitest';
import { Thumbnails, type Thumb, type ThumbStore } from '../../../src/media/thumbnails.ts';

const memoryStore = (): ThumbStore & { map: Map<string, Thumb> } => {
  const map = new Map<string, Thumb>();
  return { map, get: (c) => Promise.resolve(map.get(c)), put: (c, t) => Promise.resolve(void map.set(c, t)) };
};
const thumb = (n: number): Thumb => ({ type: 'image/webp', bytes: new ArrayBuffer(n), width: n, height: n });

describe('the thumbnail queue', () => {
  it('makes each content once, at most `concurrency` at a time, and tells who listens', async () => {
    const store = memoryStore();
    let running = 0;
    let peak = 0;
    const made: string[] = [];
    const q = new Thumbnails(store, async (file) => {
      running++;
      peak = Math.max(peak, running);
      await new Promise((r) => setTimeout(r, 5));
      running--;
      return thumb(file.size);
    }, 2);
    q.onMade((c) => made.push(c));
    const items = Array.from({ length: 10 }, (_, i) => ({ content: `c${i % 6}`, file: new Blob(['x'.repeat(i + 1)]) }));
    q.enqueue(items);
    q.enqueue(items.slice(0, 3)); // already queued: ignored
    expect(q.stats.queued).toBe(6);
    await q.idle();
    expect(peak).toBe(2);
    expect(q.stats).toEqual({ made: 6, skipped: 0, failed: 0, queued: 0 });
    expect(made.sort()).toEqual(['c0', 'c1', 'c2', 'c3', 'c4', 'c5']);
    expect(store.map.get('c0')?.width).toBe(1);
  });

  it('skips content already stored (another tab or an earlier scan made it); counts failures and goes on', async () => {
    const store = memoryStore();
    store.map.set('kept', thumb(3));
    const q = new Thumbnails(store, (file) => (file.size === 0 ? Promise.reject(new Error('cannot decode')) : Promise.resolve(thumb(file.size))));
    q.enqueue([{ content: 'kept', file: new Blob(['abc']) }, { content: 'broken', file: new Blob([]) }, { content: 'fine', file: new Blob(['ab']) }]);
    await q.idle();
    expect(q.stats).toEqual({ made: 1, skipped: 1, failed: 1, queued: 0 });
    expect([...store.map.keys()].sort()).toEqual(['fine', 'kept']);
  });

  it('a store that fails counts as a failure, not an error', async () => {
    const q = new Thumbnails({ get: () => Promise.resolve(undefined), put: () => Promise.reject(new Error('QuotaExceededError')) }, () => Promise.resolve(thumb(1)));
    q.enqueue([{ content: 'a', file: new Blob(['a']) }]);
    await q.idle();
    expect(q.stats.failed).toBe(1);
  });
});
