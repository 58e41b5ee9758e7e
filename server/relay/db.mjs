// @ts-check
// One SQL path over two engines: a PostgreSQL server (`pg`, DATABASE_URL) — the system of
// record when several relay processes share it — or PGlite (PostgreSQL compiled to WASM, its
// data in a folder), the embedded default. Both speak the same SQL with $n parameters; the
// relay only ever uses `query` and `tx`.
import { spawn } from 'node:child_process';
import { existsSync, readdirSync, renameSync, rmSync, rmdirSync } from 'node:fs';
import { join } from 'node:path';

/**
 * @typedef {{ query(sql: string, params?: unknown[]): Promise<{ rows: Record<string, unknown>[] }> }} Queryable
 * @typedef {[name: string, kind: 'int' | 'bytes']} Column
 * @typedef {Queryable & {
 *   kind: 'pg' | 'pglite',
 *   rows(sql: string, params: unknown[], columns: Column[]): Promise<Record<string, number | Buffer | null>[]>,
 *   tx<T>(fn: (q: Queryable) => Promise<T>): Promise<T>,
 *   close(): Promise<void>,
 * }} Db
 */

/**
 * @param {{ url?: string, dataDir?: string, poolSize?: number }} opts
 * @returns {Promise<Db>}
 */
export async function openDb(opts) {
  if (opts.url) return openPg(opts.url, opts.poolSize ?? 16);
  return openPglite(opts.dataDir);
}

/** @param {string} url @param {number} max @returns {Promise<Db>} */
async function openPg(url, max) {
  const { default: pg } = await import('pg');
  // bigint columns come back as JS numbers: sequences stay far below 2^53
  pg.types.setTypeParser(20, (v) => Number(v));
  const pool = new pg.Pool({ connectionString: url, max, connectionTimeoutMillis: 20_000 });
  // an idle client whose server went away emits 'error' on the pool: not a crash
  pool.on('error', () => {});
  return {
    kind: 'pg',
    async query(sql, params = []) {
      const r = await pool.query(sql, params);
      return { rows: r.rows };
    },
    async rows(sql, params, columns) {
      const r = await pool.query(sql, params);
      return r.rows.map((/** @type {Record<string, unknown>} */ x) => fromText(x, columns));
    },
    async tx(fn) {
      const c = await pool.connect();
      let broken = false;
      try {
        await c.query('BEGIN');
        const out = await fn({ query: async (sql, params = []) => ({ rows: (await c.query(sql, params)).rows }) });
        await c.query('COMMIT');
        return out;
      } catch (e) {
        try {
          await c.query('ROLLBACK');
        } catch {
          broken = true;
        }
        throw e;
      } finally {
        c.release(broken);
      }
    },
    async close() {
      await pool.end();
    },
  };
}

// PostgreSQL's default 128 MB of shared buffers doubled the process's memory (~290 → ~175 MB
// RSS on reopening a store); 16 MB held a whole 100k library in cache and cost ~12 MB more of
// the relay's peak than 4 MB, with no measurable change in ten concurrent catch-ups (reads
// that miss come from the OS's page cache). `RELAY_PGLITE_SHARED_BUFFERS` to change it.
const PGLITE_CONF = [`shared_buffers=${process.env.RELAY_PGLITE_SHARED_BUFFERS || '4MB'}`];

/**
 * Creates a new PGlite store in a short-lived child process: initdb (in WASM) leaves its
 * memory behind in the process that ran it (measured: ~720 MB RSS after a first start in
 * process, ~170–210 MB this way). It is made beside the folder and renamed into place, so an
 * interrupted first start leaves no half-made store behind.
 * @param {string} dataDir
 */
