// The library through its interface (DESIGN §8 names only): tags, albums, favourites and
// notes made with the sidebar and the Inspector in one tab show up in another tab; same-name
// tags made while apart are shown side by side and merged; list/grid and sorting.
import type { Locator, Page } from '@playwright/test';
import { expect, freshBrowserPerTest, openApp, test } from './support/browser.ts';

const browser = freshBrowserPerTest();

const nav = (p: Page): Locator => p.getByRole('navigation', { name: 'Library' });
const inspector = (p: Page): Locator => p.getByRole('complementary', { name: 'Inspector' });
const files = (p: Page): Locator => p.getByRole('main', { name: 'Files' }).getByRole('list', { name: 'Files' });
const tagItem = (p: Page, name: string): Locator => nav(p).getByRole('list', { name: 'Tags' }).getByRole('listitem').filter({ hasText: name });
const albumItem = (p: Page, name: string): Locator => nav(p).getByRole('list', { name: 'Albums' }).getByRole('listitem').filter({ hasText: name });

async function addSample(p: Page, name: string, n: number): Promise<void> {
  await nav(p).getByRole('button', { name: 'Add sample location' }).click();
  await nav(p).getByRole('textbox', { name: 'Location name' }).fill(name);
  await nav(p).getByRole('spinbutton', { name: 'Number of files' }).fill(String(n));
  await nav(p).getByRole('button', { name: 'Add', exact: true }).click();
  await expect(nav(p).getByRole('list', { name: 'Locations' })).toContainText(name);
}
async function newTag(p: Page, name: string, namespace = ''): Promise<void> {
  await nav(p).getByRole('button', { name: 'New tag' }).click();
  await nav(p).getByRole('textbox', { name: 'Tag name' }).fill(name);
  if (namespace) await nav(p).getByRole('textbox', { name: 'Namespace' }).fill(namespace);
  await nav(p).getByRole('button', { name: 'Create' }).click();
  await expect(tagItem(p, name).first()).toBeVisible();
}
/** Finds a file with "Search files" and selects it (`skip`: pick another one). */
async function selectAFile(p: Page, skip = 0): Promise<string> {
  const [row] = await p.evaluate(
    (skip) => window.tabdrive.query(
      "SELECT name FROM entries WHERE kind = 'file' GROUP BY name HAVING count(*) = 1 ORDER BY name LIMIT 1 OFFSET ?",
      [skip],
    ),
    skip,
  );
  const name = String(row!['name']);
  await p.getByRole('searchbox', { name: 'Search files' }).fill(name);
  await files(p).getByRole('button', { name }).first().click();
  await expect(inspector(p).getByRole('heading', { name })).toBeVisible();
  return name;
}

