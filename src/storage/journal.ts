/**
 * The IndexedDB side of persistence (ARCHITECTURE.md "Persistence"), one database per device:
 *   journal  seq → Frame          one record per commit group (atomic: wholly there or not)
 *   images   id  → ImageRecord    verified database images (+ sync document state)
 *            'chunk:<bank>-<sum>' → bytes   one chunk of a chunked image (image-chunks.ts)
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
  /** the clock's ahead-lane lease when this frame moved it (sync engine E3) */
  readonly ahead?: Hlc | null;
  /** Pages received from peers, as they arrived (deflated, stream-store `packPage`): their rows
   *  are not decoded and re-encoded into `changes` (replay unpacks them). Only in frames of
   *  `format` 2. */
  readonly pages?: readonly Uint8Array[];
  /** FRAME_FORMAT of a frame with `pages` (absent: format 1, readable by every build) */
  readonly format?: number;
  /** SHA-256 of the frame's content (`frameChecksum`), set by `append`. Absent in frames
   *  written before checksums (accepted as they are: legacy). */
  readonly sum?: string;
}

/**
 * J2: the newest frame layout this build reads. A frame of a newer format is not "damaged":
 * the journal is refused as a whole (`NewerFormat`), so a build that cannot read it never
 * skips it and prunes it away — it stays for the build that wrote it. Format 2 adds `pages`.
 * (Release schema-5 predates `format`: it fails a format-2 frame's checksum and skips it,
 * losing nothing: the frame holds other owners' rows only, and its watermarks, so that
 * build pulls those rows again from peers — engine `applyPage`.)
 */
export const FRAME_FORMAT = 2;

/** A frame that is in the journal but cannot be used: unreadable, or its checksum fails. */
export interface DamagedFrame {
  readonly seq: number;
  readonly why: string;
}

/** What a journal read found after an image: the good frames in order, and the damaged ones. */
export interface FrameRead {
  readonly frames: Frame[];
  readonly damaged: DamagedFrame[];
  /** highest seq present (damaged or not), 0 when none: the next frame goes above it */
  readonly lastSeq: number;
}

export interface ImageRecord {
  readonly id: string;
  /** last journal seq included in the image */
  readonly seq: number;
  /** the SQLite file in one value: images written before chunked images (still opened) */
  readonly bytes?: Uint8Array;
  /** a chunked image (image-chunks.ts): the SHA-256 of each chunk of the SQLite file, in
   *  order; each chunk is the record `chunk:<bank>-<sum>` of the same store */
  readonly chunks?: readonly string[];
  /** a chunked image: which of the two sets of chunks it uses (the image before it uses the
   *  other, so the two never share a stored chunk) */
  readonly bank?: number;
  /** a chunked image: the SQLite file's length and the chunk size it was cut in */
  readonly size?: number;
  readonly chunkBytes?: number;
  readonly ydoc: Uint8Array | null;
  /** document updates after `ydoc`, kept apart while small (engine: `imageDocState`) */
  readonly ydocTail?: readonly Uint8Array[];
  /** SHA-256 of `bytes` (the SQLite file); in a chunked image, of its size, chunk size and
   *  chunk sums in order (`chunkedChecksum`) */
  readonly checksum: string;
  /** SHA-256 of the document state (`docChecksum`: ydoc + tail). Absent in images written
   *  before it (legacy: their document state is decode-checked instead). */
  readonly docChecksum?: string;
  readonly at: number;
  readonly schema: number;
}

export interface Pointer {
  readonly current: string | null;
  readonly previous: string | null;
}

