// The page-error rule itself (issue 15; scripts/lib/page-errors.mjs): what a page or its
// storage worker throws or logs as an error reaches the test, a declared error does not fail
// it, and an undeclared one does — so the rule every other spec relies on cannot quietly stop
// working.
import type { Page } from '@playwright/test';
import { expect, expectPageErrors, freshBrowserPerTest, openApp, test, unexpectedContextErrors, unexpectedPageErrors } from './support/browser.ts';

const browser = freshBrowserPerTest();

/** Errors of every kind the rule covers, each tagged `probe-<n>`, in the page and its storage worker. */
async function provoke(page: Page): Promise<void> {
  const worker = page.workers().find((w) => w.url().includes('db.worker'));
  expect(worker, 'the storage worker is running').toBeDefined();
  await worker!.evaluate(() => {
    setTimeout(() => {
      throw new Error('probe-1 thrown in the storage worker');
    }, 0);
    void Promise.reject(new Error('probe-2 rejected in the storage worker'));
    console.error('probe-3 logged by the storage worker');
  });
  await page.evaluate(() => {
    setTimeout(() => {
      throw new Error('probe-4 thrown in the page');
    }, 0);
    void Promise.reject(new Error('probe-5 rejected in the page'));
    console.error('probe-6 logged by the page');
  });
}
const PROBES = ['probe-1', 'probe-2', 'probe-3', 'probe-4', 'probe-5', 'probe-6'];
const probesIn = (lines: string[]) => PROBES.filter((p) => lines.some((l) => l.includes(p)));

test('uncaught errors and console errors of a page and of its storage worker are caught; declared ones are set aside', async ({ baseURL }) => {
  const page = await openApp(browser.context, baseURL!);
  expect(unexpectedPageErrors(page)).toEqual([]); // a booted app is clean
  await provoke(page);
  await expect.poll(() => probesIn(unexpectedPageErrors(page))).toEqual(PROBES);
  // declared (after the fact: errors are sorted when read), they no longer count
  expectPageErrors(page, /^(Error: )?probe-\d /);
  expect(unexpectedPageErrors(page)).toEqual([]);
});

test('what the browser itself logs as an error counts too (a refused WebSocket)', async ({ baseURL }) => {
  const page = await openApp(browser.context, baseURL!);
  await page.evaluate(() => void new WebSocket('ws://127.0.0.1:9/')); // port 9: refused by Chromium itself, no network
  await expect.poll(() => unexpectedPageErrors(page)).toEqual([
    expect.stringMatching(/^console\.error: WebSocket connection to 'ws:\/\/127\.0\.0\.1:9\/' failed: .*net::ERR_UNSAFE_PORT/),
  ]);
  expectPageErrors(page, /^WebSocket connection to 'ws:\/\/127\.0\.0\.1:9\/' failed: .*net::ERR_UNSAFE_PORT$/g);
  // read twice: a declared /g pattern keeps no lastIndex between readings
  expect(unexpectedPageErrors(page)).toEqual([]);
  expect(unexpectedPageErrors(page)).toEqual([]);
});

test('the service worker\'s console errors are caught too', async ({ baseURL }) => {
  test.fail(); // a service worker has no page to declare an error on: this one fails the test
  const page = await openApp(browser.context, baseURL!);
  await page.evaluate(() => navigator.serviceWorker.ready);
  const sw = browser.context.serviceWorkers()[0]!;
  await sw.evaluate(() => console.error('probe-9 logged by the service worker'));
  await expect.poll(() => unexpectedContextErrors(browser.context).some((l) => l.includes('probe-9'))).toBe(true);
});

test('a tab the app opens itself is watched too', async ({ baseURL }) => {
  const a = await openApp(browser.context, baseURL!);
  const [fresh] = await Promise.all([browser.context.waitForEvent('page'), a.getByRole('button', { name: 'New device' }).click()]);
  await fresh.waitForFunction(() => window.tabdrive?.device?.uuid);
  await fresh.evaluate(() => console.error('probe-7 in a tab opened by the app'));
  await expect.poll(() => unexpectedPageErrors(fresh).some((l) => l.includes('probe-7'))).toBe(true);
  expectPageErrors(fresh, /^probe-7 /);
});

test('an undeclared error fails the test at its end', async ({ baseURL }) => {
  test.fail(); // the failure is the rule at work: the test's body passes, its end does not
  const page = await openApp(browser.context, baseURL!);
  await page.evaluate(() => console.error('probe-8 that nobody declared'));
  await expect.poll(() => unexpectedPageErrors(page).length).toBe(1);
});
