// @ts-check
// The relay's store: opaque bytes under opaque handles, in PostgreSQL (or PGlite — the same
// SQL). What makes it correct under several relay processes:
//  - every write to a handle first locks that handle's row (UPDATE / SELECT … FOR UPDATE), so the
//    per-handle counters (`last_seq` for document updates, `last_pseq` for owned pages) are
//    assigned in commit order with no holes, and an idempotency check (same client id, same
//    page range) sees every earlier commit;
//  - a write is acknowledged only after its transaction commits;
//  - a snapshot's chunks are stored while it is 'uploading' and it becomes 'ready' in one
//    transaction that also drops what it covers (older snapshots, update payloads ≤ its
//    cursor); uploads left behind by a client that vanished are collected by age.
import { createHash, timingSafeEqual } from 'node:crypto';

/** @typedef {import('./db.mjs').Db} Db @typedef {import('./db.mjs').Queryable} Queryable */

// Literal and frozen per version, like the app's migrations: a new version appends a step.
const MIGRATIONS = [
  `CREATE TABLE relay_handles (
     handle bytea PRIMARY KEY,
     token_hash bytea NOT NULL,
     last_seq bigint NOT NULL DEFAULT 0,
     last_pseq bigint NOT NULL DEFAULT 0,
     compacted_seq bigint NOT NULL DEFAULT 0,
     created_at timestamptz NOT NULL DEFAULT now()
   );
   CREATE TABLE relay_updates (
     handle bytea NOT NULL REFERENCES relay_handles(handle),
     seq bigint NOT NULL,
     client_id text NOT NULL,
     data bytea,
     created_at timestamptz NOT NULL DEFAULT now(),
     PRIMARY KEY (handle, seq),
     UNIQUE (handle, client_id)
   );
   CREATE INDEX relay_updates_compacted ON relay_updates(created_at) WHERE data IS NULL;
   CREATE TABLE relay_pages (
     handle bytea NOT NULL REFERENCES relay_handles(handle),
     owner bytea NOT NULL,
     from_seq bigint NOT NULL,
     to_seq bigint NOT NULL,
     pseq bigint NOT NULL,
     data bytea NOT NULL,
     PRIMARY KEY (handle, owner, from_seq, to_seq),
     UNIQUE (handle, pseq)
   );
   CREATE TABLE relay_snapshots (
     id bigserial PRIMARY KEY,
     handle bytea NOT NULL REFERENCES relay_handles(handle),
     cursor bigint NOT NULL,
     state text NOT NULL CHECK (state IN ('uploading', 'ready')),
     chunks integer NOT NULL DEFAULT 0,
     bytes bigint NOT NULL DEFAULT 0,
     updated_at timestamptz NOT NULL DEFAULT now()
   );
   CREATE INDEX relay_snapshots_handle ON relay_snapshots(handle, state);
   CREATE TABLE relay_snapshot_chunks (
     snapshot_id bigint NOT NULL REFERENCES relay_snapshots(id) ON DELETE CASCADE,
     idx integer NOT NULL,
     data bytea NOT NULL,
     PRIMARY KEY (snapshot_id, idx)
   );`,
];

export class StoreError extends Error {
  /** @param {string} code @param {string} message */
  constructor(code, message) {
    super(message);
    this.code = code;
  }
}

/** @param {Uint8Array} token */
export const tokenHash = (token) => createHash('sha256').update('tabdrive-relay-token:').update(token).digest();

/** @param {unknown} e */
const isUniqueViolation = (e) => typeof e === 'object' && e !== null && /** @type {{ code?: unknown }} */ (e).code === '23505';

/** @param {unknown} v @returns {Buffer} */
const buf = (v) => (Buffer.isBuffer(v) ? v : Buffer.from(/** @type {Uint8Array} */ (v)));

/**
 * @param {Db} db
 * @param {{ snapshotMaxBytes?: number, snapshotMaxChunks?: number, orphanAfterMs?: number }} [opts]
 */