async function initPglite(dataDir) {
  if (existsSync(dataDir) && readdirSync(dataDir).length > 0) {
    throw new Error(`${dataDir} is neither empty nor a relay store (no PG_VERSION); refusing to use it`);
  }
  const tmp = `${dataDir}.init-${process.pid}`;
  rmSync(tmp, { recursive: true, force: true });
  const code = `const { PGlite } = await import(${JSON.stringify(import.meta.resolve('@electric-sql/pglite'))});
const db = await PGlite.create({ dataDir: ${JSON.stringify(tmp)}, postgresqlconf: ${JSON.stringify(PGLITE_CONF)} });
await db.close();`;
  await new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--input-type=module', '-e', code], { stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    child.stderr.on('data', (/** @type {Buffer} */ d) => (err += d.toString()));
    child.on('error', reject);
    child.on('exit', (c) => (c === 0 ? resolve(undefined) : reject(new Error(`creating the PGlite store in ${dataDir} failed (${c}): ${err.slice(-2000)}`))));
  });
  if (existsSync(dataDir)) rmdirSync(dataDir);
  renameSync(tmp, dataDir);
}

/** @param {string | undefined} dataDir @returns {Promise<Db>} */
async function openPglite(dataDir) {
  if (dataDir && !dataDir.includes('://') && !existsSync(join(dataDir, 'PG_VERSION'))) await initPglite(dataDir);
  const { PGlite } = await import('@electric-sql/pglite');
  // PGlite runs with fsync off (it cannot be turned on): a commit survives a kill of the
  // relay, not a power cut; DATABASE_URL is the durable system of record.
  const db = await PGlite.create({ dataDir: dataDir ?? 'memory://', postgresqlconf: PGLITE_CONF });
  /** @param {{ rows: unknown[] }} r */
  const rows = (r) => /** @type {Record<string, unknown>[]} */ (r.rows.map(fixRow));
  return {
    kind: 'pglite',
    async query(sql, params = []) {
      return { rows: rows(await db.query(sql, params)) };
    },
    // Statements that carry payloads (pages and updates, both ways) bypass PGlite's own
    // serializer and parser: they send and receive bytea as hex text, encoded and decoded in
    // JS, so every byte stored or served was first 2 bytes of string plus copies (≈ 2.5 GB of
    // garbage for ten 100k catch-ups, which V8 collects lazily: the relay's peak; and 7–10× the
    // time of this path). Here parameters and rows travel in binary and each field is copied
    // once out of the engine's output. Not inside `tx` (PGlite's transaction holds its lock).
    async rows(sql, params, columns) {
      const msg = extendedQuery(sql, params);
      const parser = rowParser(columns);
      await db._runExclusiveTransaction(() =>
        db._runExclusiveQuery(async () => {
          await db._checkReady();
          await db.execProtocolRawStream(msg, { syncToFs: true, onRawData: (d) => parser.push(d) });
        }),
      );
      return parser.end();
    },
    // PGlite is one connection: its transactions run one at a time, which is what the
    // row locks achieve on a server.
    async tx(fn) {
      return db.transaction((t) => fn({ query: async (sql, params = []) => ({ rows: rows(await t.query(sql, params)) }) }));
    },
    async close() {
      await db.close();
    },
  };
}

/** @param {Record<string, unknown>} x @param {Column[]} columns */
function fromText(x, columns) {
  /** @type {Record<string, number | Buffer | null>} */
  const o = {};
  for (const [name, kind] of columns) {
    const v = x[name];
    o[name] = v == null ? null : kind === 'int' ? Number(v) : Buffer.isBuffer(v) ? v : Buffer.from(/** @type {Uint8Array} */ (v));
  }
  return o;
}

/**
 * Parse + Bind (parameters: Buffers in binary, the rest as text; every result column in
 * binary) + Execute + Sync, as one message for the engine.
 * @param {string} sql @param {unknown[]} params
 */
