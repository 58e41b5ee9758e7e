#!/usr/bin/env node
// Where a backfill's time goes (diagnosis, not a bench figure): a fresh `?no-seed` tab
// backfills N entries (default 100,000) from tab A in the same browser while the V8 sampling
// profiler runs in every dedicated worker (the storage workers) and both pages' main threads.
// Prints the top functions by self time per thread; writes the .cpuprofile files to .bench/.
//   node scripts/profile-backfill.mjs [N]     (serves dist-test/: run `npm run build:test` first)
// Readable names: `npx vite build --mode test --minify false --outDir /tmp/prof` and
// PROFILE_DIST=/tmp/prof. Pages and workers are named in the order they attach: the first
// storage worker is tab A's (the sender), the second the new tab's (the receiver).
import { mkdirSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { attachProfiler } from './lib/cdp-profiler.mjs';
import { openProfiledApp } from './lib/profile-app.mjs';

const root = resolve(import.meta.dirname, '..');
const N = Number(process.argv[2] ?? 100_000);
const port = Number(process.env.BENCH_PROFILE_PORT ?? 4197);
const base = `http://127.0.0.1:${port}`;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

const { dir, ctx } = await openProfiledApp(port, 'tabdrive-profile-');
const profiler = await attachProfiler(dir);

const open = async (url) => {
  const p = await ctx.newPage();
  await p.goto(url);
  await p.waitForFunction(() => window.tabdrive?.device?.uuid, null, { timeout: 120_000 });
  await p.evaluate(() => window.tabdrive.ready);
  return p;
};
const a = await open(`${base}/?signaling=`);
console.error(`adding ${N} …`);
await a.evaluate((n) => window.tabdrive.actions.addSampleLocation('Profile', n), N);
const target = await a.evaluate(async () => Number((await window.tabdrive.query('SELECT count(*) AS n FROM entries'))[0].n));
await a.evaluate(() => window.tabdrive.snapshot());
await sleep(1000);
await profiler.start();
const t0 = Date.now();
const b = await ctx.newPage();
await b.goto(`${base}/?signaling=&new-device&no-seed`);
await b.waitForFunction(() => window.tabdrive?.device?.uuid, null, { timeout: 120_000 });
const count = () => b.evaluate(async () => Number((await window.tabdrive.query('SELECT count(*) AS n FROM entries'))[0].n)).catch(() => 0);
while ((await count()) < target && Date.now() - t0 < 600_000) await sleep(500);
const ms = Date.now() - t0;
console.error(`backfill of ${target} entries: ${ms} ms`);

mkdirSync(join(root, '.bench'), { recursive: true });
// the first storage worker is tab A's; idle pages (about:blank, A's main thread) say nothing
const out = await profiler.stop({
  outDir: join(root, '.bench'),
  prefix: 'profile',
  top: 12,
  minBusyUs: 0.5e6,
  label: (s, w) => (s.type === 'worker' ? (w === 0 ? ' (sender, tab A)' : ' (receiver, new tab)') : ''),
});
console.log(`backfill of ${target} entries into a ?no-seed tab: ${ms} ms${out}`);
profiler.close();
await ctx.close();
rmSync(dir, { recursive: true, force: true });
process.exit(0);
