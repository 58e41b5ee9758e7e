/**
 * Where "Get from device" keeps what it received (transfer.ts `PartStore`): IndexedDB
 * `tabdrive:transfers` (idb-keyval store `parts`), one Blob per SEGMENT bytes plus a record
 * of how many — a Blob in IndexedDB is kept on disk by the browser, so a 200 MB file is never
 * one buffer, and the verified file is a Blob made of the segments. Bytes since the last
 * segment wait in memory (at most SEGMENT): after a reload the transfer resumes from the last
 * segment kept; within the tab's life a disconnect loses nothing.
 *
 * A verified file stays as this device's copy (`kept`), so Preview and Save work again with
 * no new transfer, under a bound (C1–C3):
 *  C1 Budget: before a transfer starts, room is made for the whole file: what every record
 *     counts (copies and parts) plus the new file stays ≤ the budget (the lesser of BUDGET_MAX
 *     and BUDGET_SHARE of the browser's quota). Room comes from the least recently used
 *     copies first, then parts idle for PART_IDLE_MS (another tab may be writing a fresher
 *     one); never from a content in `protect` (being received, or just shown). No room: an
 *     error in words, nothing removed.
 *  C2 A part not written for PART_MAX_AGE_MS is dropped at boot (`sweep`).
 *  C3 A segment and the record that counts it are written in one transaction, so a quota
 *     error (or a kill) leaves the record and its segments agreeing: the part resumes from
 *     what the record counts.
 */
import { delMany, get, getMany, keys, set, setMany, type UseStore } from 'idb-keyval';
import { keyvalStore } from '../storage/keyval.ts';
import { formatBytes } from '../ui/format.ts';
import type { KeptRecord, Part, PartStore } from './transfer.ts';

const SEGMENT = 4 * 1024 * 1024;
export const BUDGET_MAX = 1024 * 1024 * 1024;
export const BUDGET_SHARE = 0.2;
export const PART_IDLE_MS = 10 * 60_000;
export const PART_MAX_AGE_MS = 7 * 24 * 3600_000;

interface Meta {
  readonly total: number;
  readonly segments: number;
  readonly size: number;
  /** last written or used (ms); absent in records of the first version: 0, the oldest */
  readonly used?: number;
  /** verified: this device's copy of the content */
  readonly kept?: boolean;
}
const isMeta = (v: unknown): v is Meta => {
  const m = v as Partial<Meta> | null;
  return typeof m === 'object' && m !== null && Number.isSafeInteger(m.total) && Number.isSafeInteger(m.segments) && Number.isSafeInteger(m.size);
};

/** The lesser of BUDGET_MAX and a share of what the browser lets this origin keep. */
export async function storageBudget(): Promise<number> {
  const quota = (await navigator.storage?.estimate?.().catch(() => undefined))?.quota;
  return quota ? Math.min(BUDGET_MAX, Math.floor(quota * BUDGET_SHARE)) : BUDGET_MAX;
}

/** Thrown when a file cannot be given room (C1); its message is for the user. */
export class NoRoom extends Error {
  override readonly name = 'NoRoom';
}

/**
 * What to remove so that `size` bytes of `content` fit within `budget` (C1), least recently
 * used copies first, then idle parts; null when even that is not enough.
 */
export function evictions(records: readonly KeptRecord[], content: string, size: number, budget: number, protect: ReadonlySet<string>, now: number): string[] | null {
  const others = records.filter((r) => r.content !== content);
  let used = others.reduce((n, r) => n + r.size, 0) + size;
  const byAge = (a: KeptRecord, b: KeptRecord): number => a.used - b.used;
  const candidates = [
    ...others.filter((r) => r.kept && !protect.has(r.content)).sort(byAge),
    ...others.filter((r) => !r.kept && !protect.has(r.content) && now - r.used > PART_IDLE_MS).sort(byAge),
  ];
  const out: string[] = [];
  for (const r of candidates) {
    if (used <= budget) break;
    out.push(r.content);
    used -= r.size;
  }
  return used <= budget ? out : null;
}