test('tags, favourite, notes and albums from the UI reach the other tab', async ({ baseURL }) => {
  const a = await openApp(browser.context, baseURL!);
  const b = await openApp(browser.context, baseURL!);
  await addSample(a, 'Photos', 60);
  await newTag(a, 'Vacation', 'travel');
  await expect(tagItem(b, 'Vacation')).toBeVisible();

  const name = await selectAFile(a);
  await inspector(a).getByRole('combobox', { name: 'Add tag' }).selectOption({ label: 'travel / Vacation' });
  await expect(inspector(a).getByRole('list', { name: 'Tags of this file' })).toContainText('Vacation');
  await inspector(a).getByRole('button', { name: 'Favorite' }).click();
  await expect(inspector(a).getByRole('button', { name: 'Favorite' })).toHaveAttribute('aria-pressed', 'true');
  await inspector(a).getByRole('textbox', { name: 'Notes' }).fill('sunset at the pier');

  // B: the tag lists the file (from A's device), with its favourite and notes.
  await expect(tagItem(b, 'Vacation')).toContainText('1');
  await tagItem(b, 'Vacation').getByRole('button').first().click();
  await expect(files(b).getByRole('listitem')).toHaveCount(1);
  await files(b).getByRole('button', { name }).click();
  await expect(inspector(b).getByRole('button', { name: 'Favorite' })).toHaveAttribute('aria-pressed', 'true');
  await expect(inspector(b).getByRole('textbox', { name: 'Notes' })).toHaveValue('sunset at the pier');

  // B makes an album and adds the file; A sees the album with the file.
  await nav(b).getByRole('button', { name: 'New album' }).click();
  await nav(b).getByRole('textbox', { name: 'Album name' }).fill('Summer 2024');
  await nav(b).getByRole('button', { name: 'Create' }).click();
  await inspector(b).getByRole('combobox', { name: 'Add to album' }).selectOption({ label: 'Summer 2024' });
  await expect(inspector(b).getByRole('list', { name: 'Albums of this file' })).toContainText('Summer 2024');
  await expect(albumItem(a, 'Summer 2024')).toContainText('1');
  await expect(inspector(a).getByRole('list', { name: 'Albums of this file' })).toContainText('Summer 2024');

  // Notes typed on B while A shows the file: A's box follows (it does not have focus).
  await inspector(b).getByRole('textbox', { name: 'Notes' }).fill('sunset at the pier, 8pm');
  await expect(inspector(a).getByRole('textbox', { name: 'Notes' })).toHaveValue('sunset at the pier, 8pm');

  // Favourites view on A lists it.
  await nav(a).getByRole('button', { name: 'Favorites' }).click();
  await expect(files(a).getByRole('listitem')).toHaveCount(1);

  // Rename the tag and the album on A; B follows. Remove the tag on B; A's tag is empty.
  await tagItem(a, 'Vacation').getByRole('button', { name: 'Rename' }).click();
  await tagItem(a, 'Vacation').getByRole('textbox', { name: 'New name' }).fill('Holidays');
  await tagItem(a, 'Vacation').getByRole('button', { name: 'Save' }).click();
  await expect(tagItem(b, 'Holidays')).toBeVisible();
  await albumItem(a, 'Summer 2024').getByRole('button', { name: 'Rename' }).click();
  await albumItem(a, 'Summer 2024').getByRole('textbox', { name: 'New name' }).fill('Summer');
  await albumItem(a, 'Summer 2024').getByRole('button', { name: 'Save' }).click();
  await expect(albumItem(b, 'Summer')).toBeVisible();
  await inspector(b).getByRole('button', { name: 'Remove tag Holidays' }).click();
  await expect(tagItem(a, 'Holidays')).toContainText('0');

  // Delete both; they disappear everywhere (sticky delete).
  await tagItem(b, 'Holidays').getByRole('button', { name: 'Delete' }).click();
  await albumItem(b, 'Summer').getByRole('button', { name: 'Delete' }).click();
  await expect(nav(a).getByRole('list', { name: 'Tags' }).getByRole('listitem')).toHaveCount(0);
  await expect(nav(a).getByRole('list', { name: 'Albums' }).getByRole('listitem')).toHaveCount(0);
  await expect(inspector(a).getByRole('list', { name: 'Albums of this file' }).getByRole('listitem')).toHaveCount(0);
});

test('same-name tags made while apart are told apart and merged', async ({ baseURL }) => {
  const a = await openApp(browser.context, baseURL!);
  const b = await openApp(browser.context, baseURL!);
  await addSample(a, 'Docs', 30);
  await expect(nav(b).getByRole('list', { name: 'Locations' })).toContainText('Docs');
  await b.getByRole('button', { name: 'Pause sync' }).click();
  await newTag(a, 'Receipts');
  await newTag(b, 'Receipts');
  // each tags a different file with its own "Receipts"
  await selectAFile(a);
  await inspector(a).getByRole('combobox', { name: 'Add tag' }).selectOption({ label: 'Receipts' });
  const bName = await selectAFile(b, 1);
  await inspector(b).getByRole('combobox', { name: 'Add tag' }).selectOption({ label: 'Receipts' });
  await b.getByRole('button', { name: 'Pause sync' }).click();

  for (const p of [a, b]) {
    await expect(tagItem(p, 'Receipts').filter({ has: p.getByRole('button', { name: 'Rename' }) })).toHaveCount(2);
    await expect(nav(p).getByText(/made on .*\(this device\)/)).toHaveCount(1);
  }
  await nav(a).getByRole('button', { name: 'Merge “Receipts”' }).click();
  for (const p of [a, b]) {
    await expect(tagItem(p, 'Receipts')).toHaveCount(1);
    await expect(tagItem(p, 'Receipts')).toContainText('2');
    await expect(nav(p).getByRole('button', { name: /Merge/ })).toHaveCount(0);
  }
  // B's file still has the (kept) tag.
  await expect(inspector(b).getByRole('heading', { name: bName })).toBeVisible();
  await expect(inspector(b).getByRole('list', { name: 'Tags of this file' })).toContainText('Receipts');
});

