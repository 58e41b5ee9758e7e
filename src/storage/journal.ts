/**
 * The IndexedDB side of persistence (ARCHITECTURE.md "Persistence"), one database per device:
 *   journal  seq → Frame          one record per commit group (atomic: wholly there or not)
 *   images   id  → ImageRecord    verified database images (+ sync document state)
 *   meta     'pointer' → { current, previous }
 * Written against the standard IDBFactory (real IndexedDB in the browser, fake-indexeddb in
 * Node): the factory is passed in, no globals. Failures come back as typed StorageErrors.
 */
import type { Hlc } from '../core/change.ts';
import { err, ok, type Result } from '../core/result.ts';
import type { StorageError } from './rpc.ts';

export interface Frame {
  readonly seq: number;
  readonly changes: readonly unknown[];
  readonly hlc: Hlc | null;
  /** sync-document updates whose materialization this frame holds (issue 3) */
  readonly yUpdates: readonly Uint8Array[];
  /** watermarks this frame raised (core/stream.ts P2): replay raises them again */
  readonly marks?: Readonly<Record<string, number>>;
}

export interface ImageRecord {
  readonly id: string;
  /** last journal seq included in the image */
  readonly seq: number;
  readonly bytes: Uint8Array;
  readonly ydoc: Uint8Array | null;
  /** document updates after `ydoc`, kept apart while small (engine: `imageDocState`) */
  readonly ydocTail?: readonly Uint8Array[];
  readonly checksum: string;
  readonly at: number;
  readonly schema: number;
}

export interface Pointer {
  readonly current: string | null;
  readonly previous: string | null;
}

export interface Journal {
  append(frame: Frame): Promise<Result<void, StorageError>>;
  framesAfter(seq: number): Promise<Result<Frame[], StorageError>>;
  frameCount(): Promise<number>;
  pointer(): Promise<Pointer>;
  /** The sync layout this journal's data is in (null: written before layouts were recorded,
   *  i.e. release 0.1 — or nothing written yet). */
  layout(): Promise<number | null>;
  setLayout(layout: number): Promise<Result<void, StorageError>>;
  readImage(id: string): Promise<ImageRecord | undefined>;
  putImage(image: ImageRecord): Promise<Result<void, StorageError>>;
  /** One transaction: pointer ← {next, current}, drop frames ≤ keepFramesAfter, drop other images. */
  promote(next: string, previous: string | null, keepFramesAfter: number): Promise<Result<void, StorageError>>;
  /** Bench baseline only: write the whole image to its own store. */
  putNaive(bytes: Uint8Array): Promise<Result<void, StorageError>>;
  close(): void;
}

const STORES = ['journal', 'images', 'meta', 'naive'] as const;

export function toStorageError(e: unknown, what: string): StorageError {
  const name = typeof e === 'object' && e !== null && 'name' in e ? String((e).name) : '';
  const message = e instanceof Error || (typeof e === 'object' && e !== null && 'message' in e)
    ? String((e).message)
    : String(e);
  if (name === 'QuotaExceededError' || /quota/i.test(message))
    return { type: 'QuotaExceeded', message: `Browser storage is full (${what})` };
  return { type: 'StorageUnavailable', message: `${what}: ${name ? `${name}: ` : ''}${message}` };
}

const req = <T>(r: IDBRequest<T>): Promise<T> =>
  new Promise((resolve, reject) => {
    r.onsuccess = () => resolve(r.result);
    r.onerror = () => reject(r.error ?? new Error('IndexedDB request failed'));
  });

/**
 * Opens (creating if needed) a device's journal. With `existingOnly` a database that does not
 * exist yet is not created: the open is aborted in its upgrade and the answer is `null`
 * (reading another device's journal must not leave empty databases behind).
 */
