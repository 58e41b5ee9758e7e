/**
 * ApplyStore on sql.js: what the core apply rules write through, inside the caller's
 * transaction. Upserts touch only the columns given (`INSERT … ON CONFLICT(uuid) DO UPDATE`)
 * so local-only columns survive and the entries rowid (the FTS docid) stays stable.
 * Must behave exactly like the in-memory double (tests/integration/apply-store.contract.test.ts).
 */
import type { ApplyStore, Row } from '../core/apply-store.ts';
import type { FieldValue } from '../core/change.ts';
import { MODELS } from '../core/models.ts';
import type { Sqlite } from './sqlite.ts';

const TABLES = new Set(Object.values(MODELS).map((m) => m.table));
const IDENT = /^[a-z_][a-z0-9_]*$/;

function checkIdent(table: string, column?: string): void {
  if (!TABLES.has(table)) throw new Error(`unknown table ${table}`);
  if (column !== undefined && !IDENT.test(column)) throw new Error(`bad column ${column}`);
}

/** The search index's insert trigger (migrations: entries_fts) and the bulk size from which an
 *  insert fills the index in one statement instead (measured: scripts/profile-apply.mjs). */
const FTS_AI = 'entries_fts_ai';
const FTS_BULK_MIN = 64;

const toSql = (v: FieldValue | undefined): string | number | null =>
  v === undefined ? null : typeof v === 'boolean' ? (v ? 1 : 0) : v;

