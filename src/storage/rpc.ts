/**
 * The typed request/response contract between the main thread and the storage worker.
 * Every request carries an id; every response answers exactly one id with either a value
 * or a typed StorageError (never a thrown, lost promise). The worker also pushes events
 * (storage health changes) that answer no request.
 */
import type { Change, Hlc } from '../core/change.ts';
import type { Typed } from '../core/result.ts';

export type StorageErrorType =
  | 'NotOpen'
  | 'AlreadyOpen'
  | 'InvalidRequest'
  | 'SqlError'
  | 'ReadOnlyViolation'
  | 'ApplyFailed'
  | 'StorageUnavailable'
  | 'QuotaExceeded'
  | 'WorkerCrashed'
  /** persisted by a newer build in a layout this one does not read (journal J2) */
  | 'NewerFormat'
  | 'Unknown';

export interface StorageError extends Typed<StorageErrorType> {
  readonly message: string;
}

/** Where the device's data is kept, in words the UI can show. */
export type PersistenceMode =
  /** every acknowledged write is durable in IndexedDB */
  | 'durable'
  /** IndexedDB failed (unavailable, quota): the app works in memory and nothing is saved */
  | 'memory-only';

export interface StorageHealth {
  readonly mode: PersistenceMode;
  /** Plain words for the user when something is wrong (null when all is well). */
  readonly problem: string | null;
  readonly lastImageAt: number | null;
  readonly lastImageBytes: number | null;
  /** what the last image wrote: the chunks the image before it did not hold (engine S3) */
  readonly lastImageWritten?: number | null;
  readonly journalFrames: number;
  /** commits received but not yet durable */
  readonly pending: number;
  /** when the saved copy is tried again after it could not be written (engine S7), else null */
  readonly imageRetryAt: number | null;
}

export interface BootReport {
  /** 'fresh' = no saved data; 'image' = last image loaded; 'previous-image' = fallback used;
   *  'sibling' = a new device started from another device's image in this browser. */
  readonly source: 'fresh' | 'image' | 'previous-image' | 'sibling';
  /** 'sibling': whose image this device started from (engine S5), and how old it was */
  readonly seeded: { readonly dbName: string; readonly imageAt: number; readonly frames: number } | null;
  readonly imageSeq: number;
  readonly replayedFrames: number;
  /** frames found in the journal but unreadable or failing their checksum (engine S6) */
  readonly skippedFrames: number;
  /** frames lost at boot may have held this device's own rows: it pulls them back from peers */
  readonly repairOwn: boolean;
  /** Plain-words description of damage found and repaired at boot, if any. */
  readonly recovered: string | null;
  readonly migrationsApplied: number;
  readonly hlc: Hlc | null;
  /** the clock's ahead-lane lease (core/hlc `nextAbove`, sync engine E3), kept apart from
   *  `hlc` so that restoring it never moves the clock far ahead */
  readonly hlcAhead: Hlc | null;
  readonly health: StorageHealth;
  readonly ms: number;
  /** Sync-document state to restore, in order (image state, then frames' updates). */
  readonly ydoc: readonly Uint8Array[];
  /** a library persisted before the owned-state stream was upgraded at this boot */
  readonly layoutUpgraded: boolean;
  /** this device's watermark vector (core/stream.ts P2) */
  readonly marks: Readonly<Record<string, number>>;
  /** the schema this build knows, and the newest one that migrated this database (higher
   *  when a newer build ran on it: this tab is the older code, and is told to update) */
  readonly schema: { readonly build: number; readonly database: number };
  /** migrations ran on data saved before: the document's shared log is applied again, since
   *  older code left out fields it did not know (sync engine `rematerialize`) */
  readonly upgraded: boolean;
}

/** The most refused-for-a-tombstone records one commit reports (CommitResult.deleted). */
export const MAX_DELETED_REPORTED = 1000;

export interface CommitResult {
  readonly seq: number;
  /** false when the write lives only in memory (see StorageHealth.mode). */
  readonly durable: boolean;
  readonly applied: number;
  readonly rejected: number;
  /** SQL tables whose rows changed (UI invalidation) */
  readonly tables: readonly string[];
  /** the last few rejections, explained */
  readonly rejections: readonly { type: string; model: string; uuid: string; detail: string }[];
  /** shared records a change was refused for because this device holds their tombstone
   *  (core/apply I4), each once, at most MAX_DELETED_REPORTED: so that a delete pruned from the
   *  document can be written again for a device that never saw it (sync/engine.ts E8) */
  readonly deleted?: readonly { readonly model: string; readonly uuid: string }[];
  /** the watermark vector after this commit (core/stream.ts P2) */
  readonly marks?: Readonly<Record<string, number>>;
  /** a local commit of this device's streamed rows: the pages to push to peers (P1), in order
   *  (more than one when the commit holds more rows than a page) */
  readonly pages?: readonly { readonly bytes: Uint8Array; readonly from: number; readonly to: number }[];
  /** a page commit: the owner's watermark now, and whether the page left a gap (not applied) */
  readonly stream?: { readonly owner: string; readonly watermark: number; readonly gap: boolean };
}

