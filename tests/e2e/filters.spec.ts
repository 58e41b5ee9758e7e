// Issue 14 item 6: the explorer's filters — Size, Date (modified or date taken), Device and Tag
// beside Kind, combined with each other and with search, with "Clear filters" — and Delete where
// it applies: out of an album, or a tag off files, as one act with "Undo"; in a folder nothing.
import type { Locator, Page } from '@playwright/test';
import { mkdirSync, mkdtempSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, freshBrowserPerTest, openApp, test } from './support/browser.ts';
import { withExif } from '../support/media.ts';

const browser = freshBrowserPerTest();
const nav = (p: Page): Locator => p.getByRole('navigation', { name: 'Library' });
const main = (p: Page): Locator => p.getByRole('main', { name: 'Files' });
const files = (p: Page): Locator => main(p).getByRole('list', { name: 'Files' });
const inspector = (p: Page): Locator => p.getByRole('complementary', { name: 'Inspector' });
const fileButton = (p: Page, name: string): Locator => files(p).getByRole('button', { name: new RegExp(`^${name.replace(/\./g, '\\.')}`) });
const q = (p: Page, sql: string, params: (string | number)[] = []) => p.evaluate(([s, a]) => window.tabdrive.query(s, a), [sql, params] as const);
const undo = (p: Page): Locator => p.getByRole('status').filter({ has: p.getByRole('button', { name: 'Undo' }) });

let tmp: string;
test.beforeEach(() => {
  tmp = mkdtempSync(join(tmpdir(), 'tabdrive-filters-'));
});
test.afterEach(() => rmSync(tmp, { recursive: true, force: true }));

async function photo(p: Page, taken: string): Promise<Buffer> {
  const bytes = await p.evaluate(async () => {
    const c = new OffscreenCanvas(64, 48);
    c.getContext('2d')!.fillRect(0, 0, 32, 24);
    return [...new Uint8Array(await (await c.convertToBlob({ type: 'image/jpeg', quality: 0.8 })).arrayBuffer())];
  });
  return withExif(Buffer.from(bytes), { make: 'Canon', model: 'EOS', taken });
}
/** The camera's wall clock a minute ago, as EXIF writes it. */
function exifNow(): string {
  const d = new Date(Date.now() - 60_000);
  const p = (n: number) => String(n).padStart(2, '0');
  return `${d.getFullYear()}:${p(d.getMonth() + 1)}:${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}:00`;
}
async function addFolder(p: Page, dir: string, name: string, n: number): Promise<void> {
  await p.bringToFront();
  await nav(p).getByLabel('Folder', { exact: true }).setInputFiles(dir);
  await expect(nav(p).getByRole('status')).toContainText(`“${name}”: ${n} files`);
}
async function deviceName(p: Page): Promise<string> {
  const uuid = await p.evaluate(() => window.tabdrive.device.uuid);
  return String((await q(p, 'SELECT name FROM devices WHERE uuid = ?', [uuid]))[0]!['name']);
}
const count = (p: Page): Locator => main(p).locator('.count');

