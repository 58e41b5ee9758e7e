#!/usr/bin/env node
// What serving a backfill costs the sender's storage worker, without a browser: N entries of one
// owner (default 100,000) in sql.js, every page of them read and packed both ways — rows as
// objects (readPage + encodePage + JSON.stringify) and JSON built by SQLite (readPageJson) —
// each deflated with node:zlib. Prints the CPU of each (min and median of R runs, default 5)
// and checks that both give the same bytes. Use it before and after a change to serving.
//   node scripts/profile-serve.mjs [N] [--runs R]
import { deflateRawSync } from 'node:zlib';
import { resolve } from 'node:path';
import initSqlJs from 'sql.js';
import { createServer } from 'vite';

const root = resolve(import.meta.dirname, '..');
const args = process.argv.slice(2);
const N = Number(args.find((a) => /^\d+$/.test(a)) ?? 100_000);
const runs = args.includes('--runs') ? Number(args[args.indexOf('--runs') + 1]) : 5;
const vite = await createServer({ root, mode: 'test', logLevel: 'error', server: { middlewareMode: true, hmr: false, ws: false }, appType: 'custom', optimizeDeps: { noDiscovery: true, include: [] } });
const load = (p) => vite.ssrLoadModule(p);
const [{ openSqlite }, { MIGRATIONS }, { fieldNames, encodePage }, { readPage, readPageJson }] = await Promise.all(
  ['/src/storage/sqlite.ts', '/src/storage/migrations.ts', '/src/core/stream.ts', '/src/storage/stream-store.ts'].map(load));

const d = openSqlite(await initSqlJs());
d.migrate(MIGRATIONS, 0);
const owner = 'aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa';
const uuid = (i) => `${i.toString(16).padStart(8, '0')}-0000-4000-8000-000000000000`;
const stamp = (i) => `${(1_765_000_000_000 + i).toString(16).padStart(12, '0')}-000000-${owner}`;
const loc = uuid(0xfffffff);
const insert = (model, table, id, seq, data) => {
  const f = fieldNames(model);
  d.run(`INSERT INTO ${table} (uuid, _owner, _hlc, _seq, ${f.join(', ')}) VALUES (${Array(f.length + 4).fill('?').join(', ')})`, [id, owner, stamp(seq), seq, ...f.map((k) => data[k] ?? null)]);
};
d.transaction(() => {
  // a sample location as written: location first, entries, totals last (its row ahead, P6)
  for (let i = 1; i <= N; i++)
    insert('entry', 'entries', uuid(i), i, { location_uuid: loc, parent_uuid: uuid(1), name: `IMG_${String(i).padStart(6, '0')}.jpg`, kind: 'file', extension: 'jpg', size: 1_000_000 + i * 37, created_at: 1_700_000_000_000 + i, modified_at: 1_700_000_000_000 + i, width: 4000, height: 3000, camera_make: 'Canon', camera_model: 'EOS R5' });
  insert('location', 'locations', loc, N + 1, { device_uuid: owner, name: 'Sample', path: '/Sample', index_mode: 'deep', total_file_count: N, total_byte_size: N * 1_000_000 });
});
const held = N + 1;
const ways = {
  objects: () => {
    const out = [];
    for (let a = 0; a < held;) {
      const p = readPage(d, owner, a, held);
      out.push(deflateRawSync(new TextEncoder().encode(JSON.stringify(encodePage(owner, a, p.to, p.changes, p.ahead)))));
      a = p.to;
    }
    return out;
  },
  sqlite: () => {
    const out = [];
    for (let a = 0; a < held;) {
      const p = readPageJson(d, owner, a, held);
      out.push(deflateRawSync(p.json));
      a = p.to;
    }
    return out;
  },
};
const pages = {};
for (const [name, fn] of Object.entries(ways)) {
  const cpu = [];
  for (let r = 0; r < runs; r++) {
    const t = process.cpuUsage();
    pages[name] = fn();
    const u = process.cpuUsage(t);
    cpu.push((u.user + u.system) / 1000);
  }
  cpu.sort((x, y) => x - y);
  console.log(`${name.padEnd(8)} ${pages[name].length} pages: CPU min ${cpu[0].toFixed(0)} ms, median ${cpu[runs >> 1].toFixed(0)} ms (${(cpu[runs >> 1] * 1000 / N).toFixed(2)} µs a row)`);
}
const same = pages.objects.length === pages.sqlite.length && pages.objects.every((p, i) => Buffer.compare(p, pages.sqlite[i]) === 0);
console.log(same ? 'same bytes both ways' : 'DIFFERENT bytes');
await vite.close();
process.exit(same ? 0 : 1);
