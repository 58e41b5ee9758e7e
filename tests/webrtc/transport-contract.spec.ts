// The transport contract (tests/support/transport-contract.ts) between two separately
// launched Chromium processes over WebRTC (our provider, chunked data channels, our signaling
// server), inside the test network namespace. The same cases run between tabs in Chromium
// (tests/e2e/transport-contract.spec.ts) and, in Node, over BroadcastChannel, the relay and
// the in-memory network (tests/integration/transport.contract.test.ts). The harness page holds
// one map: every case runs on a fresh pair, so the map names of the cases need no separation.
import type { Page } from '@playwright/test';
import { TRANSPORT_CONTRACT, type ContractPair } from '../support/transport-contract.ts';
import { expect, test } from '../e2e/support/browser.ts';
import { SIGNALING, browser, closeAll, connected, room, start } from './support/harness.ts';

test.afterEach(closeAll);

async function webrtcPair(baseURL: string): Promise<ContractPair> {
  const r = room('contract');
  const pages: Record<'a' | 'b', Page> = { a: (await browser(baseURL)).page, b: (await browser(baseURL)).page };
  for (const p of Object.values(pages)) await start(p, { mode: 'ours', room: r, signaling: [SIGNALING] });
  for (const p of Object.values(pages)) await connected(p, 'webrtc');
  // connected is not synced: the cases start once each side applied the other's step 2
  for (const p of Object.values(pages)) await p.waitForFunction(() => window.transportHarness.connections().some((c) => c.path === 'webrtc' && c.synced), undefined, { polling: 100 });
  const H = (s: 'a' | 'b'): Page => pages[s];
  return {
    set: (s, _m, k, v) => H(s).evaluate(([k, v]) => window.transportHarness.set(k, v), [k, v] as const),
    get: async (s, _m, k) => (await H(s).evaluate((k) => window.transportHarness.get(k), k)) ?? undefined,
    fill: async (s, _m, n) => void (await H(s).evaluate((n) => window.transportHarness.fill(n), n)),
    size: (s) => H(s).evaluate(() => window.transportHarness.size()),
    pauseB: () => H('b').evaluate(() => window.transportHarness.pause()),
    resumeB: () => H('b').evaluate(() => window.transportHarness.resume()),
    settle: () => new Promise((r) => setTimeout(r, 200)),
  };
}

for (const c of TRANSPORT_CONTRACT) {
  test(`transport contract, our provider between browsers (WebRTC): ${c.name}`, async ({ baseURL }) => {
    test.setTimeout(120_000);
    const pair = await webrtcPair(baseURL!);
    await c.run(pair, (v, what) => expect(v, what).toBe(true));
  });
}