test('Size, Date (modified or taken), Device and Tag filter together with Kind and search; Clear filters', async ({ baseURL }) => {
  const a = await openApp(browser.context, baseURL!);
  const b = await openApp(browser.context, baseURL!);
  const other = join(tmp, 'Other');
  mkdirSync(other);
  writeFileSync(join(other, 'beach copy.jpg'), await photo(b, '2020:01:02 10:00:00'));
  await addFolder(b, other, 'Other', 1);

  const root = join(tmp, 'Trip');
  mkdirSync(root);
  writeFileSync(join(root, 'beach.jpg'), await photo(a, exifNow()));
  writeFileSync(join(root, 'old.jpg'), await photo(a, '2019:12:24 18:05:00'));
  writeFileSync(join(root, 'big.pdf'), Buffer.alloc(1_500_000, 7));
  writeFileSync(join(root, 'notes.txt'), 'pack sunscreen\n');
  writeFileSync(join(root, 'beach-notes.txt'), 'towels\n');
  const past = new Date(2019, 11, 24);
  utimesSync(join(root, 'old.jpg'), past, past);
  await addFolder(a, root, 'Trip', 5);
  await expect(files(a).getByRole('listitem')).toHaveCount(5);
  const clear = main(a).getByRole('button', { name: 'Clear filters' });
  await expect(clear).toHaveCount(0);

  // Size
  const size = main(a).getByRole('combobox', { name: 'Size' });
  await size.selectOption({ label: '1–10 MB' });
  await expect(files(a).getByRole('listitem')).toHaveCount(1);
  await expect(fileButton(a, 'big.pdf')).toBeVisible();
  await expect(count(a)).toHaveText('1 items');
  await size.selectOption({ label: '< 1 MB' });
  await expect(files(a).getByRole('listitem')).toHaveCount(4);
  await clear.click();
  await expect(files(a).getByRole('listitem')).toHaveCount(5);
  await expect(size).toHaveValue('any');
  await expect(clear).toHaveCount(0);

  // Date: modified, then date taken (files without one are left out)
  const date = main(a).getByRole('combobox', { name: 'Date', exact: true });
  const field = main(a).getByRole('combobox', { name: 'Date of' });
  await date.selectOption({ label: 'Before this year' });
  await expect(files(a).getByRole('listitem')).toHaveCount(1);
  await expect(fileButton(a, 'old.jpg')).toBeVisible();
  await date.selectOption({ label: 'Today' });
  await expect(files(a).getByRole('listitem')).toHaveCount(4);
  await field.selectOption({ label: 'Date taken' });
  await expect(files(a).getByRole('listitem')).toHaveCount(1);
  await expect(fileButton(a, 'beach.jpg')).toBeVisible();
  await date.selectOption({ label: 'Any date' });
  await expect(files(a).getByRole('listitem')).toHaveCount(5);

  // with search (every device) and Kind and Device
  const search = a.getByRole('searchbox', { name: 'Search files' });
  await search.fill('beach');
  await expect(files(a).getByRole('listitem')).toHaveCount(3);
  await expect(count(a)).toHaveText('3 matches');
  const device = main(a).getByRole('combobox', { name: 'Device' });
  await device.selectOption({ label: await deviceName(b) });
  await expect(files(a).getByRole('listitem')).toHaveCount(1);
  await expect(fileButton(a, 'beach copy.jpg')).toBeVisible();
  await device.selectOption({ label: await deviceName(a) });
  await expect(files(a).getByRole('listitem')).toHaveCount(2);
  await main(a).getByRole('combobox', { name: 'Kind' }).selectOption({ label: 'Images' });
  await expect(files(a).getByRole('listitem')).toHaveCount(1);
  await expect(fileButton(a, 'beach.jpg')).toBeVisible();
  await date.selectOption({ label: 'Before this year' }); // date taken still chosen: beach.jpg is today's
  await expect(files(a).getByRole('listitem')).toHaveCount(0);
  await expect(count(a)).toHaveText('0 matches');
  await expect(main(a)).toContainText('No files match.');
  await clear.click();
  await expect(files(a).getByRole('listitem')).toHaveCount(3);
  await expect(field).toHaveValue('modified');

  // Tag: files with it, also in a search
  await nav(a).getByRole('button', { name: 'New tag' }).click();
  await nav(a).getByRole('textbox', { name: 'Tag name' }).fill('Keep');
  await nav(a).getByRole('button', { name: 'Create' }).click();
  await fileButton(a, 'beach-notes.txt').click();
  await inspector(a).getByRole('combobox', { name: 'Add tag' }).selectOption({ label: 'Keep' });
  await expect(inspector(a)).toContainText('Keep');
  await main(a).getByRole('combobox', { name: 'Tag' }).selectOption({ label: 'Keep' });
  await expect(files(a).getByRole('listitem')).toHaveCount(1);
  await search.fill('');
  await expect(files(a).getByRole('listitem')).toHaveCount(1);
  await expect(count(a)).toHaveText('1 items');
  await clear.click();
  await expect(files(a).getByRole('listitem')).toHaveCount(5);
});

