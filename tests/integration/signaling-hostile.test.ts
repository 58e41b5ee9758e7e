// Hostile clients against the real signaling server (`node server/signaling.mjs`, default
// limits, in its own process so a crash is a crash and its RSS is its own), over loopback
// only. Different "hosts" are different loopback source addresses (127.0.0.x: Linux routes
// all of 127/8 to lo). Every loop is bounded in count and time. Figures are printed as
// `[signaling-hostile] …` lines to quote; bounds are loose enough for a noisy 2-core machine.
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';

const root = resolve(import.meta.dirname, '../..');
let server: ChildProcess;
let port = 0;
let crashes = 0;
const serverLog: string[] = [];

const log = (m: string): void => console.log(`[signaling-hostile] ${m}`);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const rssMB = (): number => Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${server.pid}/status`, 'utf8'))![1]) / 1024;
const health = async (): Promise<Record<string, number>> => (await (await fetch(`http://127.0.0.1:${port}/health`)).json()) as Record<string, number>;
const pct = (xs: number[], p: number): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))]!;
};
const alive = (): boolean => server.exitCode === null && server.signalCode === null;

interface Client {
  ws: WebSocket;
  inbox: unknown[];
  closed: Promise<number>;
  send(m: unknown): void;
}
/** A client from `from` (a loopback address); resolves once open, or with the refusal. */
function connect(from = '127.0.0.1', origin?: string): Promise<Client> {
  const ws = new WebSocket(`ws://127.0.0.1:${port}`, { localAddress: from, ...(origin ? { origin } : {}) });
  const inbox: unknown[] = [];
  ws.on('message', (d: Buffer) => inbox.push(JSON.parse(d.toString())));
  ws.on('error', () => {}); // 'close' follows
  const closed = new Promise<number>((r) => ws.on('close', (code) => r(code)));
  const c: Client = { ws, inbox, closed, send: (m) => ws.send(typeof m === 'string' ? m : JSON.stringify(m)) };
  return new Promise((r, fail) => {
    ws.on('open', () => r(c));
    ws.on('close', () => fail(new Error('closed before open')));
  });
}
/** Whether `a` publishing to a fresh room reaches `b` (both subscribe first). */
async function relays(a: Client, b: Client): Promise<boolean> {
  const topic = `room-${Math.random().toString(36).slice(2)}`;
  a.send({ type: 'subscribe', topics: [topic] });
  b.send({ type: 'subscribe', topics: [topic] });
  await sleep(100);
  a.send({ type: 'publish', topic, data: 'hello' });
  for (let i = 0; i < 40 && !b.inbox.some((m) => (m as { topic?: string }).topic === topic); i++) await sleep(50);
  return b.inbox.some((m) => (m as { topic?: string; data?: string }).topic === topic && (m as { data?: string }).data === 'hello');
}

/** Sequential pings for `ms`, one every 25 ms (40/s: under an honest client's rate). */
async function pings(c: Client, ms: number): Promise<number[]> {
  const rtts: number[] = [];
  const end = performance.now() + ms;
  while (performance.now() < end && rtts.length < 1_000) {
    const t0 = performance.now();
    const got = new Promise<number>((r) => {
      const timer = setTimeout(() => r(2_000), 2_000);
      c.ws.once('message', () => {
        clearTimeout(timer);
        r(performance.now() - t0);
      });
    });
    c.send({ type: 'ping' });
    rtts.push(await got);
    await sleep(Math.max(0, 25 - (performance.now() - t0)));
  }
  return rtts;
}

