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
 */
import type { FieldValue, Hlc, Uuid } from './change.ts';
import type { ModelName } from './models.ts';

export type Row = Record<string, FieldValue>;

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
}

/** In-memory ApplyStore for tests and the pure simulator. */
export function createMemoryApplyStore(): ApplyStore & {
  readonly tables: Map<string, Map<Uuid, Row>>;
  readonly tombstones: Map<string, Hlc>;
  readonly tombstoneSeqs: Map<string, { owner: Uuid; seq: number }>;
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
  return {
    tables,
    tombstones,
    tombstoneSeqs,
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
