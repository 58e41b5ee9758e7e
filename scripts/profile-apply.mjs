#!/usr/bin/env node
// Where the receiving side of the owned-state stream spends its time, without a browser:
// an owner engine writes a sample location of N files (default 100,000), serves its pages, and
// a fresh engine (real sql.js, journal in fake-indexeddb) applies them as a pulling device
// would. Prints the receiver's per-phase split (unpack + validation, apply in SQLite, journal
// append, image export) and the wall time; then checks the result (row count, FTS search).
// A diagnosis, not a bench figure (Node's zlib streams and fake-indexeddb differ from
// Chromium's): compare runs of this script with each other.
//   node scripts/profile-apply.mjs [N] [--runs R] [--cpu-prof]   (R runs, medians printed;
//   --cpu-prof: the V8 profile of the first run's receiver, top functions printed)
// The TypeScript sources are loaded through Vite's SSR loader (same code as the worker's).
import { Session } from 'node:inspector/promises';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { deflateRawSync, inflateRawSync } from 'node:zlib';
import { createServer } from 'vite';

const root = resolve(import.meta.dirname, '..');
const args = process.argv.slice(2);
const N = Number(args.find((a) => /^\d+$/.test(a)) ?? 100_000);
const RUNS = args.includes('--runs') ? Number(args[args.indexOf('--runs') + 1]) : 1;
const PROFILE = args.includes('--cpu-prof');

const vite = await createServer({ root, mode: 'test', logLevel: 'error', server: { middlewareMode: true, hmr: false, ws: false }, appType: 'custom', optimizeDeps: { noDiscovery: true, include: [] } });
const load = (p) => vite.ssrLoadModule(p);
await import('fake-indexeddb/auto'); // IDBKeyRange and friends as globals, as in the vitest setup
const [{ IDBFactory }, { default: initSqlJs }] = await Promise.all([import('fake-indexeddb'), import('sql.js')]);
const { createStorageEngine } = await load('/src/storage/engine.ts');
const { createInProcessStorage } = await load('/src/storage/client.ts');
const { streamSampleLocation } = await load('/src/core/sample.ts');
const { createHlcClock } = await load('/src/core/hlc.ts');
const SQL = await initSqlJs();

const A = 'aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa';
const B = 'bbbbbbbb-bbbb-4bbb-8bbb-bbbbbbbbbbbb';
const LOC = 'cccccccc-cccc-4ccc-8ccc-cccccccccccc';
let t = 1_750_000_000_000;
const now = () => t;
const must = (r) => {
  if (!r.ok) throw new Error(`${r.error.type}: ${r.error.message}`);
  return r.value;
};
// synchronous (node:zlib): the unpack phase is then its own CPU time, not time spent waiting
// behind other pages' applies (as the simulator does, tests/support/sim/world.ts)
const syncCodec = {
  deflate: (b) => Promise.resolve(new Uint8Array(deflateRawSync(b))),
  inflate: (b, max) => Promise.resolve(new Uint8Array(inflateRawSync(b, { maxOutputLength: max }))),
};
const median = (xs) => [...xs].sort((a, b) => a - b)[xs.length >> 1];

async function device(idb, uuid, trace) {
  const engine = createStorageEngine({ sql: SQL, idb, now, imageDebounceMs: 3_600_000, imageMaxDelayMs: 3_600_000, pageCodec: syncCodec, ...(trace ? { trace } : {}) });
  const s = createInProcessStorage(engine);
  must(await s.call('open', { dbName: `device-${uuid}`, deviceUuid: uuid }));
  return s;
}

/** The owner's library: one location of N sample files, and its pages as served to a puller. */
async function ownerPages() {
  const a = await device(new IDBFactory(), A);
  const hlcs = createHlcClock({ device: A, now });
  let last = null;
  const clock = { next: () => ((t += 1), (last = hlcs.next())), now: () => last };
  const gen = streamSampleLocation({ seed: 'profile', count: N, owner: A, locationUuid: LOC, volumeUuid: null, name: 'Sample', now: t });
  let batch = [];
  const flush = async () => {
    if (batch.length) must(await a.call('commit', { changes: batch, hlc: clock.now() }));
    batch = [];
  };
  let location;
  for (let r = gen.next(); ; r = gen.next()) {
    if (r.done) {
      location = r.value;
      break;
    }
    batch.push({ kind: 'owned', model: 'entry', owner: A, uuid: r.value.uuid, hlc: clock.next(), data: r.value.data });
    if (batch.length === 1) {
      // the location first (entries wait for it otherwise)
      must(await a.call('commit', { changes: [{ kind: 'owned', model: 'location', owner: A, uuid: LOC, hlc: clock.next(), data: { device_uuid: A, volume_uuid: null, entry_uuid: null, name: 'Sample', path: '/Sample', index_mode: 'deep', total_file_count: 0, total_byte_size: 0, last_scan_at: null } }], hlc: clock.now() }));
    }
    if (batch.length >= 10_000) await flush();
  }
  await flush();
  must(await a.call('commit', { changes: [{ kind: 'owned', model: 'location', owner: A, uuid: LOC, hlc: clock.next(), data: location }], hlc: clock.now() }));
  const pages = [];
  let after = 0;
  for (;;) {
    const served = must(await a.call('servePages', { owner: A, after, count: 8 }));
    if (!served.pages.length) break;
    for (const p of served.pages) pages.push(p.bytes);
    after = served.pages[served.pages.length - 1].to;
    if (after >= served.held) break;
  }
  a.terminate();
  return pages;
}