/** Pages read for a pull: each deflated, with its range (core/stream.ts). */
export interface ServedPages {
  readonly pages: readonly { readonly bytes: Uint8Array; readonly from: number; readonly to: number }[];
  /** this device's watermark of the owner: nothing after it to serve */
  readonly held: number;
}

/** What applying a received page did. */
export interface PageResult extends CommitResult {
  readonly owner: string;
  readonly from: number;
  readonly to: number;
  readonly rows: number;
  readonly bytes: number;
  /** fields the page carried that this schema does not know (ignored, core/stream.ts P4) */
  readonly unknownFields: readonly string[];
}

/** The most uuids one `tombstoned` call asks about: a bulk act's whole selection. */
export const MAX_TOMBSTONE_ASK = 50_000;

export type Params = readonly (string | number | null)[];
export type QueryRow = Record<string, string | number | null>;

export interface Requests {
  open: {
    req: { dbName: string; deviceUuid: string; seedFrom?: readonly string[] };
    res: BootReport;
  };
  /** Apply changes and make them durable; `hlc` is the clock to persist with them. The
   *  changes applied are those of the `staged` batches, in order, then `changes`. */
  commit: {
    req: { changes: readonly Change[]; hlc: Hlc | null; yUpdate?: Uint8Array | null; staged?: readonly number[]; aheadHlc?: Hlc | null };
    res: CommitResult;
  };
  /** Hand over a large batch of changes ahead of its commit, under a ticket the caller chose
   *  (see the sync engine's `flushRemote`): copying it to the worker then overlaps with the
   *  caller's remaining work. Nothing is applied until a commit names the ticket. */
  stage: { req: { ticket: number; changes: readonly Change[] }; res: null };
  /** This device's watermark vector (core/stream.ts). */
  marks: { req: Record<string, never>; res: Record<string, number> };
  /** Up to `count` pages (deflated) of `owner`'s rows after `after` that this device holds. */
  servePages: { req: { owner: string; after: number; count: number }; res: ServedPages };
  /** A page a peer sent: decoded, validated and committed here (transferred bytes). */
  applyPage: { req: { bytes: Uint8Array; repair?: boolean }; res: PageResult };
  /** Read-only SQL (enforced with PRAGMA query_only). */
  query: { req: { sql: string; params?: Params }; res: QueryRow[] };
  /** Which of `uuids` (at most MAX_TOMBSTONE_ASK) this device holds a tombstone of `model`
   *  for (core/apply.ts I4): the intents refuse to edit those (sync/intents.ts). One query. */
  tombstoned: { req: { model: string; uuids: readonly string[] }; res: string[] };
  digest: { req: Record<string, never>; res: Record<string, string> };
  /** Resolves once every commit received before it is durable (or memory-only). */
  flush: { req: Record<string, never>; res: StorageHealth };
  /** Write a verified image now (normally debounced / on pagehide). */
  snapshot: { req: Record<string, never>; res: StorageHealth };
  health: { req: Record<string, never>; res: StorageHealth };
  /** Bench only: the naive baseline write (insert + export + put whole image). */
  benchNaiveWrite: { req: { changes: readonly Change[] }; res: { ms: number; bytes: number } };
  close: { req: Record<string, never>; res: null };
  /** What another device's database in this browser holds (device/cleanup.ts): read only. */
  holdings: { req: { dbName: string }; res: Holdings };
}

/**
 * What a device's IndexedDB database holds, read without becoming that device: its watermark
 * vector (image + frames after it) and the state vector of its sync document (image and
 * frames merged). `null`: no such database. `unreadable`:
 * a damaged image or frame, so what it holds is not known.
 */
export type Holdings =
  | { readonly marks: Record<string, number>; readonly sv: Record<string, number> }
  | { readonly unreadable: string }
  | null;

export type Method = keyof Requests;

export type RequestMessage = {
  [M in Method]: { readonly id: number; readonly method: M; readonly params: Requests[M]['req'] };
}[Method];

export type ResponseMessage =
  | { readonly id: number; readonly ok: true; readonly value: unknown }
  | { readonly id: number; readonly ok: false; readonly error: StorageError };

export type WorkerEvent = { readonly event: 'health'; readonly health: StorageHealth };
