#!/usr/bin/env node
// Where reload → first query goes (issue 10: ≤ 2 s at 1M): one tab holding a sample location
// of N entries (default 1,000,000) is reloaded R times (default 3); each run prints the time to
// the page's boot report, the storage engine's own open time (`boot.ms`), the time to
// `tabdrive.ready` and to the bench's first query, and the worker's console lines (a build with
// timing logs in the worker shows them here). The bench's --big run measures the same figure
// among everything else; this is the quick loop while working on the path.
//   node scripts/profile-reload.mjs [N] [R]   (serves dist-test/: `npm run build:test` first)
import { openProfiledApp } from './lib/profile-app.mjs';

const N = Number(process.argv[2] ?? 1_000_000);
const R = Number(process.argv[3] ?? 3);
const { base, ctx } = await openProfiledApp(Number(process.env.BENCH_PROFILE_PORT ?? 4198), 'tabdrive-reload-');
const p = await ctx.newPage();
const lines = [];
p.on('console', (m) => lines.push(m.text()));
p.on('worker', (w) => w.on('console', (m) => lines.push(`[worker] ${m.text()}`)));
await p.goto(`${base}/?signaling=`);
await p.waitForFunction(() => window.tabdrive?.device?.uuid, null, { timeout: 120_000 });
await p.evaluate(() => window.tabdrive.ready);
const t0 = Date.now();
await p.evaluate((n) => window.tabdrive.actions.addSampleLocation('Reload', n), N);
console.log(`added ${N} entries in ${Date.now() - t0} ms`);
await p.evaluate(() => window.tabdrive.snapshot());
for (let i = 0; i < R; i++) {
  lines.length = 0;
  await p.evaluate(() => window.tabdrive.snapshot());
  const start = Date.now();
  await p.reload();
  await p.waitForFunction(() => window.tabdrive?.device?.uuid, null, { timeout: 120_000, polling: 10 });
  const booted = Date.now() - start;
  const r = await p.evaluate(async () => {
    const t = performance.now();
    await window.tabdrive.ready;
    const ready = performance.now();
    await window.tabdrive.query("SELECT uuid, name, size FROM entries WHERE kind = 'file' ORDER BY name LIMIT 50");
    const q = performance.now();
    return { readyWait: ready - t, query: q - ready, engineMs: window.tabdrive.boot?.ms ?? null, source: window.tabdrive.boot?.source, frames: window.tabdrive.boot?.replayedFrames };
  });
  console.log(`run ${i + 1}: first query at ${Date.now() - start} ms (boot report at ${booted} ms; engine open ${Math.round(r.engineMs)} ms; then ready +${Math.round(r.readyWait)} ms, query ${Math.round(r.query)} ms; source ${r.source}, ${r.frames} frames)`);
  for (const l of lines) console.log(`    ${l}`);
}
await ctx.close();
process.exit(0);
