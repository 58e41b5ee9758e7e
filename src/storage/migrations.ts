/**
 * Numbered schema migrations, recorded in `_migrations` and applied in order, each in one
 * transaction. Synced tables only ever grow (tests/integration/migrations.test.ts fails on a
 * dropped or renamed column, or a NOT NULL column without DEFAULT added to a synced table):
 * a device on a newer schema must still accept rows from an older one.
 *
 * Migration 1 is generated from `MODELS` (src/core/models.ts) so the schema and the model
 * registry cannot drift apart, minus the models a later migration adds (`ADDED_LATER`);
 * later migrations are hand-written SQL appended below.
 */
import { MODELS, MODEL_NAMES, type FieldType, type ModelSpec } from '../core/models.ts';

export interface Migration {
  readonly id: number;
  readonly name: string;
  readonly sql: string;
}

const SQL_TYPE: Record<FieldType, string> = { text: 'TEXT', int: 'INTEGER', bool: 'INTEGER', uuid: 'TEXT', json: 'TEXT' };
const lit = (v: string | number | null): string =>
  v === null ? 'NULL' : typeof v === 'number' ? String(v) : `'${v.replace(/'/g, "''")}'`;

function createTable(spec: ModelSpec): string {
  const cols = ['uuid TEXT PRIMARY KEY NOT NULL'];
  for (const [name, f] of Object.entries(spec.fields)) {
    // Shared rows may be partial until their insert arrives, so their columns are nullable.
    const notNull = spec.ownership === 'device' && !f.nullable ? ' NOT NULL' : '';
    cols.push(`${name} ${SQL_TYPE[f.type]}${notNull}`);
  }
  for (const [name, v] of Object.entries(spec.localDefaults)) {
    cols.push(`${name} ${typeof v === 'number' ? 'INTEGER' : 'TEXT'} DEFAULT ${lit(v)}`);
  }
  if (spec.ownership === 'device') cols.push('_owner TEXT NOT NULL', '_hlc TEXT NOT NULL');
  else cols.push("_hlcs TEXT NOT NULL DEFAULT '{}'");
  return `CREATE TABLE ${spec.table} (\n  ${cols.join(',\n  ')}\n);`;
}

const INDEXES: readonly [string, string][] = [
  ['entries', 'parent_uuid'], ['entries', 'location_uuid'], ['entries', 'content_uuid'], ['entries', '_owner'],
  ['locations', 'device_uuid'], ['locations', '_owner'], ['volumes', 'device_uuid'], ['volumes', '_owner'],
  ['tag_links', 'tag_uuid'], ['tag_links', 'target_uuid'], ['album_entries', 'album_uuid'],
  ['album_entries', 'entry_uuid'], ['user_metadata', 'entry_uuid'], ['user_metadata', 'content_uuid'],
];

/** Models whose tables a later migration creates (migration 1 must not create them too: a
 *  database made before would never get them, a fresh one would get them twice). */
const ADDED_LATER: ReadonlySet<string> = new Set(['library', 'forgotten_device']);

const initial = [
  ...MODEL_NAMES.filter((m) => !ADDED_LATER.has(m)).map((m) => createTable(MODELS[m])),
  ...INDEXES.map(([t, c]) => `CREATE INDEX ${t}_${c.replace(/^_/, '')} ON ${t}(${c});`),
  'CREATE TABLE tombstones (model TEXT NOT NULL, uuid TEXT NOT NULL, hlc TEXT NOT NULL, PRIMARY KEY (model, uuid));',
  'CREATE TABLE meta (key TEXT PRIMARY KEY NOT NULL, value TEXT);',
  // Full-text search over entry names (sql.js has FTS4, not FTS5). External content keeps one
  // copy of the names; the triggers key the index by the entries rowid, which upserts keep
  // stable (INSERT … ON CONFLICT DO UPDATE, never INSERT OR REPLACE).
  `CREATE VIRTUAL TABLE entries_fts USING fts4(content="entries", name, tokenize=unicode61, prefix="2,3");`,
  'CREATE TRIGGER entries_fts_bu BEFORE UPDATE OF name ON entries BEGIN DELETE FROM entries_fts WHERE docid = old.rowid; END;',
  'CREATE TRIGGER entries_fts_bd BEFORE DELETE ON entries BEGIN DELETE FROM entries_fts WHERE docid = old.rowid; END;',
  'CREATE TRIGGER entries_fts_au AFTER UPDATE OF name ON entries BEGIN INSERT INTO entries_fts(docid, name) VALUES (new.rowid, new.name); END;',
  'CREATE TRIGGER entries_fts_ai AFTER INSERT ON entries BEGIN INSERT INTO entries_fts(docid, name) VALUES (new.rowid, new.name); END;',
].join('\n');

