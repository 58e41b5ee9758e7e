import { describe, expect, it } from 'vitest';
import { createAntiEntropy, type PeerSyncState } from '../../../src/sync/anti-entropy.ts';

function setup(initial: PeerSyncState[], busy = false) {
  let peers = initial;
  const published: unknown[] = [];
  let resyncs = 0;
  let digests = 0;
  const ae = createAntiEntropy({
    digest: () => (digests++, Promise.resolve('mine')),
    busy: () => busy,
    publish: (s) => published.push(s),
    peers: () => peers,
    resync: () => resyncs++,
  });
  return { ae, published, digests: () => digests, resyncs: () => resyncs, setPeers: (p: PeerSyncState[]) => (peers = p), setBusy: (b: boolean) => (busy = b) };
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
});
