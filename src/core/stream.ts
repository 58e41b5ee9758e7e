/**
 * The owned-state stream (DESIGN §3): device-owned rows — volumes, locations, entries — travel
 * between SQLite databases as pages, per owner, ordered by the owner's sequence number. The
 * sync document keeps what people make (shared changes, device records, acks, meta); its size
 * no longer follows file counts.
 *
 * Invariants (where each is enforced):
 *  P1 `seq` is the owner's counter, strictly increasing, assigned in the owner's commit in the
 *     same SQL transaction and journal frame as the row (storage/engine.ts `writeGroup`).
 *     Rewriting a row gives it a new seq; a delete leaves a tombstone row with a seq.
 *  P2 A device's watermark W[X] means: it holds every row of X as of X's write `W[X]` (every
 *     row of X whose current seq is ≤ W[X]). It moves only with the owner's own commits or by
 *     applying a page (F, T] of X with F ≤ W[X], and commits with the rows it covers.
 *  P3 A row replaces the stored one only if its seq is higher (idempotent, order-free:
 *     core/apply.ts). A page names one owner; each of its rows is attributed to that owner and
 *     goes through the owner rules like any owned change.
 *  P4 Pages are versioned and self-describing: format version, owner, range, and per model
 *     the field names of its rows. A reader maps fields by name, ignores fields it does not
 *     know and defaults those it lacks, so devices one schema apart still sync.
 *  P5 Bounded: a page holds at most MAX_PAGE_ROWS rows; decoding refuses more.
 *  P6 A page may carry, in `ahead`, the current rows (written after `to`) that its rows refer
 *     to — the locations of its entries. A scan writes its location first and its totals last,
 *     so the location's current row has the owner's highest seq: without it every entry of a
 *     first sync would wait for its location (core/apply.ts I3) and be applied twice. A row
 *     ahead changes no watermark; it is applied by the seq rule (P3) like any other.
 *
 * Row layout inside a model section: [uuid, seq, stamp, ...values in `fields` order], where
 * `stamp` is the row's HLC without its device part (`wall-counter`): the device of an owned
 * stamp is its owner by rule, so it is not repeated 2,000 times a page.
 */
import type { FieldValue, Fields, OwnedChange, Uuid } from './change.ts';
import { MODELS, type FieldSpec, type OwnedModelName } from './models.ts';
import { err, ok, type Result } from './result.ts';
import { isUuid } from './uuid.ts';

export const STREAM_MODELS = ['volume', 'location', 'entry'] as const;
export type StreamModelName = (typeof STREAM_MODELS)[number];
export const isStreamModel = (m: unknown): m is StreamModelName =>
  typeof m === 'string' && (STREAM_MODELS as readonly string[]).includes(m);

/**
 * The sync layout: release 0.1 kept every owned record in the document (layout 1); layout 2
 * streams them. It names the room (devices of two layouts cannot read each other's document,
 * so they meet in different rooms) and is recorded in each device's journal.
 */
export const STREAM_LAYOUT = 2;
export const PAGE_VERSION = 1;
/** rows per page: ~0.6 MB of JSON, ~0.1 MB deflated for sample entries */
export const MAX_PAGE_ROWS = 2000;
/** rows a page may carry ahead of its range (P6: the locations of its entries) */
export const MAX_AHEAD_ROWS = 256;

/** A change of a stream model carrying its owner's sequence number. */
export type SeqChange = OwnedChange & { readonly model: StreamModelName; readonly seq: number };

export interface WireSection {
  readonly fields: readonly string[];
  readonly rows: readonly (readonly unknown[])[];
}

/** The page as JSON (before compression). */
export interface WirePage {
  readonly v: number;
  readonly owner: Uuid;
  /** the page covers the owner's rows with from < seq ≤ to */
  readonly from: number;
  readonly to: number;
  readonly models: Readonly<Partial<Record<string, WireSection>>>;
  /** [model, uuid, seq, stamp] */
  readonly deleted: readonly (readonly unknown[])[];
  /** P6: current rows, written after `to`, that rows of this page refer to (their location) */
  readonly ahead?: Readonly<Partial<Record<string, WireSection>>>;
}

export interface DecodedPage {
  readonly owner: Uuid;
  readonly from: number;
  readonly to: number;
  /** candidate changes: still `unknown` to core validation (apply validates every one) */
  readonly changes: readonly unknown[];
  /** field names a section carried that this schema does not know (ignored) */
  readonly unknownFields: readonly string[];
}

