import { describe, expect, it } from 'vitest';
import { createAntiEntropy, differingTables, type PeerSyncState } from '../../../src/sync/anti-entropy.ts';

function setup(initial: PeerSyncState[], busy = false, mine = 'mine') {
  let peers = initial;
  const published: unknown[] = [];
  const resyncedAt: number[] = [];
  let digests = 0;
  let now = 0;
  const ae = createAntiEntropy({
    digest: () => (digests++, Promise.resolve(mine)),
    busy: () => busy,
    publish: (s) => published.push(s),
    peers: () => peers,
    resync: () => resyncedAt.push(now),
    now: () => now,
  });
  /** one check every 3 s, as the app runs them */
  const tick = async (n = 1) => {
    for (let i = 0; i < n; i++) {
      now += 3000;
      await ae.check();
    }
  };
  return {
    ae, published, tick, resyncedAt,
    now: () => now,
    digests: () => digests, resyncs: () => resyncedAt.length,
    setPeers: (p: PeerSyncState[]) => (peers = p), setBusy: (b: boolean) => (busy = b),
  };
}

describe('anti-entropy', () => {
  it('resyncs after a mismatch persists for three idle checks, and says so', async () => {
    const t = setup([{ device: 'B', digest: 'other', busy: false }]);
    await t.ae.check();
    await t.ae.check();
    expect(t.resyncs()).toBe(0);
    await t.ae.check();
    expect(t.resyncs()).toBe(1);
    expect(t.ae.stats).toMatchObject({ resyncs: 1, lastResync: 'B' });
    expect(t.published).toContainEqual({ digest: 'mine', busy: false });
  });

  it('a mismatch that heals, or a busy side, is not one', async () => {
    const t = setup([{ device: 'B', digest: 'other', busy: false }]);
    await t.ae.check();
    await t.ae.check();
    t.setPeers([{ device: 'B', digest: 'mine', busy: false }]);
    await t.ae.check();
    t.setPeers([{ device: 'B', digest: 'other', busy: true }]);
    for (let i = 0; i < 5; i++) await t.ae.check();
    t.setPeers([{ device: 'B', digest: 'other', busy: false }]);
    t.setBusy(true);
    for (let i = 0; i < 5; i++) await t.ae.check();
    expect(t.resyncs()).toBe(0);
  });

  it('computes no digest while this device is syncing; publishes the last one marked busy', async () => {
    const t = setup([{ device: 'B', digest: 'other', busy: false }], true);
    await t.ae.check();
    expect([t.digests(), t.published]).toEqual([0, []]);
    t.setBusy(false);
    await t.ae.check();
    t.setBusy(true);
    for (let i = 0; i < 4; i++) await t.ae.check();
    expect(t.digests()).toBe(1);
    expect(t.published.at(-1)).toEqual({ digest: 'mine', busy: true });
    expect(t.resyncs()).toBe(0);
  });

  it('backs off per peer after resyncs that do not repair: 3 s, 6 s, 12 s … at most 5 min', async () => {
    const t = setup([{ device: 'B', digest: 'other', busy: false }]);
    await t.tick(3);
    expect(t.resyncedAt).toEqual([9000]);
    // 3 idle checks with a mismatch are needed after each resync (9 s), and the back-off on top
    while (t.now() < 2 * 3600_000) await t.tick();
    const gaps = t.resyncedAt.slice(1).map((at, i) => at - t.resyncedAt[i]!);
    expect(gaps.slice(0, 9)).toEqual([9000, 9000, 12_000, 24_000, 48_000, 96_000, 192_000, 300_000, 300_000]);
    expect(new Set(gaps.slice(7))).toEqual(new Set([300_000]));
    expect(t.ae.stats.resyncs).toBe(t.resyncedAt.length);
  });

  it('says which tables still differ from which peer after how many resyncs, and when it retries', async () => {
    const t = setup([{ device: 'B', digest: 'entries=9;tags=2', busy: false }, { device: 'C', digest: 'entries=1;tags=2', busy: false }], false, 'entries=1;tags=2');
    await t.tick(3);
    expect(t.resyncs()).toBe(1);
    expect(t.ae.stats.unrepaired).toEqual([]); // a first resync may well repair it
    await t.tick(3); // it did not
    expect(t.ae.stats.unrepaired).toEqual([{ device: 'B', tables: ['entries'], resyncs: 2, retryAt: 18_000 + 6000 }]);
    await t.tick(3);
    expect(t.ae.stats.unrepaired).toEqual([{ device: 'B', tables: ['entries'], resyncs: 3, retryAt: 27_000 + 12_000 }]);
    await t.tick(3); // 3 checks again, but the back-off (12 s) is not over
    expect(t.resyncs()).toBe(3);
    expect(t.ae.stats.unrepaired).toEqual([{ device: 'B', tables: ['entries'], resyncs: 3, retryAt: 39_000 }]);
    // repaired: forgotten, and a new difference starts over without back-off
    t.setPeers([{ device: 'B', digest: 'entries=1;tags=2', busy: false }]);
    await t.tick();
    expect(t.ae.stats.unrepaired).toEqual([]);
    t.setPeers([{ device: 'B', digest: 'entries=1;tags=3', busy: false }]);
    const before = t.resyncs();
    await t.tick(3);
    expect(t.resyncs()).toBe(before + 1);
    await t.tick(3);
    expect(t.ae.stats.unrepaired).toEqual([{ device: 'B', tables: ['tags'], resyncs: 2, retryAt: t.now() + 6000 }]);
    // a peer that leaves takes its difference with it
    t.setPeers([]);
    await t.tick();
    expect(t.ae.stats.unrepaired).toEqual([]);
  });

  it('a busy moment does not reset the back-off of a difference resyncs did not repair', async () => {
    const t = setup([{ device: 'B', digest: 'other', busy: false }]);
    await t.tick(13); // the 4th resync at 39 s; the next one not before 39 + 24 s
    expect(t.resyncedAt).toEqual([9000, 18_000, 27_000, 39_000]);
    t.setPeers([{ device: 'B', digest: 'other', busy: true }]);
    await t.tick(2);
    t.setPeers([{ device: 'B', digest: 'other', busy: false }]);
    await t.tick(3); // 3 idle mismatches again at 54 s: not yet
    expect(t.resyncs()).toBe(4);
    await t.tick(3);
    expect(t.resyncedAt).toEqual([9000, 18_000, 27_000, 39_000, 63_000]);
    expect(t.ae.stats.unrepaired[0]).toMatchObject({ device: 'B', resyncs: 5, retryAt: 63_000 + 48_000 });
  });

  it('compares published digests table by table', () => {
    expect(differingTables('entries=1;tags=2', 'entries=1;tags=3')).toEqual(['tags']);
    expect(differingTables('entries=1;tags=2', 'entries=1')).toEqual(['tags']);
    expect(differingTables('entries=1', 'albums=4;entries=2')).toEqual(['albums', 'entries']);
    expect(differingTables('entries=1', 'entries=1')).toEqual([]);
    expect(differingTables('', 'garbage')).toEqual([]);
  });
});
