#!/usr/bin/env node
// The acknowledged user write through the whole path (issue 10: intent → durable, p50 ≤ 5 ms),
// alone: one tab holding a sample location of N entries (default 1,000) makes K tags one at
// a time (`createTag`, then `durable()`, 5 ms apart as a person would), and prints p50 / p99
// of the whole and of the intent alone. The bench's --big run measures the same at 1M among
// everything else; this is the quick loop while working on the path.
//   node scripts/profile-writes.mjs [N] [K] [--reload] [--cpu-prof]   (--reload: right after a
//   reload and the first query, as the bench measures; --cpu-prof: V8 profiles of the page and
//   its workers during the writes, top functions printed, files in .bench/; serves dist-test/:
//   `npm run build:test` first)
import { mkdirSync } from 'node:fs';
import { resolve } from 'node:path';
import { attachProfiler } from './lib/cdp-profiler.mjs';
import { openProfiledApp } from './lib/profile-app.mjs';

const N = Number(process.argv[2] ?? 1_000);
const K = Number(process.argv[3] ?? 100);
const { base, ctx, dir } = await openProfiledApp(Number(process.env.BENCH_PROFILE_PORT ?? 4199), 'tabdrive-writes-');
const p = await ctx.newPage();
await p.goto(`${base}/?signaling=`);
await p.waitForFunction(() => window.tabdrive?.device?.uuid, null, { timeout: 120_000 });
await p.evaluate(() => window.tabdrive.ready);
await p.evaluate((n) => window.tabdrive.actions.addSampleLocation('Writes', n), N);
await new Promise((r) => setTimeout(r, 3000)); // the image after the add, out of the way
if (process.argv.includes('--reload')) {
  // as the bench does: right after a reload and the first query
  await p.evaluate(() => window.tabdrive.snapshot());
  await p.reload();
  await p.waitForFunction(() => window.tabdrive?.device?.uuid, null, { timeout: 120_000 });
  await p.evaluate(async () => {
    await window.tabdrive.ready;
    await window.tabdrive.query("SELECT uuid, name, size FROM entries WHERE kind = 'file' ORDER BY name LIMIT 50");
  });
}
const profiler = process.argv.includes('--cpu-prof') ? await attachProfiler(dir) : null;
await profiler?.start();
const r = await p.evaluate(async (k) => {
  const whole = [];
  const intent = [];
  for (let i = 0; i < k; i++) {
    const t0 = performance.now();
    const made = await window.tabdrive.actions.createTag({ name: `write-${i}-${Date.now()}` });
    const t1 = performance.now();
    await window.tabdrive.durable();
    if (!made.ok) throw new Error(made.error.message);
    whole.push(performance.now() - t0);
    intent.push(t1 - t0);
    await new Promise((res) => setTimeout(res, 5));
  }
  return { whole, intent };
}, K);
const pct = (xs, q) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.ceil((q / 100) * xs.length) - 1)].toFixed(1);
console.log(`${N.toLocaleString('en')} entries, ${K} writes: createTag → durable p50 ${pct(r.whole, 50)} / p99 ${pct(r.whole, 99)} ms; the intent alone p50 ${pct(r.intent, 50)} / p99 ${pct(r.intent, 99)} ms`);
if (profiler) {
  const out = resolve(import.meta.dirname, '..', '.bench');
  mkdirSync(out, { recursive: true });
  console.log(await profiler.stop({ outDir: out, prefix: 'profile-writes', top: 25, minBusyUs: 0.1e6 }));
  profiler.close();
}
await ctx.close();
process.exit(0);
