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
 * @typedef {Queryable & {
 *   kind: 'pg' | 'pglite',
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

const PGLITE_CONF = ['shared_buffers=16MB'];

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
  // PostgreSQL's default 128 MB of shared buffers doubles the process's memory (measured:
  // ~290 → ~175 MB RSS on reopening a store); the relay's working set is small.
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

/** PGlite returns bigint columns as bigint; the relay uses numbers (far below 2^53). @param {unknown} r */
function fixRow(r) {
  const o = /** @type {Record<string, unknown>} */ (r);
  for (const k of Object.keys(o)) if (typeof o[k] === 'bigint') o[k] = Number(o[k]);
  return o;
}
