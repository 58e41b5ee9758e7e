import { createHash } from 'node:crypto';
import initSqlJs, { type SqlJsStatic } from 'sql.js';
import { beforeAll, describe, expect, it } from 'vitest';
import { MODEL_NAMES, MODELS } from '../../src/core/models.ts';
import { MIGRATIONS, type Migration } from '../../src/storage/migrations.ts';
import { openSqlite } from '../../src/storage/sqlite.ts';

let SQL: SqlJsStatic;
beforeAll(async () => {
  SQL = await initSqlJs();
});

type Column = { name: string; notnull: number; dflt_value: unknown };
const SYNCED_TABLES = MODEL_NAMES.map((m) => MODELS[m].table);

function schemaAfterEach(migrations: readonly Migration[]): Map<string, Column[]>[] {
  const db = openSqlite(SQL);
  const out: Map<string, Column[]>[] = [];
  for (const m of migrations) {
    db.migrate([m], 0);
    const snap = new Map<string, Column[]>();
    for (const t of SYNCED_TABLES) snap.set(t, db.all(`PRAGMA table_info(${t})`) as unknown as Column[]);
    out.push(snap);
  }
  db.close();
  return out;
}

/** Synced tables may only grow: no dropped or renamed column, no new NOT NULL without DEFAULT. */
function additiveViolations(migrations: readonly Migration[]): string[] {
  const snaps = schemaAfterEach(migrations);
  const problems: string[] = [];
  for (let i = 1; i < snaps.length; i++) {
    for (const t of SYNCED_TABLES) {
      const before = snaps[i - 1]!.get(t) ?? [];
      const after = snaps[i]!.get(t) ?? [];
      const names = new Set(after.map((c) => c.name));
      for (const c of before) if (!names.has(c.name)) problems.push(`${migrations[i]!.name}: ${t}.${c.name} dropped or renamed`);
      const old = new Set(before.map((c) => c.name));
      // a table created by this migration has no rows an older device could send without it
      if (before.length === 0) continue;
      for (const c of after)
        if (!old.has(c.name) && c.notnull && c.dflt_value === null) problems.push(`${migrations[i]!.name}: ${t}.${c.name} NOT NULL without DEFAULT`);
    }
  }
  return problems;
}

describe('migrations', () => {
  it('are numbered, unique and applied once each', () => {
    const ids = MIGRATIONS.map((m) => m.id);
    expect(new Set(ids).size).toBe(ids.length);
    const db = openSqlite(SQL);
    expect(db.migrate(MIGRATIONS, 1)).toBe(MIGRATIONS.length);
    expect(db.migrate(MIGRATIONS, 2)).toBe(0);
    expect(db.all('SELECT id FROM _migrations ORDER BY id').map((r) => r['id'])).toEqual(ids);
  });

  it('create every synced and local-only column of every model', () => {
    const db = openSqlite(SQL);
    db.migrate(MIGRATIONS, 0);
    for (const m of MODEL_NAMES) {
      const cols = new Set(db.all(`PRAGMA table_info(${MODELS[m].table})`).map((c) => c['name']));
      for (const f of ['uuid', ...Object.keys(MODELS[m].fields), ...Object.keys(MODELS[m].localDefaults)]) expect(cols, `${m}.${f}`).toContain(f);
      expect(cols).toContain(MODELS[m].ownership === 'device' ? '_hlc' : '_hlcs');
    }
  });

  it('upgrade a database that ran the first migration 5 (libraries only, as f75b104 shipped it)', () => {
    // f75b104 landed migration 5 without forgotten_devices; the table was added to migration 5
    // later, which such a database never runs again: migration 7 must make it
    const first5: Migration = { id: 5, name: 'library name', sql: "CREATE TABLE libraries (uuid TEXT PRIMARY KEY NOT NULL, name TEXT, _hlcs TEXT NOT NULL DEFAULT '{}');" };
    const db = openSqlite(SQL);
    db.migrate([...MIGRATIONS.filter((m) => m.id < 5), first5], 0);
    expect(db.all("SELECT name FROM sqlite_master WHERE name = 'forgotten_devices'")).toEqual([]);
    db.migrate(MIGRATIONS, 0);
    const cols = db.all('PRAGMA table_info(forgotten_devices)').map((c) => c['name']);
    expect(cols).toEqual(['uuid', 'forgotten_by', 'forgotten_at', '_hlcs']);
    db.close();
  });

  it('are frozen: each one is the SQL it was released with', () => {
    // A released migration never changes: databases that ran it keep what it did. A new
    // migration adds its line here (the hash this test prints for it) in the same commit.
    const RELEASED: Record<number, string> = {
      1: '92e66f797067fc39',
      2: '3939721581014178',
      3: 'bfb83e1a64096bb0',
      4: 'ff63b4e3ab558e56',
      5: '44e6c612c7ba7cef',
      6: 'f8dd8c43a437559c',
      7: '63ea29e477c81084',
      8: '3fbc62c9e719e99f',
    };
    for (const m of MIGRATIONS) {
      const hash = createHash('sha256').update(m.sql).digest('hex').slice(0, 16);
      expect(hash, `migration ${m.id} (${m.name}): ${RELEASED[m.id] ? 'changed after its release' : `new: add ${m.id}: '${hash}' to RELEASED`}`).toBe(RELEASED[m.id]);
    }
  });

  it('keep synced tables additive', () => {
    expect(additiveViolations(MIGRATIONS)).toEqual([]);
  });

  it('the additive check catches a drop, a rename and a NOT NULL without default', () => {
    const bad: Migration[] = [
      ...MIGRATIONS,
      { id: 900, name: 'drop', sql: 'ALTER TABLE tags DROP COLUMN color;' },
      { id: 901, name: 'rename', sql: 'ALTER TABLE albums RENAME COLUMN description TO about;' },
      { id: 902, name: 'notnull', sql: "ALTER TABLE entries ADD COLUMN hash TEXT NOT NULL DEFAULT '';" },
      { id: 903, name: 'ok', sql: 'ALTER TABLE entries ADD COLUMN note TEXT;' },
    ];
    expect(additiveViolations(bad)).toEqual(['drop: tags.color dropped or renamed', 'rename: albums.description dropped or renamed']);
    const sneaky: Migration[] = [
      ...MIGRATIONS,
      { id: 904, name: 'rebuild', sql: 'CREATE TABLE t2 AS SELECT * FROM tags; DROP TABLE tags; CREATE TABLE tags (uuid TEXT PRIMARY KEY, canonical_name TEXT, must TEXT NOT NULL); ' },
    ];
    expect(additiveViolations(sneaky).some((p) => p.includes('NOT NULL without DEFAULT'))).toBe(true);
  });
});