test('list and grid layouts, sorting, and the devices of files in a search', async ({ baseURL }) => {
  const a = await openApp(browser.context, baseURL!);
  await addSample(a, 'Music', 400);
  const b = await openApp(browser.context, baseURL!);
  await addSample(b, 'Music B', 50);
  await expect(nav(a).getByRole('list', { name: 'Locations' })).toContainText('Music B');
  // each device says what it holds: its locations, files and volumes
  const bName = await b.evaluate(() => window.tabdrive.device.name);
  await expect(nav(a).getByRole('list', { name: 'Devices' }).getByRole('listitem').filter({ hasText: bName })).toContainText('1 location · 50 files · Sample data');

  // A search lists files of both devices, each saying whose it is.
  const search = a.getByRole('searchbox', { name: 'Search files' });
  await search.fill('2');
  const total = Number((await a.evaluate(() => window.tabdrive.query("SELECT count(*) AS n FROM entries_fts WHERE entries_fts MATCH '2*'")))[0]!['n']);
  expect(total).toBeGreaterThan(10);
  await expect(a.getByRole('main', { name: 'Files' })).toContainText(`${total.toLocaleString('en')} matches`);
  const names = (await a.evaluate(() => window.tabdrive.query('SELECT name FROM devices'))).map((r) => String(r['name']));
  for (const n of names) await expect(files(a).getByText(n, { exact: true }).first()).toBeAttached();

  // Sorting: "Largest first" puts the largest matching file first (folders always lead).
  await a.getByRole('combobox', { name: 'Sort by' }).selectOption({ label: 'Largest first' });
  const [largest] = await a.evaluate(() =>
    window.tabdrive.query(
      "SELECT e.name FROM entries_fts f JOIN entries e ON e.rowid = f.docid WHERE entries_fts MATCH '2*' AND e.kind = 'file' ORDER BY e.size DESC, e.name COLLATE NOCASE LIMIT 1",
    ),
  );
  await expect(files(a).locator('button:not([title^="folder"])').first()).toContainText(String(largest!['name']));

  // Grid: tiles share rows; list: one item per row. Both stay a list of the same files.
  await a.getByRole('button', { name: 'Grid' }).click();
  await expect(a.getByRole('button', { name: 'Grid' })).toHaveAttribute('aria-pressed', 'true');
  const box = (i: number) => files(a).getByRole('listitem').nth(i).boundingBox();
  await expect(files(a).getByRole('listitem').nth(1)).toBeVisible();
  const [t0, t1] = [await box(0), await box(1)];
  expect(t1!.y).toBe(t0!.y);
  expect(t1!.x).toBeGreaterThan(t0!.x);
  await a.getByRole('button', { name: 'List' }).click();
  await expect(a.getByRole('button', { name: 'List' })).toHaveAttribute('aria-pressed', 'true');
  const [r0, r1] = [await box(0), await box(1)];
  expect(r1!.y).toBeGreaterThan(r0!.y);
});

