#!/usr/bin/env node
// App figures of `npm run bench` (issue "The app" §10), in Chromium on the test build
// (the production app plus hooks, dist-test/, served here on BENCH_APP_PORT, default 4183).
// Prints Markdown table rows:
//  - indexing rate of a generated 10k-file folder through the "Folder" input, beside the
//    bare cost of reading and SHA-256-hashing the same files whole in the same page;
//  - "Search files" latency at 100k entries (FTS4 prefix query, count + first page, as the
//    explorer runs it) beside a LIKE scan of the same names;
//  - the longest main-thread task (and total long-task time) on a fresh tab while a
//    100k-entry library syncs into it, beside the same figures on the sending tab.
//   node scripts/bench-app.mjs [--quick]
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';
import { ensureChromium } from './lib/chromium.mjs';
import { assertNoPageErrors, watchContext } from './lib/page-errors.mjs';

const quick = process.argv.includes('--quick');
const port = Number(process.env.BENCH_APP_PORT ?? 4183);
const base = `http://127.0.0.1:${port}`;
const FILES = quick ? 2_000 : 10_000;
const ENTRIES = quick ? 10_000 : 100_000;
const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};
const f = (x) => (x >= 100 ? x.toFixed(0) : x.toFixed(1));
const rows = [];

function makeFolder() {
  const dir = mkdtempSync(join(tmpdir(), 'tabdrive-bench-folder-'));
  const root = join(dir, 'Bench');
  let seed = 1;
  const rand = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
  for (let d = 0; d < FILES / 100; d++) {
    mkdirSync(join(root, `dir${d % 10}`, `sub${d}`), { recursive: true });
    for (let i = 0; i < 100; i++) {
      const n = 200 + Math.floor(rand() * 20_000);
      writeFileSync(join(root, `dir${d % 10}`, `sub${d}`, `file-${d}-${i}.${['jpg', 'txt', 'pdf', 'mp3'][i % 4]}`), Buffer.alloc(n, (d * 7 + i) & 0xff));
    }
  }
  return { dir, root };
}

