// The files themselves (issue 14, items 5 and 6): an entry keeps its identity when its file is
// renamed or moved on disk and the location is re-scanned (so its tags, notes, favourite and
// albums stay with it); many files are selected at once and tagged, added to an album or
// favourited in one act; the "Kind" filter, the "Duplicates" view, and the keyboard.
import type { Locator, Page } from '@playwright/test';
import { mkdirSync, mkdtempSync, renameSync, rmSync, copyFileSync, writeFileSync, unlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, freshBrowserPerTest, openApp, test } from './support/browser.ts';

const browser = freshBrowserPerTest();
const nav = (p: Page): Locator => p.getByRole('navigation', { name: 'Library' });
const files = (p: Page): Locator => p.getByRole('main', { name: 'Files' }).getByRole('list', { name: 'Files' });
const inspector = (p: Page): Locator => p.getByRole('complementary', { name: 'Inspector' });
const q = (p: Page, sql: string, params: (string | number)[] = []) => p.evaluate(([s, a]) => window.tabdrive.query(s, a), [sql, params] as const);
const uuidOf = async (p: Page, name: string): Promise<string | undefined> =>
  (await q(p, 'SELECT uuid FROM entries WHERE name = ?', [name])).map((r) => String(r['uuid']))[0];

let tmp: string;
test.beforeEach(() => {
  tmp = mkdtempSync(join(tmpdir(), 'tabdrive-many-'));
});
test.afterEach(() => rmSync(tmp, { recursive: true, force: true }));

const bytes = (n: number, seed: number) => Buffer.from(Uint8Array.from({ length: n }, (_, i) => (i * 131 + seed * 7) & 0xff));

async function addFolder(p: Page, dir: string): Promise<void> {
  await p.bringToFront(); // a directory upload into a background tab never completes
  await nav(p).getByLabel('Folder', { exact: true }).setInputFiles(dir);
}
async function rescan(p: Page, name: string, dir: string): Promise<void> {
  const item = nav(p).getByRole('list', { name: 'Locations' }).getByRole('listitem').filter({ hasText: name }).last();
  await p.bringToFront();
  await item.hover();
  const chooser = p.waitForEvent('filechooser');
  await item.getByRole('button', { name: 'Rescan' }).click();
  await (await chooser).setFiles(dir);
}
async function newTag(p: Page, name: string): Promise<void> {
  await nav(p).getByRole('button', { name: 'New tag' }).click();
  await nav(p).getByRole('textbox', { name: 'Tag name' }).fill(name);
  await nav(p).getByRole('button', { name: 'Create' }).click();
  await expect(nav(p).getByRole('list', { name: 'Tags' })).toContainText(name);
}
async function newAlbum(p: Page, name: string): Promise<void> {
  await nav(p).getByRole('button', { name: 'New album' }).click();
  await nav(p).getByRole('textbox', { name: 'Album name' }).fill(name);
  await nav(p).getByRole('button', { name: 'Create' }).click();
  await expect(nav(p).getByRole('list', { name: 'Albums' })).toContainText(name);
}
async function open(p: Page, name: string): Promise<void> {
  await p.getByRole('searchbox', { name: 'Search files' }).fill(name);
  await files(p).getByRole('button', { name: new RegExp(`^${name.replace('.', '\\.')}`) }).first().click();
  await expect(inspector(p).getByRole('heading', { name })).toBeVisible();
}

