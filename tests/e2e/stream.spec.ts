// The owned-state stream as a user meets it (issue 10): a sample location of a million files
// is added in batches with progress and can be cancelled, leaving a consistent location; the
// other tab receives its rows as pages while the sync document stays small; a fresh tab
// shows "Backfilling n%" while it pulls a large library.
import { count, expect, freshBrowserPerTest, openApp, test, waitReady } from './support/browser.ts';

const browser = freshBrowserPerTest();

test('a million-file sample location is added in batches with progress, can be cancelled, and reaches the other tab as pages', async ({ baseURL }) => {
  const { context } = browser;
  const a = await openApp(context, baseURL!);
  const b = await openApp(context, baseURL!);
  await a.getByRole('button', { name: 'Add sample location' }).click();
  await a.getByRole('textbox', { name: 'Location name' }).fill('Huge');
  await a.getByRole('spinbutton', { name: 'Number of files' }).fill('1000000');
  await a.getByRole('button', { name: 'Add', exact: true }).click();
  const progress = a.getByRole('progressbar', { name: 'Adding files' });
  await expect(progress).toBeVisible();
  await expect.poll(async () => Number(await progress.getAttribute('value')), { timeout: 60_000 }).toBeGreaterThanOrEqual(4000);
  expect(await progress.getAttribute('max')).toBe('1000000');
  await a.getByRole('button', { name: 'Cancel' }).click();
  await expect(progress).toBeHidden({ timeout: 30_000 });
  // what was written is a location whose totals say what is there
  const files = await count(a, "SELECT count(*) FROM entries e JOIN locations l ON l.uuid = e.location_uuid WHERE l.name = 'Huge' AND e.kind = 'file'");
  expect(files).toBeGreaterThanOrEqual(4000);
  expect(files).toBeLessThan(1_000_000);
  expect(await count(a, "SELECT total_file_count FROM locations WHERE name = 'Huge'")).toBe(files);
  await expect(a.getByRole('list', { name: 'Locations' })).toContainText('Huge');
  // the other tab holds the same rows, received through the stream; the document holds none
  await expect.poll(() => count(b, "SELECT count(*) FROM entries e JOIN locations l ON l.uuid = e.location_uuid WHERE l.name = 'Huge' AND e.kind = 'file'"), { timeout: 60_000 }).toBe(files);
  await expect.poll(async () => new Set(await Promise.all([a, b].map(async (p) => JSON.stringify(await p.evaluate(() => window.tabdrive.digest()))))).size, { timeout: 30_000 }).toBe(1);
  const stream = await b.evaluate(() => window.tabdrive.transportStats!().stream);
  expect(stream.rowsIn).toBeGreaterThanOrEqual(files);
  const documentSize = await a.evaluate(async () => (await window.tabdrive.stats()).documentSize);
  expect(documentSize).toBeLessThan(10_000);
});

test('a fresh tab shows "Backfilling n%" while it pulls a large library, then Ready', async ({ baseURL }) => {
  const { context } = browser;
  const a = await openApp(context, baseURL!);
  await a.evaluate(() => window.tabdrive.actions!.addSampleLocation('Big', 30_000));
  const entries = await count(a, 'SELECT count(*) FROM entries');
  const c = await context.newPage();
  const seen: string[] = [];
  await c.exposeFunction('__status', (t: string) => void seen.push(t));
  await c.addInitScript(() => {
    const watch = (): void => {
      const el = document.querySelector('[role="status"][aria-label="Sync status"]');
      if (!el) return void setTimeout(watch, 20);
      new MutationObserver(() => void (window as unknown as { __status: (t: string) => void }).__status(el.textContent ?? '')).observe(el, { subtree: true, childList: true, characterData: true });
    };
    watch();
  });
  await c.goto(new URL('/?signaling=&no-seed', baseURL).toString());
  await waitReady(c);
  await expect.poll(() => count(c, 'SELECT count(*) FROM entries'), { timeout: 90_000 }).toBe(entries);
  await expect(c.getByRole('status', { name: 'Sync status' })).toContainText('Ready', { timeout: 30_000 });
  expect(seen.some((t) => /Backfilling \d+%/.test(t))).toBe(true);
});
