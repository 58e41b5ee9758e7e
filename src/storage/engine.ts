/**
 * The storage engine (runs in the worker; in Node tests and the simulator in-process).
 *
 * Invariants:
 *  S1 A commit is answered only after the IndexedDB transaction holding its frame completed
 *     (or with `durable: false` once the device is memory-only). Commits that arrive while an
 *     append is in flight are grouped into the next frame (group commit).
 *  S2 SQLite state = last good image + every frame after its seq, re-applied through the same
 *     core `applyChanges` (idempotent), so boot after a kill loses no acknowledged write and a
 *     frame is applied wholly or not at all.
 *  S3 An image replaces the current one only after what it wrote was read back and matched
 *     its checksums (the record, and every chunk it wrote against its SHA-256; the chunks it
 *     reuses were checked when written) and, up to PROBE_MAX_BYTES, sql.js opened it and
 *     passed `PRAGMA quick_check`. Frames after the *previous* image are kept, and the current
 *     and previous images share no stored chunk (two banks, image-chunks.ts), so a damaged
 *     current image can always be recovered from the previous one.
 *  S4 One writer: groups, the export of an image and the naive bench write never interleave
 *     (`exclusive`). Hashing, storing and checking an exported image (seconds at 100k
 *     entries) runs beside later commits, one image at a time;
 *     promoting it prunes only frames up to the image's seq, and frames written meanwhile
 *     stay in the journal and in the pending document updates.
 *  S5 A device without an image of its own may start from a sibling's: the verified image
 *     (S3's checks) of another device of the same library in this browser, plus that
 *     device's frames after it — the same library state, persisted by this origin, read
 *     only. Local-only columns are reset as if every row had arrived by sync, and the
 *     sibling's clock is taken as a received stamp (dropped past the drift bound). Until this
 *     device's own first image (scheduled at once) a restart starts from a sibling again and
 *     replays this device's frames on top: S2 with the sibling's image as the base.
 *     A sibling that cannot be read (no image, damaged, pruned under us) is skipped: the
 *     device then syncs everything, as it would without siblings.
 *  S6 Nothing acknowledged is dropped in silence. Every frame carries a checksum of its
 *     content and every image one of its document state besides its SQLite bytes (legacy
 *     records without them are accepted; a legacy document state is decode-checked). A frame
 *     that cannot be read or fails its checksum is *skipped*, not a reason to stop: apply is
 *     idempotent and order-free, so the frames after it are still right, and what the skipped
 *     one held that reached other devices comes back from them (the document's state vector
 *     lacks it). The boot report says how many were skipped and that the rest is lost.
 *     An image whose document state fails its checksum (or, legacy, does not decode) is
 *     treated as damaged: the previous image is used (S3).
 *  S7 Only a failing *journal* makes the device memory-only. An image that cannot be
 *     written (quota: images are the big writes) leaves the journal going; the image is
 *     retried with backoff and the health says why, with the browser's quota figures.
 */
import type { SqlJsStatic } from 'sql.js';
import { decodeStateVector, decodeUpdate, encodeStateVectorFromUpdate, mergeUpdates } from 'yjs';
import { applyChanges, type Rejection } from '../core/apply.ts';
import type { Change, Hlc } from '../core/change.ts';
import { createDigest } from '../core/digest.ts';
import { hlcWall, pastDrift } from '../core/hlc.ts';
import { isSharedModel, MODEL_NAMES, MODELS, syncedColumns } from '../core/models.ts';
import { err, ok, type Result } from '../core/result.ts';
import { chunkId, docChecksum, FRAME_FORMAT, openJournal, sha256Hex, toStorageError, webSha256, type DamagedFrame, type Frame, type ImageRecord, type Journal, type Sha256 } from './journal.ts';
import { MIGRATIONS, SCHEMA_VERSION } from './migrations.ts';
import { MAX_DELETED_REPORTED, type BootReport, type CommitResult, type Holdings, type PageResult, type Params, type QueryRow, type ServedPages, type StorageError, type StorageHealth } from './rpc.ts';
import { createSqliteApplyStore } from './sqlite-apply-store.ts';
import { openSqlite, type Sqlite } from './sqlite.ts';
import { isStreamModel, MAX_PAGE_ROWS, STREAM_LAYOUT as LAYOUT, type Marks, type SeqChange } from '../core/stream.ts';
import { CHUNK_BYTES, CHUNKS_PER_TRANSACTION, chunkedChecksum, chunkSums, chunkViews, imageChunks, readChunkedImage } from './image-chunks.ts';
import { loadMarks, MAX_PAGES_PER_PULL, numberOwnRows, packPage, raiseMarks, readPage, readPageJson, streamCodec, unpackPage, upgradeDocState, type PageCodec } from './stream-store.ts';

export interface StorageEngineDeps {
  readonly sql: SqlJsStatic;
  /** null when IndexedDB does not exist here: the engine runs memory-only */
  readonly idb: IDBFactory | null;
  readonly now: () => number;
  readonly onHealth?: (h: StorageHealth) => void;
  readonly imageDebounceMs?: number;
  readonly imageMaxDelayMs?: number;
  readonly imageEveryFrames?: number;
  /** Timer for images; defaults to setTimeout. The simulator passes its own, so that an
   *  image lands at the same point of a seed's run every time. Returns a cancel function. */
  readonly schedule?: (fn: () => void, ms: number) => () => void;
  /** rows per served page (default MAX_PAGE_ROWS; the simulator uses tiny pages) */
  readonly pageRows?: number;
  /** page compression (default: the browser's streams; the simulator's is synchronous) */
  readonly pageCodec?: PageCodec;
  /** SHA-256 of frames and images (default: the browser's; the simulator's finishes at once) */
  readonly sha256?: Sha256;
  /** the size images are cut in (default CHUNK_BYTES; tests use small chunks on small databases) */
  readonly imageChunkBytes?: number;
  /** first retry delay after an image could not be written (doubles up to 5 min; S7) */
  readonly imageRetryMs?: number;
  /** the browser's storage figures, for the words of a quota problem (navigator.storage) */
  readonly estimate?: () => Promise<{ usage?: number; quota?: number }>;
  /** where a received page's time goes (scripts/profile-apply.mjs): called as a phase
   *  starts, the function it returns as it ends */
  readonly trace?: (phase: 'unpack' | 'apply' | 'journal' | 'image') => () => void;
}

export interface CommitInput {
  readonly changes: readonly Change[];
  readonly hlc: Hlc | null;
  readonly yUpdate?: Uint8Array | null;
  /** a page of another owner's rows (core/stream.ts): applied only if it continues what this
   *  device holds of that owner (P2), and its watermark moves with it */
  readonly page?: { readonly owner: string; readonly from: number; readonly to: number; readonly repair?: boolean;
    /** the page as received: the journal keeps these bytes instead of its rows (J2) */
    readonly bytes?: Uint8Array };
  /** watermarks to raise with this commit (the own-seq guard after lost frames) */
  readonly raise?: Marks;
  /** the sync engine's ahead-lane lease (E3), persisted apart from `hlc` */
  readonly aheadHlc?: Hlc | null;
}

