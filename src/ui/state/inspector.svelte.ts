/**
 * The sync inspector's state: while the panel is open it asks the composition root for a
 * report once a second (`inspect` reads counters the engine, storage, transport and
 * anti-entropy already keep — nothing here changes them).
 */
import { parseDigest, type Unrepaired } from '../../sync/anti-entropy.ts';
import type { SyncStats } from '../../sync/engine.ts';
import type { LatencySample } from '../../sync/latency.ts';
import type { StorageHealth } from '../../storage/rpc.ts';
import type { RelayStatus } from '../../sync/relay-sync.ts';

export interface PeerReport {
  readonly device: string;
  readonly name: string;
  readonly path: 'tab' | 'WebRTC' | 'relay';
  /** 'in sync', 'syncing', 'catching up' or 'unknown' (nothing published yet) */
  readonly state: string;
  /** per table: does the peer's digest equal ours? (null: the peer published none yet) */
  readonly tables: Readonly<Record<string, boolean>> | null;
}

export interface SyncReport {
  readonly at: number;
  readonly hlc: string | null;
  readonly documentBytes: number;
  readonly sharedLog: number;
  readonly engine: SyncStats;
  readonly antiEntropy: { checks: number; mismatches: number; resyncs: number; lastResync: string | null; unrepaired: readonly Unrepaired[] };
  readonly tables: readonly string[];
  readonly peers: readonly PeerReport[];
  readonly storage: StorageHealth | null;
  /** entries held until their location arrives (null: unknown) */
  readonly waiting: number | null;
  readonly estimate: { usage: number; quota: number } | null;
  readonly persisted: boolean | null;
  readonly transport: { bytesSent: number; bytesReceived: number; dropped: number; undecodable: number; sendFailures: number };
  /** the owned-state stream: pages and rows in and out, and how far behind the peers this device is */
  readonly stream?: { readonly pagesIn: number; readonly pagesOut: number; readonly rowsIn: number; readonly bytesIn: number; readonly bytesOut: number; readonly gaps: number; readonly stalls: number; readonly refused: number; readonly behind: number };
  readonly backfill: { received: number; total: number } | null;
  readonly latency: readonly LatencySample[];
  /** the always-on relay (null: none configured) */
  readonly relay?: RelayStatus | null;
}

export interface InspectorDeps {
  readonly inspect: () => Promise<SyncReport>;
  readonly compact: () => Promise<number>;
  readonly persist: () => Promise<boolean>;
}

export { parseDigest };

/**
 * A difference anti-entropy could not repair, in words: "entries differ from Chrome 7c20
 * after 2 resyncs; retrying in 48 s".
 */
export function describeUnrepaired(u: Unrepaired, peerName: string, now: number): string {
  const t = u.tables;
  const what = t.length === 0 ? 'the tables' : t.length === 1 ? t[0]! : `${t.slice(0, -1).join(', ')} and ${t[t.length - 1]!}`;
  const secs = Math.ceil((u.retryAt - now) / 1000);
  const when = secs <= 0 ? 'retrying now' : secs < 60 ? `retrying in ${secs} s` : `retrying in ${Math.round(secs / 60)} min`;
  return `${what} differ from ${peerName} after ${u.resyncs} resync${u.resyncs === 1 ? '' : 's'}; ${when}`;
}

/** Per table, whether two digests agree (tables either side lacks count as different). */
export function compareDigests(ours: Record<string, string>, theirs: Record<string, string>): Record<string, boolean> {
  const out: Record<string, boolean> = {};
  for (const t of [...Object.keys(ours), ...Object.keys(theirs)]) out[t] = ours[t] !== undefined && ours[t] === theirs[t];
  return out;
}

/** Median and 95th percentile of the latency samples (ms), or null with none. */
export function latencySummary(samples: readonly LatencySample[]): { p50: number; p95: number; n: number } | null {
  if (!samples.length) return null;
  const xs = samples.map((s) => s.ms).sort((a, b) => a - b);
  const at = (q: number) => xs[Math.min(xs.length - 1, Math.floor(q * xs.length))]!;
  return { p50: at(0.5), p95: at(0.95), n: xs.length };
}

export class SyncInspectorState {
  open = $state(false);
  report = $state<SyncReport | null>(null);
  error = $state<string | null>(null);
  compactedNow = $state<number | null>(null);
  #timer: ReturnType<typeof setInterval> | null = null;

  constructor(private readonly deps: InspectorDeps) {}

  get summary(): { p50: number; p95: number; n: number } | null {
    return this.report ? latencySummary(this.report.latency) : null;
  }

  toggle(): void {
    if (this.open) this.close();
    else this.show();
  }

  show(): void {
    this.open = true;
    void this.refresh();
    this.#timer ??= setInterval(() => void this.refresh(), 1000);
  }

  close(): void {
    this.open = false;
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = null;
  }

  async refresh(): Promise<void> {
    try {
      this.report = await this.deps.inspect();
      this.error = null;
    } catch (e) {
      this.error = e instanceof Error ? e.message : String(e);
    }
  }

  async compact(): Promise<void> {
    this.compactedNow = await this.deps.compact();
    await this.refresh();
  }

  async persist(): Promise<void> {
    await this.deps.persist();
    await this.refresh();
  }
}
