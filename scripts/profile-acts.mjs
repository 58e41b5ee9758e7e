#!/usr/bin/env node
// Where tag/album acts spend their time as the library's tags and shared log grow (diagnosis,
// not a bench figure; decision 0019): one tab with a sample library of N files (default 1,000)
// runs rounds of 600 acts as the bench's `big` group does (scripts/bench-sync.mjs `acts`: 25 at
// a time, a third each createTag, updateTag rename, addToAlbum, then `durable()`), printing ms
// per round and the page's storage calls by kind. The V8 sampling profiler runs in the page's
// main thread and its storage worker during the last round; the top functions by self time
// per thread are printed and the .cpuprofile files written to .bench/.
//   scripts/netns.sh node scripts/profile-acts.mjs [N] [--rounds R] [--no-profile] [--trace]
// Serves dist-test/ (run `npm run build:test` first), or PROFILE_DIST (readable names:
// `npx vite build --mode test --minify false --outDir /tmp/prof`, then PROFILE_DIST=/tmp/prof).
import { mkdirSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { actRound } from './lib/acts.mjs';
import { attachProfiler } from './lib/cdp-profiler.mjs';
import { openProfiledApp } from './lib/profile-app.mjs';
import { assertNoPageErrors, watchContext } from './lib/page-errors.mjs';

const root = resolve(import.meta.dirname, '..');
const args = process.argv.slice(2);
const N = Number(args.find((a) => /^\d+$/.test(a)) ?? 1_000);
const ROUNDS = args.includes('--rounds') ? Number(args[args.indexOf('--rounds') + 1]) : 10;
const PROFILE = !args.includes('--no-profile');
/** `--trace`: a Chromium trace of the last round too, its renderer-main events summed by name
 *  (what the CPU profile calls "(program)": style, layout, paint, message decoding) */
const TRACE = args.includes('--trace');
const ROUND = 600;
const port = Number(process.env.BENCH_PROFILE_PORT ?? 4198);
const base = `http://127.0.0.1:${port}`;

const { dir, ctx } = await openProfiledApp(port, 'tabdrive-profile-acts-');
const errors = watchContext(ctx);
const profiler = PROFILE ? await attachProfiler(dir) : null;

const page = await ctx.newPage();
// the storage calls the page makes, by method (a query by its first words): how often the
// views read their lists per round
await page.addInitScript(() => {
  const calls = (globalThis.__storageCalls = {});
  const post = Worker.prototype.postMessage;
  Worker.prototype.postMessage = function (m, ...rest) {
    if (m && typeof m.method === 'string') {
      const k = m.method === 'query' ? `query ${String(m.params?.sql ?? '').replace(/\s+/g, ' ').slice(0, 60)}` : m.method;
      calls[k] = (calls[k] ?? 0) + 1;
    }
    return post.call(this, m, ...rest);
  };
});
await page.goto(`${base}/?signaling=`);
await page.waitForFunction(() => window.tabdrive?.device?.uuid, null, { timeout: 120_000 });
await page.evaluate(() => window.tabdrive.ready);
await page.evaluate((n) => window.tabdrive.actions.addSampleLocation('Acts', n), N);
const setup = await page.evaluate(async (k) => {
  const tdb = window.tabdrive;
  const entries = (await tdb.query("SELECT uuid FROM entries WHERE kind = 'file' LIMIT ?", [k])).map((r) => String(r.uuid));
  const album = await tdb.actions.createAlbum(`Acts ${Date.now()}`);
  return { entries, album: album.ok ? album.value.uuid : null };
}, Math.ceil((ROUNDS * ROUND) / 3));
if (!setup.album) throw new Error('createAlbum failed');

let cdp = null;
const traced = [];
async function startTrace() {
  cdp = await ctx.newCDPSession(page);
  cdp.on('Tracing.dataCollected', (e) => traced.push(...e.value));
  await cdp.send('Tracing.start', { categories: 'devtools.timeline,disabled-by-default-devtools.timeline,v8', transferMode: 'ReportEvents' });
}
async function stopTrace() {
  const done = new Promise((r) => cdp.once('Tracing.tracingComplete', r));
  await cdp.send('Tracing.end');
  await done;
  // the renderer's main thread: the thread that ran the most 'FunctionCall's of this page
  const calls = new Map();
  for (const e of traced) if (e.name === 'FunctionCall') calls.set(`${e.pid}:${e.tid}`, (calls.get(`${e.pid}:${e.tid}`) ?? 0) + 1);
  const main = [...calls].sort((a, b) => b[1] - a[1])[0]?.[0];
  const by = new Map();
  for (const e of traced) {
    if (`${e.pid}:${e.tid}` !== main || e.ph !== 'X' || !e.dur) continue;
    const v = by.get(e.name) ?? { us: 0, n: 0 };
    v.us += e.dur;
    v.n++;
    by.set(e.name, v);
  }
  const top = [...by].sort((a, b) => b[1].us - a[1].us).slice(0, 25);
  return `trace of the last round, renderer main thread (inclusive ms, count):\n${top.map(([k, v]) => `${(v.us / 1e3).toFixed(0).padStart(8)} ms ${String(v.n).padStart(7)}  ${k}`).join('\n')}`;
}
const docSize = () => page.evaluate(async () => { const s = await window.tabdrive.stats(); return `${s.documentSize} B, shared log ${s.sharedLog}, compactions ${s.autoCompactions}`; }).catch(() => "?");
const times = [];
for (let r = 0; r < ROUNDS; r++) {
  if (profiler && r === ROUNDS - 1) await profiler.start();
  if (TRACE && r === ROUNDS - 1) await startTrace();
  const t0 = Date.now();
  const bad = await page.evaluate(actRound, [r * ROUND, ROUND, setup]);
  const ms = Date.now() - t0;
  times.push(ms);
  const calls = await page.evaluate(() => {
    const c = globalThis.__storageCalls;
    const out = Object.entries(c).sort((a, b) => b[1] - a[1]).slice(0, 6);
    for (const k of Object.keys(c)) delete c[k];
    return out;
  });
  console.error(`  storage calls: ${calls.map(([k, n]) => `${n}× ${k}`).join(' | ')}`);
  console.error(`round ${r + 1}: acts ${(r + 1) * ROUND} — ${ms} ms (${(ms / ROUND).toFixed(1)} ms/act, ${bad} failed, document ${await docSize()})`);
}
console.log(`${N} files, rounds of ${ROUND} acts (ms): ${times.join(', ')}`);

if (TRACE) console.log(await stopTrace());
if (profiler) {
  mkdirSync(join(root, '.bench'), { recursive: true });
  const out = await profiler.stop({ outDir: join(root, '.bench'), prefix: 'profile-acts', top: 20, minBusyUs: 0.2e6 });
  console.log(`last round profiled:${out}`);
  profiler.close();
}
assertNoPageErrors([errors], "the acts");
await ctx.close();
rmSync(dir, { recursive: true, force: true });
process.exit(0);