async function receive(pages) {
  const phases = { unpack: 0, apply: 0, journal: 0, image: 0 };
  // CPU time (this process, user + system) per phase: wall time on a loaded machine is mostly
  // waiting for a core
  const cpuMs = () => {
    const u = process.cpuUsage();
    return (u.user + u.system) / 1000;
  };
  const b = await device(new IDBFactory(), B, (phase) => {
    const c0 = cpuMs();
    phases[`${phase}#`] = (phases[`${phase}#`] ?? 0) + 1;
    return () => void (phases[phase] += cpuMs() - c0);
  });
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  // a puller keeps a pull's pages in flight together (sync/stream.ts): all of them queued
  const results = await Promise.all(pages.map((bytes) => b.call('applyPage', { bytes: bytes.slice() })));
  for (const r of results) must(r);
  const wall = performance.now() - t0;
  const cpu = process.cpuUsage(cpu0);
  must(await b.call('snapshot', {}));
  const rows = must(await b.call('query', { sql: 'SELECT count(*) AS n FROM entries' }))[0].n;
  const hits = must(await b.call('query', { sql: "SELECT count(*) AS n FROM entries_fts WHERE entries_fts MATCH 'img*'" }))[0].n;
  const direct = must(await b.call('query', { sql: "SELECT count(*) AS n FROM entries WHERE name LIKE 'img%' OR name LIKE '% img%'" }))[0].n;
  b.terminate();
  return { wall, cpu: (cpu.user + cpu.system) / 1000, phases, rows, hits, direct };
}

/** The receiver's V8 profile (first run only): top functions by self time, and the file. */
async function profiled(fn) {
  const session = new Session();
  session.connect();
  await session.post('Profiler.enable');
  await session.post('Profiler.setSamplingInterval', { interval: 500 });
  await session.post('Profiler.start');
  const out = await fn();
  const { profile } = await session.post('Profiler.stop');
  session.disconnect();
  const dir = join(root, '.bench');
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'profile-apply.cpuprofile'), JSON.stringify(profile));
  const self = new Map();
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  profile.samples.forEach((id, i) => {
    const f = byId.get(id).callFrame;
    const k = `${f.functionName || '(anonymous)'} ${f.url.split('/').pop()}:${f.lineNumber + 1}`;
    self.set(k, (self.get(k) ?? 0) + (profile.timeDeltas[i] ?? 0) / 1000);
  });
  console.log('receiver, top self time (ms):');
  for (const [k, v] of [...self].sort((a, b) => b[1] - a[1]).slice(0, 20)) console.log(`  ${v.toFixed(0).padStart(6)}  ${k}`);
  console.log('  (.bench/profile-apply.cpuprofile)');
  return out;
}

const pages = await ownerPages();
console.log(`${N} files → ${pages.length} pages, ${(pages.reduce((n, p) => n + p.byteLength, 0) / 1e6).toFixed(1)} MB deflated`);
const runs = [];
for (let i = 0; i < RUNS; i++) {
  const r = PROFILE && i === 0 ? await profiled(() => receive(pages)) : await receive(pages);
  runs.push(r);
  const p = r.phases;
  console.log(`run ${i + 1}: wall ${r.wall.toFixed(0)} ms, cpu ${r.cpu.toFixed(0)} ms | unpack ${p.unpack.toFixed(0)} · apply ${p.apply.toFixed(0)} · journal ${p.journal.toFixed(0)} (${p["apply#"]} commits) | image export after ${p.image.toFixed(0)} | rows ${r.rows}, fts 'img*' ${r.hits} (LIKE ${r.direct})`);
  if (r.hits !== r.direct) console.log('  !! FTS does not match the rows');
}
if (RUNS > 1) {
  const m = (f) => median(runs.map(f)).toFixed(0);
  console.log(`median of ${RUNS}: wall ${m((r) => r.wall)} ms, cpu ${m((r) => r.cpu)} ms | unpack ${m((r) => r.phases.unpack)} · apply ${m((r) => r.phases.apply)} · journal ${m((r) => r.phases.journal)} | image ${m((r) => r.phases.image)}`);
}
await vite.close();
process.exit(0);
