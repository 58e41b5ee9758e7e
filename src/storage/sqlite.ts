/**
 * A small synchronous wrapper around one sql.js database: cached prepared statements,
 * nested transactions (SAVEPOINTs inside BEGIN), read-only sections (PRAGMA query_only),
 * and migrations. sql.js `export()` closes and reopens the handle, freeing every prepared
 * statement and resetting PRAGMAs and functions, so `exportBytes()` drops the cache first and
 * sets them again after.
 */
import type { Database, SqlJsStatic, SqlValue, Statement } from 'sql.js';
import { kindOfExtension } from '../core/kinds.ts';
import type { Migration } from './migrations.ts';

export type Params = readonly (string | number | null)[];
export type SqlRow = Record<string, string | number | null>;

export interface Sqlite {
  readonly db: Database;
  exec(sql: string): void;
  run(sql: string, params?: Params): void;
  all(sql: string, params?: Params): SqlRow[];
  /** Iterate rows as arrays without allocating objects (digest over 100k rows). */
  each(sql: string, params: Params, fn: (row: SqlValue[]) => void): void;
  transaction<T>(fn: () => T): T;
  readOnly<T>(fn: () => T): T;
  exportBytes(): Uint8Array;
  /** A count that grows with every write to this database (rows inserted, updated, deleted,
   *  also inside rolled-back transactions, and every `exec` and migration): equal counts read
   *  twice mean nothing was written in between, so what was computed from the rows still holds. */
  writes(): number;
  migrate(migrations: readonly Migration[], now: number): number;
  close(): void;
}

/** The page cache's bounds (`fitCache`). */
const MIN_CACHE_KIB = 8 * 1024;
const MAX_CACHE_KIB = 64 * 1024;

const toSql = (v: SqlValue): string | number | null =>
  v instanceof Uint8Array ? `[${v.byteLength} bytes]` : v;

export function openSqlite(SQL: SqlJsStatic, bytes?: Uint8Array): Sqlite {
  const db = bytes ? new SQL.Database(bytes) : new SQL.Database();
  const cache = new Map<string, Statement>();
  let depth = 0;
  // sqlite3_total_changes() restarts at 0 if `export()` reopens the handle (sql.js has done so;
  // 1.16 exports through the backup API and keeps it): what it had counted is then carried in
  // `counted`; `exec` and migrations (SQLite does not count DDL) add one each.
  let counted = 0;
  const stmt = (sql: string): Statement => {
    let s = cache.get(sql);
    if (!s) cache.set(sql, (s = db.prepare(sql)));
    return s;
  };
  const total = (): number => {
    const s = stmt('SELECT total_changes()');
    try {
      return s.step() ? Number(s.get()[0]) : 0;
    } finally {
      s.reset();
    }
  };
  const clearCache = (): void => {
    for (const s of cache.values()) s.free();
    cache.clear();
  };
  // The page cache: SQLite's default spills dirty pages to the (in-memory) file mid-transaction
  // (a 100k-entry backfill wrote 266 MB to make a 53 MB database, measured in Node); with
  // cache_spill off a bulk apply's dirty pages wait for its commit at any cache size. Clean
  // pages come back from the file, which is memory too, so the cache follows the database
  // (`fitCache`: a quarter of it, 8–64 MiB): a fixed 64 MiB held a 100k library twice in the
  // worker (renderer 418 MB, 384 MB at 8 MiB), a fixed 8 MiB made a 1M apply 30% slower as
  // its indexes outgrew it (docs/decisions/0024).
  const PRAGMAS = 'PRAGMA foreign_keys = OFF; PRAGMA journal_mode = MEMORY; PRAGMA synchronous = OFF; PRAGMA cache_spill = OFF;';
  let cacheKiB = 0;
  const fitCache = (): void => {
    const s = stmt('SELECT page_count * page_size AS bytes FROM pragma_page_count(), pragma_page_size()');
    let bytes: number;
    try {
      bytes = s.step() ? Number(s.get()[0]) : 0;
    } finally {
      s.reset();
    }
    // powers of two, so that a growing database resizes it a few times, not at every commit
    const want = Math.min(MAX_CACHE_KIB, Math.max(MIN_CACHE_KIB, 2 ** Math.ceil(Math.log2(Math.max(1, bytes / 4 / 1024)))));
    if (want === cacheKiB) return;
    db.exec(`PRAGMA cache_size = -${want}`);
    cacheKiB = want;
  };
  const setup = (): void => {
    db.exec(PRAGMAS);
    cacheKiB = 0;
    fitCache();
    // the kind of an extension, for the content identities derived from entries (migration 8)
    db.create_function('kind_of', (ext: unknown) => (typeof ext === 'string' ? kindOfExtension(ext.toLowerCase()) : null));
  };
  setup();
  const self: Sqlite = {
    db,
    exec(sql) {
      counted++;
      db.exec(sql);
    },
    run(sql, params = []) {
      const s = stmt(sql);
      try {
        s.run(params as SqlValue[]);
      } finally {
        s.reset();
      }
    },
    all(sql, params = []) {
      const s = stmt(sql);
      const out: SqlRow[] = [];
      try {
        s.bind(params as SqlValue[]);
        while (s.step()) {
          const row = s.getAsObject();
          const clean: SqlRow = {};
          for (const k in row) clean[k] = toSql(row[k] as SqlValue);
          out.push(clean);
        }
      } finally {
        s.reset();
      }
      return out;
    },
    each(sql, params, fn) {
      const s = stmt(sql);
      try {
        s.bind(params as SqlValue[]);
        while (s.step()) fn(s.get());
      } finally {
        s.reset();
      }
    },
    transaction(fn) {
      const name = `sp${depth}`;
      db.exec(depth === 0 ? 'BEGIN' : `SAVEPOINT ${name}`);
      depth++;
      try {
        const out = fn();
        depth--;
        db.exec(depth === 0 ? 'COMMIT' : `RELEASE ${name}`);
        if (depth === 0) fitCache();
        return out;
      } catch (e) {
        depth--;
        db.exec(depth === 0 ? 'ROLLBACK' : `ROLLBACK TO ${name}; RELEASE ${name}`);
        throw e;
      }
    },
    readOnly(fn) {
      db.exec('PRAGMA query_only = 1');
      try {
        return fn();
      } finally {
        db.exec('PRAGMA query_only = 0');
      }
    },
    exportBytes() {
      if (depth > 0) throw new Error('export inside a transaction');
      const before = total();
      clearCache();
      const out = db.export();
      setup();
      const after = total();
      if (after < before) counted += before - after; // an export writes nothing
      return out;
    },
    migrate(migrations, now) {
      db.exec('CREATE TABLE IF NOT EXISTS _migrations (id INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL)');
      const done = new Set(self.all('SELECT id FROM _migrations').map((r) => Number(r['id'])));
      let applied = 0;
      for (const m of [...migrations].sort((a, b) => a.id - b.id)) {
        if (done.has(m.id)) continue;
        self.transaction(() => {
          db.exec(m.sql);
          self.run('INSERT INTO _migrations (id, name, applied_at) VALUES (?, ?, ?)', [m.id, m.name, now]);
        });
        applied++;
      }
      if (applied) clearCache(); // schema changed: cached statements may be stale
      counted += applied;
      return applied;
    },
    writes: () => counted + total(),
    close() {
      clearCache();
      db.close();
    },
  };
  return self;
}
