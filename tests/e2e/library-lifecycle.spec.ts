// A library over months (issue 13), through the interface (DESIGN §8 names): the library's
// name, undo for deletes, forgetting a device. Tabs of one browser (`?signaling=`).
import type { Locator, Page } from '@playwright/test';
import { count, expect, freshBrowserPerTest, openApp, test, waitReady } from './support/browser.ts';

const browser = freshBrowserPerTest();

const nav = (p: Page): Locator => p.getByRole('navigation', { name: 'Library' });
const pause = (p: Page): Promise<void> => nav(p).page().getByRole('button', { name: 'Pause sync' }).click();

const tagItem = (p: Page, name: string): Locator => nav(p).getByRole('list', { name: 'Tags' }).getByRole('listitem').filter({ hasText: name });
const albumItem = (p: Page, name: string): Locator => nav(p).getByRole('list', { name: 'Albums' }).getByRole('listitem').filter({ hasText: name });
/** the message of a delete waiting for "Undo" */
const pending = (p: Page, name: string): Locator => p.getByRole('status').filter({ hasText: `“${name}”` });

async function newTag(p: Page, name: string): Promise<void> {
  await nav(p).getByRole('button', { name: 'New tag' }).click();
  await nav(p).getByRole('textbox', { name: 'Tag name' }).fill(name);
  await nav(p).getByRole('button', { name: 'Create' }).click();
  await expect(tagItem(p, name)).toBeVisible();
}
async function newAlbum(p: Page, name: string): Promise<void> {
  await nav(p).getByRole('button', { name: 'New album' }).click();
  await nav(p).getByRole('textbox', { name: 'Album name' }).fill(name);
  await nav(p).getByRole('button', { name: 'Create' }).click();
  await expect(albumItem(p, name)).toBeVisible();
}
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function renameLibrary(p: Page, name: string): Promise<void> {
  await nav(p).getByRole('button', { name: 'Rename library' }).click();
  await nav(p).getByRole('textbox', { name: 'Library name' }).fill(name);
  await nav(p).getByRole('button', { name: 'Save' }).click();
  await expect(nav(p).getByRole('textbox', { name: 'Library name' })).toHaveCount(0);
}

test.describe('the library name', () => {
  test('is shown, renamed with "Rename library" and reaches the other tab; concurrent renames converge', async ({ baseURL }) => {
    const a = await openApp(browser.context, baseURL!);
    const b = await openApp(browser.context, baseURL!);
    const library = await a.evaluate(() => window.tabdrive.library);
    // no name yet: the short id, on both
    for (const p of [a, b]) await expect(nav(p).getByRole('heading', { name: `Library ${library.slice(0, 8)}` })).toBeVisible();

    await renameLibrary(a, 'Family photos');
    for (const p of [a, b]) await expect(nav(p).getByRole('heading', { name: 'Family photos' })).toBeVisible();

    // An empty name is refused with a message, and changes nothing.
    await nav(b).getByRole('button', { name: 'Rename library' }).click();
    await nav(b).getByRole('textbox', { name: 'Library name' }).fill('   ');
    await nav(b).getByRole('button', { name: 'Save' }).click();
    await expect(b.getByText('A library needs a name.')).toBeVisible();
    await nav(b).getByRole('button', { name: 'Cancel' }).click();

    // Apart, each renames it; the later rename wins on both once they meet again.
    await pause(a);
    await pause(b);
    await renameLibrary(a, 'Alpha');
    await renameLibrary(b, 'Beta');
    await expect(nav(a).getByRole('heading', { name: 'Alpha' })).toBeVisible();
    await pause(a);
    await pause(b);
    for (const p of [a, b]) await expect(nav(p).getByRole('heading', { name: 'Beta' })).toBeVisible();

    // It survives a reload (it is in the database, not in the page).
    await a.reload();
    await a.waitForFunction(() => window.tabdrive?.device?.uuid);
    await expect(nav(a).getByRole('heading', { name: 'Beta' })).toBeVisible();
  });
});

