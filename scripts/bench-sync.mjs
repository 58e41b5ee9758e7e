#!/usr/bin/env node
// Sync figures for `npm run bench` (DESIGN §10), each beside raw y-webrtc measured in the same
// run: change → row in the other device's SQLite (one-way, p50/p99) tab-to-tab and
// browser-to-browser, and a fresh device's backfill of 10k / 100k entries. Browser-to-browser
// needs a network namespace (scripts/netns.sh runs this script inside one when root).
// Writes .bench/sync.json; prints Markdown rows.
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { chromium } from 'playwright-core';
import { findChromium } from './lib/chromium.mjs';
import { assertNoPageErrors, watchContext } from './lib/page-errors.mjs';

const root = resolve(import.meta.dirname, '..');
const quick = process.argv.includes('--quick');
const APP = 4193;
const SIG = 4194;
const base = `http://127.0.0.1:${APP}`;
const signaling = `ws://127.0.0.1:${SIG}`;
const N_LAT = quick ? 40 : 150;
const SIZES = quick ? [10_000] : [10_000, 100_000];
const BACKFILL_RUNS = quick ? 1 : 3;
const ARGS = ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];

const pct = (xs, p) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)] : NaN;
};
const median = (xs) => {
  const s = xs.map((x) => (Number.isFinite(x) ? x : Infinity)).sort((a, b) => a - b); // did not finish: slowest
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};
const f = (x) => (Number.isFinite(x) ? (x >= 100 ? x.toFixed(0) : x.toFixed(1)) : '—');
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

const procs = [];
const start = (cmd, args, env = {}) => {
  const p = spawn(cmd, args, { cwd: root, stdio: 'ignore', detached: true, env: { ...process.env, ...env } });
  procs.push(p);
  return p;
};
const stopAll = () => procs.forEach((p) => { try { process.kill(-p.pid, 'SIGTERM'); } catch { /* gone */ } });
process.on('exit', stopAll);

const profiles = [];
/** every page of every browser launched: an error in one (app or raw baseline) fails the bench */
const watched = [];
async function launch() {
  const dir = mkdtempSync(join(tmpdir(), 'tabdrive-bench-sync-'));
  profiles.push(dir);
  const context = await chromium.launchPersistentContext(dir, { executablePath: findChromium(), headless: true, args: ARGS });
  watched.push(watchContext(context));
  return context;
}
async function app(context, url) {
  const page = await context.newPage();
  await page.goto(url);
  await page.waitForFunction(() => window.tabdrive?.device?.uuid, null, { timeout: 60_000 });
  await page.evaluate(() => window.tabdrive.ready);
  await page.evaluate(() => {
    window.__seen = [];
    addEventListener('tabdrive:commit', (e) => e.detail.origin === 'remote' && e.detail.tables.length && window.__seen.push(e.detail.at));
  });
  return page;
}
async function waitFor(fn, timeout = 30_000) {
  const t0 = Date.now();
  while (Date.now() - t0 < timeout) {
    if (await fn()) return true;
    await sleep(2);
  }
  return false;
}

/** ours: A creates a tag; the time until B's SQLite holds it. */
async function latencyOurs(a, b) {
  await waitFor(async () => (await b.evaluate(() => window.tabdrive.stats())).peers > 0);
  await sleep(500);
  const out = [];
  for (let i = 0; i < N_LAT; i++) {
    const before = await b.evaluate(() => window.__seen.length);
    const sent = await a.evaluate(async (i) => {
      const t = performance.timeOrigin + performance.now();
      await window.tabdrive.actions.createTag({ name: `lat-${i}` });
      return t;
    }, i);
    await waitFor(() => b.evaluate((n) => window.__seen.length > n, before), 10_000);
    const at = await b.evaluate((n) => window.__seen[n], before);
    out.push(at - sent);
    await sleep(10);
  }
  return out;
}