export interface OpenParams {
  readonly dbName: string;
  readonly deviceUuid: string;
  /** journals of other devices of this library in this browser, most recent first (S5) */
  readonly seedFrom?: readonly string[];
}

export interface StorageEngine {
  open(p: OpenParams): Promise<Result<BootReport, StorageError>>;
  commit(p: CommitInput): Promise<Result<CommitResult, StorageError>>;
  query(p: { sql: string; params?: Params }): Result<QueryRow[], StorageError>;
  /** rpc `tombstoned`: which of `uuids` have a tombstone of `model`, in one query */
  tombstoned(p: { model: string; uuids: readonly string[] }): Result<string[], StorageError>;
  digest(): Result<Record<string, string>, StorageError>;
  flush(): Promise<Result<StorageHealth, StorageError>>;
  /** This device's watermark vector (core/stream.ts P2). */
  marks(): Result<Marks, StorageError>;
  /** Up to `count` pages of `owner`'s rows after `after` (what this device holds). */
  servePages(p: { owner: string; after: number; count: number }): Promise<Result<ServedPages, StorageError>>;
  /** Decodes, validates and commits a page received from a peer (a gap is not applied). */
  applyPage(p: { bytes: Uint8Array; repair?: boolean }): Promise<Result<PageResult, StorageError>>;
  snapshot(): Promise<Result<StorageHealth, StorageError>>;
  health(): StorageHealth;
  /** the bench's naive baseline (insert + export + put the whole image); test build only */
  benchNaiveWrite?(p: { changes: readonly Change[] }): Promise<Result<{ ms: number; bytes: number }, StorageError>>;
  /** What another device's database holds (rpc `holdings`), read only; this engine's own
   *  database is never asked (the caller holds the other device's lock). */
  holdings(p: { dbName: string }): Promise<Result<Holdings, StorageError>>;
  close(): Promise<void>;
}

interface Pending {
  readonly input: CommitInput;
  readonly resolve: (r: Result<CommitResult, StorageError>) => void;
}

const IMAGE_RETRY_MAX_MS = 5 * 60_000;
/**
 * S3's `quick_check` opens a second sql.js database from the image's bytes: at 1M entries a
 * 536 MB copy beside the live database and the export (the renderer's memory wall) and
 * seconds of the worker. Above this size the image is checked by its chunk sums only (every
 * chunk it wrote read back and hashed; the bytes are SQLite's own export of a database that
 * is open and in use, outside any transaction).
 */
const PROBE_MAX_BYTES = 64 << 20;
/**
 * A timed image waits at least this many times the last image's duration after it ended: an
 * image costs time in proportion to the database (at 1M entries, seconds of export and
 * hashing of 536 MB, the export under the writer lock), and during a backfill commits never
 * stop: without a spacing images would follow each other back to back and take the worker
 * from the pages (figures: docs/decisions/0016). The journal keeps every commit durable
 * meanwhile; `snapshot()` (page hide, explicit) is not held back.
 */
const IMAGE_SPACING = 10;
const mb = (n: number): string => `${(n / 1e6).toFixed(1)} MB`;
const plural = (n: number, one: string, many = `${one}s`): string => `${n} ${n === 1 ? one : many}`;

/** S6: skipped frames in words (seqs listed while few). */
function describeSkipped(damaged: readonly DamagedFrame[]): string {
  const seqs = damaged.slice(0, 5).map((d) => `#${d.seq}`).join(', ') + (damaged.length > 5 ? ', …' : '');
  const whys = [...new Set(damaged.map((d) => d.why))].slice(0, 2).join('; ');
  return `${plural(damaged.length, 'acknowledged change group')} in the change journal (${seqs}) could not be used: ${whys}. ` +
    `${damaged.length === 1 ? 'It was' : 'They were'} skipped and every other change was restored; what ${damaged.length === 1 ? 'it' : 'they'} held comes back from other devices if it reached them, otherwise it is lost.`;
}

/**
 * The document state an image keeps: its base and the updates after it. Merging a 30 MB base
 * with a few small updates re-encodes all of it (seconds, on the worker's one thread, at
 * 100k entries), so small updates stay a separate, merged tail until they reach a quarter
 * of the base.
 */
export function imageDocState(base: Uint8Array | null, after: readonly Uint8Array[]): { ydoc: Uint8Array | null; ydocTail: Uint8Array[] } {
  if (after.length === 0) return { ydoc: base, ydocTail: [] };
  const tailBytes = after.reduce((n, u) => n + u.byteLength, 0);
  if (!base || tailBytes > base.byteLength / 4) return { ydoc: mergeUpdates(base ? [base, ...after] : [...after]), ydocTail: [] };
  return { ydoc: base, ydocTail: [after.length === 1 ? after[0]! : mergeUpdates([...after])] };
}

const describe = (e: unknown): string => (e instanceof Error ? e.message : String(e));
const MEMORY_ONLY_SUFFIX = 'changes are kept in memory only and will be lost when this tab closes.';

/** Shared records changes were refused for because they are deleted here (CommitResult.deleted). */
function deletedRecords(rejected: readonly Rejection[]): { deleted?: { model: string; uuid: string }[] } {
  const seen = new Map<string, { model: string; uuid: string }>();
  for (const r of rejected) {
    if (r.type !== 'tombstoned' || !isSharedModel(r.model) || seen.size >= MAX_DELETED_REPORTED) continue;
    seen.set(`${r.model}:${r.uuid}`, { model: r.model, uuid: r.uuid });
  }
  return seen.size ? { deleted: [...seen.values()] } : {};
}

