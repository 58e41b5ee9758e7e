// Transport bench, run by `npm run bench` (TRANSPORT_BENCH=1); `npm test` skips it: timings
// are measured in the bench, never asserted in the test run. Our provider beside raw
// y-webrtc, same harness, same run: one-way latency p50/p99 over 200 sequential changes
// tab-to-tab (BroadcastChannel) and browser-to-browser (WebRTC), and backfill time of a fresh
// peer for 10k / 100k records. Prints a table and writes TRANSPORT_BENCH_OUT (JSON).
// Each measurement asserts only that it completed (every pong came back, every record
// arrived) — except raw y-webrtc over WebRTC at ≥ 10k, which is expected NOT to arrive.
import { writeFileSync } from 'node:fs';
import type { Page } from '@playwright/test';
import { expect, test } from '../e2e/support/browser.ts';
import { SIGNALING, browser, closeAll, connected, pct, room, start, tab } from './support/harness.ts';

test.skip(!process.env['TRANSPORT_BENCH'], 'bench: set TRANSPORT_BENCH=1');
test.describe.configure({ mode: 'serial' });
test.afterEach(closeAll);

const PINGS = Number(process.env['TRANSPORT_BENCH_PINGS'] ?? 200);
interface Row {
  what: string;
  mode: string;
  path: string;
  p50?: number | string;
  p99?: number;
  other?: string;
}
const rows: Row[] = [];
test.afterAll(() => {
  const out = process.env['TRANSPORT_BENCH_OUT'] ?? 'test-results/transport-bench.json';
  writeFileSync(out, JSON.stringify(rows, null, 2));
  console.log('\n| what | provider | path | p50 ms | p99 ms | other |\n|---|---|---|---|---|---|');
  for (const r of rows) console.log(`| ${r.what} | ${r.mode} | ${r.path} | ${r.p50 ?? ''} | ${r.p99 ?? ''} | ${r.other ?? ''} |`);
});
const f = (x: number) => Number(x.toFixed(2));

async function pair(baseURL: string, mode: 'ours' | 'raw', path: 'tab' | 'webrtc', name: string): Promise<[Page, Page]> {
  const r = room(name);
  const signaling = path === 'tab' ? [] : [SIGNALING];
  const { page: a, context } = await browser(baseURL);
  await start(a, { mode, room: r, signaling, password: 'bench' });
  await a.waitForFunction(() => window.transportHarness.signalingReady());
  const b = path === 'tab' ? await tab(context, baseURL) : (await browser(baseURL)).page;
  await start(b, { mode, room: r, signaling, password: 'bench' });
  return [a, b];
}

for (const path of ['tab', 'webrtc'] as const) {
  for (const mode of ['ours', 'raw'] as const) {
    test(`latency ${mode} ${path}`, async ({ baseURL }) => {
      test.setTimeout(120_000);
      const [a, b] = await pair(baseURL!, mode, path, `lat-${mode}-${path}`);
      await connected(b, path);
      await a.waitForTimeout(500);
      await b.evaluate(() => window.transportHarness.echo(true));
      await a.evaluate(() => window.transportHarness.pingPong(20)); // warm-up
      const rtt = await a.evaluate((n) => window.transportHarness.pingPong(n), PINGS);
      const there = (await b.evaluate(() => window.transportHarness.oneWay())).slice(20);
      const back = await a.evaluate(() => window.transportHarness.oneWayBack());
      const oneWay = [...there, ...back];
      expect(rtt).toHaveLength(PINGS);
      rows.push({ what: 'one-way latency', mode, path, p50: f(pct(oneWay, 50)), p99: f(pct(oneWay, 99)), other: `RTT p50 ${f(pct(rtt, 50))} p99 ${f(pct(rtt, 99))} (n=${oneWay.length})` });
    });
  }
}

for (const n of [10_000, 100_000]) {
  for (const path of ['tab', 'webrtc'] as const) {
    for (const mode of ['ours', 'raw'] as const) {
      test(`backfill ${n} ${mode} ${path}`, async ({ baseURL }) => {
        test.setTimeout(240_000);
        const r = room(`bf-${n}-${mode}-${path}`);
        const signaling = path === 'tab' ? [] : [SIGNALING];
        const { page: a, context } = await browser(baseURL!);
        await start(a, { mode, room: r, signaling, password: 'bench' });
        await a.waitForFunction(() => window.transportHarness.signalingReady());
        const filled = await a.evaluate((n) => window.transportHarness.fill(n), n);
        const b = path === 'tab' ? await tab(context, baseURL!) : (await browser(baseURL!)).page;
        await start(b, { mode, room: r, signaling, password: 'bench' });
        const expectFail = mode === 'raw' && path === 'webrtc';
        const ms = await b.evaluate(([n, t]) => window.transportHarness.waitSize(n, t), [n, expectFail ? 15_000 : 120_000] as const);
        if (expectFail) expect(ms).toBeNull();
        else expect(ms).not.toBeNull();
        rows.push({ what: `backfill ${n}`, mode, path, p50: ms === null ? 'never (15 s)' : Math.round(ms), other: `doc ${(filled.updateBytes / 1e6).toFixed(1)} MB` });
      });
    }
  }
}
