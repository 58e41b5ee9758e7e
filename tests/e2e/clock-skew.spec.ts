// A tab whose clock runs a day ahead (issue 11 item 6, DESIGN §5.1): its tag reaches the other
// tab without dragging that tab's clock forward, and a rename made in the other tab after
// seeing the tag wins in both — it is not undone by the far-ahead stamp.
import type { Locator, Page } from '@playwright/test';
import { expect, freshBrowserPerTest, openApp, TABS_ONLY, test, waitReady } from './support/browser.ts';

const browser = freshBrowserPerTest();
const DAY = 86_400_000;

const nav = (p: Page): Locator => p.getByRole('navigation', { name: 'Library' });
const tags = (p: Page): Locator => nav(p).getByRole('list', { name: 'Tags' });
const tagItem = (p: Page, name: string): Locator => tags(p).getByRole('listitem').filter({ hasText: name });

/** A tab of the same browser whose wall clock (Date.now, new Date()) is `ms` ahead. */
async function openSkewedApp(baseURL: string, ms: number): Promise<Page> {
  const page = await browser.context.newPage();
  await page.addInitScript((skew) => {
    const RealDate = Date;
    const now = (): number => RealDate.now() + skew;
    class SkewedDate extends RealDate {
      constructor(...args: unknown[]) {
        if (args.length === 0) super(now());
        else super(...(args as [string | number]));
      }
      static override now(): number {
        return now();
      }
    }
    globalThis.Date = SkewedDate as DateConstructor;
  }, ms);
  await page.goto(new URL(TABS_ONLY, baseURL).toString());
  await waitReady(page);
  return page;
}

async function rename(p: Page, from: string, to: string): Promise<void> {
  await tagItem(p, from).getByRole('button', { name: 'Rename' }).click();
  await tagItem(p, from).getByRole('textbox', { name: 'New name' }).fill(to);
  await tagItem(p, from).getByRole('button', { name: 'Save' }).click();
}

const names = (p: Page): Promise<unknown[]> =>
  p.evaluate(async () => (await window.tabdrive.query('SELECT display_name FROM tags ORDER BY display_name')).map((r) => r['display_name']));

test('a rename made after seeing a tag from a tab a day ahead wins in both tabs', async ({ baseURL }) => {
  const ahead = await openSkewedApp(baseURL!, DAY);
  // the tab ahead has an image: the normal tab, a new device, starts from it (storage S5),
  // and the sibling's clock in it must not move the normal tab's a day ahead either
  await ahead.evaluate(() => window.tabdrive.snapshot());
  const normal = await openApp(browser.context, baseURL!);
  expect((await normal.evaluate(() => window.tabdrive.boot))?.source).toBe('sibling');
  expect(await ahead.evaluate(() => Date.now() - performance.timeOrigin - performance.now())).toBeGreaterThan(DAY - 60_000);

  await nav(ahead).getByRole('button', { name: 'New tag' }).click();
  await nav(ahead).getByRole('textbox', { name: 'Tag name' }).fill('Vacation');
  await nav(ahead).getByRole('button', { name: 'Create' }).click();
  await expect(tagItem(normal, 'Vacation')).toBeVisible();

  // The normal tab saw the tag; its clock did not move a day ahead (stamp counted as drifted).
  const clockOf = (p: Page) => p.evaluate(() => parseInt(window.tabdrive.hlc()!.slice(0, 12), 16) - Date.now());
  expect(await clockOf(normal)).toBeLessThan(5 * 60_000);
  expect((await normal.evaluate(() => window.tabdrive.stats())).drifted).toBeGreaterThan(0);

  await rename(normal, 'Vacation', 'Holidays');
  for (const p of [normal, ahead]) await expect(tagItem(p, 'Holidays')).toBeVisible();
  // …and it stays renamed (nothing later undoes it), in both tabs' databases
  await normal.waitForTimeout(1500);
  for (const p of [normal, ahead]) expect(await names(p)).toEqual(['Holidays']);
  expect(await clockOf(normal)).toBeLessThan(5 * 60_000);

  // The tab ahead edits after seeing that, then the normal tab once more: the last seen wins.
  await rename(ahead, 'Holidays', 'Trips');
  for (const p of [normal, ahead]) await expect(tagItem(p, 'Trips')).toBeVisible();
  await rename(normal, 'Trips', 'Travel');
  for (const p of [normal, ahead]) await expect(tagItem(p, 'Travel')).toBeVisible();
  await normal.waitForTimeout(1500);
  for (const p of [normal, ahead]) expect(await names(p)).toEqual(['Travel']);
  expect(await ahead.evaluate(() => window.tabdrive.digest())).toEqual(await normal.evaluate(() => window.tabdrive.digest()));
});