export function createSqliteApplyStore(db: Sqlite): ApplyStore {
  // Bulk applies upsert 100k rows with the same columns: build each statement's SQL once.
  const upserts = new Map<string, string>();
  const upsertSql = (table: string, cols: readonly string[]): string => {
    const key = `${table}|${cols.join(',')}`;
    let sql = upserts.get(key);
    if (!sql) {
      checkIdent(table);
      for (const c of cols) checkIdent(table, c);
      const updates = cols.filter((c) => c !== 'uuid').map((c) => `${c} = excluded.${c}`);
      sql =
        `INSERT INTO ${table} (${cols.join(', ')}) VALUES (${cols.map(() => '?').join(', ')}) ` +
        (updates.length ? `ON CONFLICT(uuid) DO UPDATE SET ${updates.join(', ')}` : 'ON CONFLICT(uuid) DO NOTHING');
      upserts.set(key, sql);
    }
    return sql;
  };
  // Multi-row INSERTs, ≤ 50 rows (and well under SQLite's bound parameter limit) each.
  const inserts = new Map<string, string>();
  const insertSql = (table: string, cols: readonly string[], n: number): string => {
    const key = `${table}|${cols.join(',')}|${n}`;
    let sql = inserts.get(key);
    if (!sql) {
      checkIdent(table);
      for (const c of cols) checkIdent(table, c);
      const one = `(${cols.map(() => '?').join(', ')})`;
      sql = `INSERT INTO ${table} (${cols.join(', ')}) VALUES ${Array.from({ length: n }, () => one).join(', ')}`;
      inserts.set(key, sql);
    }
    return sql;
  };
  const PER_STATEMENT = 50;
  const byUuid = (a: Row, b: Row): number => {
    const x = a['uuid'] as string;
    const y = b['uuid'] as string;
    return x < y ? -1 : x > y ? 1 : 0;
  };
  /** Inserts the rows, in uuid order, as multi-row statements. */
  const insertRows = (table: string, cols: readonly string[], rows: readonly Row[]): void => {
    // In uuid order the primary-key index grows at its right edge instead of splitting pages
    // all over: a first sync's 100k entries insert in 1.15–1.27 s instead of 1.35–1.62 s
    // (Node, sql.js, with the FTS trigger and indexes).
    const ordered = [...rows].sort(byUuid);
    for (let i = 0; i < ordered.length; i += PER_STATEMENT) {
      const chunk = ordered.slice(i, i + PER_STATEMENT);
      const params: (string | number | null)[] = [];
      for (const r of chunk) for (const c of cols) params.push(toSql(r[c]));
      db.run(insertSql(table, cols, chunk.length), params);
    }
  };
  // measured (Node, sql.js): 100k point lookups 1.2 s, the same in IN-lists of 500: 85 ms
  const READ_PER_STATEMENT = 500;
  return {
    insertMany(table, rows) {
      const first = rows[0];
      if (!first) return;
      const cols = Object.keys(first);
      if (table !== 'entries' || rows.length < FTS_BULK_MIN) {
        insertRows(table, cols, rows);
        return;
      }
      // A bulk insert fills the search index once for all its rows, not row by row through
      // the insert trigger: FTS_AI (the trigger's own SQL, so it comes back exactly as the
      // migrations made it) is dropped for the insert and recreated in the same savepoint.
      const trigger = db.all(`SELECT sql FROM sqlite_master WHERE type = 'trigger' AND name = '${FTS_AI}'`)[0]?.['sql'];
      if (typeof trigger !== 'string') {
        insertRows(table, cols, rows);
        return;
      }
      db.transaction(() => {
        const before = Number(db.all('SELECT coalesce(max(rowid), 0) AS m FROM entries')[0]?.['m'] ?? 0);
        db.exec(`DROP TRIGGER ${FTS_AI}`);
        insertRows(table, cols, rows);
        // New rows take rowids above the largest one (SQLite picks others only once the
        // largest possible rowid is in use): then they are exactly the rows above `before`.
        const above = Number(db.all('SELECT count(*) AS n FROM entries WHERE rowid > ?', [before])[0]?.['n'] ?? 0);
        if (above === rows.length) db.run('INSERT INTO entries_fts (docid, name) SELECT rowid, name FROM entries WHERE rowid > ?', [before]);
        else {
          for (let i = 0; i < rows.length; i += READ_PER_STATEMENT) {
            const chunk = rows.slice(i, i + READ_PER_STATEMENT).map((r) => String(r['uuid']));
            db.run(`INSERT INTO entries_fts (docid, name) SELECT rowid, name FROM entries WHERE uuid IN (${chunk.map(() => '?').join(', ')})`, chunk);
          }
        }
        db.exec(trigger);
      });
    },
    get(table, uuid) {
      checkIdent(table);
      return db.all(`SELECT * FROM ${table} WHERE uuid = ?`, [uuid])[0];
    },
    getMany(table, uuids) {
      checkIdent(table);
      const out: Row[] = [];
      for (let i = 0; i < uuids.length; i += READ_PER_STATEMENT) {
        const chunk = uuids.slice(i, i + READ_PER_STATEMENT);
        out.push(...db.all(`SELECT * FROM ${table} WHERE uuid IN (${chunk.map(() => '?').join(', ')})`, chunk));
      }
      return out;
    },
    upsert(table, row) {
      const cols = Object.keys(row);
      db.run(upsertSql(table, cols), cols.map((c) => toSql(row[c])));
    },
    delete(table, uuid) {
      checkIdent(table);
      db.run(`DELETE FROM ${table} WHERE uuid = ?`, [uuid]);
    },
    uuidsWhere(table, column, value) {
      checkIdent(table, column);
      return db.all(`SELECT uuid FROM ${table} WHERE ${column} = ?`, [toSql(value)]).map((r) => String(r['uuid']));
    },
    hasTombstones(model) {
      return db.all('SELECT 1 AS x FROM tombstones WHERE model = ? LIMIT 1', [model]).length > 0;
    },
    tombstone(model, uuid) {
      const r = db.all('SELECT hlc FROM tombstones WHERE model = ? AND uuid = ?', [model, uuid])[0];
      return r ? String(r['hlc']) : undefined;
    },
    putTombstone(model, uuid, hlc, streamed) {
      db.run(
        'INSERT INTO tombstones (model, uuid, hlc, owner, seq) VALUES (?, ?, ?, ?, ?) ON CONFLICT(model, uuid) DO UPDATE SET ' +
          'hlc = max(hlc, excluded.hlc), ' +
          'owner = CASE WHEN excluded.seq > coalesce(seq, 0) THEN excluded.owner ELSE owner END, ' +
          'seq = CASE WHEN excluded.seq > coalesce(seq, 0) THEN excluded.seq ELSE seq END',
        [model, uuid, hlc, streamed?.owner ?? null, streamed?.seq ?? null],
      );
    },
    pendingVersions(model, uuid) {
      return db.all('SELECT owner, seq, hlc FROM pending_owned WHERE model = ? AND uuid = ?', [model, uuid]).map((r) => ({
        owner: String(r['owner']),
        seq: typeof r['seq'] === 'number' ? r['seq'] : null,
        hlc: String(r['hlc']),
      }));
    },
    putPending(p) {
      db.run(
        'INSERT INTO pending_owned (model, uuid, owner, location_uuid, seq, hlc, change) VALUES (?, ?, ?, ?, ?, ?, ?) ' +
          'ON CONFLICT(model, uuid, owner) DO UPDATE SET location_uuid = excluded.location_uuid, seq = excluded.seq, hlc = excluded.hlc, change = excluded.change',
        [p.model, p.uuid, p.owner, p.waitsFor, p.seq, p.hlc, JSON.stringify(p.change)],
      );
    },
    dropPending(model, uuid, owner) {
      if (owner === undefined) db.run('DELETE FROM pending_owned WHERE model = ? AND uuid = ?', [model, uuid]);
      else db.run('DELETE FROM pending_owned WHERE model = ? AND uuid = ? AND owner = ?', [model, uuid, owner]);
    },
    dropPendingOf(owner) {
      db.run('DELETE FROM pending_owned WHERE owner = ?', [owner]);
    },
    dropTombstonesOf(owner) {
      db.run('DELETE FROM tombstones WHERE owner = ?', [owner]);
    },
    takePending(waitsFor) {
      const out: unknown[] = [];
      db.each('SELECT change FROM pending_owned WHERE location_uuid = ? ORDER BY hlc, uuid, owner', [waitsFor], (v) => {
        try {
          out.push(JSON.parse(String(v[0])) as unknown);
        } catch {
          out.push(null); // damaged: apply counts it invalid
        }
      });
      if (out.length) db.run('DELETE FROM pending_owned WHERE location_uuid = ?', [waitsFor]);
      return out;
    },
    hasPending() {
      return db.all('SELECT 1 AS x FROM pending_owned LIMIT 1').length > 0;
    },
    countPending() {
      return Number(db.all('SELECT count(*) AS n FROM pending_owned')[0]?.['n'] ?? 0);
    },
  };
}