test.describe('undo for deletes', () => {
  test('a deleted tag waits for "Undo"; undone, the other tab never sees it go; not undone, it goes everywhere', async ({ baseURL }) => {
    const a = await openApp(browser.context, baseURL!);
    const b = await openApp(browser.context, baseURL!);
    await newTag(a, 'Vacation');
    await expect(tagItem(b, 'Vacation')).toBeVisible();

    await tagItem(a, 'Vacation').getByRole('button', { name: 'Delete' }).click();
    await expect(tagItem(a, 'Vacation')).toHaveCount(0); // hidden here while it waits
    await pending(a, 'Vacation').getByRole('button', { name: 'Undo' }).click();
    await expect(tagItem(a, 'Vacation')).toBeVisible();
    await expect(pending(a, 'Vacation')).toHaveCount(0);
    // Longer than the wait: nothing was written, here or there.
    for (let t = 0; t < 7000; t += 250) {
      expect(await count(b, 'SELECT count(*) FROM tags')).toBe(1);
      await sleep(250);
    }
    for (const p of [a, b]) expect(await count(p, "SELECT count(*) FROM tombstones WHERE model = 'tag'")).toBe(0);
    await expect(tagItem(b, 'Vacation')).toBeVisible();

    // Deleted again and left alone: the other tab keeps it for the wait, then loses it.
    const t0 = Date.now();
    await tagItem(a, 'Vacation').getByRole('button', { name: 'Delete' }).click();
    await expect(pending(a, 'Vacation')).toBeVisible();
    await sleep(3000);
    expect(await count(b, 'SELECT count(*) FROM tags')).toBe(1);
    await expect(tagItem(b, 'Vacation')).toHaveCount(0);
    expect(Date.now() - t0).toBeGreaterThan(4000);
    await expect(pending(a, 'Vacation')).toHaveCount(0);
    for (const p of [a, b]) expect(await count(p, "SELECT count(*) FROM tombstones WHERE model = 'tag'")).toBe(1);
  });

  test('several deletes wait at once, each with its own "Undo"', async ({ baseURL }) => {
    const a = await openApp(browser.context, baseURL!);
    const b = await openApp(browser.context, baseURL!);
    // a location too: deleted, then undone
    await addSample(a, 'Desk', 5);
    await expect(nav(b).getByRole('list', { name: 'Locations' })).toContainText('Desk');
    const desk = nav(a).getByRole('list', { name: 'On ' + (await a.evaluate(() => window.tabdrive.device.name)) }).getByRole('listitem').filter({ hasText: 'Desk' });
    await desk.hover();
    await desk.getByRole('button', { name: 'Delete' }).click();
    await expect(nav(a).getByRole('list', { name: 'Locations' })).not.toContainText('Desk');
    await pending(a, 'Desk').getByRole('button', { name: 'Undo' }).click();
    await expect(nav(a).getByRole('list', { name: 'Locations' })).toContainText('Desk');
    await newTag(a, 'One');
    await newTag(a, 'Two');
    await newAlbum(a, 'Trip');
    await expect(albumItem(b, 'Trip')).toBeVisible();
    await tagItem(a, 'One').getByRole('button', { name: 'Delete' }).click();
    await tagItem(a, 'Two').getByRole('button', { name: 'Delete' }).click();
    await albumItem(a, 'Trip').getByRole('button', { name: 'Delete' }).click();
    await expect(a.getByRole('button', { name: 'Undo' })).toHaveCount(3);
    await pending(a, 'Two').getByRole('button', { name: 'Undo' }).click();
    // (the others may already be written by now on a loaded machine: their own timers)
    await expect(pending(a, 'Two')).toHaveCount(0);
    await expect(tagItem(a, 'Two')).toBeVisible();
    for (const p of [a, b]) {
      await expect(tagItem(p, 'One')).toHaveCount(0);
      await expect(albumItem(p, 'Trip')).toHaveCount(0);
    }
    await expect(a.getByRole('button', { name: 'Undo' })).toHaveCount(0);
    for (const p of [a, b]) {
      await expect(tagItem(p, 'Two')).toBeVisible();
      await expect(nav(p).getByRole('list', { name: 'Locations' })).toContainText('Desk');
      expect(await count(p, "SELECT count(*) FROM tombstones WHERE model = 'location'")).toBe(0);
    }
  });

  test('a reload while a delete waits ends the wait: the delete is written', async ({ baseURL }) => {
    const a = await openApp(browser.context, baseURL!);
    const b = await openApp(browser.context, baseURL!);
    await newTag(a, 'Receipts');
    await expect(tagItem(b, 'Receipts')).toBeVisible();
    await tagItem(a, 'Receipts').getByRole('button', { name: 'Delete' }).click();
    await expect(pending(a, 'Receipts')).toBeVisible();
    await a.reload();
    await waitReady(a);
    for (const p of [a, b]) {
      await expect(tagItem(p, 'Receipts')).toHaveCount(0);
      await expect.poll(() => count(p, "SELECT count(*) FROM tombstones WHERE model = 'tag'")).toBe(1);
    }
    await expect(pending(a, 'Receipts')).toHaveCount(0);
    expect(await a.evaluate((d) => localStorage.getItem(`tabdrive:pending-deletes:${d}`), await a.evaluate(() => window.tabdrive.device.uuid))).toBeNull();
  });
});