// Linux: /proc for the server's RSS, and 127.0.0.x source addresses (macOS has only 127.0.0.1)
describe.skipIf(process.platform !== 'linux')('signaling server under hostile clients', () => {
  beforeAll(async () => {
    server = spawn(process.execPath, ['server/signaling.mjs'], {
      cwd: root,
      env: { ...process.env, SIGNALING_PORT: '0', SIGNALING_HOST: '127.0.0.1' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    server.on('exit', (code, signal) => {
      if (signal !== 'SIGTERM') crashes++; // afterAll's SIGTERM is the only expected end
      serverLog.push(`exit ${code} ${signal}`);
    });
    server.stderr!.on('data', (d: Buffer) => serverLog.push(d.toString()));
    port = await new Promise<number>((done, fail) => {
      const t = setTimeout(() => fail(new Error('signaling server did not start')), 15_000);
      server.stdout!.on('data', (d: Buffer) => {
        serverLog.push(d.toString());
        const m = /ws:\/\/127\.0\.0\.1:(\d+)/.exec(d.toString());
        if (m) {
          clearTimeout(t);
          done(Number(m[1]));
        }
      });
    });
  });
  afterAll(async () => {
    if (server.exitCode === null) {
      const exited = new Promise((r) => server.once('exit', r));
      server.kill('SIGTERM');
      await exited;
    }
  });

  it('a deeply nested publication is dropped: 0 crashes, the server keeps relaying', async () => {
    const [a, b] = [await connect(), await connect()];
    const before = await health();
    a.send({ type: 'subscribe', topics: ['deep'] });
    b.send({ type: 'subscribe', topics: ['deep'] });
    await sleep(100);
    // {"a":{"a":…}} and [[[…]]]: ~10 KB at 5,000 levels (the issue's crash), up to the 64 KiB frame
    const objects = [5_000, 10_000];
    const arrays = [5_000, 20_000, 32_000];
    for (const d of objects) a.send(`{"type":"publish","topic":"deep","data":${'{"a":'.repeat(d)}1${'}'.repeat(d)}}`);
    for (const d of arrays) a.send(`{"type":"publish","topic":"deep","data":${'['.repeat(d)}${']'.repeat(d)}}`);
    const n = objects.length + arrays.length;
    await sleep(300);
    expect(alive()).toBe(true);
    expect(b.inbox).toEqual([]);
    expect(await relays(a, b)).toBe(true);
    const after = await health();
    log(`deep nesting: ${n} publications (objects ${objects.join(' / ')} levels, arrays ${arrays.join(' / ')}) → server alive, crashes ${crashes}, handler errors ${after['errors']! - before['errors']!}, dropped ${after['dropped']! - before['dropped']!}`);
    expect(after['dropped']! - before['dropped']!).toBe(n);
    expect(after['errors']).toBe(0);
    for (const c of [a, b]) c.ws.close();
  });

  it('a bad Origin is refused before the handshake; the app’s origins are served', async () => {
    const status = (origin: string) =>
      new Promise<number>((r) => {
        const ws = new WebSocket(`ws://127.0.0.1:${port}`, { origin });
        ws.on('unexpected-response', (_req, res) => {
          r(res.statusCode ?? 0);
          ws.terminate();
        });
        ws.on('open', () => {
          r(101);
          ws.close();
        });
        ws.on('error', () => {});
      });
    const refused = ['https://evil.example', 'null', 'http://127.0.0.1.evil.example:4173'];
    const served = ['http://127.0.0.1:4173', 'http://localhost:4173', 'http://127.0.0.1:4191', 'http://127.0.0.1:4193'];
    const got = Object.fromEntries(await Promise.all([...refused, ...served].map(async (o) => [o, await status(o)] as const)));
    log(`origins: ${Object.entries(got).map(([o, s]) => `${o} → ${s === 101 ? 'served' : `HTTP ${s}`}`).join('; ')}`);
    for (const o of refused) expect(got[o]).toBe(403);
    for (const o of served) expect(got[o]).toBe(101);
    const res = await fetch(`http://127.0.0.1:${port}/health`, { headers: { origin: 'https://evil.example' } });
    expect(res.headers.get('access-control-allow-origin')).toBeNull();
  });

  it('a flood of 60 KB publications with two subscribers that never read: RSS bounded, an honest ping stays fast', async () => {
    const honest = await connect('127.0.0.1');
    honest.send({ type: 'subscribe', topics: ['honest'] });
    await sleep(100);
    const quiet = await pings(honest, 2_500);

    // two receivers that never read (their sockets are paused), from their own address
    const readers = [await connect('127.0.0.20'), await connect('127.0.0.20')];
    for (const r of readers) r.send({ type: 'subscribe', topics: ['flood'] });
    await sleep(200);
    for (const r of readers) r.ws.pause();
    const before = await health();
    const rssBefore = rssMB();
    let rssPeak = rssBefore;
    const timeline: number[] = []; // RSS at each whole second: does it plateau?
    let ticks = 0;
    const sampler = setInterval(() => {
      if (!alive()) return;
      const rss = rssMB();
      rssPeak = Math.max(rssPeak, rss);
      if (++ticks % 10 === 0) timeline.push(rss);
    }, 100);

    // the flood: 4 addresses × 2 connections, for 5 s, reconnecting when closed
    const FLOOD_MS = 5_000;
    const flood = spawn(process.execPath, ['tests/support/signaling-flood.mjs', String(port), String(FLOOD_MS), '127.0.0.11,127.0.0.12,127.0.0.13,127.0.0.14', '2', 'flood'], { cwd: root, stdio: ['ignore', 'pipe', 'inherit'] });
    let floodOut = '';
    flood.stdout.on('data', (d: Buffer) => (floodOut += d.toString()));
    const floodDone = new Promise((r) => flood.on('exit', r));
    await sleep(300);
    const flooded = await pings(honest, FLOOD_MS - 600);
    await floodDone;
    await sleep(500);
    clearInterval(sampler);
    const after = await health();
    const f = JSON.parse(floodOut) as { sent: number; sentBytes: number; connects: number; closes: Record<string, number> };
    const d = (k: string) => after[k]! - before[k]!;
    // they see the server's cut once they read again (a paused socket reports nothing)
    for (const r of readers) r.ws.resume();
    const readersClosed = await Promise.all(readers.map((r) => Promise.race([r.closed, sleep(3_000).then(() => -1)])));

    log(`flood: ${f.sent} publications of 60 KB (${(f.sentBytes / 2 ** 20).toFixed(0)} MB) from 4 addresses in ${FLOOD_MS / 1000} s over ${f.connects} connections (closes ${JSON.stringify(f.closes)}); relayed ${d('relayed')}, rate-limited ${d('rateLimited')}, closed for abuse ${d('closedAbusive')}, non-reading receivers dropped ${d('closedSlow')} (their close codes ${readersClosed.join(', ')})`);
    log(`flood: server RSS ${rssBefore.toFixed(1)} MB before, peak ${rssPeak.toFixed(1)} MB, growth ${(rssPeak - rssBefore).toFixed(1)} MB; each second: ${timeline.map((x) => x.toFixed(0)).join(', ')} MB`);
    const fig = (xs: number[]) => `p50 ${pct(xs, 50).toFixed(2)} ms, p90 ${pct(xs, 90).toFixed(2)} ms, p99 ${pct(xs, 99).toFixed(2)} ms (n=${xs.length})`;
    log(`honest ping RTT: no flood ${fig(quiet)}; under the flood ${fig(flooded)}`);

    expect(alive()).toBe(true);
    expect(after['errors']).toBe(0);
    expect(f.sent).toBeGreaterThan(200); // it was a flood
    expect(d('rateLimited')).toBeGreaterThan(0);
    expect(d('closedSlow')).toBeGreaterThanOrEqual(2); // both non-readers cut off
    expect(readersClosed.every((c) => c !== -1)).toBe(true);
    expect(rssPeak - rssBefore).toBeLessThan(100);
    expect(flooded.length).toBeGreaterThan(50);
    expect(pct(flooded, 99)).toBeLessThan(250);
    honest.ws.close();
  }, 30_000);

  it('520 idle sockets from one host: the cap refuses most, idle ones are closed, real clients connect', async () => {
    const IDLE = 520;
    const outcomes = await Promise.all(
      Array.from({ length: IDLE }, () =>
        connect('127.0.0.2').then(
          async (c) => {
            // accepted, then either refused by the per-address cap (1013) or left idle
            const code = await Promise.race([c.closed, sleep(3_000).then(() => 0)]);
            return { c, code };
          },
          () => ({ c: null, code: -1 }),
        ),
      ),
    );
    const held = outcomes.filter((o) => o.code === 0);
    const refused = outcomes.filter((o) => o.code === 1013).length;
    const stats = await health();
    // a real client from another host connects and relays while the 32 are held
    const [a, b] = [await connect('127.0.0.1'), await connect('127.0.0.1')];
    const realRelays = await relays(a, b);
    // … and the held ones are closed once idle (10 s), so even their host gets in again
    const t0 = Date.now();
    const idleCodes = await Promise.all(held.map((o) => Promise.race([o.c!.closed, sleep(15_000).then(() => -1)])));
    const idleAfter = (Date.now() - t0 + 3_000) / 1000;
    const [c, e] = [await connect('127.0.0.2'), await connect('127.0.0.2')];
    const sameHostRelays = await relays(c, e);
    log(`idle sockets: ${IDLE} from 127.0.0.2 → ${held.length} held, ${refused} refused (1013; server refusedPerAddress ${stats['refusedPerAddress']}); a real client from 127.0.0.1 relays: ${realRelays}; the held ones closed after ≈${idleAfter.toFixed(1)} s idle (codes ${[...new Set(idleCodes)].join(',')}); then a client from 127.0.0.2 relays: ${sameHostRelays}`);
    expect(held.length).toBe(32);
    expect(refused).toBe(IDLE - 32);
    expect(realRelays).toBe(true);
    expect(idleCodes.every((code) => code === 1008)).toBe(true);
    expect(sameHostRelays).toBe(true);
    for (const x of [a, b, c, e]) x.ws.close();
  }, 40_000);

  it('0 crashes over the whole suite', () => {
    log(`crashes: ${crashes}${serverLog.some((l) => l.includes('error')) ? `; server log: ${serverLog.join(' ')}` : ''}`);
    expect(crashes).toBe(0);
    expect(alive()).toBe(true);
  });
});