export function openJournal(idb: IDBFactory, name: string): Promise<Result<Journal, StorageError>>;
export function openJournal(idb: IDBFactory, name: string, existingOnly: true): Promise<Result<Journal | null, StorageError>>;
export function openJournal(idb: IDBFactory, name: string, existingOnly = false): Promise<Result<Journal | null, StorageError>> {
  return new Promise((resolve) => {
    let open: IDBOpenDBRequest;
    try {
      open = idb.open(name, 1);
    } catch (e) {
      resolve(err(toStorageError(e, 'opening IndexedDB')));
      return;
    }
    open.onupgradeneeded = (ev) => {
      if (existingOnly && ev.oldVersion === 0) {
        open.transaction?.abort();
        resolve(ok(null));
        return;
      }
      const db = open.result;
      for (const s of STORES) if (!db.objectStoreNames.contains(s)) db.createObjectStore(s, s === 'journal' ? { keyPath: 'seq' } : undefined);
    };
    open.onblocked = () => resolve(err({ type: 'StorageUnavailable', message: 'IndexedDB is blocked by another tab' }));
    open.onerror = () => resolve(err(toStorageError(open.error, 'opening IndexedDB')));
    open.onsuccess = () => resolve(ok(wrap(open.result)));
  });
}

function wrap(db: IDBDatabase): Journal {
  const tx = (stores: string | string[], mode: IDBTransactionMode): IDBTransaction =>
    db.transaction(stores, mode, mode === 'readwrite' ? { durability: 'strict' } : undefined);
  /** Runs `fn` in one readwrite transaction; resolves when it has COMPLETED (durable). */
  const write = (stores: string | string[], what: string, fn: (t: IDBTransaction) => void): Promise<Result<void, StorageError>> =>
    new Promise((resolve) => {
      let t: IDBTransaction;
      try {
        t = tx(stores, 'readwrite');
        fn(t);
      } catch (e) {
        resolve(err(toStorageError(e, what)));
        return;
      }
      t.oncomplete = () => resolve(ok(undefined));
      t.onabort = () => resolve(err(toStorageError(t.error ?? new Error('transaction aborted'), what)));
      t.onerror = (ev) => ev.preventDefault(); // reported by onabort
    });
  return {
    append: (frame) => write('journal', 'saving a change', (t) => t.objectStore('journal').put(frame)),
    async framesAfter(seq) {
      try {
        const frames = await req(tx('journal', 'readonly').objectStore('journal').getAll(IDBKeyRange.lowerBound(seq, true)));
        return ok(frames as Frame[]);
      } catch (e) {
        return err(toStorageError(e, 'reading the change journal'));
      }
    },
    frameCount: () => req(tx('journal', 'readonly').objectStore('journal').count()),
    async pointer() {
      const p = (await req(tx('meta', 'readonly').objectStore('meta').get('pointer'))) as Pointer | undefined;
      return p ?? { current: null, previous: null };
    },
    async layout() {
      const v: unknown = await req(tx('meta', 'readonly').objectStore('meta').get('layout'));
      return typeof v === 'number' ? v : null;
    },
    setLayout: (layout) => write('meta', 'recording the sync layout', (t) => t.objectStore('meta').put(layout, 'layout')),
    readImage: async (id) => (await req(tx('images', 'readonly').objectStore('images').get(id))) as ImageRecord | undefined,
    putImage: (image) => write('images', 'saving a database image', (t) => t.objectStore('images').put(image, image.id)),
    promote: (next, previous, keepFramesAfter) =>
      write(['journal', 'images', 'meta'], 'switching to the new image', (t) => {
        t.objectStore('meta').put({ current: next, previous } satisfies Pointer, 'pointer');
        if (keepFramesAfter > 0) t.objectStore('journal').delete(IDBKeyRange.upperBound(keepFramesAfter));
        const images = t.objectStore('images');
        const keys = images.getAllKeys();
        keys.onsuccess = () => {
          for (const k of keys.result) if (k !== next && k !== previous) images.delete(k);
        };
      }),
    putNaive: (bytes) => write('naive', 'naive image', (t) => t.objectStore('naive').put(bytes, 'db')),
    close: () => db.close(),
  };
}
