// The foundation as a user meets it: the shell, a sample location to browse and search,
// and devices — every tab a device, reload keeps it, a duplicated tab does not share it,
// a reopened app adopts the device it had.
import type { BrowserContext } from '@playwright/test';
import { count, deviceOf, expect, newProfile, openApp, test, waitReady, type Profile } from './support/browser.ts';

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

test('the shell shows every region and this device, Ready', async ({ baseURL }) => {
  const page = await openApp(context, baseURL!);
  await expect(page.getByRole('navigation', { name: 'Library' })).toBeVisible();
  await expect(page.getByRole('main', { name: 'Files' })).toBeVisible();
  await expect(page.getByRole('complementary', { name: 'Inspector' })).toBeVisible();
  await expect(page.getByRole('status', { name: 'Sync status' })).toContainText('Ready');
  for (const name of ['Devices', 'Locations', 'Tags', 'Albums', 'Files']) await expect(page.getByRole('list', { name })).toBeAttached();
  const me = await page.evaluate(() => window.tabdrive.device);
  const item = page.getByRole('list', { name: 'Devices' }).getByRole('listitem');
  await expect(item).toHaveCount(1);
  await expect(item).toContainText(me.name);
  await expect(item).toContainText('this device');
  expect(me.name).toMatch(/^Chrome [0-9a-f]{4}$/);
});

test('a sample location can be added, browsed, searched and inspected', async ({ baseURL }) => {
  const page = await openApp(context, baseURL!);
  await page.getByRole('button', { name: 'Add sample location' }).click();
  await page.getByRole('textbox', { name: 'Location name' }).fill('Holiday');
  await page.getByRole('spinbutton', { name: 'Number of files' }).fill('300');
  await page.getByRole('button', { name: 'Add', exact: true }).click();
  await expect(page.getByRole('list', { name: 'Locations' })).toContainText('Holiday');
  await expect(page.getByRole('list', { name: 'Locations' })).toContainText('300 files');
  expect(await count(page, "SELECT count(*) FROM entries WHERE kind = 'file'")).toBe(300);

  const files = page.getByRole('list', { name: 'Files' });
  await expect(files.getByRole('listitem').first()).toBeVisible();
  // Browse into the first folder and back out through the breadcrumbs.
  const folder = (await files.getByRole('listitem').first().innerText()).split('\n').map((s) => s.trim()).find((s) => s.length > 2)!;
  await files.getByRole('button', { name: new RegExp(folder) }).first().click();
  const crumbs = page.getByRole('navigation', { name: 'Breadcrumbs' });
  await expect(crumbs).toContainText(folder);
  await crumbs.getByRole('button', { name: 'Holiday' }).click();
  await expect(crumbs.getByRole('button')).toHaveCount(1);

  // Search by prefix across the library.
  const [{ name: target }] = (await page.evaluate(() =>
    window.tabdrive.query("SELECT name FROM entries WHERE kind = 'file' ORDER BY name LIMIT 1"),
  )) as [{ name: string }];
  const prefix = target.slice(0, 5);
  await page.getByRole('searchbox', { name: 'Search files' }).fill(prefix);
  const hit = files.getByRole('button', { name: new RegExp(target.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')) });
  await expect(hit.first()).toBeVisible();
  await hit.first().click();
  const inspector = page.getByRole('complementary', { name: 'Inspector' });
  await expect(inspector).toContainText(target);
  await expect(inspector).toContainText('this device');
  await expect(inspector).toContainText('Holiday');
});

test('a reload keeps the device and its data', async ({ baseURL }) => {
  const page = await openApp(context, baseURL!);
  const before = await deviceOf(page);
  await page.evaluate(() => window.tabdrive.actions!.addSampleLocation('Keep', 25));
  await page.reload();
  await waitReady(page);
  expect(await deviceOf(page)).toBe(before);
  expect(await count(page, 'SELECT count(*) FROM locations')).toBe(1);
  expect(await count(page, "SELECT count(*) FROM entries WHERE kind = 'file'")).toBe(25);
  await expect(page.getByRole('list', { name: 'Locations' })).toContainText('Keep');
});

test('two tabs are two devices, each with its own data and its own database', async ({ baseURL }) => {
  const a = await openApp(context, baseURL!);
  const b = await openApp(context, baseURL!);
  const [da, db] = [await deviceOf(a), await deviceOf(b)];
  expect(da).not.toBe(db);
  expect(await a.evaluate(() => window.tabdrive.dbName)).not.toBe(await b.evaluate(() => window.tabdrive.dbName));
  await a.evaluate(() => window.tabdrive.actions!.addSampleLocation('OnlyA', 10));
  // B holds its own replica: A's location reaches it as A's, B owns nothing.
  await expect.poll(() => count(b, 'SELECT count(*) FROM locations WHERE device_uuid = ?', [da])).toBe(1);
  expect(await count(b, 'SELECT count(*) FROM locations WHERE _owner = ?', [db])).toBe(0);
  expect(await count(a, 'SELECT count(*) FROM locations WHERE _owner = ?', [da])).toBe(1);
});

test('a duplicated tab becomes a new device; the original keeps its own', async ({ baseURL }) => {
  const a = await openApp(context, baseURL!);
  const original = await deviceOf(a);
  // window.open copies sessionStorage into the new tab (HTML spec), like "Duplicate tab".
  const [dup] = await Promise.all([context.waitForEvent('page'), a.evaluate(() => void window.open(location.href))]);
  await waitReady(dup);
  expect(await dup.evaluate(() => sessionStorage.getItem('tabdrive:device'))).not.toBeNull();
  expect(await deviceOf(dup)).not.toBe(original);
  await a.reload();
  await waitReady(a);
  expect(await deviceOf(a)).toBe(original);
});

test('closing a tab and opening the app again adopts that device with its data', async ({ baseURL }) => {
  const a = await openApp(context, baseURL!);
  const device = await deviceOf(a);
  await a.evaluate(() => window.tabdrive.actions!.addSampleLocation('Adopt', 12));
  await a.evaluate(() => window.tabdrive.durable());
  await a.close();
  const b = await openApp(context, baseURL!);
  expect(await deviceOf(b)).toBe(device);
  expect(await count(b, "SELECT count(*) FROM entries WHERE kind = 'file'")).toBe(12);
});

test('"New device" opens a fresh device in a new tab', async ({ baseURL }) => {
  const a = await openApp(context, baseURL!);
  const [fresh] = await Promise.all([context.waitForEvent('page'), a.getByRole('button', { name: 'New device' }).click()]);
  await waitReady(fresh);
  expect(await deviceOf(fresh)).not.toBe(await deviceOf(a));
  expect(await count(fresh, 'SELECT count(*) FROM locations')).toBe(0);
});

test('renaming the device persists across a reload', async ({ baseURL }) => {
  const page = await openApp(context, baseURL!);
  await page.getByRole('button', { name: 'Rename device' }).click();
  await page.getByRole('textbox', { name: 'Device name' }).fill('Studio laptop');
  await page.getByRole('button', { name: 'Save' }).click();
  const devices = page.getByRole('list', { name: 'Devices' });
  await expect(devices).toContainText('Studio laptop');
  await page.reload();
  await waitReady(page);
  await expect(page.getByRole('list', { name: 'Devices' })).toContainText('Studio laptop');
  expect(await page.evaluate(() => window.tabdrive.device.name)).toBe('Studio laptop');
});