/** raw y-webrtc: A sets a map key; the time until B's doc observes it. */
async function latencyRaw(a, b) {
  await sleep(1500);
  const out = [];
  for (let i = 0; i < N_LAT; i++) {
    const key = `k${i}`;
    const sent = await a.evaluate((k) => window.raw.send(k), key);
    const ok = await waitFor(() => b.evaluate((k) => window.raw.seen.some((s) => s.key === k), key), 10_000);
    if (!ok) return out;
    out.push((await b.evaluate((k) => window.raw.seen.find((s) => s.key === k).at, key)) - sent);
    await sleep(10);
  }
  return out;
}

async function rawPages(ctxA, ctxB, room, sig) {
  const a = await ctxA.newPage();
  const b = await ctxB.newPage();
  for (const p of [a, b]) {
    await p.goto(`${base}/bench/`);
    await p.waitForFunction(() => window.bench?.ready === true);
    await p.evaluate(([room, sig]) => window.raw.start(room, sig), [room, sig]);
  }
  return [a, b];
}

async function main() {
  start('npx', ['vite', 'preview', '--mode', 'test', '--host', '127.0.0.1', '--port', String(APP), '--strictPort']);
  start('node', ['server/signaling.mjs'], { SIGNALING_PORT: String(SIG) });
  await waitFor(async () => { try { return (await fetch(`${base}/`)).ok; } catch { return false; } }, 30_000);
  const rows = [];
  const results = {};

  // Tab to tab: one browser, two pages.
  {
    const ctx = await launch();
    const a = await app(ctx, `${base}/?signaling=`);
    const b = await app(ctx, `${base}/?signaling=`);
    const ours = await latencyOurs(a, b);
    const [ra, rb] = await rawPages(ctx, ctx, `raw-tab-${Date.now()}`, []);
    const raw = await latencyRaw(ra, rb);
    results.tab = { ours, raw };
    rows.push(['change → other tab (p50 / p99)', `${f(pct(ours, 50))} / ${f(pct(ours, 99))}`, `${f(pct(raw, 50))} / ${f(pct(raw, 99))}`, 'p50 ≤ 10, p99 ≤ 50']);
    await ctx.close();
  }
  // Browser to browser: two Chromium processes, WebRTC via our signaling server.
  if (!process.argv.includes('--no-webrtc')) {
    const ctxA = await launch();
    const ctxB = await launch();
    const a = await app(ctxA, `${base}/?signaling=${signaling}`);
    await a.getByRole('button', { name: 'Invite' }).click();
    const hash = new URL(await a.getByRole('textbox', { name: 'Invite link' }).inputValue()).hash;
    const b = await app(ctxB, `${base}/?signaling=${signaling}${hash}`);
    const ours = await latencyOurs(a, b);
    const [ra, rb] = await rawPages(ctxA, ctxB, `raw-rtc-${Date.now()}`, [signaling]);
    const raw = await latencyRaw(ra, rb);
    results.browser = { ours, raw };
    rows.push(['change → other browser, WebRTC (p50 / p99)', `${f(pct(ours, 50))} / ${f(pct(ours, 99))}`, `${f(pct(raw, 50))} / ${f(pct(raw, 99))}`, 'p50 ≤ 20, p99 ≤ 80']);
    await ctxA.close();
    await ctxB.close();
  }
  // Backfill: a fresh device of a library holding N entries, at rest (its device has saved an
  // image, as it does within seconds of any change and whenever its tab is hidden). A new tab
  // starts from that image (storage engine S5); `tab, synced` is the same tab with ?no-seed,
  // the whole library over the BroadcastChannel; `browser` is another browser over WebRTC.
  // Each backfill runs BACKFILL_RUNS times (fresh browsers each time); the table gives medians.
  for (const n of SIZES) {
    for (const path of process.argv.includes('--no-webrtc') ? ['tab', 'tab, synced'] : ['tab', 'tab, synced', 'browser']) {
      const runs = [];
      for (let run = 0; run < BACKFILL_RUNS; run++) runs.push(await backfill(n, path));
      const ms = median(runs.map((r) => r.ms));
      const rawMs = median(runs.map((r) => r.rawMs));
      results[`backfill-${path}-${n}`] = { ms, rawMs, target: runs[0].target, runs };
      rows.push([
        `fresh device backfills ${n.toLocaleString('en')} entries, ${path} (ms, median of ${runs.length})`,
        Number.isFinite(ms) ? f(ms) : 'did not finish in 5 min',
        Number.isFinite(rawMs) ? `${f(rawMs)} (Y.Map only, no storage)` : 'never arrives (30 s)',
        path !== 'browser' ? (n >= 100_000 ? '≤ 4,000' : '—') : n >= 100_000 ? '≤ 6,000' : '—',
      ]);
    }
  }
  for (const d of profiles) rmSync(d, { recursive: true, force: true });
  stopAll();
  assertNoPageErrors(watched, 'the sync bench');
  mkdirSync(join(root, '.bench'), { recursive: true });
  writeFileSync(join(root, '.bench', 'sync.json'), JSON.stringify({ at: new Date().toISOString(), results }, null, 2));
  console.log(rows.map((r) => `| ${r.join(' | ')} |`).join('\n'));
}