test('renamed and moved files keep their entry (tags, notes, favourite, album) across a re-scan; copies are new', async ({ baseURL }) => {
  const root = join(tmp, 'Trip');
  mkdirSync(join(root, 'photos', '2024'), { recursive: true });
  mkdirSync(join(root, 'twins'));
  writeFileSync(join(root, 'photos', 'beach.jpg'), bytes(5_000, 1));
  writeFileSync(join(root, 'photos', '2024', 'dunes.png'), bytes(300_000, 2)); // sampled, not hashed whole
  writeFileSync(join(root, 'notes.txt'), 'pack sunscreen\n');
  writeFileSync(join(root, 'twins', 'one.jpg'), bytes(4_000, 4));
  writeFileSync(join(root, 'twins', 'two.jpg'), bytes(4_000, 4));
  const a = await openApp(browser.context, baseURL!);
  const b = await openApp(browser.context, baseURL!);
  await addFolder(a, root);
  await expect(nav(a).getByRole('status')).toContainText('“Trip”: 5 files');
  const before = {
    beach: await uuidOf(a, 'beach.jpg'), dunes: await uuidOf(a, 'dunes.png'), notes: await uuidOf(a, 'notes.txt'),
    one: await uuidOf(a, 'one.jpg'), two: await uuidOf(a, 'two.jpg'),
  };

  await newTag(a, 'Vacation');
  await newAlbum(a, 'Summer');
  await open(a, 'beach.jpg');
  await inspector(a).getByRole('combobox', { name: 'Add tag' }).selectOption({ label: 'Vacation' });
  await inspector(a).getByRole('combobox', { name: 'Add to album' }).selectOption({ label: 'Summer' });
  await inspector(a).getByRole('button', { name: 'Favorite' }).click();
  await inspector(a).getByRole('textbox', { name: 'Notes' }).fill('the blue hour');
  await expect.poll(async () => (await q(a, 'SELECT notes FROM user_metadata WHERE entry_uuid = ?', [before.beach!]))[0]?.['notes']).toBe('the blue hour');
  await open(a, 'two.jpg');
  await inspector(a).getByRole('combobox', { name: 'Add tag' }).selectOption({ label: 'Vacation' });
  await expect(inspector(a).getByRole('list', { name: 'Tags of this file' })).toContainText('Vacation');

  // On disk: a rename in place, a move to another folder (whose old folder goes), two copies
  // of one content vanish and one of them reappears elsewhere, and a copy of a file is made.
  renameSync(join(root, 'photos', 'beach.jpg'), join(root, 'photos', 'seaside.jpg'));
  renameSync(join(root, 'photos', '2024', 'dunes.png'), join(root, 'dunes.png'));
  rmSync(join(root, 'photos', '2024'), { recursive: true });
  mkdirSync(join(root, 'pairs'));
  renameSync(join(root, 'twins', 'two.jpg'), join(root, 'pairs', 'two.jpg'));
  unlinkSync(join(root, 'twins', 'one.jpg'));
  rmSync(join(root, 'twins'), { recursive: true });
  copyFileSync(join(root, 'notes.txt'), join(root, 'notes copy.txt'));
  await rescan(a, 'Trip', root);
  // added: pairs/ and "notes copy.txt"; moved: seaside, dunes, two; removed: one.jpg, twins/, photos/2024/
  await expect(nav(a).getByRole('status')).toContainText('“Trip”: 5 files (2 added, 3 moved, 3 removed)');

  expect(await uuidOf(a, 'seaside.jpg')).toBe(before.beach);
  expect(await uuidOf(a, 'dunes.png')).toBe(before.dunes);
  expect(await uuidOf(a, 'two.jpg')).toBe(before.two); // the namesake of the two vanished copies
  expect(await uuidOf(a, 'one.jpg')).toBeUndefined();
  expect(await uuidOf(a, 'notes.txt')).toBe(before.notes); // a copy leaves its source as it is …
  const copy = await uuidOf(a, 'notes copy.txt');
  expect(copy).toBeDefined();
  expect(Object.values(before)).not.toContain(copy); // … and is a new entry
  expect(await q(a, 'SELECT count(*) AS n FROM entries WHERE uuid = ?', [before.one!])).toEqual([{ n: 0 }]);

  // the renamed file shows what the user gave it, here and on the other tab
  for (const p of [a, b]) {
    await open(p, 'seaside.jpg');
    await expect(inspector(p).getByRole('list', { name: 'Tags of this file' })).toContainText('Vacation');
    await expect(inspector(p).getByRole('list', { name: 'Albums of this file' })).toContainText('Summer');
    await expect(inspector(p).getByRole('button', { name: 'Favorite' })).toHaveAttribute('aria-pressed', 'true');
    await expect(inspector(p).getByRole('textbox', { name: 'Notes' })).toHaveValue('the blue hour');
    await expect(inspector(p)).toContainText('/Trip/photos/seaside.jpg');
    await open(p, 'two.jpg');
    await expect(inspector(p).getByRole('list', { name: 'Tags of this file' })).toContainText('Vacation');
    await expect(inspector(p)).toContainText('/Trip/pairs/two.jpg');
  }
  await expect.poll(async () => (await q(b, 'SELECT uuid FROM entries WHERE name = ?', ['dunes.png'])).map((r) => r['uuid'])).toEqual([before.dunes]);
  expect(await q(b, "SELECT count(*) AS n FROM entries WHERE name IN ('beach.jpg', 'one.jpg', '2024', 'twins')")).toEqual([{ n: 0 }]);
});

const pressed = (p: Page): Locator => files(p).locator('button[aria-pressed="true"]');
const fileButton = (p: Page, name: string): Locator => files(p).getByRole('button', { name: new RegExp(`^${name.replace(/\./g, '\\.')}`) });
const deviceName = async (p: Page): Promise<string> =>
  String((await q(p, 'SELECT name FROM devices WHERE uuid = ?', [await p.evaluate(() => window.tabdrive.device.uuid)]))[0]!['name']);