export interface Journal {
  /** Adds the frame with its checksum. `add`, never `put`: a frame under an existing seq (a
   *  second writer of this journal) fails with a ConstraintError instead of overwriting an
   *  acknowledged frame. */
  append(frame: Frame): Promise<Result<void, StorageError>>;
  /** Frames after `seq`, each checked (J1); one that cannot be read or fails its checksum is
   *  listed in `damaged`, never silently dropped. An error only when the journal itself
   *  cannot be listed. */
  framesAfter(seq: number): Promise<Result<FrameRead, StorageError>>;
  frameCount(): Promise<number>;
  pointer(): Promise<Pointer>;
  /** The sync layout this journal's data is in (null: written before layouts were recorded,
   *  i.e. release 0.1 — or nothing written yet). */
  layout(): Promise<number | null>;
  setLayout(layout: number): Promise<Result<void, StorageError>>;
  readImage(id: string): Promise<ImageRecord | undefined>;
  putImage(image: ImageRecord): Promise<Result<void, StorageError>>;
  /** Stores chunks of an image under their ids (`chunkId`), in one transaction (each value
   *  its own buffer: a view would store its whole underlying buffer). */
  putChunks(chunks: readonly { readonly id: string; readonly bytes: Uint8Array }[]): Promise<Result<void, StorageError>>;
  /** The chunks stored under these ids (undefined where one is absent), in one transaction. */
  readChunks(ids: readonly string[]): Promise<(Uint8Array | undefined)[]>;
  /** One transaction: pointer ← {next, current}, drop frames ≤ keepFramesAfter, drop other
   *  images and every chunk whose id is not in `keepChunks` (the chunks of next and previous). */
  promote(next: string, previous: string | null, keepFramesAfter: number, keepChunks?: ReadonlySet<string>): Promise<Result<void, StorageError>>;
  /** Bench baseline only: write the whole image to its own store. */
  putNaive(bytes: Uint8Array): Promise<Result<void, StorageError>>;
  close(): void;
}

const STORES = ['journal', 'images', 'meta', 'naive'] as const;

/** Chunks live in the `images` store beside the image records (no new store: a database
 *  version change would lock out a tab of the previous build still open on this library). */
export const CHUNK_PREFIX = 'chunk:';
/** a chunk's id: its bank (0 or 1) and its SHA-256 */
export const chunkId = (bank: number, sum: string): string => `${bank}-${sum}`;
const chunkKey = (id: string): string => `${CHUNK_PREFIX}${id}`;

export function toStorageError(e: unknown, what: string): StorageError {
  const name = typeof e === 'object' && e !== null && 'name' in e ? String((e).name) : '';
  const message = e instanceof Error || (typeof e === 'object' && e !== null && 'message' in e)
    ? String((e).message)
    : String(e);
  if (name === 'QuotaExceededError' || /quota/i.test(message))
    return { type: 'QuotaExceeded', message: `Browser storage is full (${what})` };
  if (name === 'ConstraintError')
    return { type: 'StorageUnavailable', message: `${what}: another writer already saved a change under the same number in this device's journal (is this device open twice?)` };
  return { type: 'StorageUnavailable', message: `${what}: ${name ? `${name}: ` : ''}${message}` };
}

const utf8 = new TextEncoder();

/**
 * J1: the checksum of a frame's content — seq, changes (as JSON: plain data, and a structured
 * clone keeps key order, so the same frame always serializes the same), clock and each
 * document update with its length. Anything that changes a change, the clock or an update's
 * bytes changes the sum.
 */
export async function frameChecksum(f: Omit<Frame, 'sum'>, sha256: Sha256 = webSha256): Promise<string> {
  // watermarks are covered too (a flipped seq would claim rows this device does not hold);
  // pages (format 2) by their bytes, hashed natively: no JSON of their rows
  const pages = f.pages ?? [];
  const head = utf8.encode(JSON.stringify([f.seq, f.hlc, f.ahead ?? null, f.changes, f.yUpdates.map((u) => u.byteLength), ...(f.marks ? [f.marks] : []),
    ...(f.format !== undefined || pages.length ? [f.format ?? 1, pages.map((p) => p.byteLength)] : [])]));
  return sumOfParts([head, ...f.yUpdates, ...pages], sha256);
}

