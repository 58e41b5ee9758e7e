/**
 * Numbered schema migrations, recorded in `_migrations` and applied in order, each in one
 * transaction. Synced tables only ever grow (tests/integration/migrations.test.ts fails on a
 * dropped or renamed column, or a NOT NULL column without DEFAULT added to a synced table):
 * a device on a newer schema must still accept rows from an older one.
 *
 * Every migration is literal SQL, frozen once released (the test keeps a hash of each): a
 * migration generated from the live models would change under an existing database, which
 * then never gets the new column, while a fresh one gets it twice (its own CREATE and the
 * later ALTER). A model field is added by a new migration; the test checks that the schema
 * after the last one has every field of every model.
 */

export interface Migration {
  readonly id: number;
  readonly name: string;
  readonly sql: string;
}

/** The schema of release 0.1, as generated from the models of that release. */
const initial = `CREATE TABLE devices (
  uuid TEXT PRIMARY KEY NOT NULL,
  name TEXT NOT NULL,
  slug TEXT NOT NULL,
  os TEXT NOT NULL,
  browser TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  is_online INTEGER DEFAULT 0,
  last_seen TEXT DEFAULT NULL,
  _owner TEXT NOT NULL,
  _hlc TEXT NOT NULL
);
CREATE TABLE volumes (
  uuid TEXT PRIMARY KEY NOT NULL,
  device_uuid TEXT NOT NULL,
  name TEXT NOT NULL,
  kind TEXT NOT NULL,
  total_capacity INTEGER,
  available_capacity INTEGER,
  is_online INTEGER DEFAULT 0,
  tracked_at TEXT DEFAULT NULL,
  _owner TEXT NOT NULL,
  _hlc TEXT NOT NULL
);
CREATE TABLE locations (
  uuid TEXT PRIMARY KEY NOT NULL,
  device_uuid TEXT NOT NULL,
  volume_uuid TEXT,
  entry_uuid TEXT,
  name TEXT NOT NULL,
  path TEXT NOT NULL,
  index_mode TEXT NOT NULL,
  total_file_count INTEGER NOT NULL,
  total_byte_size INTEGER NOT NULL,
  last_scan_at INTEGER,
  scan_state TEXT DEFAULT 'pending',
  error_message TEXT DEFAULT NULL,
  _owner TEXT NOT NULL,
  _hlc TEXT NOT NULL
);
CREATE TABLE entries (
  uuid TEXT PRIMARY KEY NOT NULL,
  location_uuid TEXT NOT NULL,
  parent_uuid TEXT,
  name TEXT NOT NULL,
  kind TEXT NOT NULL,
  extension TEXT,
  size INTEGER NOT NULL,
  created_at INTEGER,
  modified_at INTEGER,
  content_uuid TEXT,
  indexed_at TEXT DEFAULT NULL,
  _owner TEXT NOT NULL,
  _hlc TEXT NOT NULL
);
CREATE TABLE content_identities (
  uuid TEXT PRIMARY KEY NOT NULL,
  content_hash TEXT,
  mime_type TEXT,
  kind TEXT,
  total_size INTEGER,
  _hlcs TEXT NOT NULL DEFAULT '{}'
);
CREATE TABLE tags (
  uuid TEXT PRIMARY KEY NOT NULL,
  canonical_name TEXT,
  display_name TEXT,
  namespace TEXT,
  tag_type TEXT,
  color TEXT,
  privacy_level TEXT,
  search_weight INTEGER,
  created_by_device TEXT,
  _hlcs TEXT NOT NULL DEFAULT '{}'
);
CREATE TABLE albums (
  uuid TEXT PRIMARY KEY NOT NULL,
  name TEXT,
  description TEXT,
  created_by_device TEXT,
  _hlcs TEXT NOT NULL DEFAULT '{}'
);
CREATE TABLE album_entries (
  uuid TEXT PRIMARY KEY NOT NULL,
  album_uuid TEXT,
  entry_uuid TEXT,
  added_at INTEGER,
  active INTEGER,
  _hlcs TEXT NOT NULL DEFAULT '{}'
);
CREATE TABLE tag_links (
  uuid TEXT PRIMARY KEY NOT NULL,
  tag_uuid TEXT,
  target_uuid TEXT,
  target_kind TEXT,
  source TEXT,
  applied_by_device TEXT,
  active INTEGER,
  _hlcs TEXT NOT NULL DEFAULT '{}'
);
CREATE TABLE user_metadata (
  uuid TEXT PRIMARY KEY NOT NULL,
  entry_uuid TEXT,
  content_uuid TEXT,
  notes TEXT,
  favorite INTEGER,
  hidden INTEGER,
  custom_data TEXT,
  _hlcs TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX entries_parent_uuid ON entries(parent_uuid);
CREATE INDEX entries_location_uuid ON entries(location_uuid);
CREATE INDEX entries_content_uuid ON entries(content_uuid);
CREATE INDEX entries_owner ON entries(_owner);
CREATE INDEX locations_device_uuid ON locations(device_uuid);
CREATE INDEX locations_owner ON locations(_owner);
CREATE INDEX volumes_device_uuid ON volumes(device_uuid);
CREATE INDEX volumes_owner ON volumes(_owner);
CREATE INDEX tag_links_tag_uuid ON tag_links(tag_uuid);
CREATE INDEX tag_links_target_uuid ON tag_links(target_uuid);
CREATE INDEX album_entries_album_uuid ON album_entries(album_uuid);
CREATE INDEX album_entries_entry_uuid ON album_entries(entry_uuid);
CREATE INDEX user_metadata_entry_uuid ON user_metadata(entry_uuid);
CREATE INDEX user_metadata_content_uuid ON user_metadata(content_uuid);
CREATE TABLE tombstones (model TEXT NOT NULL, uuid TEXT NOT NULL, hlc TEXT NOT NULL, PRIMARY KEY (model, uuid));
CREATE TABLE meta (key TEXT PRIMARY KEY NOT NULL, value TEXT);
CREATE VIRTUAL TABLE entries_fts USING fts4(content="entries", name, tokenize=unicode61, prefix="2,3");
CREATE TRIGGER entries_fts_bu BEFORE UPDATE OF name ON entries BEGIN DELETE FROM entries_fts WHERE docid = old.rowid; END;
CREATE TRIGGER entries_fts_bd BEFORE DELETE ON entries BEGIN DELETE FROM entries_fts WHERE docid = old.rowid; END;
CREATE TRIGGER entries_fts_au AFTER UPDATE OF name ON entries BEGIN INSERT INTO entries_fts(docid, name) VALUES (new.rowid, new.name); END;
CREATE TRIGGER entries_fts_ai AFTER INSERT ON entries BEGIN INSERT INTO entries_fts(docid, name) VALUES (new.rowid, new.name); END;`;

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
    // merged field by field like a tag's; and forgotten devices (model `forgotten_device`,
    // uuid = the device), whose owned rows every device removes and refuses from then on.
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
  {
    // Issue 14: media metadata of images, read at indexing (src/media/metadata.ts). Synced
    // entry columns, nullable: rows from devices without them stay valid (core/stream.ts P4).
    id: 6,
    name: 'entries: date taken, dimensions, camera',
    sql: `ALTER TABLE entries ADD COLUMN taken_at INTEGER;
      ALTER TABLE entries ADD COLUMN width INTEGER;
      ALTER TABLE entries ADD COLUMN height INTEGER;
      ALTER TABLE entries ADD COLUMN camera_make TEXT;
      ALTER TABLE entries ADD COLUMN camera_model TEXT;`,
  },
  {
    // Migration 5 first landed with `libraries` only (f75b104) and was then edited to add
    // `forgotten_devices`: databases that ran the first version skip the edited one (ids are
    // applied once) and lacked the table — boot failed on them. The same table, made where
    // it is missing; a no-op everywhere else. Found by tests/e2e/two-builds.spec.ts.
    id: 7,
    name: 'forgotten devices where the first migration 5 ran',
    sql: `CREATE TABLE IF NOT EXISTS forgotten_devices (
        uuid TEXT PRIMARY KEY NOT NULL,
        forgotten_by TEXT,
        forgotten_at INTEGER,
        _hlcs TEXT NOT NULL DEFAULT '{}'
      );`,
  },
  {
    // DESIGN §3, §4: a content identity is derived on every device from the entries it holds
    // (uuid = v5 of the content hash, on the entry as content_uuid), not sent as a shared
    // record. A derived row carries no field stamps (`_hlcs` '{}') and goes with the last
    // entry naming it; one a shared record stamped (an earlier build's indexer, the
    // addContentIdentity act) stays a shared record. `kind_of` is storage/sqlite.ts'.
    id: 8,
    name: 'content identities derived from entries',
    sql: `CREATE TRIGGER content_identities_derive_ai AFTER INSERT ON entries WHEN new.content_uuid IS NOT NULL BEGIN
        INSERT INTO content_identities (uuid, kind, total_size)
          SELECT new.content_uuid, kind_of(new.extension), new.size
          WHERE NOT EXISTS (SELECT 1 FROM content_identities WHERE uuid = new.content_uuid);
      END;
      CREATE TRIGGER content_identities_derive_au AFTER UPDATE OF content_uuid ON entries WHEN old.content_uuid IS NOT new.content_uuid BEGIN
        INSERT INTO content_identities (uuid, kind, total_size)
          SELECT new.content_uuid, kind_of(new.extension), new.size
          WHERE new.content_uuid IS NOT NULL AND NOT EXISTS (SELECT 1 FROM content_identities WHERE uuid = new.content_uuid);
        DELETE FROM content_identities WHERE uuid = old.content_uuid AND _hlcs = '{}'
          AND NOT EXISTS (SELECT 1 FROM entries WHERE content_uuid = old.content_uuid);
      END;
      CREATE TRIGGER content_identities_derive_ad AFTER DELETE ON entries WHEN old.content_uuid IS NOT NULL BEGIN
        DELETE FROM content_identities WHERE uuid = old.content_uuid AND _hlcs = '{}'
          AND NOT EXISTS (SELECT 1 FROM entries WHERE content_uuid = old.content_uuid);
      END;
      INSERT INTO content_identities (uuid, kind, total_size)
        SELECT content_uuid, kind_of(min(extension)), max(size) FROM entries
        WHERE content_uuid IS NOT NULL AND content_uuid NOT IN (SELECT uuid FROM content_identities)
        GROUP BY content_uuid;`,
  },
];

export const SCHEMA_VERSION = MIGRATIONS[MIGRATIONS.length - 1]!.id;
