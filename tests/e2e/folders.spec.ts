// Real folders (issue "The app" §2): a folder picked through the "Folder" input is indexed
// into a location of this device — folders, files, sizes, dates, and content uuids from
// sampled content (same file on two devices ⇒ same content uuid; every device derives the
// content identities from the entries) — with progress and Cancel;
// a re-scan applies additions, changes and deletions; deleting the location removes it
// everywhere. The fixture folder is written by the test (deterministic bytes).
import type { Locator, Page } from '@playwright/test';
import { appendFileSync, mkdirSync, mkdtempSync, rmSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, freshBrowserPerTest, openApp, test } from './support/browser.ts';

const browser = freshBrowserPerTest();
const nav = (p: Page): Locator => p.getByRole('navigation', { name: 'Library' });
const files = (p: Page): Locator => p.getByRole('main', { name: 'Files' }).getByRole('list', { name: 'Files' });
const q = (p: Page, sql: string, params: (string | number)[] = []) => p.evaluate(([s, a]) => window.tabdrive.query(s, a), [sql, params] as const);

let tmp: string;
test.beforeEach(() => {
  tmp = mkdtempSync(join(tmpdir(), 'tabdrive-folder-'));
});
test.afterEach(() => rmSync(tmp, { recursive: true, force: true }));

const bytes = (n: number, seed: number) => Buffer.from(Uint8Array.from({ length: n }, (_, i) => (i * 131 + seed * 7) & 0xff));
/** Trip/ with nested folders, a copy of a file, a non-ASCII name and a file big enough to be sampled. */
function fixture(): string {
  const root = join(tmp, 'Trip');
  mkdirSync(join(root, 'photos', '2024'), { recursive: true });
  writeFileSync(join(root, 'photos', 'beach.jpg'), bytes(5_000, 1));
  writeFileSync(join(root, 'photos', '2024', 'dunes.png'), bytes(12_345, 2));
  writeFileSync(join(root, 'copy of beach.jpg'), bytes(5_000, 1));
  writeFileSync(join(root, 'notes.txt'), 'pack sunscreen\n');
  writeFileSync(join(root, 'Ünïcode café.md'), '# café\n');
  writeFileSync(join(root, 'video.mp4'), bytes(300_000, 3));
  return root;
}

async function addFolder(p: Page, dir: string): Promise<void> {
  await p.bringToFront(); // a directory upload into a background tab never completes (as a user, you are on that tab)
  await nav(p).getByLabel('Folder', { exact: true }).setInputFiles(dir);
}