/** The checksum of an image's document state: base (or none) and each tail update, with lengths. */
export async function docChecksum(ydoc: Uint8Array | null, tail: readonly Uint8Array[], sha256: Sha256 = webSha256): Promise<string> {
  const head = utf8.encode(JSON.stringify([ydoc ? ydoc.byteLength : -1, tail.map((u) => u.byteLength)]));
  return sumOfParts([head, ...(ydoc ? [ydoc] : []), ...tail], sha256);
}

/** SHA-256 over the parts' own SHA-256s: no copy of a 30 MB update into one buffer first
 *  (measured in Node, a 100k-change frame: ~260 ms for the sum, most of it JSON). */
async function sumOfParts(parts: readonly Uint8Array[], sha256: Sha256): Promise<string> {
  const digests = await Promise.all(parts.map(sha256));
  const all = new Uint8Array(digests.length * 32);
  digests.forEach((d, i) => all.set(new Uint8Array(d), i * 32));
  return sha256Hex(all, sha256);
}

/**
 * SHA-256 of some bytes. The browser's (`webSha256`) finishes on a thread of its own, whenever
 * that thread gets to it; the simulator passes one that finishes at once, so that when a
 * commit completes is an order of events, not a race with the machine's load (a seed must
 * replay exactly).
 */
export type Sha256 = (bytes: Uint8Array) => Promise<ArrayBuffer | Uint8Array>;
export const webSha256: Sha256 = (bytes) => crypto.subtle.digest('SHA-256', bytes as Uint8Array<ArrayBuffer>);

export async function sha256Hex(bytes: Uint8Array, sha256: Sha256 = webSha256): Promise<string> {
  const d = await sha256(bytes);
  return Array.from(new Uint8Array(d), (b) => b.toString(16).padStart(2, '0')).join('');
}

const describeError = (e: unknown): string =>
  typeof e === 'object' && e !== null && 'message' in e ? `${'name' in e ? `${String(e.name)}: ` : ''}${String(e.message)}` : String(e);

/** The parts of a frame read back that replay relies on; anything else is damage. */
function frameShapeProblem(v: unknown, key: number): string | null {
  if (typeof v !== 'object' || v === null) return 'not a frame';
  const f = v as Partial<Record<keyof Frame, unknown>>;
  if (f.seq !== key) return 'its number does not match its key';
  if (!Array.isArray(f.changes)) return 'it has no list of changes';
  if (f.hlc !== null && typeof f.hlc !== 'string') return 'its clock is not a stamp';
  if (f.ahead !== undefined && f.ahead !== null && typeof f.ahead !== 'string') return 'its clock lease is not a stamp';
  if (f.yUpdates !== undefined && (!Array.isArray(f.yUpdates) || !f.yUpdates.every((u) => u instanceof Uint8Array))) return 'its document updates are not bytes';
  if (f.sum !== undefined && typeof f.sum !== 'string') return 'its checksum is not a string';
  if (f.pages !== undefined && (!Array.isArray(f.pages) || !f.pages.every((u) => u instanceof Uint8Array))) return 'its pages are not bytes';
  if (f.format !== undefined && (typeof f.format !== 'number' || !Number.isInteger(f.format) || f.format < 1)) return 'its format is not a number';
  return null;
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
export function openJournal(idb: IDBFactory, name: string, existingOnly?: false, sha256?: Sha256): Promise<Result<Journal, StorageError>>;
export function openJournal(idb: IDBFactory, name: string, existingOnly: true, sha256?: Sha256): Promise<Result<Journal | null, StorageError>>;
export function openJournal(idb: IDBFactory, name: string, existingOnly = false, sha256: Sha256 = webSha256): Promise<Result<Journal | null, StorageError>> {
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
    open.onsuccess = () => resolve(ok(wrap(open.result, sha256)));
  });
}

