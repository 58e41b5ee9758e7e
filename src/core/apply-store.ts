/**
 * ApplyStore: the synchronous port through which the apply functions read and write rows.
 * The storage worker implements it on sql.js inside one SQL transaction
 * (src/storage/sqlite-apply-store.ts); tests and the simulator may use the in-memory double
 * below. Both must pass tests/integration/apply-store.contract.test.ts.
 *
 * A Row holds synced columns, local-only columns and bookkeeping columns:
 *  - owned tables: `_owner` (device uuid) and `_hlc` (HLC of the state last applied);
 *  - shared tables: `_hlcs` (JSON object: field name → HLC of the value it holds).
 * Tombstones live apart from rows, keyed by (model, uuid), so a deleted record stays
 * deleted whatever arrives later (DESIGN §5.3).
 * Pending records live apart too: an entry whose location this device has not seen waits,
 * durably (same transaction as the batch that brought it), until the location arrives and
 * its ownership can be checked (DESIGN §5.6) — so the outcome does not depend on arrival order.
 */
import type { FieldValue, Hlc, OwnedState, Uuid } from './change.ts';
import type { ModelName } from './models.ts';

export type Row = Record<string, FieldValue>;

/** Which version of a record is held: one per (model, uuid, owner), the newest that arrived. */
export interface PendingVersion {
  readonly owner: Uuid;
  readonly seq: number | null;
  readonly hlc: Hlc;
}

/** A record waiting for the record it hangs from (`waitsFor`: an entry's location). */
export interface Pending extends PendingVersion {
  readonly model: ModelName;
  readonly uuid: Uuid;
  readonly waitsFor: Uuid;
  readonly change: OwnedState;
}

export interface ApplyStore {
  get(table: string, uuid: Uuid): Row | undefined;
  /** The rows among these uuids that exist, in any order (bulk applies read ahead with it:
   *  one statement per few hundred rows instead of one per row). */
  getMany(table: string, uuids: readonly Uuid[]): Row[];
  /** Insert or replace the row with this uuid; columns not given keep their value or default. */
  upsert(table: string, row: Row): void;
  /** Insert rows that are known to be new (no row has their uuid), all with the same columns:
   *  the bulk path of a first sync (one multi-row statement instead of an upsert per row). */
  insertMany(table: string, rows: readonly Row[]): void;
  delete(table: string, uuid: Uuid): void;
  /** uuids of rows whose `column` equals `value` (cascades: a location's entries). */
  uuidsWhere(table: string, column: string, value: FieldValue): Uuid[];
  tombstone(model: ModelName, uuid: Uuid): Hlc | undefined;
  /** Whether any tombstone of this model exists (lets bulk applies skip per-row lookups). */
  hasTombstones(model: ModelName): boolean;
  /** Records a delete; keeps the higher stamp. `streamed`: the owner and seq of a streamed
   *  model's delete (core/stream.ts), kept as the higher seq, so the delete can be served. */
  putTombstone(model: ModelName, uuid: Uuid, hlc: Hlc, streamed?: { readonly owner: Uuid; readonly seq: number }): void;
  /** The versions of this record that are pending (at most one per owner). */
  pendingVersions(model: ModelName, uuid: Uuid): PendingVersion[];
  /** Holds a record; replaces the version held for the same (model, uuid, owner). */
  putPending(p: Pending): void;
  /** Drops the pending versions of this record (only this owner's, if given). */
  dropPending(model: ModelName, uuid: Uuid, owner?: Uuid): void;
  /** Drops every pending record of this owner (its device was deleted). */
  dropPendingOf(owner: Uuid): void;
  /** Drops the streamed deletes of this owner (its device was forgotten: whatever it owns is
   *  refused from now on, so they say nothing any more, and they are not served). */
  dropTombstonesOf(owner: Uuid): void;
  /** Removes and returns the changes waiting for `waitsFor`, ordered by (hlc, uuid, owner).
   *  `unknown`: read back from storage, so the caller validates them again. */
  takePending(waitsFor: Uuid): unknown[];
  /** Whether anything is pending (lets bulk applies skip per-row lookups). */
  hasPending(): boolean;
  /** How many records are pending (shown: what waits for a location that never came). */
  countPending(): number;
}