export async function openStore(db, opts = {}) {
  const snapshotMaxChunks = opts.snapshotMaxChunks ?? 4096;
  const snapshotMaxBytes = opts.snapshotMaxBytes ?? 512 * 1024 * 1024;
  const orphanAfterMs = opts.orphanAfterMs ?? 10 * 60_000;

  // Several relays may start at once on one server: the advisory lock makes one migrate.
  await db.tx(async (q) => {
    await q.query('SELECT pg_advisory_xact_lock(7302215)');
    await q.query('CREATE TABLE IF NOT EXISTS relay_schema (version integer NOT NULL)');
    const r = await q.query('SELECT version FROM relay_schema');
    let version = r.rows.length ? Number(r.rows[0]?.version) : 0;
    if (!r.rows.length) await q.query('INSERT INTO relay_schema(version) VALUES (0)');
    if (version > MIGRATIONS.length) throw new Error(`relay schema version ${version} is newer than this relay (${MIGRATIONS.length})`);
    for (; version < MIGRATIONS.length; version++) {
      for (const stmt of /** @type {string} */ (MIGRATIONS[version]).split(';').map((s) => s.trim()).filter(Boolean)) await q.query(stmt);
      await q.query('UPDATE relay_schema SET version = $1', [version + 1]);
    }
  });

  /** Locks the handle's row for this transaction; refuses an unknown handle. @param {Queryable} q @param {Buffer} handle */
  async function lockHandle(q, handle) {
    const r = await q.query('SELECT last_seq, last_pseq, compacted_seq FROM relay_handles WHERE handle = $1 FOR UPDATE', [handle]);
    const row = r.rows[0];
    if (!row) throw new StoreError('unknown_handle', 'no such library handle');
    return { lastSeq: Number(row.last_seq), lastPseq: Number(row.last_pseq), compactedSeq: Number(row.compacted_seq) };
  }

  return {
    db,

    /**
     * Registers the handle with this token's hash if it is new; else checks the token.
     * @param {Buffer} handle @param {Uint8Array} token @returns {Promise<{ registered: boolean }>}
     */
    async auth(handle, token) {
      const h = tokenHash(token);
      const ins = await db.query('INSERT INTO relay_handles(handle, token_hash) VALUES ($1, $2) ON CONFLICT (handle) DO NOTHING RETURNING handle', [handle, h]);
      if (ins.rows.length) return { registered: true };
      const r = await db.query('SELECT token_hash FROM relay_handles WHERE handle = $1', [handle]);
      const stored = r.rows[0] ? buf(r.rows[0].token_hash) : null;
      if (!stored || stored.length !== h.length || !timingSafeEqual(stored, h)) throw new StoreError('bad_token', 'wrong write token for this library handle');
      return { registered: false };
    },

    /**
     * Appends one update; a retry with the same client id returns the first seq.
     * @param {Buffer} handle @param {string} clientId @param {Uint8Array} data
     * @returns {Promise<{ seq: number, dup: boolean }>}
     */
    async append(handle, clientId, data) {
      // One statement, so one round trip and the shortest possible hold of the handle's row
      // lock: take the lock and the next seq (UPDATE), store the row, commit. A concurrent
      // retry of the same id that slips past NOT EXISTS hits the unique key, and the whole
      // statement — the increment included — rolls back: no hole.
      try {
        const r = await db.rows(
          `WITH next AS (
             UPDATE relay_handles SET last_seq = last_seq + 1
             WHERE handle = $1 AND NOT EXISTS (SELECT 1 FROM relay_updates WHERE handle = $1 AND client_id = $2)
             RETURNING last_seq
           )
           INSERT INTO relay_updates(handle, seq, client_id, data) SELECT $1, last_seq, $2, $3 FROM next RETURNING seq`,
          [handle, clientId, data],
          [['seq', 'int']],
        );
        if (r[0]) return { seq: Number(r[0].seq), dup: false };
      } catch (e) {
        if (!isUniqueViolation(e)) throw e;
      }
      const prev = await db.query('SELECT seq FROM relay_updates WHERE handle = $1 AND client_id = $2', [handle, clientId]);
      if (prev.rows[0]) return { seq: Number(prev.rows[0].seq), dup: true };
      throw new StoreError('unknown_handle', 'no such library handle');
    },

    /**
     * Updates with seq > after, in order, at most `limit` rows and about `maxBytes` (always at
     * least one row). `compacted` > after means the caller must start from the snapshot.
     * @param {Buffer} handle @param {number} after @param {number} limit @param {number} maxBytes
     */
    async read(handle, after, limit, maxBytes) {
      const hr = await db.query('SELECT last_seq, compacted_seq FROM relay_handles WHERE handle = $1', [handle]);
      if (!hr.rows[0]) throw new StoreError('unknown_handle', 'no such library handle');
      const last = Number(hr.rows[0].last_seq);
      const compacted = Number(hr.rows[0].compacted_seq);
      const from = Math.max(after, compacted);
      const sizes = await db.query('SELECT seq, octet_length(data) AS len FROM relay_updates WHERE handle = $1 AND seq > $2 AND data IS NOT NULL ORDER BY seq LIMIT $3', [handle, from, limit]);
      let take = 0;
      let bytes = 0;
      for (const r of sizes.rows) {
        if (take > 0 && bytes + Number(r.len) > maxBytes) break;
        bytes += Number(r.len);
        take++;
      }
      /** @type {{ seq: number, data: Buffer }[]} */
      let items = [];
      if (take > 0) {
        const to = Number(sizes.rows[take - 1]?.seq);
        const r = await db.rows('SELECT seq, data FROM relay_updates WHERE handle = $1 AND seq > $2 AND seq <= $3 AND data IS NOT NULL ORDER BY seq', [handle, from, to], [
          ['seq', 'int'],
          ['data', 'bytes'],
        ]);
        items = r.map((x) => ({ seq: Number(x.seq), data: /** @type {Buffer} */ (x.data) }));
      }
      const end = items.length ? /** @type {{ seq: number }} */ (items[items.length - 1]).seq : from;
      return { items, last, compacted, more: end < last };
    },

    /**
     * Stores one owned-state page; the same (owner, range) again is a no-op.
     * @param {Buffer} handle @param {Buffer} owner @param {number} from @param {number} to @param {Uint8Array} data
     * @returns {Promise<{ pseq: number, dup: boolean }>}
     */
    async putPage(handle, owner, from, to, data) {
      // as append: one statement under the handle's row lock
      try {
        const r = await db.rows(
          `WITH next AS (
             UPDATE relay_handles SET last_pseq = last_pseq + 1
             WHERE handle = $1 AND NOT EXISTS (SELECT 1 FROM relay_pages WHERE handle = $1 AND owner = $2 AND from_seq = $3 AND to_seq = $4)
             RETURNING last_pseq
           )
           INSERT INTO relay_pages(handle, owner, from_seq, to_seq, pseq, data) SELECT $1, $2, $3, $4, last_pseq, $5 FROM next RETURNING pseq`,
          [handle, owner, from, to, data],
          [['pseq', 'int']],
        );
        if (r[0]) return { pseq: Number(r[0].pseq), dup: false };
      } catch (e) {
        if (!isUniqueViolation(e)) throw e;
      }
      const prev = await db.query('SELECT pseq FROM relay_pages WHERE handle = $1 AND owner = $2 AND from_seq = $3 AND to_seq = $4', [handle, owner, from, to]);
      if (prev.rows[0]) return { pseq: Number(prev.rows[0].pseq), dup: true };
      throw new StoreError('unknown_handle', 'no such library handle');
    },

    /**
     * One owner's pages reaching past `after` (to_seq > after), by range.
     * @param {Buffer} handle @param {Buffer} owner @param {number} after @param {number} limit @param {number} maxBytes
     */
    async getPages(handle, owner, after, limit, maxBytes) {
      const sizes = await db.query(
        'SELECT from_seq, to_seq, octet_length(data) AS len FROM relay_pages WHERE handle = $1 AND owner = $2 AND to_seq > $3 ORDER BY to_seq, from_seq LIMIT $4',
        [handle, owner, after, limit + 1],
      );
      /** @type {{ from: number, to: number }[]} */
      const pick = [];
      let bytes = 0;
      for (const r of sizes.rows.slice(0, limit)) {
        if (pick.length > 0 && bytes + Number(r.len) > maxBytes) break;
        bytes += Number(r.len);
        pick.push({ from: Number(r.from_seq), to: Number(r.to_seq) });
      }
      /** @type {{ from: number, to: number, data: Buffer }[]} */
      let items = [];
      const lastPick = pick[pick.length - 1];
      if (lastPick) {
        const r = await db.rows(
          'SELECT from_seq, to_seq, data FROM relay_pages WHERE handle = $1 AND owner = $2 AND to_seq > $3 AND (to_seq, from_seq) <= ($4, $5) ORDER BY to_seq, from_seq',
          [handle, owner, after, lastPick.to, lastPick.from],
          [
            ['from_seq', 'int'],
            ['to_seq', 'int'],
            ['data', 'bytes'],
          ],
        );
        items = r.map((x) => ({ from: Number(x.from_seq), to: Number(x.to_seq), data: /** @type {Buffer} */ (x.data) }));
      }
      return { items, more: sizes.rows.length > pick.length };
    },

    /** Pages by arrival (pseq > after), for the live feed's gap filling. @param {Buffer} handle @param {number} after @param {number} limit */
    async pagesSince(handle, after, limit) {
      const r = await db.rows('SELECT owner, from_seq, to_seq, pseq, data FROM relay_pages WHERE handle = $1 AND pseq > $2 ORDER BY pseq LIMIT $3', [handle, after, limit], [
        ['owner', 'bytes'],
        ['from_seq', 'int'],
        ['to_seq', 'int'],
        ['pseq', 'int'],
        ['data', 'bytes'],
      ]);
      return r.map((x) => ({ owner: /** @type {Buffer} */ (x.owner), from: Number(x.from_seq), to: Number(x.to_seq), pseq: Number(x.pseq), data: /** @type {Buffer} */ (x.data) }));
    },

    /** Each owner with its highest stored seq (the relay's watermark per owner). @param {Buffer} handle */
    async owners(handle) {
      const r = await db.query('SELECT owner, max(to_seq) AS top FROM relay_pages WHERE handle = $1 GROUP BY owner ORDER BY owner LIMIT 1000', [handle]);
      return r.rows.map((x) => ({ owner: buf(x.owner), top: Number(x.top) }));
    },

    /** The counters of several handles (the feed's poll). @param {Buffer[]} handles */
    async heads(handles) {
      if (!handles.length) return [];
      const r = await db.query('SELECT handle, last_seq, last_pseq FROM relay_handles WHERE handle = ANY($1)', [handles]);
      return r.rows.map((x) => ({ handle: buf(x.handle), lastSeq: Number(x.last_seq), lastPseq: Number(x.last_pseq) }));
    },

    /**
     * Starts a snapshot upload covering updates ≤ cursor. Earlier unfinished uploads of this
     * handle are orphans (the caller holds the compaction lease) and are collected here.
     * @param {Buffer} handle @param {number} cursor @returns {Promise<number>} the snapshot id
     */
    async beginSnapshot(handle, cursor) {
      return db.tx(async (q) => {
        const { lastSeq, compactedSeq } = await lockHandle(q, handle);
        if (cursor > lastSeq) throw new StoreError('bad_cursor', `cursor ${cursor} is past the last update (${lastSeq})`);
        if (cursor <= compactedSeq) throw new StoreError('stale_snapshot', `a snapshot already covers ${compactedSeq}`);
        await q.query("DELETE FROM relay_snapshots WHERE handle = $1 AND state = 'uploading'", [handle]);
        const r = await q.query("INSERT INTO relay_snapshots(handle, cursor, state) VALUES ($1, $2, 'uploading') RETURNING id", [handle, cursor]);
        return Number(r.rows[0]?.id);
      });
    },

    /** Stores one chunk (a retry overwrites it). @param {Buffer} handle @param {number} id @param {number} idx @param {Uint8Array} data */
    async putSnapshotChunk(handle, id, idx, data) {
      if (idx >= snapshotMaxChunks) throw new StoreError('too_large', `a snapshot has at most ${snapshotMaxChunks} chunks`);
      await db.tx(async (q) => {
        const s = await q.query("SELECT bytes FROM relay_snapshots WHERE id = $1 AND handle = $2 AND state = 'uploading' FOR UPDATE", [id, handle]);
        if (!s.rows[0]) throw new StoreError('no_upload', 'no such snapshot upload (finished, collected or never started)');
        const old = await q.query('SELECT octet_length(data) AS len FROM relay_snapshot_chunks WHERE snapshot_id = $1 AND idx = $2', [id, idx]);
        const bytes = Number(s.rows[0].bytes) - Number(old.rows[0]?.len ?? 0) + data.length;
        if (bytes > snapshotMaxBytes) throw new StoreError('too_large', `a snapshot has at most ${snapshotMaxBytes} bytes`);
        await q.query('INSERT INTO relay_snapshot_chunks(snapshot_id, idx, data) VALUES ($1, $2, $3) ON CONFLICT (snapshot_id, idx) DO UPDATE SET data = EXCLUDED.data', [id, idx, data]);
        await q.query('UPDATE relay_snapshots SET bytes = $2, updated_at = now() WHERE id = $1', [id, bytes]);
      });
    },

    /**
     * Makes the upload the handle's snapshot, atomically: it must have chunks 0..chunks-1 and
     * still be newer than the current one; older snapshots and the update payloads it covers
     * go (their ids stay, so a late retry of a covered update is still recognized).
     * @param {Buffer} handle @param {number} id @param {number} chunks
     */
    async commitSnapshot(handle, id, chunks) {
      return db.tx(async (q) => {
        const { compactedSeq } = await lockHandle(q, handle);
        const s = await q.query("SELECT cursor FROM relay_snapshots WHERE id = $1 AND handle = $2 AND state = 'uploading'", [id, handle]);
        if (!s.rows[0]) throw new StoreError('no_upload', 'no such snapshot upload (finished, collected or never started)');
        const cursor = Number(s.rows[0].cursor);
        if (cursor <= compactedSeq) throw new StoreError('stale_snapshot', `a snapshot already covers ${compactedSeq}`);
        const c = await q.query('SELECT count(*) AS n, coalesce(max(idx), -1) AS top FROM relay_snapshot_chunks WHERE snapshot_id = $1', [id]);
        if (Number(c.rows[0]?.n) !== chunks || Number(c.rows[0]?.top) !== chunks - 1) {
          throw new StoreError('incomplete', `the upload has ${Number(c.rows[0]?.n)} chunks, expected 0..${chunks - 1}`);
        }
        await q.query("UPDATE relay_snapshots SET state = 'ready', chunks = $2, updated_at = now() WHERE id = $1", [id, chunks]);
        await q.query('DELETE FROM relay_snapshots WHERE handle = $1 AND id <> $2', [handle, id]);
        await q.query('UPDATE relay_updates SET data = NULL WHERE handle = $1 AND seq <= $2 AND data IS NOT NULL', [handle, cursor]);
        await q.query('UPDATE relay_handles SET compacted_seq = $2 WHERE handle = $1', [handle, cursor]);
        return { cursor };
      });
    },

    /** The handle's current snapshot, if any. @param {Buffer} handle */
    async snapshotInfo(handle) {
      const r = await db.query("SELECT id, cursor, chunks, bytes FROM relay_snapshots WHERE handle = $1 AND state = 'ready' ORDER BY id DESC LIMIT 1", [handle]);
      const x = r.rows[0];
      return x ? { id: Number(x.id), cursor: Number(x.cursor), chunks: Number(x.chunks), bytes: Number(x.bytes) } : null;
    },

    /** @param {Buffer} handle @param {number} id @param {number} idx */
    async snapshotChunk(handle, id, idx) {
      const r = await db.rows(
        "SELECT c.data FROM relay_snapshot_chunks c JOIN relay_snapshots s ON s.id = c.snapshot_id WHERE s.id = $1 AND s.handle = $2 AND s.state = 'ready' AND c.idx = $3",
        [id, handle, idx],
        [['data', 'bytes']],
      );
      const data = r[0]?.data;
      if (!data || typeof data === 'number') throw new StoreError('not_found', 'no such snapshot chunk');
      return data;
    },

    /**
     * Collects uploads nobody has touched for a while (their client vanished), and the ids of
     * compacted updates once no client can still be retrying them.
     */
    async collectOrphans() {
      const r = await db.query(
        "DELETE FROM relay_snapshots WHERE state = 'uploading' AND updated_at < now() - ($1::bigint * interval '1 millisecond') RETURNING id",
        [orphanAfterMs],
      );
      await db.query("DELETE FROM relay_updates WHERE data IS NULL AND created_at < now() - interval '30 days'");
      return r.rows.length;
    },
  };
}

/** @typedef {Awaited<ReturnType<typeof openStore>>} Store */
