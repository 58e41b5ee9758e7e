/**
 * Sync latency as a user feels it: from the moment a change was stamped on the device that
 * made it to the moment its row is in this device's SQLite. The stamp is the change's HLC
 * (shared-log keys, `hlc` fields of owned records), read from the remote Yjs update itself;
 * the end is the commit of that update. Clocks of different machines differ, so across
 * browsers the figure includes their skew; between tabs of one browser it is exact.
 *
 * Only small updates are decoded (a live edit, not a backfill), so the probe costs nothing
 * measurable where it would cost most.
 */
import * as Y from 'yjs';
import { hlcWall, isHlc } from '../core/hlc.ts';

export interface LatencySample {
  /** when the change reached SQLite here (epoch ms) */
  readonly at: number;
  readonly ms: number;
}

export interface LatencyProbe {
  /** call for every Yjs update not made here (before it is applied) */
  received(update: Uint8Array): void;
  /** call when a remote commit is in SQLite */
  committed(): void;
  /** the most recent samples, oldest first */
  samples(): readonly LatencySample[];
}

const MAX_DECODE = 64 * 1024;

/** The newest HLC wall time a (small) update carries, or null. */
export function newestStamp(update: Uint8Array): number | null {
  if (update.byteLength > MAX_DECODE) return null;
  let newest: number | null = null;
  const consider = (h: unknown) => {
    if (isHlc(h)) {
      const w = hlcWall(h);
      if (newest === null || w > newest) newest = w;
    }
  };
  try {
    const structs = Y.decodeUpdate(update).structs;
    // A map created by this update is a new segment (doc.ts D5): it carries entries stamped
    // long ago, copied by a compaction, not changes made now.
    const created = new Set<string>();
    for (const s of structs) if (s instanceof Y.Item && s.content instanceof Y.ContentType) created.add(`${s.id.client}:${s.id.clock}`);
    for (const s of structs) {
      if (!(s instanceof Y.Item)) continue;
      if (s.parent instanceof Y.ID && created.has(`${s.parent.client}:${s.parent.clock}`)) continue;
      consider(s.parentSub);
      if (!(s.content instanceof Y.ContentAny)) continue;
      for (const v of s.content.arr) {
        // owned records are '["<hlc>", …]' (sync/doc.ts); legacy ones { hlc, … }
        if (typeof v === 'string' && v.startsWith('["')) consider(v.slice(2, v.indexOf('"', 2)));
        else if (v && typeof v === 'object') consider((v as { hlc?: unknown }).hlc);
      }
    }
  } catch {
    return null; // not ours to judge: the sync engine validates and counts bad updates
  }
  return newest;
}

export function createLatencyProbe(now: () => number, keep = 120): LatencyProbe {
  let waiting: number[] = [];
  const out: LatencySample[] = [];
  return {
    received(update) {
      const w = newestStamp(update);
      if (w !== null) waiting.push(w);
    },
    committed() {
      const t = now();
      for (const w of waiting) out.push({ at: t, ms: Math.max(0, t - w) });
      waiting = [];
      if (out.length > keep) out.splice(0, out.length - keep);
    },
    samples: () => out,
  };
}