export function createIdbParts(idb: IDBFactory, o: { readonly budget: () => Promise<number>; readonly now: () => number }): PartStore {
  const store: UseStore = keyvalStore(idb, 'tabdrive:transfers', 'parts');
  const segKey = (content: string, i: number): string => `${content}:${i}`;
  const drop = (content: string, segments: number): Promise<void> => delMany([content, ...Array.from({ length: segments }, (_, i) => segKey(content, i))], store);
  /** every record (segments' keys hold a ':', records' keys are content uuids) */
  const records = async (): Promise<{ content: string; meta: Meta }[]> => {
    const ids = (await keys(store)).filter((k): k is string => typeof k === 'string' && !k.includes(':'));
    const metas = await getMany<unknown>(ids, store);
    return ids.flatMap((content, i) => (isMeta(metas[i]) ? [{ content, meta: metas[i] }] : []));
  };
  const asRecord = ({ content, meta }: { content: string; meta: Meta }): KeptRecord => ({ content, size: meta.size, used: meta.used ?? 0, kept: meta.kept === true });
  return {
    async open(content, total) {
      let meta: Meta = { total, segments: 0, size: 0 };
      const kept = await get<unknown>(content, store);
      if (isMeta(kept) && kept.total === total) meta = kept;
      else if (isMeta(kept)) await drop(content, kept.segments);
      let pending: Uint8Array[] = [];
      let pendingBytes = 0;
      const flush = async (): Promise<void> => {
        if (pendingBytes === 0) return;
        const blob = new Blob(pending as Uint8Array<ArrayBuffer>[]);
        const next: Meta = { total, segments: meta.segments + 1, size: meta.size + pendingBytes, used: o.now() };
        pending = [];
        pendingBytes = 0;
        // the segment and the record that counts it, in one transaction (C3)
        await setMany([[segKey(content, meta.segments), blob], [content, next]], store);
        meta = next;
      };
      const part: Part = {
        get size() {
          return meta.size + pendingBytes;
        },
        get kept() {
          return meta.kept === true;
        },
        async append(bytes) {
          pending.push(bytes);
          pendingBytes += bytes.byteLength;
          if (pendingBytes >= SEGMENT) await flush();
        },
        async blob() {
          await flush();
          const segs = await getMany<unknown>(Array.from({ length: meta.segments }, (_, i) => segKey(content, i)), store);
          if (!segs.every((s) => s instanceof Blob)) throw new Error('a kept part of the file is missing');
          return new Blob(segs);
        },
        async keep() {
          await flush();
          const next: Meta = { ...meta, used: o.now(), kept: true };
          await set(content, next, store);
          meta = next;
        },
        async discard() {
          pending = [];
          pendingBytes = 0;
          const n = meta.segments;
          meta = { total, segments: 0, size: 0 };
          await drop(content, n);
        },
      };
      return part;
    },
    list: async () => (await records()).map(asRecord),
    async room(content, size, protect) {
      const budget = await o.budget();
      const all = await records();
      const out = evictions(all.map(asRecord), content, size, budget, protect, o.now());
      if (!out) {
        throw new NoRoom(size > budget
          ? `This file (${formatBytes(size)}) is larger than what this browser keeps of files from other devices (${formatBytes(budget)}).`
          : `No room to keep this file: files from other devices still being received here take what this browser keeps of them (${formatBytes(budget)}).`);
      }
      for (const c of out) await drop(c, all.find((r) => r.content === c)?.meta.segments ?? 0);
      return out;
    },
    async remove(content) {
      const kept = await get<unknown>(content, store);
      if (isMeta(kept)) await drop(content, kept.segments);
    },
    async sweep() {
      const old = (await records()).filter((r) => r.meta.kept !== true && o.now() - (r.meta.used ?? 0) > PART_MAX_AGE_MS);
      for (const r of old) await drop(r.content, r.meta.segments);
      return old.length;
    },
  };
}
