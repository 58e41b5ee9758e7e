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
