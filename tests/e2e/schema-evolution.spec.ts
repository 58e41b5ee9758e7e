// Old and new builds side by side (DESIGN §6 "A library over months"; issue 13 item 1): a tab
// whose code is older than another device's keeps applying what it can read of that device's
// changes and says, in words, that an update is available — also when it learns of the newer
// device only from the document, with that device gone. The newer device is played by a tab
// writing into the sync document exactly what a newer build writes (its schema version, a
// field this build does not know) through the test build's `writeAsNewerBuild`.
import type { BrowserContext, Page } from '@playwright/test';
import { count, expect, newProfile, openApp, test, type Profile } from './support/browser.ts';

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

const build = (p: Page): Promise<number> => p.evaluate(() => window.tabdrive.boot!.schema.build);
const rejected = (p: Page): Promise<number> => p.evaluate(async () => (await window.tabdrive.stats()).rejected);

test('a newer device: what this build knows is applied, the rest is named, and "Update available" is shown', async ({ baseURL }) => {
  const a = await openApp(context, baseURL!);
  const b = await openApp(context, baseURL!);
  const tag = await a.evaluate(async () => {
    const r = await window.tabdrive.actions!.createTag({ name: 'Trip' });
    if (!r.ok) throw new Error(r.error.message);
    return r.value.uuid;
  });
  await expect.poll(() => count(b, 'SELECT count(*) FROM tags WHERE uuid = ?', [tag])).toBe(1);
  await expect(b.getByRole('alert', { name: 'Update available' })).toHaveCount(0);
  const schema = await build(a);
  const before = await rejected(b);

  await a.evaluate(
    ([schema, tag]) =>
      window.tabdrive.writeAsNewerBuild!(schema, [{ model: 'tag', uuid: tag, op: 'update', fields: { color: '#ff0000', emoji: 'beach' } }]),
    [schema + 1, tag] as const,
  );
  // the field this build knows arrives; the one it does not is left out, not rejected
  await expect.poll(() => count(b, "SELECT count(*) FROM tags WHERE uuid = ? AND color = '#ff0000'", [tag])).toBe(1);
  expect(await rejected(b)).toBe(before);
  const alert = b.getByRole('alert', { name: 'Update available' });
  await expect(alert).toContainText(`schema ${schema + 1}`);
  await expect(alert).toContainText('older version');
  expect(await b.evaluate(async () => (await window.tabdrive.stats()).newer)).toEqual(['tag.emoji']);

  // "Update": the server has no newer build (this is the newest), and the tab says so
  await alert.getByRole('button', { name: 'Update' }).click();
  await expect(alert).toContainText('does not offer a newer version yet', { timeout: 20_000 });

  // A device that never met the newer one while it was online learns it from the document.
  await a.evaluate(() => window.tabdrive.pause(true));
  const c = await openApp(context, baseURL!, '/?signaling=&new-device');
  await expect(c.getByRole('alert', { name: 'Update available' })).toContainText(`schema ${schema + 1}`, { timeout: 20_000 });
  await expect.poll(() => count(c, "SELECT count(*) FROM tags WHERE uuid = ? AND color = '#ff0000'", [tag])).toBe(1);
});

test('devices of the same build show no update notice', async ({ baseURL }) => {
  const a = await openApp(context, baseURL!);
  const b = await openApp(context, baseURL!);
  await a.evaluate(() => window.tabdrive.actions!.createTag({ name: 'Same' }));
  await expect.poll(() => count(b, "SELECT count(*) FROM tags WHERE display_name = 'Same'")).toBe(1);
  expect(await b.evaluate(async () => (await window.tabdrive.stats()).newer)).toEqual([]);
  await expect(a.getByRole('alert', { name: 'Update available' })).toHaveCount(0);
  await expect(b.getByRole('alert', { name: 'Update available' })).toHaveCount(0);
});
