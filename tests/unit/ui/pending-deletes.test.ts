// Deletes that wait for "Undo" (src/ui/pending-deletes.ts): nothing runs before the delay, an
// undone delete never runs, several wait independently, and one a page could not finish is
// run at the next start.
import { describe, expect, it } from 'vitest';
import { createPendingDeletes, type DeleteKind, type PendingDelete } from '../../../src/ui/pending-deletes.ts';

const T1 = '10000000-0000-4000-8000-000000000001';
const T2 = '10000000-0000-4000-8000-000000000002';
const AL = '20000000-0000-4000-8000-000000000001';

function memoryStorage() {
  const m = new Map<string, string>();
  return { getItem: (k: string) => m.get(k) ?? null, setItem: (k: string, v: string) => void m.set(k, v), removeItem: (k: string) => void m.delete(k), m };
}

function harness(storage = memoryStorage(), ok = true) {
  let now = 0;
  const timers = new Map<number, { at: number; fn: () => void }>();
  let nextTimer = 1;
  const ran: [DeleteKind, string, ...(readonly string[])[]][] = [];
  let shown: readonly PendingDelete[] = [];
  // a run that answers only when released: what storage holds meanwhile is observable
  let hold: Promise<void> | null = null;
  const d = createPendingDeletes({
    run: async (kind, uuid, targets) => {
      if (hold) await hold;
      ran.push(targets ? [kind, uuid, targets] : [kind, uuid]);
      return ok;
    },
    storage,
    key: 'k',
    now: () => now,
    setTimer: (fn, ms) => {
      const id = nextTimer++;
      timers.set(id, { at: now + ms, fn });
      return id;
    },
    clearTimer: (h) => void timers.delete(h as number),
    onChange: (items) => (shown = items),
    delayMs: 5000,
  });
  const advance = async (ms: number): Promise<void> => {
    now += ms;
    for (const [id, t] of [...timers]) {
      if (t.at <= now) {
        timers.delete(id);
        t.fn();
      }
    }
    for (let i = 0; i < 5; i++) await Promise.resolve();
  };
  return { d, ran, storage, advance, shown: () => shown, holdRuns: (p: Promise<void> | null): void => {
    hold = p;
  } };
}

describe('pending deletes', () => {
  it('run after the delay, not before', async () => {
    const h = harness();
    h.d.schedule('tag', T1, 'Vacation');
    expect(h.d.has(T1)).toBe(true);
    expect(h.shown().map((p) => p.name)).toEqual(['Vacation']);
    await h.advance(4999);
    expect(h.ran).toEqual([]);
    await h.advance(1);
    expect(h.ran).toEqual([['tag', T1]]);
    expect(h.shown()).toEqual([]);
    expect(h.storage.m.size).toBe(0); // acknowledged: nothing kept
  });

  it('an undone delete never runs; the others still do, each on its own timer', async () => {
    const h = harness();
    const a = h.d.schedule('tag', T1, 'Vacation');
    await h.advance(1000);
    h.d.schedule('tag', T2, 'Work');
    h.d.schedule('album', AL, 'Trip');
    expect(h.shown()).toHaveLength(3);
    expect(h.d.undo(a.id)).toBe(true);
    expect(h.d.undo(a.id)).toBe(false);
    await h.advance(4500);
    expect(h.ran).toEqual([]);
    await h.advance(500);
    expect(h.ran).toEqual([['tag', T2], ['album', AL]]);
    await h.advance(60_000);
    expect(h.ran).toHaveLength(2);
  });

  it('deleting the same record twice is one pending delete', async () => {
    const h = harness();
    const a = h.d.schedule('tag', T1, 'Vacation');
    expect(h.d.schedule('tag', T1, 'Vacation')).toBe(a);
    await h.advance(5000);
    expect(h.ran).toEqual([['tag', T1]]);
  });

  it('flush (pagehide) runs every pending delete at once', async () => {
    const h = harness();
    h.d.schedule('tag', T1, 'Vacation');
    h.d.schedule('location', T2, 'Photos');
    expect(await h.d.flush()).toEqual([true, true]);
    expect(h.ran).toEqual([['tag', T1], ['location', T2]]);
    await h.advance(10_000);
    expect(h.ran).toHaveLength(2);
  });

  it('a delete the page could not finish is kept and run at the next start, once', async () => {
    const storage = memoryStorage();
    const first = harness(storage);
    first.d.schedule('tag', T1, 'Vacation');
    first.d.schedule('album', AL, 'Trip');
    first.holdRuns(new Promise<void>(() => undefined)); // the page dies with its commits in flight
    void first.d.flush();
    await first.advance(0);
    expect(JSON.parse(storage.getItem('k')!)).toEqual([{ kind: 'tag', uuid: T1 }, { kind: 'album', uuid: AL }]);

    const next = harness(storage);
    expect(await next.d.resume()).toBe(2);
    expect(next.ran).toEqual([['tag', T1], ['album', AL]]);
    expect(storage.getItem('k')).toBeNull();
    expect(await harness(storage).d.resume()).toBe(0);
  });

  it('an undone delete is not kept; garbage in storage is ignored', async () => {
    const storage = memoryStorage();
    const h = harness(storage);
    const a = h.d.schedule('tag', T1, 'Vacation');
    expect(storage.getItem('k')).not.toBeNull();
    h.d.undo(a.id);
    expect(storage.getItem('k')).toBeNull();
    storage.setItem('k', JSON.stringify([{ kind: 'device', uuid: T1 }, { kind: 'tag', uuid: 'x' }, 7, { kind: 'album', uuid: AL }]));
    const next = harness(storage);
    expect(await next.d.resume()).toBe(1);
    expect(next.ran).toEqual([['album', AL]]);
    storage.setItem('k', '{not json');
    expect(await harness(storage).d.resume()).toBe(0);
  });

  it('a removal of files from a collection waits with its targets, apart from the collection itself; kept across a reload; bad targets ignored', async () => {
    const storage = memoryStorage();
    const h = harness(storage);
    const r1 = h.d.schedule('album-files', AL, 'Trip', { targets: [T1], hide: [T1] });
    const r2 = h.d.schedule('album-files', AL, 'Trip', { targets: [T2], hide: [T2] });
    expect(r2).not.toBe(r1); // each removal is its own act
    expect(h.d.has(AL)).toBe(false); // the album itself stays listed
    h.d.undo(r1.id);
    h.holdRuns(new Promise<void>(() => undefined));
    void h.d.flush();
    await h.advance(0);
    expect(JSON.parse(storage.getItem('k')!)).toEqual([{ kind: 'album-files', uuid: AL, targets: [T2] }]);
    const next = harness(storage);
    expect(await next.d.resume()).toBe(1);
    expect(next.ran).toEqual([['album-files', AL, [T2]]]);
    storage.setItem('k', JSON.stringify([{ kind: 'tag-files', uuid: T1 }, { kind: 'tag-files', uuid: T1, targets: ['x'] }, { kind: 'tag-files', uuid: T1, targets: [AL] }]));
    const third = harness(storage);
    expect(await third.d.resume()).toBe(1);
    expect(third.ran).toEqual([['tag-files', T1, [AL]]]);
  });
});
