// Launches Debian Chromium for the e2e suite. Persistent contexts on a fresh profile dir, so
// a test can kill the browser and relaunch it on the same profile.
//
// Every spec (e2e and WebRTC) imports `test` and `expect` from here, not from
// @playwright/test: `test` carries the page-error rule (scripts/lib/page-errors.mjs) — any
// uncaught error, console.error or crash of a page of a browser launched during the test, or
// of one of its workers (the storage worker), fails the test at its end unless the test
// declared it with `expectPageErrors`.
import { chromium, expect, test as base, type BrowserContext, type Page } from '@playwright/test';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { assertNoPageErrors, watchContext, type ErrorWatch } from '../../../scripts/lib/page-errors.mjs';

export { expect };
export { expectPageErrors, unexpectedContextErrors, unexpectedPageErrors } from '../../../scripts/lib/page-errors.mjs';

/**
 * The watches of the browsers launched by the running test. Module state is sound because a
 * Playwright worker process runs one test at a time; the fixture below empties it before each
 * test and reads it after the test's own afterEach hooks (which close the browsers).
 */
const launchedThisTest: ErrorWatch[] = [];

export const test = base.extend<{ pageErrors: void }>({
  pageErrors: [
    // eslint-disable-next-line no-empty-pattern -- Playwright fixtures must destructure their first argument
    async ({}, use) => {
      launchedThisTest.length = 0;
      await use();
      const watched = launchedThisTest.splice(0);
      assertNoPageErrors(watched);
    },
    { auto: true },
  ],
});

export const CHROMIUM = process.env['CHROMIUM_PATH'] ?? '/usr/bin/chromium';
export const ARGS = ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
  '--disable-component-update', '--disable-sync'];

export interface Profile {
  readonly dir: string;
  /** `options`: more launch options (e.g. `serviceWorkers: 'block'`) */
  launch(options?: Parameters<typeof chromium.launchPersistentContext>[1]): Promise<BrowserContext>;
  remove(): void;
}

export function newProfile(): Profile {
  return profileAt(mkdtempSync(join(tmpdir(), 'tabdrive-e2e-')));
}

/** A profile in a folder the test chose (e.g. on a small disk of its own); watched the same way. */
export function profileAt(dir: string): Profile {
  return {
    dir,
    launch: async (options = {}) => {
      const context = await chromium.launchPersistentContext(dir, { executablePath: CHROMIUM, headless: true, args: ARGS, ...options });
      launchedThisTest.push(watchContext(context));
      return context;
    },
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

/** Tabs of one context sync over BroadcastChannel; no signaling server in these tests. */
export const TABS_ONLY = '/?signaling=';

/**
 * Opens the app in a new page of `context` and waits until its device has booted. The page's
 * errors are watched through its context (see `launch`).
 */
export async function openApp(context: BrowserContext, baseURL: string, path = TABS_ONLY): Promise<Page> {
  const page = await context.newPage();
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

/** Polls until every page's digest is the same (anti-entropy's; the whole synced state). */
export async function converged(pages: readonly Page[], timeout = 30_000): Promise<void> {
  const digest = (p: Page): Promise<string> => p.evaluate(async () => JSON.stringify(await window.tabdrive.digest()));
  await expect.poll(async () => new Set(await Promise.all(pages.map(digest))).size, { timeout }).toBe(1);
}

/** SIGKILL every process of this Chromium profile (browser, renderers, GPU, storage service):
 *  nothing runs pagehide or takes an image — a killed browser. */
export function killChromium(profileDir: string): void {
  let pids: string[] = [];
  try {
    pids = execFileSync('pgrep', ['-f', profileDir], { encoding: 'utf8' }).split('\n').filter(Boolean);
  } catch {
    /* none left */
  }
  for (const pid of pids) {
    try {
      process.kill(Number(pid), 'SIGKILL');
    } catch {
      /* already gone */
    }
  }
}