const STAMP_RE = /^[0-9a-f]{12}-[0-9a-f]{6}$/;
const stampOf = (hlc: string): string => hlc.slice(0, 19);

export function fieldNames(model: OwnedModelName): readonly string[] {
  return Object.keys(MODELS[model].fields);
}

/** Builds the page of `owner`'s rows (from, to]. Changes must be the owner's, with seqs in range. */
export function encodePage(owner: Uuid, from: number, to: number, changes: readonly SeqChange[], ahead: readonly SeqChange[] = []): WirePage {
  const models: Record<string, { fields: readonly string[]; rows: unknown[][] }> = {};
  const deleted: unknown[][] = [];
  const put = (into: Record<string, { fields: readonly string[]; rows: unknown[][] }>, c: SeqChange & { data: Fields }): void => {
    let s = into[c.model];
    if (!s) into[c.model] = s = { fields: fieldNames(c.model), rows: [] };
    const row: unknown[] = [c.uuid, c.seq, stampOf(c.hlc)];
    for (const f of s.fields) row.push(c.data[f] ?? null);
    s.rows.push(row);
  };
  for (const c of changes) {
    if (c.owner !== owner || c.seq <= from || c.seq > to) throw new Error(`page ${owner} (${from}, ${to}]: row ${c.uuid} seq ${c.seq} does not belong`);
    if ('deleted' in c) deleted.push([c.model, c.uuid, c.seq, stampOf(c.hlc)]);
    else put(models, c);
  }
  const after: Record<string, { fields: readonly string[]; rows: unknown[][] }> = {};
  for (const c of ahead) {
    if (c.owner !== owner || c.seq <= to || 'deleted' in c) throw new Error(`page ${owner} (${from}, ${to}]: ${c.uuid} is no row ahead`);
    put(after, c);
  }
  return { v: PAGE_VERSION, owner, from, to, models, deleted, ...(ahead.length ? { ahead: after } : {}) };
}

/** The value a field takes when a page from another schema version lacks it (P4). */
export function defaultFor(spec: FieldSpec): FieldValue | undefined {
  if (spec.nullable) return null;
  switch (spec.type) {
    case 'int':
    case 'bool':
      return 0;
    case 'text':
      return spec.oneOf ? spec.oneOf[0] : '';
    case 'json':
      return null;
    case 'uuid':
      return undefined; // a reference cannot be made up: the row stays invalid
  }
}

const isRecord = (x: unknown): x is Record<string, unknown> => typeof x === 'object' && x !== null && !Array.isArray(x);
const isSeq = (x: unknown): x is number => typeof x === 'number' && Number.isSafeInteger(x) && x >= 0;

/**
 * Reads a page (already parsed JSON) into candidate changes. Structural problems reject the
 * whole page (a clear reason); a bad row is passed on as is and rejected — counted — by core
 * validation, so one bad row never hides the others.
 */