export function extendedQuery(sql, params) {
  const text = Buffer.from(sql + '\0');
  /** @type {Buffer[]} */
  const values = params.map((v) => (v == null ? Buffer.alloc(0) : v instanceof Uint8Array ? Buffer.from(v.buffer, v.byteOffset, v.byteLength) : Buffer.from(String(v))));
  const parse = Buffer.alloc(1 + 4 + 1 + text.length + 2);
  parse.write('P', 0);
  parse.writeInt32BE(parse.length - 1, 1);
  text.copy(parse, 6);
  parse.writeInt16BE(0, 6 + text.length);
  const bindLen = 4 + 2 + 2 + 2 * params.length + 2 + values.reduce((a, v) => a + 4 + v.length, 0) + 4;
  const bind = Buffer.alloc(1 + bindLen);
  let o = bind.write('B', 0);
  o = bind.writeInt32BE(bindLen, o);
  o = bind.writeInt16BE(0, o); // unnamed portal and statement: two empty strings
  o = bind.writeInt16BE(params.length, o);
  for (const v of params) o = bind.writeInt16BE(v instanceof Uint8Array ? 1 : 0, o);
  o = bind.writeInt16BE(params.length, o);
  params.forEach((v, i) => {
    const b = /** @type {Buffer} */ (values[i]);
    o = bind.writeInt32BE(v == null ? -1 : b.length, o);
    o += b.copy(bind, o);
  });
  o = bind.writeInt16BE(1, o);
  bind.writeInt16BE(1, o);
  const execute = Buffer.from([0x45, 0, 0, 0, 9, 0, 0, 0, 0, 0]);
  const sync = Buffer.from([0x53, 0, 0, 0, 4]);
  return Buffer.concat([parse, bind, execute, sync]);
}

/**
 * Collects the DataRows of an extended-protocol reply in binary format, fed in the chunks the
 * engine writes (a message may span chunks; a chunk may be a view into the engine's memory,
 * so nothing keeps a reference to it). An ErrorResponse becomes the thrown error.
 * @param {Column[]} columns
 */
export function rowParser(columns) {
  /** @type {Record<string, number | Buffer | null>[]} */
  const out = [];
  /** @type {Buffer | null} */
  let pending = null;
  /** @type {Error | null} */
  let error = null;
  /** @param {Buffer} m a whole message, type byte first */
  const message = (m) => {
    const type = m[0];
    if (type === 0x44) {
      // DataRow: int16 count, then per field int32 length (-1 = null) and the bytes
      const n = m.readInt16BE(5);
      if (n !== columns.length) throw new Error(`expected ${columns.length} columns, got ${n}`);
      /** @type {Record<string, number | Buffer | null>} */
      const row = {};
      let o = 7;
      for (const [name, kind] of columns) {
        const len = m.readInt32BE(o);
        o += 4;
        if (len < 0) row[name] = null;
        else if (kind === 'int') row[name] = len === 8 ? Number(m.readBigInt64BE(o)) : len === 4 ? m.readInt32BE(o) : m.readInt16BE(o);
        else row[name] = Buffer.from(m.subarray(o, o + len));
        o += Math.max(len, 0);
      }
      out.push(row);
    } else if (type === 0x45 && !error) {
      // ErrorResponse: fields of a type byte and a C string, ended by a zero
      /** @type {Record<string, string>} */
      const f = {};
      let o = 5;
      while (o < m.length && m[o] !== 0) {
        const end = m.indexOf(0, o + 1);
        f[String.fromCharCode(/** @type {number} */ (m[o]))] = m.toString('utf8', o + 1, end);
        o = end + 1;
      }
      error = Object.assign(new Error(f['M'] ?? 'query failed'), { code: f['C'] });
    }
  };
  return {
    /** @param {Uint8Array} chunk */
    push(chunk) {
      let b = Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
      if (pending) b = Buffer.concat([pending, b]);
      pending = null;
      let o = 0;
      while (b.length - o >= 5) {
        const len = b.readInt32BE(o + 1);
        if (b.length - o < 1 + len) break;
        message(b.subarray(o, o + 1 + len));
        o += 1 + len;
      }
      // what is left is copied: the chunk's memory is the engine's
      if (o < b.length) pending = Buffer.from(b.subarray(o));
    },
    end() {
      if (error) throw error;
      if (pending) throw new Error('the reply ended inside a message');
      return out;
    },
  };
}

/** PGlite returns bigint columns as bigint; the relay uses numbers (far below 2^53). @param {unknown} r */
function fixRow(r) {
  const o = /** @type {Record<string, unknown>} */ (r);
  for (const k of Object.keys(o)) if (typeof o[k] === 'bigint') o[k] = Number(o[k]);
  return o;
}
