#!/usr/bin/env node
// `npm run bench` — performance figures of DESIGN §10 in real Chromium on the production
// build, each beside its baseline measured in the same run (the machines are shared and
// noisy: read ratios, not absolutes). Prints a Markdown table and writes .bench/latest.json.
//
//   npm run bench                   all scenarios
//   npm run bench -- --quick        smaller sizes (smoke run)
//   npm run bench -- --only write   one group: write | cold | sync | transport | app | relay | files | big
//   npm run bench -- --big          also the 1,000,000-entry library of issue 10 (= --only big
//                                   alone): cold load at 1M, then scripts/bench-sync.mjs --big
//                                   (BENCH_BIG=300000 for a smaller "big" library)
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { chromium } from 'playwright-core';
import { ensureChromium } from './lib/chromium.mjs';
import { assertNoPageErrors, watchContext } from './lib/page-errors.mjs';

const root = resolve(import.meta.dirname, '..');
const args = process.argv.slice(2);
const quick = args.includes('--quick');
const only = args.includes('--only') ? args[args.indexOf('--only') + 1] : null;
const big = args.includes('--big') || only === 'big';
const BIG = Number(process.env.BENCH_BIG ?? (quick ? 100_000 : 1_000_000));
const port = Number(process.env.BENCH_PORT ?? 4180);
const base = `http://127.0.0.1:${port}`;

const SIZES_WRITE = quick ? [1_000, 10_000] : [1_000, 100_000];
const SIZES_COLD = [...(only === 'big' ? [] : quick ? [10_000] : [10_000, 100_000]), ...(big ? [BIG] : [])];
const WRITES = quick ? 30 : 60;
const NAIVE_WRITES = quick ? 10 : 20;
const COLD_RUNS = quick ? 2 : 3;

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length === 0 ? NaN : s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};
const pct = (xs, p) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length === 0 ? NaN : s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)];
};
/** the Markdown tables a sub-bench printed (its `|` lines; a blank line between tables) */
const tablesOf = (out) => (out ?? '').split('\n').filter((l) => l.startsWith('|') || l === '').join('\n').replace(/\n{3,}/g, '\n\n').trim();
const f = (x) => (Number.isFinite(x) ? (x >= 100 ? x.toFixed(0) : x.toFixed(1)) : '—');