export function createStorageEngine(deps: StorageEngineDeps): StorageEngine {
  const debounceMs = deps.imageDebounceMs ?? 1500;
  const maxDelayMs = deps.imageMaxDelayMs ?? 15_000;
  const everyFrames = deps.imageEveryFrames ?? 2000;
  let db: Sqlite | null = null;
  /** this device (the owner of the rows it numbers) and its watermarks (core/stream.ts P1, P2) */
  let self = '';
  let marks = new Map<string, number>();
  let journal: Journal | null = null;
  let seq = 0;
  let hlc: Hlc | null = null;
  let ahead: Hlc | null = null;
  /** the current image; `chunks`: the ids of its stored chunks (none for a one-blob image) */
  let image: { id: string; seq: number; bank: number; chunks: ReadonlySet<string> } | null = null;
  /** the last digest and the database state it was computed on (`Sqlite.writes`) */
  let digestMemo: { db: Sqlite; writes: number; value: Record<string, string> } | null = null;
  /** the previous image's chunk ids: the next image's bank, so it reuses them (image-chunks.ts) */
  let previousChunks: ReadonlySet<string> = new Set();
  let imageYdoc: Uint8Array | null = null;
  let imageTail: readonly Uint8Array[] = [];
  let yPending: Uint8Array[] = [];
  let framesSinceImage = 0;
  let health: StorageHealth = { mode: 'durable', problem: null, lastImageAt: null, lastImageBytes: null, journalFrames: 0, pending: 0, imageRetryAt: null };
  const queue: Pending[] = [];
  let chain: Promise<unknown> = Promise.resolve();
  let pumping = false;
  const schedule = deps.schedule ?? ((fn: () => void, ms: number) => {
    const t = setTimeout(fn, ms);
    return () => clearTimeout(t);
  });
  /** cancels the pending image, if one is scheduled */
  let timer: (() => void) | null = null;
  let firstDirtyAt: number | null = null;
  let closed = false;
  /** the next image is written even with no new frame (the layout upgrade changed the database) */
  let forceImage = false;
  let pageLane: Promise<unknown> = Promise.resolve();
  const sha = deps.sha256 ?? webSha256;
  const retryBaseMs = deps.imageRetryMs ?? 5_000;
  /** S7: consecutive image failures, when the next attempt may run, and the words shown */
  let imageFailures = 0;
  let retryAt: number | null = null;
  let imageProblem: string | null = null;
  /** when the last image ended and how long it took (IMAGE_SPACING) */
  let lastImage: { endedAt: number; ms: number } | null = null;

  const setHealth = (patch: Partial<StorageHealth>): void => {
    health = { ...health, ...patch };
    deps.onHealth?.(health);
  };
  const goMemoryOnly = (e: StorageError): void => {
    journal?.close();
    journal = null;
    const why = e.type === 'QuotaExceeded' ? 'Browser storage is full' : `Browser storage is unavailable (${e.message})`;
    setHealth({ mode: 'memory-only', problem: `${why} — ${MEMORY_ONLY_SUFFIX}` });
  };
  /** S4: run fn after everything queued before it. */
  const exclusive = <T>(fn: () => Promise<T>): Promise<T> => {
    const run = chain.then(fn, fn);
    chain = run.catch(() => undefined);
    return run;
  };
  const need = (): Result<Sqlite, StorageError> =>
    db ? ok(db) : err({ type: 'NotOpen', message: 'the storage is not open' });

  const writeMeta = (d: Sqlite, key: string, value: string): void =>
    d.run('INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value', [key, value]);
  const maxHlc = (a: Hlc | null, b: Hlc | null | undefined): Hlc | null => (!b ? a : !a || b > a ? b : a);

  async function loadImage(id: string | null, from: Journal | null = journal): Promise<{ img: ImageRecord; sqlite: Sqlite } | string> {
    if (!id || !from) return 'missing';
    try {
      const img = await from.readImage(id);
      if (!img) return 'missing';
      const docProblem = await checkDocState(img);
      if (docProblem) return docProblem;
      let bytes: Uint8Array | null;
      if (img.chunks) {
        const read = await readChunkedImage(from, img, sha);
        if (typeof read === 'string') return read;
        bytes = read;
      } else {
        if (!(img.bytes instanceof Uint8Array)) return 'damaged (it holds no database)';
        if ((await sha256Hex(img.bytes, sha)) !== img.checksum) return 'damaged (checksum mismatch)';
        bytes = img.bytes;
      }
      const sqlite = openSqlite(deps.sql, bytes);
      bytes = null; // sql.js copied it into its own file
      try {
        sqlite.all('SELECT count(*) AS n FROM sqlite_master');
      } catch (e) {
        sqlite.close();
        return `unreadable (${describe(e)})`;
      }
      return { img, sqlite };
    } catch (e) {
      return `unreadable (${describe(e)})`;
    }
  }

  /** S6: the image's document state is what was written (checksum), or, in a legacy image
   *  without one, at least decodes (a flipped bit there used to load silently different
   *  content, or throw on the main thread at boot). */
  async function checkDocState(img: ImageRecord): Promise<string | null> {
    const tail = img.ydocTail ?? [];
    if (img.docChecksum !== undefined)
      return (await docChecksum(img.ydoc, tail, sha)) === img.docChecksum ? null : 'damaged (its document state fails its checksum)';
    try {
      for (const u of [...(img.ydoc ? [img.ydoc] : []), ...tail]) decodeUpdate(u);
      return null;
    } catch (e) {
      return `damaged (its document state does not load: ${describe(e)})`;
    }
  }

  /** S5: the newest readable sibling image and the sibling's frames after it, or null. */
  async function seedFromSibling(names: readonly string[]): Promise<{ sqlite: Sqlite; img: ImageRecord; frames: Frame[]; dbName: string } | null> {
    if (!deps.idb) return null;
    for (const name of names) {
      const opened = await openJournal(deps.idb, name, true, sha);
      if (!opened.ok || !opened.value) continue;
      const sibling = opened.value;
      try {
        // a sibling still in the layout before the stream upgrades itself when it next opens
        if ((await sibling.layout()) !== LAYOUT) continue;
        const pointer = await sibling.pointer();
        const loaded = await loadImage(pointer.current, sibling);
        if (typeof loaded === 'string') continue;
        const frames = await sibling.framesAfter(loaded.img.seq);
        const unpacked = frames.ok && !frames.value.damaged.length ? await unpackFrames(frames.value.frames) : null;
        if (!unpacked || unpacked.damaged.length) {
          loaded.sqlite.close(); // a damaged sibling journal: the next sibling, or a normal sync
          continue;
        }
        return { ...loaded, frames: unpacked.frames, dbName: name };
      } catch {
        continue; // a sibling being torn down: the next one, or a normal sync
      } finally {
        sibling.close();
      }
    }
    return null;
  }

  /** Local-only columns as a row arriving by sync gets them (apply's localDefaults). */
  function resetLocalColumns(d: Sqlite): void {
    for (const model of MODEL_NAMES) {
      const cols = Object.entries(MODELS[model].localDefaults);
      if (cols.length === 0) continue;
      d.run(`UPDATE ${MODELS[model].table} SET ${cols.map(([c]) => `${c} = ?`).join(', ')}`, cols.map(([, v]) => v));
    }
  }

  /**
   * J2: a frame's received pages as the changes they hold (replay applies them as the first
   * apply did). A page that does not unpack although the frame's checksum matched makes the
   * frame damaged (S6), as an unreadable frame would.
   */
  async function unpackFrames(frames: readonly Frame[]): Promise<{ frames: Frame[]; damaged: DamagedFrame[] }> {
    const out: Frame[] = [];
    const damaged: DamagedFrame[] = [];
    for (const f of frames) {
      if (!f.pages?.length) {
        out.push(f);
        continue;
      }
      const changes: unknown[] = [...f.changes];
      let bad: string | null = null;
      for (const bytes of f.pages) {
        const page = await unpackPage(bytes, deps.pageCodec);
        if (!page.ok) {
          bad = page.error;
          break;
        }
        changes.push(...page.value.changes);
      }
      if (bad) damaged.push({ seq: f.seq, why: `damaged (a page in it does not unpack: ${bad})` });
      else out.push({ ...f, changes, pages: [] });
    }
    return { frames: out, damaged };
  }

  function replay(d: Sqlite, frames: readonly Frame[]): void {
    const store = createSqliteApplyStore(d);
    d.transaction(() => {
      for (const f of frames) {
        applyChanges(store, f.changes);
        if (f.marks) raiseMarks(d, f.marks);
        hlc = maxHlc(hlc, f.hlc);
        ahead = maxHlc(ahead, f.ahead);
      }
      if (hlc) writeMeta(d, 'hlc', hlc);
      if (ahead) writeMeta(d, 'hlc-ahead', ahead);
    });
  }

  /** P1: this device's own streamed changes get the next seqs (in order), unless they have one. */
  function numberOwn(changes: readonly Change[]): { changes: Change[]; own: SeqChange[] } {
    const own: SeqChange[] = [];
    const out = changes.map((c) => {
      if (c.kind !== 'owned' || c.owner !== self || !isStreamModel(c.model) || c.seq !== undefined) return c;
      const next = { ...c, seq: (marks.get(self) ?? 0) + own.length + 1 } as SeqChange;
      own.push(next);
      return next;
    });
    return { changes: out, own };
  }

  function scheduleImage(): void {
    if (!journal || closed) return;
    const now = deps.now();
    firstDirtyAt ??= now;
    timer?.();
    let wait = framesSinceImage >= everyFrames ? 0 : Math.max(0, Math.min(debounceMs, firstDirtyAt + maxDelayMs - now));
    if (retryAt !== null) wait = Math.max(wait, retryAt - now); // S7: backing off
    if (lastImage) wait = Math.max(wait, lastImage.endedAt + IMAGE_SPACING * lastImage.ms - now);
    timer = schedule(() => {
      timer = null;
      void snapshot();
    }, wait);
  }

  async function pump(): Promise<void> {
    if (pumping) return;
    pumping = true;
    try {
      while (queue.length) {
        const group = queue.splice(0, queue.length);
        await exclusive(() => writeGroup(group));
      }
    } finally {
      pumping = false;
    }
  }

  async function writeGroup(group: Pending[]): Promise<void> {
    const d = db;
    if (!d) {
      for (const p of group) p.resolve(err({ type: 'NotOpen', message: 'the storage is not open' }));
      return;
    }
    const store = createSqliteApplyStore(d);
    const results: (Result<Omit<CommitResult, 'seq' | 'durable'>, StorageError>)[] = [];
    const frameChanges: Change[] = [];
    /** J2: received pages kept as their bytes (their rows are in `frameChanges` otherwise) */
    const framePages: Uint8Array[] = [];
    const yUpdates: Uint8Array[] = [];
    /** per input: this device's streamed rows it numbered (the live page, P1) */
    const ownRows: SeqChange[][] = [];
    const moved = new Map<string, number>(); // watermarks this group raises (P2)
    const before = new Map(marks);
    let groupHlc = hlc;
    const empty = { applied: 0, rejected: 0, tables: [] as string[], rejections: [] };
    let groupAhead = ahead;
    const applyEnd = deps.trace?.('apply');
    try {
      d.transaction(() => {
        for (const p of group) {
          ownRows.push([]);
          const page = p.input.page;
          if (page) {
            const have = moved.get(page.owner) ?? marks.get(page.owner) ?? 0;
            // P2: a page that does not continue what we hold is not applied (the puller asks
            // for the gap); one we already hold changes nothing. This device's own rows come
            // back only to repair frames it lost (`repair`): every row, by the seq rule (P3).
            if (page.owner === self ? !page.repair : have < page.from || have >= page.to) {
              results.push(ok({ ...empty, stream: { owner: page.owner, watermark: have, gap: have < page.from && page.owner !== self } }));
              continue;
            }
          }
          try {
            const numbered = numberOwn(p.input.changes);
            const report = d.transaction(() => applyChanges(store, numbered.changes));
            const marksNow: Record<string, number> = {};
            if (numbered.own.length) marksNow[self] = numbered.own[numbered.own.length - 1]!.seq;
            if (page) marksNow[page.owner] = Math.max(page.to, moved.get(page.owner) ?? marks.get(page.owner) ?? 0);
            for (const [o, v] of Object.entries(p.input.raise ?? {})) marksNow[o] = Math.max(v, marksNow[o] ?? 0);
            raiseMarks(d, marksNow);
            for (const [o, v] of Object.entries(marksNow)) {
              moved.set(o, v);
              marks.set(o, v);
            }
            ownRows[ownRows.length - 1] = numbered.own;
            results.push(ok({
              applied: report.applied,
              rejected: report.rejected.length,
              tables: report.tables,
              rejections: report.rejected.slice(-5).map((r: Rejection) => ({ type: r.type, model: r.model, uuid: r.uuid, detail: r.detail })),
              ...deletedRecords(report.rejected),
              ...(page ? { stream: { owner: page.owner, watermark: page.to, gap: false } } : {}),
            }));
            if (page?.bytes && !page.repair) framePages.push(page.bytes);
            else frameChanges.push(...numbered.changes);
            if (p.input.yUpdate) yUpdates.push(p.input.yUpdate);
            groupHlc = maxHlc(groupHlc, p.input.hlc);
            groupAhead = maxHlc(groupAhead, p.input.aheadHlc);
          } catch (e) {
            results.push(err({ type: 'ApplyFailed', message: describe(e) }));
          }
        }
        if (groupHlc) writeMeta(d, 'hlc', groupHlc);
        if (groupAhead && groupAhead !== ahead) writeMeta(d, 'hlc-ahead', groupAhead);
      });
    } catch (e) {
      marks = before; // nothing of the group was committed: its seqs were never used
      for (const p of group) p.resolve(err({ type: 'SqlError', message: describe(e) }));
      return;
    }
    applyEnd?.();
    // A frame is written when anything must survive a crash: changes, document updates, or
    // a clock that moved (the sync engine's clock lease is an empty commit with an HLC).
    const clockMoved = groupHlc !== hlc || groupAhead !== ahead;
    const frameAhead = groupAhead !== ahead ? groupAhead : null;
    hlc = groupHlc;
    ahead = groupAhead;
    const mustPersist = frameChanges.length > 0 || framePages.length > 0 || yUpdates.length > 0 || clockMoved || moved.size > 0;
    const frameSeq = mustPersist ? ++seq : seq;
    let durable = false;
    if (journal && mustPersist) {
      const frameMarks = moved.size ? Object.fromEntries(moved) : undefined;
      const appendEnd = deps.trace?.('journal');
      const appended = await journal.append({ seq: frameSeq, changes: frameChanges, hlc: groupHlc, yUpdates, ...(frameAhead ? { ahead: frameAhead } : {}), ...(frameMarks ? { marks: frameMarks } : {}),
        ...(framePages.length ? { pages: framePages, format: FRAME_FORMAT } : {}) });
      appendEnd?.();
      if (appended.ok) {
        durable = true;
        framesSinceImage++;
        setHealth({ journalFrames: health.journalFrames + 1, pending: queue.length });
        scheduleImage();
      } else goMemoryOnly(appended.error);
    } else durable = journal !== null;
    yPending.push(...yUpdates);
    // The live page of each local commit's own rows (P1): peers at its start apply it at once.
    // (a commit of more rows than a page holds is pushed as consecutive pages, P5)
    const pages = await Promise.all(ownRows.map(async (own) => {
      const out: { bytes: Uint8Array; from: number; to: number }[] = [];
      for (let i = 0; i < own.length; i += MAX_PAGE_ROWS) {
        const part = own.slice(i, i + MAX_PAGE_ROWS);
        const from = part[0]!.seq - 1;
        const to = part[part.length - 1]!.seq;
        const bytes = await packPage(self, from, to, part, deps.pageCodec).catch(() => null);
        if (!bytes) return []; // not pushed: peers pull it
        out.push({ bytes, from, to });
      }
      return out;
    }));
    const current = Object.fromEntries(marks);
    group.forEach((p, i) => {
      const r = results[i]!;
      const live = pages[i] ?? [];
      p.resolve(r.ok ? ok({ ...r.value, seq: frameSeq, durable, marks: current, ...(live.length ? { pages: live } : {}) }) : r);
    });
  }

  /**
   * Writes a verified image now. Never rejects: IndexedDB throws synchronously once its
   * connection is closed (a tab being torn down), and this runs from timers with no caller.
   */
  let imaging: Promise<Result<StorageHealth, StorageError>> | null = null;
  async function snapshot(): Promise<Result<StorageHealth, StorageError>> {
    while (imaging) await imaging; // one image at a time
    const run = (async () => {
      const started = deps.now();
      try {
        // S4: the export sees exactly the frames up to `seq`; the rest runs beside commits
        const exported = await exclusive(() => {
          const end = deps.trace?.('image');
          const out = exportImage();
          end?.();
          return Promise.resolve(out);
        });
        if (!exported.ok) return exported;
        return exported.value ? await storeImage(exported.value, started) : ok(health);
      } catch (e) {
        return err(toStorageError(e, 'saving a database image'));
      } finally {
        imaging = null;
      }
    })();
    imaging = run;
    return run;
  }

  interface Exported {
    readonly id: string;
    readonly seq: number;
    /** the exported SQLite file; storeImage takes it (null) so it can be let go early */
    bytes: Uint8Array | null;
    readonly ydoc: Uint8Array | null;
    readonly ydocTail: readonly Uint8Array[];
    /** how many pending document updates and frames the image holds (later ones stay pending) */
    readonly updates: number;
    readonly frames: number;
  }

  function exportImage(): Result<Exported | null, StorageError> {
    const d = db;
    if (!d) return err({ type: 'NotOpen', message: 'the storage is not open' });
    if (!journal || (!forceImage && image && image.seq === seq)) return ok(null);
    forceImage = false;
    timer?.();
    timer = null;
    const bytes = d.exportBytes();
    const { ydoc, ydocTail } = imageDocState(imageYdoc, [...imageTail, ...yPending]);
    return ok({ id: `img-${seq}-${deps.now()}`, seq, bytes, ydoc, ydocTail, updates: yPending.length, frames: framesSinceImage });
  }

  /**
   * S3 for a chunked image: the chunks the current image does not hold are written (a batch per
   * transaction), the record after them; then the record and every chunk written are read
   * back and checked against their sums, and (up to PROBE_MAX_BYTES) sql.js opens the bytes
   * and runs `quick_check`. Only then is it promoted. The exported file is the only full
   * copy held, and it is let go once cut: nothing reads the whole image back.
   */
  async function storeImage(ex: Exported, started: number): Promise<Result<StorageHealth, StorageError>> {
    const { id, seq: imageSeq, ydoc, ydocTail, updates, frames } = ex;
    // the only full copy: held here until cut and checked, then let go before promotion
    const file = { bytes: ex.bytes };
    ex.bytes = null;
    if (!journal || !file.bytes) return ok(health); // closed, or gone memory-only, meanwhile
    const size = file.bytes.byteLength;
    const chunkBytes = deps.imageChunkBytes ?? CHUNK_BYTES;
    const views = chunkViews(file.bytes, chunkBytes);
    const sums = await chunkSums(views, sha);
    // the bank the current image does not use; a chunk the previous image holds there was
    // checked when it was written
    const bank = image ? 1 - image.bank : 0;
    const record: ImageRecord = {
      id, seq: imageSeq, chunks: sums, bank, size, chunkBytes, ydoc, ydocTail,
      checksum: await chunkedChecksum(size, chunkBytes, bank, sums, sha), docChecksum: await docChecksum(ydoc, ydocTail, sha),
      at: deps.now(), schema: SCHEMA_VERSION,
    };
    const ids = sums.map((sum) => chunkId(bank, sum));
    const fresh = new Map<string, number>(); // id → index of a chunk to write
    ids.forEach((cid, i) => {
      if (!previousChunks.has(cid) && !fresh.has(cid)) fresh.set(cid, i);
    });
    const toWrite = [...fresh];
    const writeBytes = toWrite.reduce((n, [, i]) => n + views[i]!.byteLength, 0);
    for (let i = 0; i < toWrite.length; i += CHUNKS_PER_TRANSACTION) {
      if (!journal) return ok(health); // and while hashing or writing
      const batch = toWrite.slice(i, i + CHUNKS_PER_TRANSACTION).map(([cid, k]) => ({ id: cid, bytes: views[k]!.slice() }));
      const put = await journal.putChunks(batch);
      if (!put.ok) return imageFailed(put.error, writeBytes);
    }
    if (!journal) return ok(health);
    const put = await journal.putImage(record);
    if (!put.ok) return imageFailed(put.error, writeBytes);
    // S3: verify what IndexedDB now holds before it may replace the current image.
    const back = await journal.readImage(id);
    let readable = !!back && back.checksum === record.checksum && (await chunkedChecksum(back.size ?? -1, back.chunkBytes ?? -1, back.bank ?? -1, back.chunks ?? [], sha)) === record.checksum && !(await checkDocState(back));
    for (let i = 0; readable && i < toWrite.length; i += CHUNKS_PER_TRANSACTION) {
      const batch = toWrite.slice(i, i + CHUNKS_PER_TRANSACTION);
      const chunks = await journal.readChunks(batch.map(([cid]) => cid));
      const good = await Promise.all(chunks.map(async (c, k) => !!c && (await sha256Hex(c, sha)) === sums[batch[k]![1]]));
      readable = good.every(Boolean);
    }
    if (!readable) {
      setHealth({ problem: 'A new database image did not read back correctly; the previous image is kept.' });
      return ok(health);
    }
    if (size <= PROBE_MAX_BYTES) {
      try {
        // the bytes the read-back chunks were just checked against
        const probe = openSqlite(deps.sql, file.bytes);
        const check = probe.all('PRAGMA quick_check')[0];
        probe.close();
        if (!check || Object.values(check)[0] !== 'ok') throw new Error('quick_check failed');
      } catch (e) {
        setHealth({ problem: `A new database image failed verification (${describe(e)}); the previous image is kept.` });
        return ok(health);
      }
    }
    file.bytes = null;
    views.length = 0;
    if (!journal) return ok(health);
    const keep = new Set([...ids, ...(image?.chunks ?? [])]);
    const promoted = await journal.promote(id, image?.id ?? null, image?.seq ?? 0, keep);
    if (!promoted.ok) return imageFailed(promoted.error, writeBytes);
    if (imageFailures) {
      imageFailures = 0;
      retryAt = null;
      setHealth(health.problem === imageProblem ? { problem: null, imageRetryAt: null } : { imageRetryAt: null });
      imageProblem = null;
    }
    previousChunks = image?.chunks ?? new Set();
    image = { id, seq: record.seq, bank, chunks: new Set(ids) };
    imageYdoc = record.ydoc;
    imageTail = ydocTail;
    yPending = yPending.slice(updates);
    framesSinceImage -= frames;
    firstDirtyAt = null;
    setHealth({ lastImageAt: record.at, lastImageBytes: size, lastImageWritten: writeBytes, journalFrames: journal ? await journal.frameCount() : 0 });
    lastImage = { endedAt: deps.now(), ms: deps.now() - started };
    if (framesSinceImage > 0) scheduleImage(); // commits landed while this image was checked
    return ok(health);
  }

  /**
   * A library persisted before the owned-state stream (release 0.1: its journal records no
   * layout) is upgraded once, at open: this device's own rows are numbered (stream-store
   * `numberOwnRows`) and the document keeps only what it holds now (`upgradeDocState`). An
   * image is written at once and the journal then records the layout; until then a restart
   * upgrades again, which only gives rows higher seqs (a rewrite, P3).
   */
  function upgradeLayout(d: Sqlite): void {
    d.transaction(() => {
      const own = numberOwnRows(d, self, marks.get(self) ?? 0);
      if (own) marks.set(self, own);
    });
    const state = [...(imageYdoc ? [imageYdoc] : []), ...imageTail, ...yPending];
    if (state.length) {
      imageYdoc = upgradeDocState(state, self);
      imageTail = [];
      yPending = [];
    }
    if (!journal) return;
    forceImage = true;
    const before = image?.id;
    void snapshot().then(async () => {
      if (journal && image && image.id !== before) await journal.setLayout(LAYOUT); // the upgraded image is the current one
    });
  }

  function commit(input: CommitInput): Promise<Result<CommitResult, StorageError>> {
    if (!db) return Promise.resolve(err({ type: 'NotOpen', message: 'the storage is not open' }));
    return new Promise((resolve) => {
      queue.push({ input, resolve });
      health = { ...health, pending: queue.length };
      void pump();
    });
  }

  /**
   * S7: an image that could not be written or promoted leaves the journal as it is (every
   * commit stays durable there); the image is tried again with backoff, and the health says
   * why — with the browser's quota figures when it is full.
   */
  async function imageFailed(e: StorageError, bytes: number): Promise<Result<StorageHealth, StorageError>> {
    imageFailures++;
    const delay = Math.min(IMAGE_RETRY_MAX_MS, retryBaseMs * 2 ** (imageFailures - 1));
    retryAt = deps.now() + delay;
    const est = await deps.estimate?.().catch(() => null);
    const figures = est && typeof est.usage === 'number' && typeof est.quota === 'number' ? `${mb(est.usage)} of ${mb(est.quota)} used; the copy needs ${mb(bytes)}` : `the copy needs ${mb(bytes)}`;
    // A full disk shows up as a failed write (Chromium: "DataError: Failed to write blobs
    // (IOError)"), not always as a quota error: both are said with the browser's figures.
    const why = e.type === 'QuotaExceeded'
      ? `Browser storage is full (${figures}): the saved copy of this library could not be updated.`
      : `Browser storage refused the saved copy of this library (${e.message}; ${figures}).`;
    imageProblem = `${why} Every change is still saved as it is made; trying again in ${Math.round(delay / 1000)} s.`;
    if (health.mode === 'durable') setHealth({ problem: imageProblem, imageRetryAt: retryAt });
    if (journal && !closed) {
      // the retry runs at retryAt whatever the debounce says (later commits cannot hurry it)
      timer?.();
      timer = schedule(() => {
        timer = null;
        void snapshot();
      }, delay);
    }
    return ok(health);
  }

  return {
    async open({ dbName, deviceUuid, seedFrom = [] }) {
      if (db) return err({ type: 'AlreadyOpen', message: 'the storage is already open' });
      self = deviceUuid;
      const started = deps.now();
      if (deps.idb) {
        const j = await openJournal(deps.idb, dbName, false, sha);
        if (j.ok) journal = j.value;
        else goMemoryOnly(j.error);
      } else goMemoryOnly({ type: 'StorageUnavailable', message: 'IndexedDB is not available in this browser window' });

      // A journal that records no layout but holds data was written by release 0.1.
      let legacy = false;
      if (journal && (await journal.layout()) === null) {
        const p = await journal.pointer();
        if (p.current || (await journal.frameCount()) > 0) legacy = true;
        else await journal.setLayout(LAYOUT);
      }
      let source: BootReport['source'] = 'fresh';
      const problems: string[] = [];
      let loaded: { img: ImageRecord; sqlite: Sqlite } | null = null;
      const pointer = journal ? await journal.pointer() : null;
      if (journal && pointer) {
        if (pointer.current) {
          const cur = await loadImage(pointer.current);
          if (typeof cur !== 'string') {
            loaded = cur;
            source = 'image';
          } else {
            problems.push(`The saved copy of this device's library was ${cur}.`);
            const prev = await loadImage(pointer.previous);
            if (typeof prev !== 'string') {
              loaded = prev;
              source = 'previous-image';
            } else if (pointer.previous) problems.push(`The older saved copy was ${prev} too.`);
          }
        }
      }
      // S5: no image of our own (a new device, or one killed before its first image)
      const seed = !loaded && journal && !problems.length ? await seedFromSibling(seedFrom) : null;
      const d = loaded?.sqlite ?? seed?.sqlite ?? openSqlite(deps.sql);
      if (seed) source = 'sibling';
      const migrationsApplied = d.migrate(MIGRATIONS, deps.now());
      const metaHlc = d.all("SELECT value FROM meta WHERE key = 'hlc'")[0]?.['value'];
      hlc = typeof metaHlc === 'string' ? metaHlc : null;
      const metaAhead = d.all("SELECT value FROM meta WHERE key = 'hlc-ahead'")[0]?.['value'];
      ahead = typeof metaAhead === 'string' ? metaAhead : null;
      if (seed) {
        replay(d, seed.frames);
        // the sibling's clock lease is the sibling's: this device's ahead lane starts empty;
        // its clock is a peer's stamp, adopted only as a received one would be (core/hlc.ts:
        // not past the drift bound; a sibling tab a day ahead must not drag this one along)
        ahead = null;
        if (hlc && pastDrift(hlcWall(hlc), deps.now()) > 0) hlc = null;
        d.transaction(() => {
          resetLocalColumns(d);
          d.run("DELETE FROM meta WHERE key = 'hlc-ahead'");
          if (!hlc) d.run("DELETE FROM meta WHERE key = 'hlc'");
        });
      }
      const base = loaded?.img.seq ?? 0;
      let frames: Frame[] = [];
      let damaged: DamagedFrame[] = [];
      let lastSeq = base;
      let journalUnreadable: string | null = null;
      if (journal) {
        const f = await journal.framesAfter(base);
        if (f.ok) {
          const unpacked = await unpackFrames(f.value.frames);
          frames = unpacked.frames;
          damaged = [...f.value.damaged, ...unpacked.damaged].sort((a, b) => a.seq - b.seq);
          lastSeq = Math.max(base, f.value.lastSeq);
        } else {
          journalUnreadable = f.error.message;
          goMemoryOnly(f.error);
        }
      }
      // A gap means frames the fallback needed were already pruned: say so plainly.
      const firstSeq = Math.min(frames[0]?.seq ?? Infinity, damaged[0]?.seq ?? Infinity);
      if (firstSeq !== Infinity && firstSeq !== base + 1 && problems.length)
        problems.push('Some changes older than the last saved copy could not be recovered.');
      replay(d, frames);
      // S6: above every frame present, damaged ones included (`add` must not meet one)
      seq = lastSeq;
      marks = loadMarks(d);
      if (loaded && source === 'image') {
        image = { id: loaded.img.id, seq: loaded.img.seq, ...imageChunks(loaded.img) };
        const prev = pointer?.previous ? await journal?.readImage(pointer.previous).catch(() => undefined) : undefined;
        // reused by the next image only if it is in the other bank (a legacy image has none)
        previousChunks = prev?.chunks && prev.bank !== image.bank ? imageChunks(prev).chunks : new Set();
      }
      const baseImage = loaded?.img ?? seed?.img;
      if (baseImage) {
        imageYdoc = baseImage.ydoc;
        imageTail = baseImage.ydocTail ?? [];
      }
      yPending = [...(seed?.frames.flatMap((f) => f.yUpdates ?? []) ?? []), ...frames.flatMap((f) => f.yUpdates ?? [])];
      framesSinceImage = frames.length;
      db = d;
      if (legacy) upgradeLayout(d);
      // Frames that could not be used may have held this device's own rows, under seqs peers
      // have seen: never issue those seqs again (P1), and ask peers for its own rows back.
      const lostOwn = damaged.length > 0 || journalUnreadable !== null;
      if (lostOwn) {
        const guard = journalUnreadable !== null ? 1e12 : damaged.length * 1e6;
        await commit({ changes: [], hlc: null, raise: { [self]: (marks.get(self) ?? 0) + guard } });
      }
      const said: string[] = [];
      if (problems.length) {
        const from = source === 'previous-image' ? 'the previous saved copy' : 'the change journal';
        const lossless = !damaged.length && !journalUnreadable && !problems.some((p) => p.startsWith('Some changes'));
        if (problems.some((p) => p.startsWith('Some changes'))) said.push(problems.join(' '));
        else said.push(`${problems.join(' ')} It was rebuilt from ${from} and ${plural(frames.length, 'logged change')}${lossless ? '; nothing acknowledged was lost.' : '.'}`);
      }
      if (damaged.length) said.push(describeSkipped(damaged));
      if (journalUnreadable)
        said.push(`The change journal could not be read at all (${journalUnreadable}): this device started from its saved copy alone, so changes made after that copy are missing here (how many is unknown).`);
      const recovered = said.length ? said.join(' ') : null;
      setHealth({
        journalFrames: journal ? await journal.frameCount() : 0,
        lastImageAt: loaded?.img.at ?? null,
        lastImageBytes: loaded ? (loaded.img.size ?? loaded.img.bytes?.byteLength ?? null) : null,
      });
      // S5: our own image soon, so the next boot needs no sibling (until then a restart
      // simply starts from a sibling again, plus this device's own frames)
      // (S6: damaged frames are pruned by the second image after this one, as any frame is)
      if (seed || problems.length || damaged.length || frames.length > everyFrames) scheduleImage();
      return ok({
        source,
        imageSeq: base,
        replayedFrames: frames.length,
        skippedFrames: damaged.length,
        repairOwn: lostOwn,
        recovered,
        migrationsApplied,
        hlc,
        hlcAhead: ahead,
        health,
        ms: deps.now() - started,
        seeded: seed ? { dbName: seed.dbName, imageAt: seed.img.at, frames: seed.frames.length } : null,
        layoutUpgraded: legacy,
        marks: Object.fromEntries(marks),
        schema: { build: SCHEMA_VERSION, database: Number(d.all('SELECT max(id) AS v FROM _migrations')[0]?.['v'] ?? 0) },
        upgraded: migrationsApplied > 0 && (loaded !== null || seed !== null || frames.length > 0),
        ydoc: [...(imageYdoc ? [imageYdoc] : []), ...imageTail, ...yPending],
      });
    },
    commit,
    query({ sql, params }) {
      const d = need();
      if (!d.ok) return d;
      try {
        return ok(d.value.readOnly(() => d.value.all(sql, params ?? [])));
      } catch (e) {
        const m = describe(e);
        return err({ type: /readonly|query_only/i.test(m) ? 'ReadOnlyViolation' : 'SqlError', message: m });
      }
    },
    tombstoned({ model, uuids }) {
      const d = need();
      if (!d.ok) return d;
      if (!uuids.length) return ok([]);
      // The model's tombstones are usually few (deleted tags and albums) and a bulk act asks
      // about up to 50,000 ids: the smaller side is read. Looking 50,000 ids up in SQLite
      // (a json_each list, bound parameters being capped far lower) took ~85 ms, reading 500
      // tombstones and matching them here ~1 ms.
      const held = Number(d.value.all('SELECT count(*) AS n FROM tombstones WHERE model = ?', [model])[0]?.['n'] ?? 0);
      if (held === 0) return ok([]);
      if (held <= uuids.length) {
        const asked = new Set(uuids);
        return ok(d.value.all('SELECT uuid FROM tombstones WHERE model = ?', [model]).map((r) => String(r['uuid'])).filter((u) => asked.has(u)));
      }
      const rows = d.value.all('SELECT uuid FROM tombstones WHERE model = ? AND uuid IN (SELECT value FROM json_each(?))', [model, JSON.stringify(uuids)]);
      return ok(rows.map((r) => String(r['uuid'])));
    },
    digest() {
      const d = need();
      if (!d.ok) return d;
      // Anti-entropy asks every few seconds, also while this device serves a backfill (its
      // database unchanged, the peer's pulls waiting behind a pass over every row: at 1M
      // entries that pass took most of the sender's worker, docs/decisions/0018).
      const writes = d.value.writes();
      if (digestMemo && digestMemo.db === d.value && digestMemo.writes === writes) return ok({ ...digestMemo.value });
      const out: Record<string, string> = {};
      for (const model of MODEL_NAMES) {
        const cols = syncedColumns(model);
        const dg = createDigest();
        const row: Record<string, string | number | null> = {};
        const derived = MODELS[model].derivedRows;
        d.value.each(`SELECT ${cols.join(', ')} FROM ${MODELS[model].table}${derived ? ` WHERE NOT (${derived})` : ''}`, [], (vals) => {
          for (let i = 0; i < cols.length; i++) row[cols[i]!] = vals[i] as string | number | null;
          dg.add(model, row);
        });
        out[MODELS[model].table] = dg.value();
      }
      digestMemo = { db: d.value, writes, value: out };
      return ok({ ...out });
    },
    async flush() {
      await pump();
      await exclusive(() => Promise.resolve(undefined));
      return ok(health);
    },
    snapshot,
    health: () => health,
    marks() {
      const d = need();
      return d.ok ? ok(Object.fromEntries(marks)) : d;
    },
    async holdings({ dbName }) {
      if (!deps.idb) return ok(null);
      const opened = await openJournal(deps.idb, dbName, true, sha);
      if (!opened.ok) return err(opened.error);
      const other = opened.value;
      if (!other) return ok(null);
      try {
        const held = new Map<string, number>();
        // merged, not each update's own vector: Yjs counts an update's clocks from 0 only
        const updates: Uint8Array[] = [];
        const take = (u: Uint8Array): void => void updates.push(u);
        const pointer = await other.pointer();
        let after = 0;
        if (pointer.current) {
          const loaded = await loadImage(pointer.current, other);
          // the previous image would do for a boot (S3), not here: frames after it may be gone
          if (typeof loaded === 'string') return ok({ unreadable: `its image is ${loaded}` });
          try {
            for (const [owner, seq] of loadMarks(loaded.sqlite)) held.set(owner, seq);
          } finally {
            loaded.sqlite.close();
          }
          after = loaded.img.seq;
          for (const u of [...(loaded.img.ydoc ? [loaded.img.ydoc] : []), ...(loaded.img.ydocTail ?? [])]) take(u);
        }
        const frames = await other.framesAfter(after);
        if (!frames.ok) return ok({ unreadable: frames.error.message });
        if (frames.value.damaged.length) return ok({ unreadable: describeSkipped(frames.value.damaged) });
        for (const f of frames.value.frames) {
          for (const [owner, seq] of Object.entries(f.marks ?? {})) held.set(owner, Math.max(held.get(owner) ?? 0, seq));
          f.yUpdates.forEach(take);
        }
        const sv = updates.length ? decodeStateVector(encodeStateVectorFromUpdate(mergeUpdates(updates))) : new Map<number, number>();
        return ok({ marks: Object.fromEntries(held), sv: Object.fromEntries([...sv].map(([c, n]) => [String(c), n])) });
      } catch (e) {
        return ok({ unreadable: describe(e) });
      } finally {
        other.close();
      }
    },
    servePages({ owner, after, count }) {
      // Read under the writer lock: a page sees whole commits only (its range is exact, P2).
      return exclusive(async () => {
        const d = db;
        if (!d) return err<StorageError>({ type: 'NotOpen', message: 'the storage is not open' });
        // a forgotten device's rows are not served (core/apply.ts I7): nothing to promise
        if (d.all("SELECT 1 FROM tombstones WHERE model = 'device' AND uuid = ?", [owner]).length) return ok({ pages: [], held: 0 });
        const held = marks.get(owner) ?? 0;
        const ranges: { json: Uint8Array | null; changes: SeqChange[]; ahead: SeqChange[]; from: number; to: number }[] = [];
        let from = after;
        for (let i = 0; i < Math.min(count, MAX_PAGES_PER_PULL) && from < held; i++) {
          const page = readPageJson(d, owner, from, held, deps.pageRows) ?? { json: null, ...readPage(d, owner, from, held, deps.pageRows) };
          ranges.push({ changes: [], ahead: [], ...page, from });
          from = page.to;
        }
        const codec = deps.pageCodec ?? streamCodec;
        const pages = await Promise.all(ranges.map(async (r) => ({
          bytes: await (r.json ? codec.deflate(r.json) : packPage(owner, r.from, r.to, r.changes, codec, r.ahead)),
          from: r.from,
          to: r.to,
        })));
        return ok({ pages, held });
      });
    },
    async applyPage({ bytes, repair = false }) {
      if (!db) return err({ type: 'NotOpen', message: 'the storage is not open' });
      // Pages of one owner must commit in the order they arrived (P2: a page continues the
      // previous one); inflating is asynchronous, so unpacking is serialized, and each commit
      // is queued as soon as its page is read — in order.
      const unpacked = pageLane.then(async () => {
        const end = deps.trace?.('unpack');
        const r = await unpackPage(bytes, deps.pageCodec);
        end?.();
        return r;
      });
      pageLane = unpacked.catch(() => undefined);
      const decoded = await unpacked;
      if (!decoded.ok) return err({ type: 'InvalidRequest', message: decoded.error });
      const { owner, from, to, changes, unknownFields } = decoded.value;
      // J2: the journal keeps the page's own bytes. A view into a larger buffer would be stored
      // with all of that buffer (structured clone copies whole ArrayBuffers): copied then.
      const kept = bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength ? bytes : bytes.slice();
      const r = await commit({ changes: changes as Change[], hlc: null, page: { owner, from, to, repair, bytes: kept } }); // validated change by change by core apply
      if (!r.ok) return r;
      return ok({ ...r.value, owner, from, to, rows: changes.length, bytes: bytes.byteLength, unknownFields });
    },
    ...(import.meta.env.MODE !== 'test' ? {} : { benchNaiveWrite: ({ changes }: { changes: readonly Change[] }) =>
      exclusive(async () => {
        const d = db;
        if (!d) return err<StorageError>({ type: 'NotOpen', message: 'the storage is not open' });
        const t0 = performance.now();
        d.transaction(() => applyChanges(createSqliteApplyStore(d), changes));
        const bytes = d.exportBytes();
        if (journal) {
          const r = await journal.putNaive(bytes);
          if (!r.ok) return r;
        }
        return ok({ ms: performance.now() - t0, bytes: bytes.byteLength });
      }) }),
    async close() {
      closed = true;
      timer?.();
      await exclusive(() => Promise.resolve(undefined));
      while (imaging) await imaging;
      journal?.close();
      journal = null;
      db?.close();
      db = null;
    },
  };
}

export { sha256Hex, toStorageError };
