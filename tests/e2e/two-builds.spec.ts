// Two builds side by side, for real (issue 13 item 1; ARCHITECTURE "Old and new builds side by
// side"): the previous release (tests/fixtures/previous-release.json) is checked out of git and
// built, this tree is built, and both are served on ONE origin at /old/ and /new/ — what a PWA
// does when it updates one tab while another keeps the old build (same IndexedDB, registry,
// BroadcastChannel). A tab of each, two devices of one library, sync both ways; the old one
// leaves out what it does not know (media columns of migration 6, model forgotten_device),
// rejects nothing, and says "Update available".
import { rmSync } from 'node:fs';
import type { Page } from '@playwright/test';
import { buildCommit, buildHere, previousRelease, serveBuilds } from './support/builds.ts';
import { count, expect, freshBrowserPerTest, openApp, test } from './support/browser.ts';

const browser = freshBrowserPerTest();
const prev = previousRelease();
let server: { url: string; close: () => Promise<void> } | null = null;
let here: string | null = null;

test.beforeAll(async () => {
  test.setTimeout(900_000); // two builds on a shared machine; the old one is cached by commit
  here = buildHere('/new/');
  server = await serveBuilds({ '/old/': buildCommit(prev.commit, '/old/'), '/new/': here });
});
test.afterAll(async () => {
  await server?.close();
  if (here) rmSync(here, { recursive: true, force: true });
});

const schemaOf = (p: Page): Promise<number> => p.evaluate(() => window.tabdrive.boot!.schema.build);
const columns = async (p: Page, table: string): Promise<string[]> =>
  (await p.evaluate((t) => window.tabdrive.query(`SELECT name FROM pragma_table_info('${t}')`), table)).map((r) => String(r['name']));
const sample = (p: Page, name: string, files: number): Promise<void> =>
  p.evaluate(async ([name, files]) => {
    const r = await window.tabdrive.actions!.addSampleLocation(name, files);
    if (!r.ok) throw new Error(r.error.message);
  }, [name, files] as const);
const tag = (p: Page, name: string): Promise<void> =>
  p.evaluate(async (name) => {
    const r = await window.tabdrive.actions!.createTag({ name });
    if (!r.ok) throw new Error(r.error.message);
  }, name);
const entriesOf = (p: Page, owner: string): Promise<number> => count(p, 'SELECT count(*) FROM entries WHERE _owner = ?', [owner]);
const stats = (p: Page): Promise<{ rejected: number; newer: string[] }> =>
  p.evaluate(async () => {
    const s = await window.tabdrive.stats();
    return { rejected: s.rejected, newer: s.newer };
  });

