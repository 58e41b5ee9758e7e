// Launches Debian Chromium for the e2e suite. Persistent contexts on a fresh profile dir, so
// a test can kill the browser and relaunch it on the same profile.
import { chromium, test, type BrowserContext, type Page } from '@playwright/test';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const CHROMIUM = process.env['CHROMIUM_PATH'] ?? '/usr/bin/chromium';
export const ARGS = ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
  '--disable-component-update', '--disable-sync'];

export interface Profile {
  readonly dir: string;
  launch(): Promise<BrowserContext>;
  remove(): void;
}

export function newProfile(): Profile {
  const dir = mkdtempSync(join(tmpdir(), 'tabdrive-e2e-'));
  return {
    dir,
    launch: () => chromium.launchPersistentContext(dir, { executablePath: CHROMIUM, headless: true, args: ARGS }),
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
}

/** A fresh profile and browser for every test of the file (closed and removed after it). */
export function freshBrowserPerTest(): { readonly context: BrowserContext } {
  let profile: Profile | null = null;
  let context: BrowserContext | null = null;
  test.beforeEach(async () => {
    profile = newProfile();
    context = await profile.launch();
  });
  test.afterEach(async () => {
    await context?.close();
    profile?.remove();
  });
  return {
    get context(): BrowserContext {
      if (!context) throw new Error('no browser outside a test');
      return context;
    },
  };
}

/** Opens the app in a new page of `context` and waits until its device has booted. */
/** Tabs of one context sync over BroadcastChannel; no signaling server in these tests. */
export const TABS_ONLY = '/?signaling=';

export async function openApp(context: BrowserContext, baseURL: string, path = TABS_ONLY): Promise<Page> {
  const page = await context.newPage();
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await page.goto(new URL(path, baseURL).toString());
  await waitReady(page);
  return page;
}

export async function waitReady(page: Page): Promise<void> {
  await page.waitForFunction(() => window.tabdrive?.device?.uuid, null, { timeout: 30_000 });
  await page.evaluate(() => window.tabdrive.ready);
}

export const deviceOf = (page: Page): Promise<string> => page.evaluate(() => window.tabdrive.device.uuid);

export async function count(page: Page, sql: string, params: (string | number)[] = []): Promise<number> {
  return page.evaluate(
    async ([sql, params]) => Number(Object.values((await window.tabdrive.query(sql, params))[0] ?? {})[0] ?? 0),
    [sql, params] as const,
  );
}