/** In-memory ApplyStore for tests and the pure simulator. */
export function createMemoryApplyStore(): ApplyStore & {
  readonly tables: Map<string, Map<Uuid, Row>>;
  readonly tombstones: Map<string, Hlc>;
  readonly tombstoneSeqs: Map<string, { owner: Uuid; seq: number }>;
  readonly pending: Map<string, Pending>;
} {
  const tables = new Map<string, Map<Uuid, Row>>();
  const tombstones = new Map<string, Hlc>();
  const tombstoneSeqs = new Map<string, { owner: Uuid; seq: number }>();
  const table = (name: string): Map<Uuid, Row> => {
    let t = tables.get(name);
    if (!t) tables.set(name, (t = new Map<Uuid, Row>()));
    return t;
  };
  const key = (model: ModelName, uuid: Uuid): string => `${model}:${uuid}`;
  // `${model}:${uuid}:${owner}` → the version held
  const pending = new Map<string, Pending>();
  const clone = (p: Pending): unknown => JSON.parse(JSON.stringify(p.change)) as unknown;
  return {
    tables,
    tombstones,
    tombstoneSeqs,
    pending,
    pendingVersions: (model, uuid) =>
      [...pending.values()].filter((p) => p.model === model && p.uuid === uuid).map((p) => ({ owner: p.owner, seq: p.seq, hlc: p.hlc })),
    putPending: (p) => void pending.set(`${key(p.model, p.uuid)}:${p.owner}`, { ...p }),
    dropPending: (model, uuid, owner) => {
      for (const [k, p] of pending) if (p.model === model && p.uuid === uuid && (owner === undefined || p.owner === owner)) pending.delete(k);
    },
    dropPendingOf: (owner) => {
      for (const [k, p] of pending) if (p.owner === owner) pending.delete(k);
    },
    dropTombstonesOf: (owner) => {
      for (const [k, s] of tombstoneSeqs) {
        if (s.owner !== owner) continue;
        tombstoneSeqs.delete(k);
        tombstones.delete(k);
      }
    },
    takePending: (waitsFor) => {
      const out = [...pending.entries()].filter(([, p]) => p.waitsFor === waitsFor);
      for (const [k] of out) pending.delete(k);
      const cmp = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);
      out.sort(([, a], [, b]) => cmp(a.hlc, b.hlc) || cmp(a.uuid, b.uuid) || cmp(a.owner, b.owner));
      return out.map(([, p]) => clone(p));
    },
    hasPending: () => pending.size > 0,
    countPending: () => pending.size,
    get: (t, uuid) => {
      const row = table(t).get(uuid);
      return row ? { ...row } : undefined;
    },
    getMany: (t, uuids) => uuids.flatMap((u) => {
      const row = table(t).get(u);
      return row ? [{ ...row }] : [];
    }),
    upsert: (t, row) => {
      const uuid = row['uuid'];
      if (typeof uuid !== 'string') throw new Error('upsert without uuid');
      table(t).set(uuid, { ...table(t).get(uuid), ...row });
    },
    insertMany: (t, rows) => {
      for (const row of rows) {
        const uuid = row['uuid'];
        if (typeof uuid !== 'string') throw new Error('insert without uuid');
        if (table(t).has(uuid)) throw new Error(`insertMany: ${t} ${uuid} exists`);
        table(t).set(uuid, { ...row });
      }
    },
    delete: (t, uuid) => {
      table(t).delete(uuid);
    },
    uuidsWhere: (t, column, value) =>
      [...table(t).values()].filter((r) => r[column] === value).map((r) => r['uuid'] as Uuid),
    tombstone: (model, uuid) => tombstones.get(key(model, uuid)),
    hasTombstones: (model) => [...tombstones.keys()].some((k) => k.startsWith(`${model}:`)),
    putTombstone: (model, uuid, hlc, streamed) => {
      const k = key(model, uuid);
      const had = tombstones.get(k);
      tombstones.set(k, had !== undefined && had > hlc ? had : hlc);
      const s = tombstoneSeqs.get(k);
      if (streamed && (!s || streamed.seq > s.seq)) tombstoneSeqs.set(k, { owner: streamed.owner, seq: streamed.seq });
    },
  };
}