async function main() {
  const server = spawn('npx', ['vite', 'preview', '--mode', 'test', '--host', '127.0.0.1', '--port', String(port), '--strictPort'], {
    cwd: join(import.meta.dirname, '..'), stdio: 'ignore', detached: true,
  });
  process.on('exit', () => {
    try {
      process.kill(-server.pid, 'SIGTERM');
    } catch {
      /* gone */
    }
  });
  for (let i = 0; i < 100 && !(await fetch(base).then((r) => r.ok, () => false)); i++) await new Promise((r) => setTimeout(r, 200));
  const profile = mkdtempSync(join(tmpdir(), 'tabdrive-bench-app-'));
  const ctx = await chromium.launchPersistentContext(profile, {
    executablePath: ensureChromium(), headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  const watch = watchContext(ctx); // an error in a measured page fails the bench (scripts/lib/page-errors.mjs)
  const open = async () => {
    const p = await ctx.newPage();
    await p.addInitScript(() => {
      const lt = { longest: 0, total: 0, count: 0 };
      window.__longtasks = lt;
      new PerformanceObserver((l) => {
        for (const e of l.getEntries()) {
          lt.longest = Math.max(lt.longest, e.duration);
          lt.total += e.duration;
          lt.count++;
        }
      }).observe({ type: 'longtask', buffered: true });
    });
    await p.goto(`${base}/?signaling=`);
    await p.waitForFunction(() => window.tabdrive?.device?.uuid);
    await p.evaluate(() => window.tabdrive.ready);
    return p;
  };
  const { dir, root } = makeFolder();
  try {
    // ── indexing ────────────────────────────────────────────────────────────────
    const a = await open();
    await a.bringToFront();
    const t0 = Date.now();
    await a.getByLabel('Folder', { exact: true }).setInputFiles(root);
    await a.waitForFunction((n) => document.querySelector('nav [role="status"]')?.textContent?.includes(`${n.toLocaleString('en')} files`), FILES, { timeout: 600_000 });
    const indexMs = Date.now() - t0;
    // baseline: read every file whole and SHA-256 it, in the same page (no database, no sync)
    await a.evaluate(() => {
      const i = document.createElement('input');
      i.type = 'file';
      i.webkitdirectory = true;
      i.id = 'bench-raw';
      document.body.append(i);
    });
    const t1 = Date.now();
    await a.locator('#bench-raw').setInputFiles(root);
    const rawMs = (Date.now() - t1) + (await a.evaluate(async () => {
      const s = performance.now();
      for (const file of document.querySelector('#bench-raw').files) await crypto.subtle.digest('SHA-256', await file.arrayBuffer());
      return performance.now() - s;
    }));
    rows.push(`| indexing a ${FILES.toLocaleString('en')}-file folder (files/s) | ${f(FILES / (indexMs / 1000))} files/s (${f(indexMs)} ms) | read + hash only: ${f(FILES / (rawMs / 1000))} files/s (${f(rawMs)} ms) | — |`);
    console.error(`indexing: ${indexMs} ms, raw ${rawMs} ms`);

    // ── search at 100k ────────────────────────────────────────────────────────────
    const filled = await a.evaluate(async (n) => {
      const s = performance.now();
      const r = await window.tabdrive.actions.addSampleLocation('Bench sample', n);
      return r.ok ? performance.now() - s : -1;
    }, ENTRIES);
    console.error(`filled ${ENTRIES} in ${filled} ms`);
    const terms = ['img', 'ta', 'rep', 'mo', 'dsc', 'no', 'be', 'inv', 'tr', 'sc', 'doc', 'pho', 'vi', 'song', 'ar', 'ba', 'fi', 're', 'im', 'pa'];
    const search = await a.evaluate(async (terms) => {
      const fts = [];
      const like = [];
      for (const t of terms) {
        let s = performance.now();
        await window.tabdrive.query('SELECT count(*) AS c FROM entries_fts WHERE entries_fts MATCH ?', [`${t}*`]);
        await window.tabdrive.query(
          "SELECT e.uuid, e.name FROM entries_fts f JOIN entries e ON e.rowid = f.docid WHERE entries_fts MATCH ? ORDER BY e.kind = 'file', e.name COLLATE NOCASE LIMIT 200",
          [`${t}*`],
        );
        fts.push(performance.now() - s);
        s = performance.now();
        await window.tabdrive.query('SELECT count(*) AS c FROM entries WHERE name LIKE ?', [`%${t}%`]);
        await window.tabdrive.query("SELECT uuid, name FROM entries WHERE name LIKE ? ORDER BY kind = 'file', name COLLATE NOCASE LIMIT 200", [`%${t}%`]);
        like.push(performance.now() - s);
      }
      return { fts, like };
    }, terms);
    rows.push(`| "Search files" at ${ENTRIES.toLocaleString('en')} entries, p50 (count + first page) | ${f(median(search.fts))} | LIKE scan: ${f(median(search.like))} | — |`);

    // scrolling the explorer through a large result list: frame intervals while the
    // virtualized list jumps through it (each jump fetches and renders a new window)
    const jpgs = await a.evaluate(async () => Number((await window.tabdrive.query("SELECT count(*) AS n FROM entries_fts WHERE entries_fts MATCH 'jpg*'"))[0].n));
    await a.getByRole('searchbox', { name: 'Search files' }).fill('jpg');
    await a.waitForFunction((n) => (document.querySelector('main')?.textContent ?? '').includes(`${n.toLocaleString('en')} matches`), jpgs);
    const scroll = await a.evaluate(async () => {
      const vp = document.querySelector('main .viewport');
      const total = Number(/([\d,]+) matches/.exec(document.querySelector('main').textContent)[1].replace(/,/g, ''));
      const frames = [];
      let last = performance.now();
      for (let i = 0; i < 120; i++) {
        vp.scrollTop = (vp.scrollHeight * i) / 120;
        await new Promise((r) => requestAnimationFrame(() => r(undefined)));
        const now = performance.now();
        frames.push(now - last);
        last = now;
      }
      frames.sort((x, y) => x - y);
      return { total, p50: frames[60], p95: frames[113], max: frames[119] };
    });
    rows.push(`| scrolling ${scroll.total.toLocaleString('en')} search results (120 jumps), frame interval p50 / p95 / max | ${f(scroll.p50)} / ${f(scroll.p95)} / ${f(scroll.max)} | — | 16.7 per frame |`);

    // ── frame budget while 100k entries sync into a fresh tab ─────────────────────
    await a.evaluate(() => Object.assign(window.__longtasks, { longest: 0, total: 0, count: 0 }));
    const t2 = Date.now();
    const b = await open();
    const want = await a.evaluate(async () => Number((await window.tabdrive.query('SELECT count(*) AS n FROM entries'))[0].n));
    await b.waitForFunction(async (want) => Number((await window.tabdrive.query('SELECT count(*) AS n FROM entries'))[0].n) >= want, want, { timeout: 600_000, polling: 500 });
    const syncMs = Date.now() - t2;
    const [lb, la] = [await b.evaluate(() => window.__longtasks), await a.evaluate(() => window.__longtasks)];
    rows.push(`| longest main-thread task while ${want.toLocaleString('en')} entries sync into a new tab (${f(syncMs)} ms) | ${f(lb.longest)} (total ${f(lb.total)} in ${lb.count} long tasks) | sending tab: ${f(la.longest)} (total ${f(la.total)}) | ≤ 50 per frame |`);
    await ctx.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
    rmSync(profile, { recursive: true, force: true });
  }
  assertNoPageErrors([watch], 'the app bench');
  for (const r of rows) console.log(r);
  process.exit(0);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