const deviceItem = (p: Page, name: string): Locator => nav(p).getByRole('list', { name: 'Devices' }).getByRole('listitem').filter({ hasText: name });
const who = (p: Page): Promise<{ uuid: string; name: string }> => p.evaluate(() => ({ uuid: window.tabdrive.device.uuid, name: window.tabdrive.device.name }));
const owns = (p: Page, device: string): Promise<number> =>
  count(p, 'SELECT (SELECT count(*) FROM devices WHERE uuid = ?1) + (SELECT count(*) FROM volumes WHERE _owner = ?1) + (SELECT count(*) FROM locations WHERE _owner = ?1) + (SELECT count(*) FROM entries WHERE _owner = ?1)', [device]);

const databases = (p: Page): Promise<string[]> => p.evaluate(async () => (await indexedDB.databases()).map((d) => d.name ?? ''));

async function addSample(p: Page, name: string, n: number): Promise<void> {
  await nav(p).getByRole('button', { name: 'Add sample location' }).click();
  await nav(p).getByRole('textbox', { name: 'Location name' }).fill(name);
  await nav(p).getByRole('spinbutton', { name: 'Number of files' }).fill(String(n));
  await nav(p).getByRole('button', { name: 'Add', exact: true }).click();
  await expect(nav(p).getByRole('list', { name: 'Locations' })).toContainText(name);
}

test.describe('forget device', () => {
  test('a member forgets a paused device: it goes everywhere with all it owns; back, it is told, resurrects nothing, and rejoins as a new device', async ({ baseURL }) => {
    const a = await openApp(browser.context, baseURL!);
    const b = await openApp(browser.context, baseURL!);
    const c = await openApp(browser.context, baseURL!);
    const [me, gone] = [await who(a), await who(b)];
    await addSample(b, 'Trip', 30);
    for (const p of [a, c]) await expect(nav(p).getByRole('list', { name: 'Locations' })).toContainText('Trip');
    const held = await owns(b, gone.uuid);
    for (const p of [a, c]) await expect.poll(() => owns(p, gone.uuid)).toBe(held);

    // no device forgets itself: the button is on the others only
    await expect(deviceItem(a, me.name).getByRole('button', { name: 'Forget device' })).toHaveCount(0);

    await pause(b);
    await deviceItem(a, gone.name).getByRole('button', { name: 'Forget device' }).click();
    await deviceItem(a, gone.name).getByRole('button', { name: 'Forget' , exact: true }).click();
    for (const p of [a, c]) {
      await expect(deviceItem(p, gone.name)).toHaveCount(0);
      await expect(nav(p).getByRole('list', { name: 'Locations' })).not.toContainText('Trip');
      await expect.poll(() => owns(p, gone.uuid)).toBe(0);
    }

    // B, apart, still works and writes more of its own; then it comes back
    await addSample(b, 'Later', 10);
    await pause(b);
    await expect(b.getByRole('alert').filter({ hasText: 'was forgotten' })).toContainText(`by ${me.name}`);
    await expect(nav(b).getByRole('list', { name: 'Locations' })).not.toContainText('Trip');
    // nothing of B comes back on A or C, from B or from each other
    for (let t = 0; t < 6000; t += 500) {
      for (const p of [a, c]) expect(await owns(p, gone.uuid)).toBe(0);
      await sleep(500);
    }
    await expect(nav(a).getByRole('list', { name: 'Locations' })).not.toContainText('Later');

    // B rejoins as a new device; the others list it, and its new rows sync
    await b.getByRole('button', { name: 'Rejoin as a new device' }).click();
    await b.waitForFunction((old) => window.tabdrive?.device?.uuid !== undefined && window.tabdrive.device.uuid !== old, gone.uuid, { timeout: 30_000 });
    await waitReady(b);
    const fresh = await who(b);
    expect(fresh.uuid).not.toBe(gone.uuid);
    await expect(b.getByRole('alert').filter({ hasText: 'was forgotten' })).toHaveCount(0);
    for (const p of [a, c]) await expect(deviceItem(p, fresh.name)).toBeVisible();
    await addSample(b, 'Again', 5);
    await expect(nav(a).getByRole('list', { name: 'Locations' })).toContainText('Again');
    for (const p of [a, c]) expect(await owns(p, gone.uuid)).toBe(0);
    // the forgotten device's database leaves this browser (its slot left a grave at rejoin;
    // the new device's first cleanup, 5 s after boot, deletes it)
    const library = await a.evaluate(() => window.tabdrive.library);
    await expect.poll(() => databases(a), { timeout: 20_000 }).not.toContain(`tabdrive:${library}:${gone.uuid}`);
    expect(await databases(a)).toContain(`tabdrive:${library}:${fresh.uuid}`);
  });

  test('a closed tab forgotten meanwhile is told when it is opened again', async ({ baseURL }) => {
    const a = await openApp(browser.context, baseURL!);
    let b = await openApp(browser.context, baseURL!);
    const gone = await who(b);
    await addSample(b, 'Desk', 10);
    await expect.poll(() => owns(a, gone.uuid)).toBeGreaterThan(10);
    await b.close();
    await deviceItem(a, gone.name).getByRole('button', { name: 'Forget device' }).click();
    await deviceItem(a, gone.name).getByRole('button', { name: 'Forget', exact: true }).click();
    await expect(deviceItem(a, gone.name)).toHaveCount(0);
    // the closed tab's device is adopted by the next tab, which learns it was forgotten
    b = await openApp(browser.context, baseURL!);
    expect((await who(b)).uuid).toBe(gone.uuid);
    await expect(b.getByRole('alert').filter({ hasText: 'was forgotten' })).toBeVisible();
    await expect(nav(b).getByRole('button', { name: 'Forget device' })).toHaveCount(0); // it is no member any more
    for (let t = 0; t < 4000; t += 500) {
      expect(await owns(a, gone.uuid)).toBe(0);
      await sleep(500);
    }
    await expect(nav(b).getByRole('list', { name: 'Locations' })).not.toContainText('Desk');
  });
});

