// Every model syncs between tabs through the app's own intents, and conflicting edits made
// while one tab had sync paused resolve the same way on both (DESIGN §5).
import type { BrowserContext, Page } from '@playwright/test';
import { expect, newProfile, openApp, test, type Profile } from './support/browser.ts';

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

const q = (p: Page, sql: string) => p.evaluate((sql) => window.tabdrive.query(sql), sql);
async function converged(pages: Page[]): Promise<void> {
  await expect
    .poll(async () => new Set(await Promise.all(pages.map(async (p) => JSON.stringify(await p.evaluate(() => window.tabdrive.digest()))))).size, { timeout: 20_000 })
    .toBe(1);
}
async function ok<T>(p: Page, fn: () => Promise<{ ok: boolean; value?: T; error?: { message: string } }>): Promise<T> {
  const r = await p.evaluate(fn);
  if (!r.ok) throw new Error(r.error?.message);
  return r.value as T;
}

test('tags, albums, links, favourites and notes converge, concurrent edits included', async ({ baseURL }) => {
  const a = await openApp(context, baseURL!);
  const b = await openApp(context, baseURL!);
  await ok(a, () => window.tabdrive.actions!.addSampleLocation('Trip', 20));
  await converged([a, b]);
  const [file] = (await q(a, "SELECT uuid FROM entries WHERE kind = 'file' ORDER BY name LIMIT 1")) as { uuid: string }[];
  const tag = (await ok<{ uuid: string }>(a, () => window.tabdrive.actions!.createTag({ name: 'Vacation', namespace: 'travel' }))).uuid;
  const album = (await ok<{ uuid: string }>(b, () => window.tabdrive.actions!.createAlbum('Summer 2024'))).uuid;
  await a.evaluate(([t, f]) => window.tabdrive.actions!.tagEntry(t!, f!), [tag, file!.uuid]);
  await b.evaluate(([al, f]) => window.tabdrive.actions!.addToAlbum(al!, f!), [album, file!.uuid]);
  await b.evaluate((h) => window.tabdrive.actions!.addContentIdentity(h, { mime_type: 'image/jpeg', kind: 'image', total_size: 1234 }), 'sha256:abc');
  await converged([a, b]);
  expect(await q(b, 'SELECT display_name, namespace FROM tags')).toEqual([{ display_name: 'Vacation', namespace: 'travel' }]);
  expect(await q(a, 'SELECT active FROM tag_links')).toEqual([{ active: 1 }]);
  expect(await q(a, 'SELECT name FROM albums')).toEqual([{ name: 'Summer 2024' }]);
  expect(await q(a, 'SELECT count(*) AS n FROM album_entries WHERE active = 1')).toEqual([{ n: 1 }]);
  expect(await q(a, 'SELECT content_hash FROM content_identities')).toEqual([{ content_hash: 'sha256:abc' }]);

  // Concurrent edits: B works alone for a while.
  await b.getByRole('button', { name: 'Pause sync' }).click();
  await a.evaluate(([f]) => window.tabdrive.actions!.setNotes(f!, 'sunset at the pier'), [file!.uuid]);
  await b.evaluate(([f]) => window.tabdrive.actions!.setFavorite(f!, true), [file!.uuid]);
  await a.evaluate(([t]) => window.tabdrive.actions!.updateTag(t!, { color: '#e03131' }), [tag]);
  await b.evaluate(([t]) => window.tabdrive.actions!.updateTag(t!, { name: 'Holidays' }), [tag]);
  await a.evaluate(([al]) => window.tabdrive.actions!.deleteAlbum(al!), [album]);
  await b.evaluate(([al]) => window.tabdrive.actions!.renameAlbum(al!, 'Summer!'), [album]);
  await a.evaluate(([t, f]) => window.tabdrive.actions!.untagEntry(t!, f!), [tag, file!.uuid]);
  await b.evaluate(() => window.tabdrive.actions!.createTag({ name: 'Vacation' })); // same name, other device
  await b.getByRole('button', { name: 'Pause sync' }).click();
  await converged([a, b]);

  for (const p of [a, b]) {
    expect(await q(p, 'SELECT notes, favorite FROM user_metadata')).toEqual([{ notes: 'sunset at the pier', favorite: 1 }]);
    expect(await q(p, `SELECT display_name, color FROM tags WHERE uuid = '${tag}'`)).toEqual([{ display_name: 'Holidays', color: '#e03131' }]);
    expect(await q(p, 'SELECT count(*) AS n FROM albums')).toEqual([{ n: 0 }]); // the delete wins over the rename
    expect(await q(p, 'SELECT active FROM tag_links')).toEqual([{ active: 0 }]);
    expect(await q(p, "SELECT count(*) AS n FROM tags WHERE canonical_name IN ('vacation', 'holidays')")).toEqual([{ n: 2 }]);
  }
});
