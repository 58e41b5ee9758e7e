/**
 * Anti-entropy (DESIGN §7): y-webrtc exchanges state only when a connection starts, so one
 * lost message (a BroadcastChannel closed at the wrong moment, a dropped frame) can leave two
 * connected devices apart for good. Every few seconds each device publishes the digest of its
 * synced tables; when a connected peer shows a different digest while both are idle, and
 * still does on the next checks, this device re-runs the sync handshake and says so.
 *
 * A resync that does not repair the difference (the peers hold different rows that a
 * handshake cannot reconcile: a bug, or a rule applied differently) is not repeated every
 * few seconds forever: per peer, the next one waits twice as long as the last (3 s, 6 s,
 * 12 s … at most 5 min), and what still differs — which tables, from which peer, after how
 * many resyncs, when the next one is due — is kept in `stats.unrepaired` for the inspector.
 * A peer whose digest matches again is forgotten (its back-off starts over).
 */
export interface PeerSyncState {
  readonly device: string;
  readonly digest: string | null;
  readonly busy: boolean;
}

export interface AntiEntropyDeps {
  /** digest of this device's synced tables (one string: `digestKey`) */
  readonly digest: () => Promise<string>;
  readonly busy: () => boolean;
  readonly publish: (state: { digest: string; busy: boolean }) => void;
  readonly peers: () => readonly PeerSyncState[];
  /** re-run the sync handshake with every peer */
  readonly resync: () => void;
  /** wall clock (ms): the back-off is measured with it */
  readonly now: () => number;
  /** checks with a mismatch before resyncing */
  readonly patience?: number;
  /** the wait after a first resync that did not repair, doubled after each next one */
  readonly backoffMs?: number;
  readonly maxBackoffMs?: number;
}

/** A difference a resync did not repair. */
export interface Unrepaired {
  readonly device: string;
  /** synced tables whose digests differ (empty: the digests could not be compared per table) */
  readonly tables: readonly string[];
  /** resyncs done for this difference so far (the last one included: it did not repair
   *  what earlier ones left, and the next is due at `retryAt`) */
  readonly resyncs: number;
  /** when the next resync may run (ms, `now` clock) */
  readonly retryAt: number;
}

export interface AntiEntropyStats {
  checks: number;
  mismatches: number;
  resyncs: number;
  lastResync: string | null;
  lastDigest: string | null;
  /** per peer, the differences that resyncs did not repair (newest state, one per peer) */
  unrepaired: Unrepaired[];
}

export interface AntiEntropy {
  /** one round: publish our digest, compare with peers, resync on a persistent mismatch */
  check(): Promise<void>;
  readonly stats: AntiEntropyStats;
}

export const BACKOFF_MS = 3000;
export const MAX_BACKOFF_MS = 5 * 60_000;

interface Track {
  /** consecutive idle checks with a different digest since the last resync */
  strikes: number;
  /** resyncs done while this difference lasted */
  resyncs: number;
  /** no resync for this peer before this time */
  retryAt: number;
}

export function createAntiEntropy(deps: AntiEntropyDeps): AntiEntropy {
  const patience = deps.patience ?? 3;
  const base = deps.backoffMs ?? BACKOFF_MS;
  const max = deps.maxBackoffMs ?? MAX_BACKOFF_MS;
  const tracks = new Map<string, Track>();
  const stats: AntiEntropyStats = { checks: 0, mismatches: 0, resyncs: 0, lastResync: null, lastDigest: null, unrepaired: [] };
  const unrepaired = new Map<string, Unrepaired>();
  const publishUnrepaired = (): void => {
    stats.unrepaired = [...unrepaired.values()];
  };
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
      const now = deps.now();
      const peers = deps.peers();
      // a peer that left takes its difference with it
      for (const d of [...tracks.keys()]) if (!peers.some((p) => p.device === d)) tracks.delete(d);
      for (const d of [...unrepaired.keys()]) if (!peers.some((p) => p.device === d)) unrepaired.delete(d);
      const due: string[] = [];
      for (const p of peers) {
        if (p.busy || p.digest === null) {
          // not comparable now: the mismatch must be seen again on idle checks, but the
          // back-off of a difference resyncs did not repair stands
          const t = tracks.get(p.device);
          if (t) t.strikes = 0;
          continue;
        }
        if (p.digest === digest) {
          tracks.delete(p.device);
          unrepaired.delete(p.device);
          continue;
        }
        stats.mismatches++;
        let t = tracks.get(p.device);
        if (!t) tracks.set(p.device, (t = { strikes: 0, resyncs: 0, retryAt: 0 }));
        t.strikes++;
        if (t.strikes < patience) continue;
        // Still different `patience` checks after the last resync: it did not repair.
        if (t.resyncs > 0) unrepaired.set(p.device, { device: p.device, tables: differingTables(digest, p.digest), resyncs: t.resyncs, retryAt: t.retryAt });
        if (now >= t.retryAt) due.push(p.device);
      }
      if (due.length) {
        for (const d of due) {
          const t = tracks.get(d)!;
          t.strikes = 0;
          t.resyncs++;
          t.retryAt = now + Math.min(max, base * 2 ** (t.resyncs - 1));
          const u = unrepaired.get(d);
          if (u) unrepaired.set(d, { ...u, resyncs: t.resyncs, retryAt: t.retryAt });
        }
        stats.resyncs++;
        stats.lastResync = due[0]!;
        deps.resync();
      }
      publishUnrepaired();
    },
  };
}

/** One short string for a per-table digest object (order-stable). */
export const digestKey = (d: Record<string, string>): string =>
  Object.keys(d)
    .sort()
    .map((k) => `${k}=${d[k]}`)
    .join(';');

/** Parses a published digest (`table=hash;…`, see digestKey); null without one. */
export function parseDigest(key: string | null): Record<string, string> | null {
  if (!key) return null;
  const out: Record<string, string> = {};
  for (const part of key.split(';')) {
    const i = part.indexOf('=');
    if (i > 0) out[part.slice(0, i)] = part.slice(i + 1);
  }
  return out;
}

/** The tables whose digests differ (a table either side lacks differs), sorted. */
export function differingTables(ours: string, theirs: string): string[] {
  const a = parseDigest(ours) ?? {};
  const b = parseDigest(theirs) ?? {};
  return [...new Set([...Object.keys(a), ...Object.keys(b)])].filter((t) => a[t] === undefined || a[t] !== b[t]).sort();
}