/** One fresh device backfilling a library of n entries over `path`; ours and raw y-webrtc. */
async function backfill(n, path) {
  const ctxA = await launch();
  const a = await app(ctxA, `${base}/?signaling=${path === 'browser' ? signaling : ''}`);
  await a.evaluate((n) => window.tabdrive.actions.addSampleLocation('Backfill', n), n);
  const target = await a.evaluate(async () => Number((await window.tabdrive.query('SELECT count(*) AS n FROM entries'))[0].n));
  await a.evaluate(() => window.tabdrive.snapshot());
  let url = `${base}/?signaling=&new-device${path === 'tab' ? '' : '&no-seed'}`;
  let ctxB = ctxA;
  if (path === 'browser') {
    await a.getByRole('button', { name: 'Invite' }).click();
    const hash = new URL(await a.getByRole('textbox', { name: 'Invite link' }).inputValue()).hash;
    url = `${base}/?signaling=${signaling}${hash}`;
    ctxB = await launch();
  }
  const t0 = Date.now();
  const b = await ctxB.newPage();
  await b.goto(url);
  await b.waitForFunction(() => window.tabdrive?.device?.uuid, null, { timeout: 60_000 });
  const ok = await waitFor(async () => (await b.evaluate(async () => Number((await window.tabdrive.query('SELECT count(*) AS n FROM entries'))[0].n)).catch(() => 0)) >= target, 300_000);
  const ms = ok ? Date.now() - t0 : NaN;
  // raw y-webrtc: the same number of file records in one Y.Map; a fresh peer joins.
  const room = `raw-fill-${n}-${path}-${Date.now()}`;
  const sig = path === 'browser' ? [signaling] : [];
  const ra = await ctxA.newPage();
  await ra.goto(`${base}/bench/`);
  await ra.waitForFunction(() => window.bench?.ready === true);
  await ra.evaluate(([room, sig]) => window.raw.start(room, sig), [room, sig]);
  await ra.evaluate((n) => window.raw.fill(n), n);
  const rb = await ctxB.newPage();
  await rb.goto(`${base}/bench/`);
  await rb.waitForFunction(() => window.bench?.ready === true);
  const t1 = Date.now();
  await rb.evaluate(([room, sig]) => window.raw.start(room, sig), [room, sig]);
  const rok = await waitFor(() => rb.evaluate((n) => window.raw.size() >= n, n), 30_000);
  const rawMs = rok ? Date.now() - t1 : NaN;
  if (ctxB !== ctxA) await ctxB.close();
  await ctxA.close();
  return { ms, target, rawMs };
}

main().catch((e) => {
  console.error(e);
  stopAll();
  process.exit(1);
});