test('many at once: Ctrl/Shift-click, Ctrl+A and Shift+arrows select; one act tags, files and favourites them all; Kind, search, Duplicates and keys', async ({ baseURL }) => {
  const root = join(tmp, 'Album');
  mkdirSync(root);
  for (let i = 1; i <= 6; i++) writeFileSync(join(root, `p${i}.jpg`), bytes(2_000 + i, i));
  for (let i = 1; i <= 3; i++) writeFileSync(join(root, `d${i}.pdf`), bytes(900 + i, 20 + i));
  writeFileSync(join(root, 'n1.txt'), 'a note\n');
  writeFileSync(join(root, 'copy of p1.jpg'), bytes(2_001, 1));
  const other = join(tmp, 'Other');
  mkdirSync(other);
  writeFileSync(join(other, 'p2 again.jpg'), bytes(2_002, 2)); // p2's content, on the other device
  const a = await openApp(browser.context, baseURL!);
  const b = await openApp(browser.context, baseURL!);
  await addFolder(b, other);
  await expect(nav(b).getByRole('status')).toContainText('“Other”: 1 files');
  await addFolder(a, root);
  await expect(nav(a).getByRole('status')).toContainText('“Album”: 11 files');
  await newTag(a, 'Picked');
  await newAlbum(a, 'Best');
  await expect(files(a).getByRole('listitem')).toHaveCount(11); // sorted by name: copy of p1, d1–d3, n1, p1–p6

  // click, Ctrl-click, Shift-click (from the last click)
  await fileButton(a, 'd1.pdf').click();
  await expect(inspector(a).getByRole('heading', { name: 'd1.pdf' })).toBeVisible();
  await fileButton(a, 'p1.jpg').click({ modifiers: ['Control'] });
  await expect(pressed(a)).toHaveCount(2);
  await expect(inspector(a).getByRole('heading', { name: '2 items selected' })).toBeVisible();
  await fileButton(a, 'd1.pdf').click({ modifiers: ['Control'] }); // toggled off: one left, its details
  await expect(inspector(a).getByRole('heading', { name: 'p1.jpg' })).toBeVisible();
  await fileButton(a, 'p4.jpg').click({ modifiers: ['Shift'] });
  await expect(pressed(a)).toHaveCount(8); // from the last click (d1, even toggled off) to p4
  await fileButton(a, 'p1.jpg').click();
  await expect(pressed(a)).toHaveCount(1);
  await fileButton(a, 'p4.jpg').click({ modifiers: ['Shift'] });
  await expect(pressed(a)).toHaveCount(4); // p1..p4
  await expect(inspector(a).getByRole('heading', { name: '4 items selected' })).toBeVisible();
  // keyboard: Shift+ArrowDown stretches the range from the anchor; plain arrows move the focus only
  await fileButton(a, 'p4.jpg').press('Shift+ArrowDown');
  await expect(pressed(a)).toHaveCount(5);
  await expect(fileButton(a, 'p5.jpg')).toBeFocused();
  await a.keyboard.press('ArrowUp');
  await expect(fileButton(a, 'p4.jpg')).toBeFocused();
  await expect(pressed(a)).toHaveCount(5);

  // one act each for all five: tag, album, favourite — and the other tab sees all five
  await inspector(a).getByRole('combobox', { name: 'Add tag' }).selectOption({ label: 'Picked' });
  await expect(inspector(a).getByRole('status')).toHaveText('Tagged 5 files with “Picked”.');
  await inspector(a).getByRole('combobox', { name: 'Add to album' }).selectOption({ label: 'Best' });
  await expect(inspector(a).getByRole('status')).toHaveText('Added 5 files to “Best”.');
  const fav = inspector(a).getByRole('button', { name: 'Favorite' });
  await expect(fav).toHaveAttribute('aria-pressed', 'false');
  await fav.click();
  await expect(fav).toHaveAttribute('aria-pressed', 'true');
  await nav(b).getByRole('list', { name: 'Tags' }).getByRole('listitem').filter({ hasText: 'Picked' }).getByRole('button').first().click();
  await expect(files(b).getByRole('listitem')).toHaveCount(5);
  await expect(files(b)).toContainText('p5.jpg');
  await nav(b).getByRole('button', { name: 'Favorites' }).click();
  await expect(files(b).getByRole('listitem')).toHaveCount(5);
  await expect(nav(b).getByRole('list', { name: 'Albums' }).getByRole('listitem').filter({ hasText: 'Best' })).toContainText('5');

  // Escape clears the selection; Ctrl+A selects every listed file (focus in the list)
  await a.keyboard.press('Escape');
  await expect(pressed(a)).toHaveCount(0);
  await expect(inspector(a)).toContainText('Select a file');
  await fileButton(a, 'n1.txt').focus();
  await a.keyboard.press('Control+a');
  await expect(pressed(a)).toHaveCount(11);
  await expect(inspector(a).getByRole('heading', { name: '11 items selected' })).toBeVisible();
  await expect(a.getByRole('main', { name: 'Files' })).toContainText('11 selected');

  // Ctrl+F goes to "Search files"; search and Kind combine (and a new list drops the selection)
  await a.keyboard.press('Control+f');
  const search = a.getByRole('searchbox', { name: 'Search files' });
  await expect(search).toBeFocused();
  await a.keyboard.type('jp');
  await expect(files(a).getByRole('listitem')).toHaveCount(8); // a search spans devices: copy of p1, p1–p6, and B's p2 again
  await expect(pressed(a)).toHaveCount(0);
  const kind = a.getByRole('combobox', { name: 'Kind' });
  await kind.selectOption({ label: 'Documents' });
  await expect(files(a).getByRole('listitem')).toHaveCount(0);
  await search.fill('');
  await expect(files(a).getByRole('listitem')).toHaveCount(3);
  for (const n of ['d1.pdf', 'd2.pdf', 'd3.pdf']) await expect(fileButton(a, n)).toBeVisible();
  await kind.selectOption({ label: 'Images' });
  await expect(files(a).getByRole('listitem')).toHaveCount(7);
  // Ctrl+A with a filter selects what is listed, nothing else
  await fileButton(a, 'p3.jpg').click();
  await a.keyboard.press('Control+a');
  await expect(inspector(a).getByRole('heading', { name: '7 items selected' })).toBeVisible();
  await kind.selectOption({ label: 'All kinds' });

  // Duplicates: p1 twice on A, p2 on A and on B — with the devices that hold each copy
  const [nameA, nameB] = [await deviceName(a), await deviceName(b)];
  await nav(a).getByRole('button', { name: 'Duplicates' }).click();
  await expect(files(a).getByRole('listitem')).toHaveCount(4);
  const rows = files(a).getByRole('listitem');
  await expect(rows.nth(0)).toContainText('p2');
  await expect(rows.nth(0)).toContainText(`2 copies on ${[nameA, nameB].sort().join(', ')}`);
  await expect(rows.nth(2)).toContainText('p1.jpg');
  await expect(rows.nth(2)).toContainText(`2 copies on ${nameA}`);
  await expect(files(a)).not.toContainText('n1.txt');
});