test('Delete in an album or a tag view removes the selection in one act, with Undo; in a folder it does nothing', async ({ baseURL }) => {
  const a = await openApp(browser.context, baseURL!);
  const root = join(tmp, 'Pics');
  mkdirSync(root);
  for (let i = 1; i <= 4; i++) writeFileSync(join(root, `p${i}.txt`), `photo ${i}\n`);
  await addFolder(a, root, 'Pics', 4);
  await nav(a).getByRole('button', { name: 'New album' }).click();
  await nav(a).getByRole('textbox', { name: 'Album name' }).fill('Best');
  await nav(a).getByRole('button', { name: 'Create' }).click();
  await nav(a).getByRole('button', { name: 'New tag' }).click();
  await nav(a).getByRole('textbox', { name: 'Tag name' }).fill('Keep');
  await nav(a).getByRole('button', { name: 'Create' }).click();
  await fileButton(a, 'p1.txt').click();
  await a.keyboard.press('Control+a');
  await expect(inspector(a).getByRole('heading', { name: '4 items selected' })).toBeVisible();
  await inspector(a).getByRole('combobox', { name: 'Add to album' }).selectOption({ label: 'Best' });
  await inspector(a).getByRole('combobox', { name: 'Add tag' }).selectOption({ label: 'Keep' });
  await expect(inspector(a).getByRole('status')).toHaveText('Tagged 4 files with “Keep”.');

  // in a folder: Delete does nothing (files belong to their device)
  await fileButton(a, 'p1.txt').click();
  await a.keyboard.press('Delete');
  await expect(undo(a)).toHaveCount(0);
  await expect(files(a).getByRole('listitem')).toHaveCount(4);

  const active = async (table: string) => Number((await q(a, `SELECT count(*) AS n FROM ${table} WHERE active = 1`))[0]!['n']);
  for (const view of [
    { list: 'Albums', name: 'Best', table: 'album_entries', text: (n: string) => `Removed ${n} from album “Best”` },
    { list: 'Tags', name: 'Keep', table: 'tag_links', text: (n: string) => `Removed tag “Keep” from ${n}` },
  ]) {
    await nav(a).getByRole('list', { name: view.list }).getByRole('listitem').filter({ hasText: view.name }).getByRole('button').first().click();
    await expect(files(a).getByRole('listitem')).toHaveCount(4);
    // Delete, then Undo: nothing written, the files are back
    await fileButton(a, 'p1.txt').click();
    await a.keyboard.press('Delete');
    await expect(undo(a)).toContainText(view.text('1 file'));
    await expect(files(a).getByRole('listitem')).toHaveCount(3);
    await undo(a).getByRole('button', { name: 'Undo' }).click();
    await expect(undo(a)).toHaveCount(0);
    await expect(files(a).getByRole('listitem')).toHaveCount(4);
    expect(await active(view.table)).toBe(4);
    // Delete two, let the 5 s pass: one act removes both
    const before = await a.evaluate(async () => (await window.tabdrive.stats()).applied);
    await fileButton(a, 'p2.txt').click();
    await fileButton(a, 'p3.txt').click({ modifiers: ['Shift'] });
    await expect(files(a).locator('button[aria-pressed="true"]')).toHaveCount(2);
    await a.keyboard.press('Delete');
    await expect(undo(a)).toContainText(view.text('2 files'));
    await expect(files(a).getByRole('listitem')).toHaveCount(2);
    await expect(undo(a)).toHaveCount(0, { timeout: 10_000 });
    await expect.poll(() => active(view.table)).toBe(2);
    // the rows are queryable in the worker before the commit's reply reaches the engine's
    // counters (storage answers after the durable write): wait for that reply, then exactly 2
    await expect.poll(async () => (await a.evaluate(async () => (await window.tabdrive.stats()).applied)) - before).toBe(2);
    await expect(files(a).getByRole('listitem')).toHaveCount(2);
    for (const n of ['p1.txt', 'p4.txt']) await expect(fileButton(a, n)).toBeVisible();
  }
  expect(Number((await q(a, 'SELECT count(*) AS n FROM entries WHERE kind = ?', ['file']))[0]!['n'])).toBe(4); // no file was touched
});