test(`a tab of the previous release (${prev.commit.slice(0, 7)}) and a tab of this build sync both ways on one origin`, async () => {
  test.setTimeout(180_000);
  const old = await openApp(browser.context, server!.url, '/old/?signaling=');
  // a new device without a seed: this build never opens a database the old one wrote here
  const now = await openApp(browser.context, server!.url, '/new/?signaling=&new-device&no-seed');
  const [o, n] = [await old.evaluate(() => window.tabdrive.device.uuid), await now.evaluate(() => window.tabdrive.device.uuid)];
  expect(n).not.toBe(o);
  expect(await now.evaluate(() => window.tabdrive.library)).toBe(await old.evaluate(() => window.tabdrive.library));
  // the difference is real: the old schema has neither the media columns nor forgotten devices
  expect(await schemaOf(old)).toBe(prev.schema);
  expect(await schemaOf(now)).toBeGreaterThan(prev.schema);
  expect(await columns(old, 'entries')).not.toContain('taken_at');
  expect(await columns(now, 'entries')).toContain('taken_at');
  expect(await count(old, "SELECT count(*) FROM sqlite_master WHERE name = 'forgotten_devices'")).toBe(0);

  // both ways: owned rows (stream pages) and shared records (the document)
  await sample(old, 'From the old build', 40);
  await sample(now, 'From the new build', 40);
  await tag(old, 'old-tag');
  await tag(now, 'new-tag');
  for (const p of [old, now]) {
    await expect.poll(() => entriesOf(p, o), { timeout: 60_000 }).toBe(await entriesOf(old, o));
    await expect.poll(() => entriesOf(p, n), { timeout: 60_000 }).toBe(await entriesOf(now, n));
    await expect.poll(() => count(p, "SELECT count(*) FROM tags WHERE display_name IN ('old-tag', 'new-tag')")).toBe(2);
  }
  expect(await entriesOf(now, o)).toBeGreaterThanOrEqual(40);
  // the old device's rows reach the new one with the columns it never sent left empty
  expect(await count(now, 'SELECT count(*) FROM entries WHERE _owner = ? AND taken_at IS NOT NULL', [o])).toBe(0);
  // every table both know is the same on both (a null later column leaves a row's digest as it was)
  await expect
    .poll(async () => {
      const [a, b] = [await old.evaluate(() => window.tabdrive.digest()), await now.evaluate(() => window.tabdrive.digest())];
      return Object.keys(a).filter((t) => a[t] !== b[t]);
    }, { timeout: 30_000 })
    .toEqual([]);

  // the old tab is told, the new one is not; nothing was rejected on either side
  await expect(old.getByRole('alert', { name: 'Update available' })).toContainText(`schema ${await schemaOf(now)}`);
  await expect(now.getByRole('alert', { name: 'Update available' })).toHaveCount(0);

  // a model the old build does not know: the new tab forgets a third device (of the new build)
  const third = await openApp(browser.context, server!.url, '/new/?signaling=&new-device&no-seed');
  const t = await third.evaluate(() => window.tabdrive.device.uuid);
  await sample(third, 'From a third device', 5);
  for (const p of [old, now]) await expect.poll(() => entriesOf(p, t), { timeout: 60_000 }).toBeGreaterThanOrEqual(5);
  await third.close();
  await now.evaluate(async (t) => {
    const r = await window.tabdrive.actions!.forgetDevice(t);
    if (!r.ok) throw new Error(r.error.message);
  }, t);
  await expect.poll(() => entriesOf(now, t)).toBe(0);
  // the old build leaves the forget out as newer, and — honestly — keeps the forgotten
  // device's rows until it is updated (it cannot apply what it does not know)
  await expect.poll(async () => (await stats(old)).newer).toContain('forgotten_device');
  expect(await entriesOf(old, t)).toBeGreaterThanOrEqual(5);
  for (const p of [old, now]) expect((await stats(p)).rejected).toBe(0);
});

// The PWA's own case: a tab of the previous release is updated in place — the same device
// opens the database the old build wrote. With previous release f75b104 this failed
// ("tabdrive could not start: SqlError: no such table: forgotten_devices": migration 5 was
// edited after f75b104 had landed with the first one); migration 7 makes the table.
test('a device of the previous release updated in place keeps its device and rows', async () => {
  test.setTimeout(120_000);
  const p = await openApp(browser.context, server!.url, '/old/?signaling=');
  const device = await p.evaluate(() => window.tabdrive.device.uuid);
  await sample(p, 'Before the update', 20);
  const before = await entriesOf(p, device);
  await p.evaluate(() => window.tabdrive.snapshot());
  await p.goto(`${server!.url}/new/?signaling=`); // same tab, same sessionStorage: a reload into the new build
  await p.waitForFunction(() => window.tabdrive?.device?.uuid, null, { timeout: 30_000 });
  await p.evaluate(() => window.tabdrive.ready);
  expect(await p.evaluate(() => window.tabdrive.device.uuid)).toBe(device);
  expect(await schemaOf(p)).toBeGreaterThan(prev.schema);
  expect(await entriesOf(p, device)).toBe(before);
});
