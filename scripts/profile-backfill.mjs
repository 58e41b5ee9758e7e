#!/usr/bin/env node
// Where a backfill's time goes (diagnosis, not a bench figure): a fresh `?no-seed` tab
// backfills N entries (default 100,000) from tab A in the same browser while the V8 sampling
// profiler runs in every dedicated worker (the storage workers) and both pages' main threads.
// Prints the top functions by self time per thread; writes the .cpuprofile files to .bench/.
//   node scripts/profile-backfill.mjs [N]     (serves dist-test/: run `npm run build:test` first)
// Readable names: `npx vite build --mode test --minify false --outDir /tmp/prof` and
// PROFILE_DIST=/tmp/prof. Pages and workers are named in the order they attach: the first
// storage worker is tab A's (the sender), the second the new tab's (the receiver).
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { chromium } from 'playwright-core';
import WebSocket from 'ws';
import { findChromium } from './lib/chromium.mjs';

const root = resolve(import.meta.dirname, '..');
const N = Number(process.argv[2] ?? 100_000);
const port = Number(process.env.BENCH_PROFILE_PORT ?? 4197);
const base = `http://127.0.0.1:${port}`;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

const dist = process.env.PROFILE_DIST ? ['--outDir', process.env.PROFILE_DIST] : [];
const server = spawn('npx', ['vite', 'preview', '--mode', 'test', ...dist, '--host', '127.0.0.1', '--port', String(port), '--strictPort'], { cwd: root, stdio: 'ignore', detached: true });
process.on('exit', () => { try { process.kill(-server.pid, 'SIGTERM'); } catch { /* gone */ } });
for (let i = 0; i < 150 && !(await fetch(base).then((r) => r.ok, () => false)); i++) await sleep(200);

const dir = mkdtempSync(join(tmpdir(), 'tabdrive-profile-'));
const ctx = await chromium.launchPersistentContext(dir, {
  executablePath: findChromium(), headless: true,
  args: ['--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--remote-debugging-port=0'],
});
let wsUrl = null;
for (let i = 0; i < 50 && !wsUrl; i++) {
  try {
    const [p, path] = readFileSync(join(dir, 'DevToolsActivePort'), 'utf8').trim().split('\n');
    wsUrl = `ws://127.0.0.1:${p}${path}`;
  } catch {
    await sleep(100);
  }
}
// one raw CDP connection (flat sessions): every worker and page target gets the profiler
const ws = new WebSocket(wsUrl, { perMessageDeflate: false, maxPayload: 1 << 30 });
await new Promise((r) => ws.once('open', r));
let id = 0;
const waiting = new Map();
const sessions = new Map(); // sessionId → { type, url }
const send = (method, params = {}, sessionId) => new Promise((res, rej) => {
  const m = ++id;
  waiting.set(m, { res, rej });
  ws.send(JSON.stringify({ id: m, method, params, ...(sessionId ? { sessionId } : {}) }));
});
ws.on('message', async (raw) => {
  const msg = JSON.parse(raw.toString());
  if (msg.id && waiting.has(msg.id)) {
    const w = waiting.get(msg.id);
    waiting.delete(msg.id);
    if (msg.error) w.rej(new Error(msg.error.message));
    else w.res(msg.result);
    return;
  }
  if (msg.method === 'Target.attachedToTarget') {
    const { sessionId, targetInfo } = msg.params;
    sessions.set(sessionId, { type: targetInfo.type, url: targetInfo.url, started: false });
    // nested auto-attach: a page's dedicated workers attach under the page's session
    send('Target.setAutoAttach', { autoAttach: true, waitForDebuggerOnStart: false, flatten: true }, sessionId).catch(() => {});
    if (targetInfo.type === 'worker' || targetInfo.type === 'page') {
      try {
        await send('Profiler.enable', {}, sessionId);
        await send('Profiler.setSamplingInterval', { interval: 1000 }, sessionId);
        if (profiling) {
          await send('Profiler.start', {}, sessionId);
          sessions.get(sessionId).started = true;
        }
      } catch { /* target gone */ }
    }
  }
});
let profiling = false;
await send('Target.setAutoAttach', { autoAttach: true, waitForDebuggerOnStart: false, flatten: true });

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
profiling = true;
for (const [sid, s] of sessions) {
  if ((s.type === 'worker' || s.type === 'page') && !s.started) {
    await send('Profiler.start', {}, sid).catch(() => {});
    s.started = true;
  }
}
const t0 = Date.now();
const b = await ctx.newPage();
await b.goto(`${base}/?signaling=&new-device&no-seed`);
await b.waitForFunction(() => window.tabdrive?.device?.uuid, null, { timeout: 120_000 });
const count = () => b.evaluate(async () => Number((await window.tabdrive.query('SELECT count(*) AS n FROM entries'))[0].n)).catch(() => 0);
while ((await count()) < target && Date.now() - t0 < 600_000) await sleep(500);
const ms = Date.now() - t0;
console.error(`backfill of ${target} entries: ${ms} ms`);

mkdirSync(join(root, '.bench'), { recursive: true });
const out = [];
let k = 0;
let workers = 0;
for (const [sid, s] of sessions) {
  if (!s.started) continue;
  let prof;
  try {
    ({ profile: prof } = await send('Profiler.stop', {}, sid));
  } catch {
    continue;
  }
  const name = `${s.type}-${k++}${s.type === 'worker' ? (workers++ === 0 ? ' (sender, tab A)' : ' (receiver, new tab)') : ''}`;
  writeFileSync(join(root, '.bench', `profile-${s.type}-${k}.cpuprofile`), JSON.stringify(prof));
  const dt = prof.timeDeltas ?? [];
  const self = new Map();
  const byId = new Map(prof.nodes.map((n) => [n.id, n]));
  prof.samples.forEach((node, i) => self.set(node, (self.get(node) ?? 0) + (dt[i] ?? 0)));
  const fn = new Map();
  let total = 0;
  for (const [nid, us] of self) {
    const cf = byId.get(nid).callFrame;
    const key = `${cf.functionName || '(anonymous)'} ${cf.url.split('/').pop()}:${cf.lineNumber + 1}`;
    if (cf.functionName !== '(idle)' && cf.functionName !== '(program)') total += us;
    fn.set(key, (fn.get(key) ?? 0) + us);
  }
  const top = [...fn].filter(([key]) => !key.startsWith('(idle)')).sort((x, y) => y[1] - x[1]).slice(0, 12);
  if (total < 0.5e6) continue; // idle pages (about:blank, A's main thread) say nothing
  out.push(`\n## ${name} ${s.url.split('/').pop()} — busy ${(total / 1e6).toFixed(1)} s\n${top.map(([key, us]) => `${(us / 1e6).toFixed(2).padStart(7)} s  ${key}`).join('\n')}`);
}
console.log(`backfill of ${target} entries into a ?no-seed tab: ${ms} ms${out.join('\n')}`);
ws.close();
await ctx.close();
rmSync(dir, { recursive: true, force: true });
process.exit(0);