test('a folder is indexed with its tree, sizes and content identities; another device sees it and shares identities', async ({ baseURL }) => {
  const dir = fixture();
  const a = await openApp(browser.context, baseURL!);
  const b = await openApp(browser.context, baseURL!);
  const docBefore = await a.evaluate(async () => (await window.tabdrive.stats()).sharedLog);
  await addFolder(a, dir);
  const loc = nav(a).getByRole('list', { name: 'Locations' }).getByRole('listitem').filter({ hasText: 'Trip' }).last();
  await expect(loc).toContainText('6 files');
  await expect(nav(a).getByRole('status')).toContainText('“Trip”: 6 files');

  // the tree: the root lists two folders' worth of items; browse in and back by breadcrumbs
  await expect(files(a).getByRole('listitem')).toHaveCount(5); // photos/, copy of beach.jpg, notes.txt, Ünïcode café.md, video.mp4
  await files(a).getByRole('button', { name: /photos/ }).dblclick();
  await files(a).getByRole('button', { name: /2024/ }).dblclick();
  await expect(files(a).getByRole('button', { name: /dunes\.png/ })).toBeVisible();
  await a.getByRole('navigation', { name: 'Breadcrumbs' }).getByRole('button', { name: 'Trip' }).click();
  await expect(files(a).getByRole('button', { name: /notes\.txt/ })).toBeVisible();

  const rows = await q(a, "SELECT name, size, extension, content_uuid, modified_at FROM entries WHERE kind = 'file' ORDER BY name");
  const expected: Record<string, string> = {
    'beach.jpg': 'photos/beach.jpg', 'dunes.png': 'photos/2024/dunes.png', 'copy of beach.jpg': 'copy of beach.jpg',
    'notes.txt': 'notes.txt', 'Ünïcode café.md': 'Ünïcode café.md', 'video.mp4': 'video.mp4',
  };
  expect(rows.map((r) => r['name']).sort()).toEqual(Object.keys(expected).sort());
  for (const r of rows) {
    const st = statSync(join(dir, expected[String(r['name'])]!));
    expect(r['size']).toBe(st.size);
    expect(Math.abs(Number(r['modified_at']) - st.mtimeMs)).toBeLessThan(1000);
  }
  const byName: Record<string, unknown> = Object.fromEntries(rows.map((r) => [String(r['name']), r['content_uuid']]));
  expect(byName['beach.jpg']).toBe(byName['copy of beach.jpg']); // same bytes, same identity
  expect(new Set(Object.values(byName)).size).toBe(5);
  expect(await q(a, 'SELECT count(*) AS n FROM content_identities')).toEqual([{ n: 5 }]);
  // derived from the entries (DESIGN §3), not written into the sync document
  expect(await q(a, "SELECT count(*) AS n FROM content_identities WHERE _hlcs = '{}' AND kind IS NOT NULL")).toEqual([{ n: 5 }]);
  expect(await a.evaluate(async () => (await window.tabdrive.stats()).sharedLog)).toBe(docBefore);

  // B sees the location and derives the same identities from A's entries; indexing the same
  // folder on B gives the same content uuids
  await expect(nav(b).getByRole('list', { name: 'Locations' })).toContainText('Trip');
  await expect.poll(() => q(b, 'SELECT uuid, kind, total_size FROM content_identities ORDER BY uuid')).toEqual(await q(a, 'SELECT uuid, kind, total_size FROM content_identities ORDER BY uuid'));
  await addFolder(b, dir);
  await expect(nav(b).getByRole('status')).toContainText('“Trip”: 6 files');
  const pairs = await q(b, "SELECT a.name AS name, a.content_uuid = b.content_uuid AS same FROM entries a JOIN entries b ON a.name = b.name AND a._owner < b._owner WHERE a.kind = 'file'");
  expect(pairs.length).toBe(6); // each file name once across the two devices
  for (const p of pairs) expect(p['same']).toBe(1);
  // and the explorer says the file is also on the other device
  await expect(files(b).getByRole('button', { name: /notes\.txt/ })).toContainText('also on 1');
});

test('the same folder picked twice is indexed twice; the input is cleared after each pick', async ({ baseURL }) => {
  const dir = fixture();
  const a = await openApp(browser.context, baseURL!);
  const input = nav(a).getByLabel('Folder', { exact: true });
  // the items of the per-device lists (each device's group is itself an item of "Locations")
  const trips = nav(a).getByRole('list', { name: 'Locations' }).getByRole('list').getByRole('listitem').filter({ hasText: 'Trip' });
  await addFolder(a, dir);
  await expect(trips).toHaveCount(1);
  await expect(nav(a).getByRole('status')).toContainText('“Trip”: 6 files');
  // cleared once the pick is indexed (after an await: the event's currentTarget is gone by then),
  // so choosing the same folder again is a change the browser reports
  await expect(input).toHaveValue('');
  await addFolder(a, dir);
  await expect(trips).toHaveCount(2);
  for (const t of await trips.all()) await expect(t).toContainText('6 files');
  await expect(input).toHaveValue('');
  expect(await q(a, "SELECT count(*) AS n FROM entries WHERE kind = 'file'")).toEqual([{ n: 12 }]);
  expect(await q(a, 'SELECT count(*) AS n FROM content_identities')).toEqual([{ n: 5 }]); // same bytes, same identities
});