test('the sync inspector shows the peer, table digests, counters, storage and live latency', async ({ baseURL }) => {
  const a = await openApp(browser.context, baseURL!);
  const b = await openApp(browser.context, baseURL!);
  await b.getByRole('button', { name: 'Sync inspector' }).click();
  const panel = b.getByRole('dialog', { name: 'Sync inspector' });
  await expect(panel).toBeVisible();
  const aName = await a.evaluate(() => window.tabdrive.device.name);
  const peers = panel.getByRole('region', { name: 'Peers' });
  await expect(peers.getByRole('row').filter({ hasText: aName })).toContainText('tab');
  // changes from A: latency samples appear, and after anti-entropy every table matches
  await addSample(a, 'Live', 10);
  for (let i = 0; i < 5; i++) await a.evaluate((i) => window.tabdrive.actions!.createAlbum(`Album ${i}`), i);
  await expect(panel.getByRole('region', { name: 'Latency' })).toContainText(/median \d+ ms/);
  await expect(panel.getByRole('region', { name: 'Latency' }).getByRole('img')).toBeVisible();
  await expect(peers.getByRole('row').filter({ hasText: aName })).toContainText(/all \d+ match/, { timeout: 20_000 });
  await expect(panel.getByRole('region', { name: 'This device' })).toContainText(/Applied\s*[1-9]/);
  await expect(panel.getByRole('region', { name: 'Storage' })).toContainText('IndexedDB');
  // A's location reached B as a page of the owned-state stream
  await expect(panel.getByRole('region', { name: 'Transport' })).toContainText(/File rows\s*[1-9]\d* pages in \([1-9]/);
  await panel.getByRole('button', { name: 'Compact now' }).click();
  await expect(panel.getByRole('region', { name: 'This device' })).toContainText('just now');
  await b.getByRole('button', { name: 'Sync inspector' }).click();
  await expect(panel).toBeHidden();
});

test('a difference a resync cannot repair is named in the sync inspector: which table, which peer, when it is tried again', async ({ baseURL }) => {
  const path = '/?signaling=&anti-entropy-ms=300';
  const a = await openApp(browser.context, baseURL!, path);
  const b = await openApp(browser.context, baseURL!, path);
  const digests = async (): Promise<number> => new Set(await Promise.all([a, b].map(async (p) => JSON.stringify(await p.evaluate(() => window.tabdrive.digest()))))).size;
  await expect.poll(digests, { timeout: 20_000 }).toBe(1); // both sides read anew each time
  // a tag in B's database only — not in the document: no handshake can bring it to A
  await b.evaluate(async () => {
    const hlc = window.tabdrive.hlc()!;
    await window.tabdrive.divergeLocally!([{ kind: 'shared', model: 'tag', uuid: crypto.randomUUID(), hlc, op: 'insert', fields: {
      canonical_name: 'only here', display_name: 'Only here', namespace: null, tag_type: 'standard', color: null, privacy_level: 'normal', search_weight: 1, created_by_device: window.tabdrive.device.uuid,
    } }]);
  });
  await b.getByRole('button', { name: 'Sync inspector' }).click();
  const panel = b.getByRole('dialog', { name: 'Sync inspector' });
  const aName = await a.evaluate(() => window.tabdrive.device.name);
  const unrepaired = panel.getByRole('list', { name: 'Differences a resync did not repair' });
  await expect(unrepaired).toContainText(new RegExp(`tags differ from ${aName} after \\d+ resyncs?; retrying (in \\d+ s|now)`), { timeout: 30_000 });
  // it backs off: the resyncs do not go on at the check's pace (every 300 ms)
  const r1 = await b.evaluate(async () => (await window.tabdrive.stats()).antiEntropy.resyncs);
  await b.waitForTimeout(3000);
  const r2 = await b.evaluate(async () => (await window.tabdrive.stats()).antiEntropy.resyncs);
  expect(r2 - r1).toBeLessThanOrEqual(1);
});

test('the theme follows the choice across a reload, and a phone-width window stacks library, files and inspector', async ({ baseURL }) => {
  const a = await openApp(browser.context, baseURL!);
  const theme = () => a.evaluate(() => document.documentElement.dataset['theme']);
  const bg = () => a.evaluate(() => getComputedStyle(document.documentElement).backgroundColor);
  expect(await theme()).toBe('light'); // "System theme", and headless Chromium's system is light
  const light = await bg();
  await a.getByRole('combobox', { name: 'Theme' }).selectOption({ label: 'Dark theme' });
  expect(await theme()).toBe('dark');
  expect(await bg()).not.toBe(light);
  await a.reload();
  await a.waitForFunction(() => window.tabdrive?.device?.uuid);
  expect(await theme()).toBe('dark');
  await expect(a.getByRole('combobox', { name: 'Theme' })).toHaveValue('dark');
  await a.getByRole('combobox', { name: 'Theme' }).selectOption({ label: 'System theme' });
  expect(await theme()).toBe('light');

  await addSample(a, 'Phone', 30);
  await a.setViewportSize({ width: 390, height: 844 });
  const box = async (role: 'navigation' | 'main' | 'complementary', name: string) => (await a.getByRole(role, { name }).boundingBox())!;
  const [navBox, mainBox, asideBox] = [await box('navigation', 'Library'), await box('main', 'Files'), await box('complementary', 'Inspector')];
  for (const b of [navBox, mainBox, asideBox]) {
    expect(b.x).toBe(0);
    expect(b.width).toBeLessThanOrEqual(390);
  }
  expect(mainBox.y).toBeGreaterThanOrEqual(navBox.y + navBox.height - 1);
  expect(asideBox.y).toBeGreaterThanOrEqual(mainBox.y + mainBox.height - 1);
  expect(mainBox.height).toBeGreaterThan(844 * 0.5); // the file list keeps most of the screen
  expect(await a.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(390); // nothing sideways
});