export function decodePage(x: unknown): Result<DecodedPage, string> {
  if (!isRecord(x)) return err('page: not an object');
  if (x['v'] !== PAGE_VERSION) return err(`page: format ${String(x['v']).slice(0, 10)}, this device reads ${PAGE_VERSION}`);
  const { owner, from, to, models, deleted, ahead } = x;
  if (!isUuid(owner)) return err('page: owner is not a uuid');
  if (!isSeq(from) || !isSeq(to) || to < from) return err('page: bad range');
  if (!isRecord(models) || !Array.isArray(deleted) || (ahead !== undefined && !isRecord(ahead))) return err('page: malformed');
  const changes: unknown[] = [];
  const unknownFields = new Set<string>();
  let count = deleted.length;
  let aheadCount = 0;
  const inRange = (seq: unknown): boolean => isSeq(seq) && seq > from && seq <= to;
  const isAhead = (seq: unknown): boolean => isSeq(seq) && seq > to;
  const hlcOf = (stamp: unknown): unknown => (typeof stamp === 'string' && STAMP_RE.test(stamp) ? `${stamp}-${owner}` : stamp);
  const sections = [
    ...Object.entries(models).map(([model, section]) => ({ model, section, ok: inRange })),
    ...Object.entries(ahead ?? {}).map(([model, section]) => ({ model, section, ok: isAhead })),
  ];
  for (const { model, section, ok: fits } of sections) {
    if (!isStreamModel(model)) return err(`page: ${model.slice(0, 40)} is not a streamed model`);
    if (!isRecord(section) || !Array.isArray(section['fields']) || !Array.isArray(section['rows'])) return err(`page: ${model} section malformed`);
    const raw = section['fields'] as unknown[];
    if (!raw.every((n): n is string => typeof n === 'string')) return err(`page: ${model} field names malformed`);
    const names: readonly string[] = raw;
    const spec = MODELS[model].fields;
    const index = new Map<string, number>();
    names.forEach((n, i) => {
      if (Object.hasOwn(spec, n)) index.set(n, i);
      else unknownFields.add(`${model}.${n.slice(0, 40)}`);
    });
    const rows = section['rows'] as unknown[];
    if (fits === isAhead) {
      aheadCount += rows.length;
      if (aheadCount > MAX_AHEAD_ROWS) return err(`page: more than ${MAX_AHEAD_ROWS} rows ahead`);
    } else {
      count += rows.length;
      if (count > MAX_PAGE_ROWS) return err(`page: more than ${MAX_PAGE_ROWS} rows`);
    }
    for (const item of rows) {
      const row: readonly unknown[] | null = Array.isArray(item) ? (item as unknown[]) : null;
      if (!row || row.length !== names.length + 3 || !fits(row[1])) {
        changes.push({ kind: 'owned', model, owner, uuid: row?.[0], hlc: null, seq: -1, data: null });
        continue;
      }
      const data: Record<string, unknown> = {};
      for (const [name, fs] of Object.entries(spec)) {
        const i = index.get(name);
        const v: unknown = i === undefined ? defaultFor(fs) : row[i + 3];
        if (v !== undefined) data[name] = v;
      }
      changes.push({ kind: 'owned', model, owner, uuid: row[0], hlc: hlcOf(row[2]), seq: row[1], data });
    }
  }
  if (count > MAX_PAGE_ROWS) return err(`page: more than ${MAX_PAGE_ROWS} rows`);
  for (const item of deleted as unknown[]) {
    const d: readonly unknown[] | null = Array.isArray(item) ? (item as unknown[]) : null;
    if (!d || d.length !== 4 || !isStreamModel(d[0]) || !inRange(d[2])) {
      changes.push({ kind: 'owned', model: d?.[0], owner, uuid: undefined, hlc: null, seq: -1, deleted: true });
      continue;
    }
    changes.push({ kind: 'owned', model: d[0], owner, uuid: d[1], hlc: hlcOf(d[3]), seq: d[2], deleted: true });
  }
  return ok({ owner, from, to, changes, unknownFields: [...unknownFields] });
}

/** A watermark vector: owner → highest seq held completely (P2). */
export type Marks = Readonly<Record<Uuid, number>>;

export function isMarks(x: unknown, maxOwners = 4096): x is Marks {
  if (!isRecord(x)) return false;
  const keys = Object.keys(x);
  return keys.length <= maxOwners && keys.every((k) => isUuid(k) && isSeq(x[k]));
}

/**
 * What a device behind should pull (pure planning): for each owner some peer is ahead on, the
 * peer to ask (the furthest ahead; ties: the owner itself, then the lowest id) and where to
 * start. Owners already being pulled are skipped; this device's own rows are never pulled.
 */
export function planPulls(
  self: Uuid,
  local: Marks,
  peers: readonly { readonly device: Uuid; readonly marks: Marks }[],
  busy: ReadonlySet<Uuid>,
): { owner: Uuid; peer: Uuid; after: number; target: number }[] {
  const best = new Map<Uuid, { peer: Uuid; seq: number }>();
  for (const p of peers) {
    for (const [owner, seq] of Object.entries(p.marks)) {
      if (owner === self) continue;
      const b = best.get(owner);
      const better = !b || seq > b.seq || (seq === b.seq && (p.device === owner || (b.peer !== owner && p.device < b.peer)));
      if (better) best.set(owner, { peer: p.device, seq });
    }
  }
  const out: { owner: Uuid; peer: Uuid; after: number; target: number }[] = [];
  for (const [owner, b] of [...best].sort((x, y) => (x[0] < y[0] ? -1 : 1))) {
    const have = local[owner] ?? 0;
    if (b.seq > have && !busy.has(owner)) out.push({ owner, peer: b.peer, after: have, target: b.seq });
  }
  return out;
}