async function main() {
  const exe = ensureChromium();
  if (!exe) process.exit(1);
  console.log('building production bundle …');
  // the test build: bench pages and the worker's naive baseline (vite.config.ts)
  const b = spawnSync('npx', ['vite', 'build', '--mode', 'test', '--logLevel', 'warn'], { cwd: root, stdio: 'inherit' });
  if (b.status !== 0) process.exit(1);

  const server = spawn('npx', ['vite', 'preview', '--mode', 'test', '--host', '127.0.0.1', '--port', String(port), '--strictPort'], {
    cwd: root,
    stdio: 'ignore',
    detached: true,
  });
  const killServer = () => {
    try {
      process.kill(-server.pid, 'SIGTERM');
    } catch {
      /* already gone */
    }
  };
  process.on('exit', killServer);
  for (let i = 0; i < 100; i++) {
    try {
      if ((await fetch(`${base}/bench/`)).ok) break;
    } catch {
      /* not up yet */
    }
    await new Promise((r) => setTimeout(r, 200));
  }

  const profile = mkdtempSync(join(tmpdir(), 'tabdrive-bench-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: exe,
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
      '--disable-component-update', '--disable-sync'],
  });
  // Figures from a page that threw or logged an error are not figures: the page-error rule of
  // the tests (scripts/lib/page-errors.mjs) fails the bench too, after the browser part.
  const watch = watchContext(context);
  const page = context.pages()[0] ?? (await context.newPage());
  const open = async (query = '') => {
    await page.goto(`${base}/bench/${query}`);
    await page.waitForFunction(() => window.bench?.ready === true, null, { timeout: big ? 600_000 : 60_000 });
  };

  const rows = [];
  const results = { at: new Date().toISOString(), quick, write: [], cold: [] };

  if (!only || only === 'write') {
    for (const n of SIZES_WRITE) {
      await open();
      const db = `bench-write-${n}-${Date.now()}`;
      const fill = await page.evaluate(([db, n]) => window.bench.fill(db, n), [db, n]);
      console.log(`filled ${n} entries in ${f(fill.ms)} ms (${(fill.imageBytes / 1e6).toFixed(1)} MB image)`);
      const ours = await page.evaluate(([db, k]) => window.bench.writes(db, k), [db, WRITES]);
      const naive = await page.evaluate(([db, k]) => window.bench.naive(db, k), [db, NAIVE_WRITES]);
      const r = { n, ours, naive, fill };
      results.write.push(r);
      rows.push([
        `acknowledged write, ${n.toLocaleString('en')} entries`,
        `${f(median(ours))} / ${f(pct(ours, 99))}`,
        `${f(median(naive))} / ${f(pct(naive, 99))}`,
        `${(median(naive) / median(ours)).toFixed(0)}× faster`,
        'p50 ≤ 15 ms (§10: ≤ 5), flat',
      ]);
    }
  }

  if (!only || only === 'cold' || only === 'big') {
    for (const n of SIZES_COLD) {
      await open();
      const db = `bench-cold-${n}-${Date.now()}`;
      const fill = await page.evaluate(([db, n]) => window.bench.fill(db, n), [db, n]);
      console.log(`cold: filled ${n} entries in ${f(fill.ms)} ms (${(fill.imageBytes / 1e6).toFixed(1)} MB image)`);
      const runs = [];
      const raw = [];
      for (let i = 0; i < COLD_RUNS; i++) {
        await open(`?cold=${encodeURIComponent(db)}`);
        runs.push(await page.evaluate(() => window.bench.coldResult));
        await open(`?rawcold=${encodeURIComponent(db)}`);
        raw.push(await page.evaluate(() => window.bench.coldResult));
      }
      results.cold.push({ n, runs, raw });
      const ms = runs.map((r) => r.ms);
      const rawMs = raw.map((r) => r.ms);
      rows.push([
        `reload → first query, ${n.toLocaleString('en')} entries`,
        `${f(median(ms))} (${runs.map((r) => f(r.ms)).join(', ')})`,
        `${f(median(rawMs))}`,
        `${(median(ms) / median(rawMs)).toFixed(2)}× raw`,
        n >= 1_000_000 ? '≤ 2,000 ms (issue 10)' : n >= 100_000 ? '≤ 700 ms' : '—',
      ]);
    }
  }

  await context.close();
  rmSync(profile, { recursive: true, force: true });
  killServer();
  assertNoPageErrors([watch], 'the storage bench');

  // Sync figures (tab and browser latency, backfill) beside raw y-webrtc: browser-to-browser
  // WebRTC runs inside a private network namespace (root), never on a real interface.
  let syncRows = '';
  if (!only || only === 'sync') {
    const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
    const extra = [...(quick ? ['--quick'] : []), ...(isRoot ? [] : ['--no-webrtc'])];
    const cmd = isRoot ? ['scripts/netns.sh', 'node', 'scripts/bench-sync.mjs', ...extra] : ['node', 'scripts/bench-sync.mjs', ...extra];
    const r = spawnSync(cmd[0], cmd.slice(1), { cwd: root, encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, CHROMIUM_PATH: exe } });
    syncRows = tablesOf(r.stdout);
    if (r.status !== 0) console.error('sync bench failed (its log is above)');
  }
  // The 1M library (issue 10): adding it, backfills into a fresh tab and browser, reload →
  // first query, acknowledged writes and the sync document at 1M (.bench/big.json).
  let bigRows = '';
  if (big) {
    const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
    const extra = ['--big', ...(quick ? ['--quick'] : []), ...(isRoot ? [] : ['--no-webrtc'])];
    const cmd = isRoot ? ['scripts/netns.sh', 'node', 'scripts/bench-sync.mjs', ...extra] : ['node', 'scripts/bench-sync.mjs', ...extra];
    const r = spawnSync(cmd[0], cmd.slice(1), { cwd: root, encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, CHROMIUM_PATH: exe, BENCH_BIG: String(BIG) } });
    bigRows = tablesOf(r.stdout);
    if (r.status !== 0) console.error('big-library bench failed (its log is above)');
  }

  // Bare transport (no storage): our provider beside raw y-webrtc, tab and WebRTC, in the
  // test network namespace (tests/webrtc/transport-bench.spec.ts; skipped by `npm test`).
  let transportRows = '';
  if ((!only || only === 'transport') && !quick) {
    const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
    const pw = ['npx', 'playwright', 'test', '-c', 'playwright.webrtc.config.ts', 'tests/webrtc/transport-bench.spec.ts', '--reporter=list'];
    const cmd = isRoot ? ['scripts/netns.sh', ...pw] : pw;
    const r = spawnSync(cmd[0], cmd.slice(1), { cwd: root, encoding: 'utf8', env: { ...process.env, CHROMIUM_PATH: exe, TRANSPORT_BENCH: '1' } });
    transportRows = (r.stdout ?? '').split('\n').filter((l) => l.startsWith('|') && !l.startsWith('| what') && !l.startsWith('|---')).join('\n');
    if (r.status !== 0) console.error(`transport bench failed:\n${r.stdout?.slice(-3000)}\n${r.stderr}`);
  }

  // Relay figures (issue 12): a 100k catch-up from the relay alone beside the raw download of
  // the same bytes; bytes against the compressed snapshot; relay memory under 10 catch-ups.
  let relayRows = '';
  if (!only || only === 'relay') {
    const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
    const cmd = [...(isRoot ? ['scripts/netns.sh'] : []), 'node', 'scripts/bench-relay.mjs', ...(quick ? ['--quick'] : [])];
    const r = spawnSync(cmd[0], cmd.slice(1), { cwd: root, encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, CHROMIUM_PATH: exe } });
    relayRows = tablesOf(r.stdout);
    if (r.status !== 0) console.error('relay bench failed (its log is above)');
  }

  // App figures: indexing a real folder, search at 100k, frame budget during a backfill.
  let appRows = '';
  if (!only || only === 'app') {
    const r = spawnSync('node', ['scripts/bench-app.mjs', ...(quick ? ['--quick'] : [])], {
      cwd: root, encoding: 'utf8', env: { ...process.env, CHROMIUM_PATH: exe },
    });
    appRows = (r.stdout ?? '').split('\n').filter((l) => l.startsWith('|')).join('\n');
    if (r.status !== 0) console.error(`app bench failed:\n${r.stderr}`);
  }

  // The files themselves (issue 14): "Get from device" of a 200 MB file over WebRTC beside a
  // bare data channel between the same two pages, and thumbnails while indexing 10k images
  // beside indexing without them (tests/webrtc/files-bench.spec.ts; skipped by `npm test`).
  let filesRows = '';
  if ((!only || only === 'files') && !quick) {
    const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
    const pw = ['npx', 'playwright', 'test', '-c', 'playwright.webrtc.config.ts', 'tests/webrtc/files-bench.spec.ts', '--reporter=list'];
    const cmd = isRoot ? ['scripts/netns.sh', ...pw] : pw;
    const r = spawnSync(cmd[0], cmd.slice(1), { cwd: root, encoding: 'utf8', env: { ...process.env, CHROMIUM_PATH: exe, FILES_BENCH: '1' } });
    filesRows = (r.stdout ?? '').split('\n').filter((l) => l.startsWith('|')).join('\n');
    if (r.status !== 0) console.error(`files bench failed:\n${r.stdout?.slice(-3000)}\n${r.stderr}`);
  }

  const header = ['figure', 'tabdrive (ms) p50 / p99', 'baseline (ms) p50 / p99', 'ratio', 'target'];
  const table = [
    `| ${header.join(' | ')} |`,
    `|${header.map(() => '---').join('|')}|`,
    ...rows.map((r) => `| ${r.join(' | ')} |`),
  ].join('\n');
  const syncTable = (syncRows ? `\n${syncRows}` : '') + (bigRows ? `\n\n${bigRows}` : '') + (transportRows ? ['', '', '| transport figure (bare Y.Doc, no storage) | provider | path | p50 ms | p99 ms | other |', '|---|---|---|---|---|---|', transportRows].join('\n') : '') + (relayRows ? `\n\n${relayRows}` : '') + (appRows ? ['', '', '| app figure | tabdrive (ms) | baseline (same page) | target |', '|---|---|---|---|', appRows].join('\n') : '') + (filesRows ? `\n\n${filesRows}` : '');
  console.log('\nBaselines: write = insert + db.export() + put whole image (naive), same page, same run;');
  console.log('cold = raw sql.js cold load of the same image (initSqlJs + IDB get + open + count).\n');
  console.log(table + '\n' + syncTable);
  mkdirSync(join(root, '.bench'), { recursive: true });
  writeFileSync(join(root, '.bench', 'latest.json'), JSON.stringify({ ...results, load: readFileSync('/proc/loadavg', 'utf8').trim(), table }, null, 2));
  writeFileSync(join(root, '.bench', 'latest.md'), table + '\n' + syncTable + '\n');
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
