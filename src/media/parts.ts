/**
 * Where "Get from device" keeps what it received (transfer.ts `PartStore`): IndexedDB
 * `tabdrive:transfers` (idb-keyval store `parts`), one Blob per SEGMENT bytes plus a record
 * of how many — a Blob in IndexedDB is kept on disk by the browser, so a 200 MB file is never
 * one buffer, and the verified file is a Blob made of the segments. Bytes since the last
 * segment wait in memory (at most SEGMENT): after a reload the transfer resumes from the last
 * segment kept; within the tab's life a disconnect loses nothing.
 */
import { delMany, get, getMany, setMany, type UseStore } from 'idb-keyval';
import { keyvalStore } from '../storage/keyval.ts';
import type { Part, PartStore } from './transfer.ts';

const SEGMENT = 4 * 1024 * 1024;

interface Meta {
  readonly total: number;
  readonly segments: number;
  readonly size: number;
}
const isMeta = (v: unknown): v is Meta => {
  const m = v as Partial<Meta> | null;
  return typeof m === 'object' && m !== null && Number.isSafeInteger(m.total) && Number.isSafeInteger(m.segments) && Number.isSafeInteger(m.size);
};

export function createIdbParts(idb: IDBFactory): PartStore {
  const store: UseStore = keyvalStore(idb, 'tabdrive:transfers', 'parts');
  const segKey = (content: string, i: number): string => `${content}:${i}`;
  return {
    async open(content, total) {
      let meta: Meta = { total, segments: 0, size: 0 };
      const kept = await get<unknown>(content, store);
      if (isMeta(kept) && kept.total === total) meta = kept;
      else if (isMeta(kept)) await delMany([content, ...Array.from({ length: kept.segments }, (_, i) => segKey(content, i))], store);
      let pending: Uint8Array[] = [];
      let pendingBytes = 0;
      const flush = async (): Promise<void> => {
        if (pendingBytes === 0) return;
        const blob = new Blob(pending as Uint8Array<ArrayBuffer>[]);
        const next: Meta = { total, segments: meta.segments + 1, size: meta.size + pendingBytes };
        pending = [];
        pendingBytes = 0;
        // the segment and the record that counts it, in one transaction
        await setMany([[segKey(content, meta.segments), blob], [content, next]], store);
        meta = next;
      };
      const part: Part = {
        get size() {
          return meta.size + pendingBytes;
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
        async discard() {
          pending = [];
          pendingBytes = 0;
          const n = meta.segments;
          meta = { total, segments: 0, size: 0 };
          await delMany([content, ...Array.from({ length: n }, (_, i) => segKey(content, i))], store);
        },
      };
      return part;
    },
  };
}
