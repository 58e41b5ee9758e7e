// Drives bench/transport.html (window.transportHarness) in separately launched Chromium
// processes (one profile each), or in several pages of one context (tabs).
import type { BrowserContext, Page } from '@playwright/test';
import { newProfile, type Profile } from '../../e2e/support/browser.ts';
import type { HarnessStart } from '../../../bench/transport.ts';

export const SIGNALING = 'ws://127.0.0.1:4192';
export const HARNESS = '/bench/transport.html';

export interface Launched {
  readonly context: BrowserContext;
  readonly profile: Profile;
}
const launched: Launched[] = [];

export async function closeAll(): Promise<void> {
  for (const l of launched.splice(0)) {
    await l.context.close().catch(() => undefined);
    l.profile.remove();
  }
}

/** A new Chromium process (fresh profile) with the harness open. */
export async function browser(baseURL: string): Promise<{ page: Page; context: BrowserContext }> {
  const profile = newProfile();
  const context = await profile.launch();
  launched.push({ context, profile });
  const page = context.pages()[0] ?? (await context.newPage());
  await open(page, baseURL);
  return { page, context };
}

export async function tab(context: BrowserContext, baseURL: string): Promise<Page> {
  const page = await context.newPage();
  await open(page, baseURL);
  return page;
}

/** The page's errors fail the test through the e2e support's rule (its context was launched there). */
async function open(page: Page, baseURL: string): Promise<void> {
  await page.goto(new URL(HARNESS, baseURL).toString());
  await page.waitForFunction(() => window.transportHarness?.ready === true);
}

export const room = (what: string): string => `harness-${what}-${Date.now()}-${Math.random().toString(36).slice(2, 8)}`;

export function start(page: Page, o: HarnessStart): Promise<void> {
  return page.evaluate((o) => window.transportHarness.start(o), o);
}

/** Waits until the page has a connected WebRTC (or tab) connection. */
export async function connected(page: Page, path: 'webrtc' | 'tab', timeout = 30_000): Promise<void> {
  await page.waitForFunction((path) => window.transportHarness.connections().some((c) => c.path === path && c.connected), path, { timeout, polling: 100 });
}

export const pct = (xs: number[], p: number): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length === 0 ? NaN : s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))]!;
};
