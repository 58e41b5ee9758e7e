// The transport contract (tests/support/transport-contract.ts) against the real provider:
// y-webrtc + our guards and chunked channels, between two tabs (BroadcastChannel).
import type { BrowserContext, Page } from '@playwright/test';
import { TRANSPORT_CONTRACT, type ContractPair } from '../support/transport-contract.ts';
import { expect, newProfile, test, type Profile } from './support/browser.ts';

let profile: Profile;
let context: BrowserContext;
test.beforeEach(async () => {
  profile = newProfile();
  context = await profile.launch();
});
test.afterEach(async () => {
  await context.close();
  profile.remove();
});

interface Harness {
  start(room: string, signaling: string[]): void;
  set(map: string, key: string, value: unknown): void;
  get(map: string, key: string): unknown;
  /** n records shaped like the contract's (`contractRecord`), built in the page */
  fill(map: string, n: number): void;
  size(map: string): number;
  pause(): void;
  resume(): void;
}
const h = (p: Page) => p.evaluate.bind(p);

async function providerPair(baseURL: string): Promise<ContractPair> {
  const room = `contract-${Date.now()}-${Math.random().toString(36).slice(2)}`;
  const pages = { a: await context.newPage(), b: await context.newPage() };
  for (const p of Object.values(pages)) {
    await p.goto(`${baseURL}/bench/`);
    await p.waitForFunction(() => (window as unknown as { bench?: { ready: boolean } }).bench?.ready === true);
    await h(p)((room) => (window as unknown as { harness: Harness }).harness.start(room, []), room);
  }
  const H = (s: 'a' | 'b') => pages[s];
  return {
    set: (s, m, k, v) => H(s).evaluate(([m, k, v]) => (window as unknown as { harness: Harness }).harness.set(m, k, v), [m, k, v] as const),
    get: (s, m, k) => H(s).evaluate(([m, k]) => (window as unknown as { harness: Harness }).harness.get(m, k), [m, k] as const),
    fill: (s, m, n) => H(s).evaluate(([m, n]) => (window as unknown as { harness: Harness }).harness.fill(m, n), [m, n] as const),
    size: (s, m) => H(s).evaluate((m) => (window as unknown as { harness: Harness }).harness.size(m), m),
    pauseB: () => H('b').evaluate(() => (window as unknown as { harness: Harness }).harness.pause()),
    resumeB: () => H('b').evaluate(() => (window as unknown as { harness: Harness }).harness.resume()),
    settle: () => new Promise((r) => setTimeout(r, 100)),
  };
}

for (const c of TRANSPORT_CONTRACT) {
  test(`transport contract, real provider between tabs: ${c.name}`, async ({ baseURL }) => {
    const pair = await providerPair(baseURL!);
    await pair.settle();
    await c.run(pair, (v, what) => expect(v, what).toBe(true));
  });
}