function wrap(db: IDBDatabase, sha256: Sha256): Journal {
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
      // A failed request (a ConstraintError from `add`, a quota error) must abort the whole
      // transaction: `preventDefault` on its error event would let it COMPLETE without that
      // write — an acknowledged frame that was never stored. So the error is only noted here;
      // the abort that follows reports it.
      let failed: unknown = null;
      t.oncomplete = () => resolve(ok(undefined));
      t.onabort = () => resolve(err(toStorageError(t.error ?? failed ?? new Error('transaction aborted'), what)));
      t.onerror = (ev) => {
        failed ??= (ev.target as IDBRequest | null)?.error ?? null;
      };
    });
  return {
    async append(frame) {
      const sum = await frameChecksum(frame, sha256);
      return write('journal', 'saving a change', (t) => t.objectStore('journal').add({ ...frame, sum } satisfies Frame));
    },
    async framesAfter(seq) {
      const range = IDBKeyRange.lowerBound(seq, true);
      let keys: number[];
      try {
        keys = (await req(tx('journal', 'readonly').objectStore('journal').getAllKeys(range))) as number[];
      } catch (e) {
        return err(toStorageError(e, 'listing the change journal'));
      }
      // Fast path: one read of everything. When it fails (one unreadable value fails all of
      // it), each frame is read on its own so the good ones are kept and the bad ones named.
      let values: unknown[] | null;
      try {
        values = await req(tx('journal', 'readonly').objectStore('journal').getAll(range));
        if (values.length !== keys.length) values = null; // written meanwhile: read one by one
      } catch {
        values = null;
      }
      const frames: Frame[] = [];
      const damaged: DamagedFrame[] = [];
      for (let i = 0; i < keys.length; i++) {
        const key = keys[i]!;
        let v: unknown;
        if (values) v = values[i];
        else {
          try {
            v = await req(tx('journal', 'readonly').objectStore('journal').get(key));
          } catch (e) {
            damaged.push({ seq: key, why: `unreadable (${describeError(e)})` });
            continue;
          }
        }
        const shape = frameShapeProblem(v, key);
        if (shape) {
          damaged.push({ seq: key, why: `damaged (${shape})` });
          continue;
        }
        const f = v as Frame;
        // J2: written by a newer build: not this build's to skip (nor to prune)
        if ((f.format ?? 1) > FRAME_FORMAT)
          return err({ type: 'NewerFormat', message: `change #${key} in this device's change journal was saved by a newer version of tabdrive (frame format ${f.format}; this version reads up to ${FRAME_FORMAT}): update this tab to open it` });
        const frame: Frame = { ...f, yUpdates: f.yUpdates ?? [] };
        if (frame.sum !== undefined && (await frameChecksum(frame, sha256)) !== frame.sum) {
          damaged.push({ seq: key, why: 'damaged (checksum mismatch)' });
          continue;
        }
        frames.push(frame);
      }
      return ok({ frames, damaged, lastSeq: keys.length ? keys[keys.length - 1]! : 0 });
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
    putChunks: (chunks) =>
      write('images', 'saving a database image', (t) => {
        const images = t.objectStore('images');
        for (const c of chunks) images.put(c.bytes, chunkKey(c.id));
      }),
    readChunks(ids) {
      const images = tx('images', 'readonly').objectStore('images');
      return Promise.all(ids.map(async (id) => {
        const v: unknown = await req(images.get(chunkKey(id)));
        return v instanceof Uint8Array ? v : undefined;
      }));
    },
    promote: (next, previous, keepFramesAfter, keepChunks = new Set()) =>
      write(['journal', 'images', 'meta'], 'switching to the new image', (t) => {
        t.objectStore('meta').put({ current: next, previous } satisfies Pointer, 'pointer');
        if (keepFramesAfter > 0) t.objectStore('journal').delete(IDBKeyRange.upperBound(keepFramesAfter));
        const images = t.objectStore('images');
        const keys = images.getAllKeys();
        keys.onsuccess = () => {
          for (const k of keys.result) {
            const keep = typeof k === 'string' && k.startsWith(CHUNK_PREFIX) ? keepChunks.has(k.slice(CHUNK_PREFIX.length)) : k === next || k === previous;
            if (!keep) images.delete(k);
          }
        };
      }),
    putNaive: (bytes) => write('naive', 'naive image', (t) => t.objectStore('naive').put(bytes, 'db')),
    close: () => db.close(),
  };
}