export const MIGRATIONS: readonly Migration[] = [
  { id: 1, name: 'initial schema from MODELS', sql: initial },
  {
    // FTS4 prefix indexes ("2,3") made every entry insert 2x slower (measured: 50k entries
    // 6.1 s → 2.9 s without them); prefix queries (`bea*`) still work through the term index.
    // The index is derived data, so it is rebuilt rather than migrated additively.
    id: 2,
    name: 'entries_fts without prefix indexes',
    sql: `DROP TABLE entries_fts;
      CREATE VIRTUAL TABLE entries_fts USING fts4(content="entries", name, tokenize=unicode61);
      INSERT INTO entries_fts(entries_fts) VALUES ('rebuild');`,
  },
  {
    // The owned-state stream (core/stream.ts): each streamed row keeps its owner's seq, deletes
    // keep owner and seq, and a watermark per owner says up to which seq this device holds all
    // of that owner's rows. (_owner, _seq) replaces the _owner indexes: pages read rows by it.
    // Rows stored before have no seq until the layout upgrade (storage/engine.ts) numbers
    // this device's own rows; other owners' rows count as not held (watermark 0).
    id: 3,
    name: 'owned-state stream: seq, tombstone owner and seq, watermarks',
    sql: `ALTER TABLE volumes ADD COLUMN _seq INTEGER;
      ALTER TABLE locations ADD COLUMN _seq INTEGER;
      ALTER TABLE entries ADD COLUMN _seq INTEGER;
      ALTER TABLE tombstones ADD COLUMN owner TEXT;
      ALTER TABLE tombstones ADD COLUMN seq INTEGER;
      DROP INDEX IF EXISTS volumes_owner;
      DROP INDEX IF EXISTS locations_owner;
      DROP INDEX IF EXISTS entries_owner;
      CREATE INDEX volumes_owner_seq ON volumes(_owner, _seq);
      CREATE INDEX locations_owner_seq ON locations(_owner, _seq);
      CREATE INDEX entries_owner_seq ON entries(_owner, _seq);
      CREATE INDEX tombstones_owner_seq ON tombstones(owner, seq);
      CREATE TABLE watermarks (owner TEXT PRIMARY KEY NOT NULL, seq INTEGER NOT NULL);`,
  },
  {
    // DESIGN §5.6: an entry whose location is not known yet waits here (not in entries) until
    // the location arrives and its ownership can be checked — one version per (model, uuid,
    // owner), the newest. It is held, so this device serves it in its owner's pages (owner, seq).
    id: 4,
    name: 'pending owned records waiting for their location',
    sql: `CREATE TABLE pending_owned (
        model TEXT NOT NULL,
        uuid TEXT NOT NULL,
        owner TEXT NOT NULL,
        location_uuid TEXT NOT NULL,
        seq INTEGER,
        hlc TEXT NOT NULL,
        change TEXT NOT NULL,
        PRIMARY KEY (model, uuid, owner)
      );
      CREATE INDEX pending_owned_location ON pending_owned(location_uuid);
      CREATE INDEX pending_owned_owner_seq ON pending_owned(owner, seq);`,
  },
  {
    // Issue 13: the library's name, a shared record (model `library`, uuid = the library's id)
    // merged field by field like a tag's; and the devices members forgot (shared records,
    // uuid = the forgotten device). Literal SQL, frozen here: never generated from MODELS.
    id: 5,
    name: 'library name, forgotten devices',
    sql: `CREATE TABLE libraries (
        uuid TEXT PRIMARY KEY NOT NULL,
        name TEXT,
        _hlcs TEXT NOT NULL DEFAULT '{}'
      );
      CREATE TABLE forgotten_devices (
        uuid TEXT PRIMARY KEY NOT NULL,
        forgotten_by TEXT,
        forgotten_at INTEGER,
        _hlcs TEXT NOT NULL DEFAULT '{}'
      );`,
  },
];

export const SCHEMA_VERSION = MIGRATIONS[MIGRATIONS.length - 1]!.id;
