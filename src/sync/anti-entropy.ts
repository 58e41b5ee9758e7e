/**
 * Anti-entropy (DESIGN §7): y-webrtc exchanges state only when a connection starts, so one
 * lost message (a BroadcastChannel closed at the wrong moment, a dropped frame) can leave two
 * connected devices apart for good. Every few seconds each device publishes the digest of its
 * synced tables; when a connected peer shows a different digest while both are idle, and
 * still does on the next checks, this device re-runs the sync handshake and says so.
 */
export interface PeerSyncState {
  readonly device: string;
  readonly digest: string | null;
  readonly busy: boolean;
}

export interface AntiEntropyDeps {
  /** digest of this device's synced tables (one string) */
  readonly digest: () => Promise<string>;
  readonly busy: () => boolean;
  readonly publish: (state: { digest: string; busy: boolean }) => void;
  readonly peers: () => readonly PeerSyncState[];
  /** re-run the sync handshake with every peer */
  readonly resync: () => void;
  /** checks with a mismatch before resyncing */
  readonly patience?: number;
}

export interface AntiEntropy {
  /** one round: publish our digest, compare with peers, resync on a persistent mismatch */
  check(): Promise<void>;
  readonly stats: { checks: number; mismatches: number; resyncs: number; lastResync: string | null; lastDigest: string | null };
}

export function createAntiEntropy(deps: AntiEntropyDeps): AntiEntropy {
  const patience = deps.patience ?? 3;
  const strikes = new Map<string, number>();
  const stats = { checks: 0, mismatches: 0, resyncs: 0, lastResync: null as string | null, lastDigest: null as string | null };
  return {
    stats,
    async check() {
      stats.checks++;
      // While syncing, a digest would be stale at once and costs a pass over every row in
      // the storage worker (delaying the very commits being waited for): publish the last
      // one, marked busy, which peers ignore.
      if (deps.busy()) {
        if (stats.lastDigest !== null) deps.publish({ digest: stats.lastDigest, busy: true });
        return;
      }
      const digest = await deps.digest();
      stats.lastDigest = digest;
      const busy = deps.busy();
      deps.publish({ digest, busy });
      if (busy) return;
      let resync: string | null = null;
      for (const p of deps.peers()) {
        if (p.busy || p.digest === null || p.digest === digest) {
          strikes.delete(p.device);
          continue;
        }
        const n = (strikes.get(p.device) ?? 0) + 1;
        stats.mismatches++;
        strikes.set(p.device, n);
        if (n >= patience) resync = p.device;
      }
      if (resync) {
        strikes.clear();
        stats.resyncs++;
        stats.lastResync = resync;
        deps.resync();
      }
    },
  };
}

/** One short string for a per-table digest object (order-stable). */
export const digestKey = (d: Record<string, string>): string =>
  Object.keys(d)
    .sort()
    .map((k) => `${k}=${d[k]}`)
    .join(';');