test('Cancel stops indexing and leaves a consistent, usable location', async ({ baseURL }) => {
  const root = join(tmp, 'Many');
  for (let d = 0; d < 20; d++) {
    mkdirSync(join(root, `d${d}`), { recursive: true });
    for (let i = 0; i < 150; i++) writeFileSync(join(root, `d${d}`, `f${i}.txt`), `file ${d}/${i}\n`);
  }
  const a = await openApp(browser.context, baseURL!);
  await addFolder(a, root);
  await expect(nav(a).getByRole('progressbar', { name: 'Indexing' })).toBeVisible();
  await expect.poll(async () => Number((await q(a, "SELECT count(*) AS n FROM entries WHERE kind = 'file'"))[0]!['n'])).toBeGreaterThan(0);
  await nav(a).getByRole('button', { name: 'Cancel' }).click();
  await expect(nav(a).getByRole('status')).toContainText('cancelled');
  const n = Number((await q(a, "SELECT count(*) AS n FROM entries WHERE kind = 'file'"))[0]?.['n']);
  expect(n).toBeLessThan(3000);
  // the location's total says exactly what is there, and the app still works
  expect(await q(a, 'SELECT total_file_count AS t FROM locations')).toEqual([{ t: n }]);
  await expect(nav(a).getByRole('list', { name: 'Locations' })).toContainText(`${n.toLocaleString('en')} files`);
  await a.getByRole('searchbox', { name: 'Search files' }).fill('f1');
  await expect(files(a).getByRole('listitem').first()).toBeVisible();
});

test('a re-scan applies additions, changes and deletions; deleting the location removes it everywhere', async ({ baseURL }) => {
  const dir = fixture();
  const a = await openApp(browser.context, baseURL!);
  const b = await openApp(browser.context, baseURL!);
  await addFolder(a, dir);
  await expect(nav(a).getByRole('status')).toContainText('“Trip”: 6 files');
  const [before] = await q(a, "SELECT uuid, content_uuid FROM entries WHERE name = 'notes.txt'");

  appendFileSync(join(dir, 'notes.txt'), 'and a hat\n');
  unlinkSync(join(dir, 'video.mp4'));
  writeFileSync(join(dir, 'photos', 'sunset.jpg'), bytes(7_000, 9));
  const item = nav(a).getByRole('list', { name: 'Locations' }).getByRole('listitem').filter({ hasText: 'Trip' }).last();
  await a.bringToFront();
  await item.hover();
  const chooser = a.waitForEvent('filechooser');
  await item.getByRole('button', { name: 'Rescan' }).click();
  await (await chooser).setFiles(dir);
  await expect(nav(a).getByRole('status')).toContainText('1 added, 1 changed, 1 removed');
  const [after] = await q(a, "SELECT uuid, content_uuid, size FROM entries WHERE name = 'notes.txt'");
  expect(after!['uuid']).toBe(before!['uuid']); // same entry, new content
  expect(after!['content_uuid']).not.toBe(before!['content_uuid']);
  expect(after!['size']).toBe(statSync(join(dir, 'notes.txt')).size);
  await expect(nav(b).getByRole('list', { name: 'Locations' })).toContainText('6 files');
  await expect.poll(async () => (await q(b, "SELECT name FROM entries WHERE name IN ('video.mp4', 'sunset.jpg')")).map((r) => r['name'])).toEqual(['sunset.jpg']);

  // the same folder picked again for a second re-scan: nothing changed since the first
  await item.hover();
  const again = a.waitForEvent('filechooser');
  await item.getByRole('button', { name: 'Rescan' }).click();
  await (await again).setFiles(dir);
  await expect(nav(a).getByRole('status')).toContainText('“Trip”: 6 files, nothing changed');
  await expect(a.getByLabel('Folder to re-scan')).toHaveValue('');

  await item.hover();
  await item.getByRole('button', { name: 'Delete' }).click();
  for (const p of [a, b]) {
    await expect(nav(p).getByRole('list', { name: 'Locations' })).not.toContainText('Trip');
    await expect.poll(async () => (await q(p, 'SELECT count(*) AS n FROM entries'))[0]!['n']).toBe(0);
  }
});