test('bulk "Add tag" on 1,000 files is one act and the other tab receives all 1,000', async ({ baseURL }) => {
  const root = join(tmp, 'Thousand');
  mkdirSync(root);
  for (let i = 0; i < 1000; i++) writeFileSync(join(root, `f${String(i).padStart(4, '0')}.txt`), `file ${i}\n`);
  const a = await openApp(browser.context, baseURL!);
  const b = await openApp(browser.context, baseURL!);
  await addFolder(a, root);
  await expect(nav(a).getByRole('status')).toContainText('“Thousand”: 1,000 files', { timeout: 60_000 });
  await newTag(a, 'Batch');
  await expect(nav(b).getByRole('list', { name: 'Tags' })).toContainText('Batch');
  await fileButton(a, 'f0000.txt').click();
  await a.keyboard.press('Control+a');
  await expect(inspector(a).getByRole('heading', { name: '1,000 items selected' })).toBeVisible();

  const commitsBefore = await a.evaluate(async () => (await window.tabdrive.stats()).applied);
  const t0 = Date.now();
  await inspector(a).getByRole('combobox', { name: 'Add tag' }).selectOption({ label: 'Batch' });
  await expect(inspector(a).getByRole('status')).toHaveText('Tagged 1,000 files with “Batch”.', { timeout: 30_000 });
  const acked = Date.now() - t0;
  await expect.poll(() => q(b, 'SELECT count(*) AS n FROM tag_links WHERE active = 1'), { timeout: 30_000, intervals: [20] }).toEqual([{ n: 1000 }]);
  const seen = Date.now() - t0;
  const stats = await a.evaluate(async () => window.tabdrive.stats());
  expect(stats.applied - commitsBefore).toBe(1000);
  console.log(`[figure] bulk Add tag, 1,000 files: ${acked} ms to acknowledged here, ${seen} ms until the other tab holds all 1,000 (one document update of ${stats.largestLocalUpdate.toLocaleString('en')} B)`);
  await expect(nav(b).getByRole('list', { name: 'Tags' }).getByRole('listitem').filter({ hasText: 'Batch' })).toContainText('1000');
  await expect(nav(a).getByRole('list', { name: 'Tags' }).getByRole('listitem').filter({ hasText: 'Batch' })).toContainText('1000');
});