test.describe('closed tabs', () => {
  test("a closed tab's slot unused past the horizon leaves this browser with its databases; running tabs and one holding rows nobody else has stay", async ({ baseURL }) => {
    const a = await openApp(browser.context, baseURL!);
    const b = await openApp(browser.context, baseURL!);
    const c = await openApp(browser.context, baseURL!);
    const d = await openApp(browser.context, baseURL!);
    const library = await a.evaluate(() => window.tabdrive.library);
    const [ta, tb, tc, td] = [await who(a), await who(b), await who(c), await who(d)];
    const db = (t: { uuid: string }): string => `tabdrive:${library}:${t.uuid}`;
    // the setting is shown where the devices are, with its default
    await expect(nav(a).getByRole('combobox', { name: 'Remove closed tabs after' })).toHaveValue('30');
    await addSample(b, 'From B', 10);
    await expect.poll(() => owns(a, tb.uuid)).toBe(await owns(b, tb.uuid));
    // C writes while apart: nobody else holds those rows when it closes
    await pause(c);
    await addSample(c, 'Only on C', 5);
    await b.close();
    await c.close();
    expect(await databases(a)).toEqual(expect.arrayContaining([db(ta), db(tb), db(tc), db(td)]));

    // A is reloaded with a horizon of 1 ms (test build): its cleanup runs 5 s after boot
    await a.goto(new URL('/?signaling=&slot-horizon-ms=1', baseURL).toString());
    await waitReady(a);
    expect((await who(a)).uuid).toBe(ta.uuid);
    await expect.poll(() => databases(a), { timeout: 20_000 }).not.toContain(db(tb));
    expect(await databases(a)).not.toContain(`tabdrive-relay:${db(tb)}`);
    expect(await databases(a)).toEqual(expect.arrayContaining([db(ta), db(tc), db(td)])); // A and D run; C holds rows
    await expect(nav(a).getByRole('status').filter({ hasText: 'Removed 1 closed tab' })).toBeVisible();
    await expect(nav(a).getByText(/^Kept “.+”, unused since .+: it holds \d+ file changes( and \d+ edits?)? no other device has yet/)).toContainText(tc.name);
    // the library's view does not change: B stays in Devices with its files (offline, below,
    // once its presence has timed out)
    await expect(deviceItem(a, tb.name)).toContainText('10 files');
    expect(await owns(a, tb.uuid)).toBeGreaterThan(10);
    expect(await count(a, "SELECT count(*) FROM locations WHERE name = 'Only on C'")).toBe(0);

    // a new tab adopts C's slot (A and D run; B's is gone) and sends what it held; closed
    // again, the next run removes it
    const e = await openApp(browser.context, baseURL!);
    expect((await who(e)).uuid).toBe(tc.uuid);
    await expect(nav(a).getByRole('list', { name: 'Locations' })).toContainText('Only on C');
    await expect.poll(() => owns(a, tc.uuid)).toBe(await owns(e, tc.uuid));
    await e.close();
    await expect.poll(async () => (await a.evaluate(() => window.tabdrive.cleanSlots!()))?.removed ?? [], { timeout: 20_000 }).toEqual([tc.uuid]);
    expect(await databases(a)).not.toContain(db(tc));
    expect(await databases(a)).toEqual(expect.arrayContaining([db(ta), db(td)]));
    // a new tab now finds no closed slot to adopt: a new device, started from A's or D's image
    const f = await openApp(browser.context, baseURL!);
    expect([ta.uuid, tb.uuid, tc.uuid, td.uuid]).not.toContain((await who(f)).uuid);
    await expect(nav(f).getByRole('list', { name: 'Locations' })).toContainText('Only on C');
    for (const t of [tb, tc]) await expect(deviceItem(a, t.name)).toContainText('offline', { timeout: 40_000 });
  });
});
