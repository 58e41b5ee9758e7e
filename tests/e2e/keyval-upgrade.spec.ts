// Issue 16: the slot registry and the kept folder handles moved to idb-keyval. A browser that
// used the previous version keeps its device, library, secret and kept handles: the previous
// layouts are written here exactly as the previous code wrote them (raw IndexedDB in a blank
// page of the app's origin), then the app opens on them. Tabs opened at the same moment —
// on an upgraded browser and on a fresh one — still never share a device and agree on one
// library and secret.
import type { BrowserContext, Page } from '@playwright/test';
import { roomName } from '../../src/transport/room.ts';
import { deviceOf, expect, newProfile, openApp, test, type Profile } from './support/browser.ts';

let profile: Profile;
let context: BrowserContext;
const BLANK = '/__blank-for-idb';

test.beforeEach(async () => {
  profile = newProfile();
  // No service worker: its navigation fallback would answer BLANK with the app itself.
  context = await profile.launch({ serviceWorkers: 'block' });
  await context.route(`**${BLANK}`, (r) => r.fulfill({ contentType: 'text/html', body: '<!doctype html><title>blank</title>' }));
  // "Add folder" picks the origin-private folder `Kept` (a real FileSystemDirectoryHandle).
  await context.addInitScript(() => {
    (window as unknown as { showDirectoryPicker: () => Promise<FileSystemDirectoryHandle> }).showDirectoryPicker = async () =>
      (await navigator.storage.getDirectory()).getDirectoryHandle('Kept', { create: true });
  });
});
test.afterEach(async () => {
  await context.close();
  profile.remove();
});

interface Legacy {
  readonly library: string;
  readonly secret: string;
  readonly slots: readonly { device: string; library: string; lastUsed: number; name: string }[];
  /** location uuid → keep the handle of the private folder `Kept` for it */
  readonly keptHandle?: string;
}

/**
 * In a blank page of the origin (the app not running): drop the current registry and handle
 * databases and write the previous layouts with the calls src/device/registry.ts and
 * src/indexer/handles.ts made before idb-keyval (open version 1; stores `meta` and `slots`
 * keyPath 'device'; store `handles`, key = location).
 */
async function writePreviousLayout(baseURL: string, legacy: Legacy): Promise<void> {
  const page = await context.newPage();
  await page.goto(new URL(BLANK, baseURL).toString());
  await page.evaluate(async (l) => {
    const done = <T,>(r: IDBRequest<T>) => new Promise<T>((res, rej) => {
      r.onsuccess = () => res(r.result);
      r.onerror = () => rej(r.error ?? new Error('request failed'));
    });
    const completed = (t: IDBTransaction) => new Promise<void>((res, rej) => {
      t.oncomplete = () => res();
      t.onabort = () => rej(t.error ?? new Error('aborted'));
    });
    for (const name of ['tabdrive:registry', 'tabdrive:folder-handles']) {
      await new Promise((res, rej) => {
        const del = indexedDB.deleteDatabase(name);
        del.onsuccess = res;
        del.onerror = () => rej(del.error ?? new Error('delete failed'));
        del.onblocked = () => rej(new Error(`${name} is still open somewhere`));
      });
    }
    const open = indexedDB.open('tabdrive:registry', 1);
    open.onupgradeneeded = () => {
      open.result.createObjectStore('meta');
      open.result.createObjectStore('slots', { keyPath: 'device' });
    };
    const db = await done(open);
    const meta = db.transaction('meta', 'readwrite', { durability: 'strict' });
    meta.objectStore('meta').put(l.library, 'library');
    meta.objectStore('meta').put(l.secret, `secret:${l.library}`);
    await completed(meta);
    for (const slot of l.slots) {
      const t = db.transaction('slots', 'readwrite', { durability: 'strict' });
      t.objectStore('slots').put(slot);
      await completed(t);
    }
    db.close();
    if (l.keptHandle) {
      const h = indexedDB.open('tabdrive:folder-handles', 1);
      h.onupgradeneeded = () => h.result.createObjectStore('handles');
      const hdb = await done(h);
      const handle = await (await navigator.storage.getDirectory()).getDirectoryHandle('Kept', { create: true });
      const t = hdb.transaction('handles', 'readwrite');
      t.objectStore('handles').put(handle, l.keptHandle);
      await completed(t);
      hdb.close();
    }
  }, legacy);
  await page.close();
}

/** the registry database as it is now: store → keys */
const registryKeys = (page: Page) =>
  page.evaluate(async () => {
    const open = indexedDB.open('tabdrive:registry');
    const db = await new Promise<IDBDatabase>((res, rej) => {
      open.onsuccess = () => res(open.result);
      open.onerror = () => rej(open.error ?? new Error('open failed'));
    });
    const out: Record<string, string[]> = {};
    for (const name of [...db.objectStoreNames]) {
      const r = db.transaction(name).objectStore(name).getAllKeys();
      out[name] = await new Promise<string[]>((res) => (r.onsuccess = () => res(r.result.map(String))));
    }
    db.close();
    return out;
  });

async function secretOf(page: Page): Promise<string> {
  await page.getByRole('button', { name: 'Invite', exact: true }).click();
  const link = await page.getByRole('textbox', { name: 'Invite link' }).inputValue();
  await page.getByRole('button', { name: 'Invite', exact: true }).click();
  return /#\/join\/[^/]+\/([^/]+)$/.exec(link)![1]!;
}

const writeKept = (page: Page, files: Record<string, string>) =>
  page.evaluate(async (f) => {
    const dir = await (await navigator.storage.getDirectory()).getDirectoryHandle('Kept', { create: true });
    for (const [name, text] of Object.entries(f)) {
      const w = await (await dir.getFileHandle(name, { create: true })).createWritable();
      await w.write(text);
      await w.close();
    }
  }, files);

test('a browser with the previous layout keeps its device, library, secret and kept folder', async ({ baseURL }) => {
  // The previous version's life: a device with a picked folder.
  const before = await openApp(context, baseURL!);
  await writeKept(before, { 'a.txt': 'alpha', 'b.txt': 'beta' });
  await before.getByRole('button', { name: 'Add folder' }).click();
  const locations = (p: Page) => p.getByRole('list', { name: 'Locations' });
  await expect(locations(before)).toContainText('2 files');
  const device = await deviceOf(before);
  const name = await before.evaluate(() => window.tabdrive.device.name);
  const library = await before.evaluate(() => window.tabdrive.library);
  const room = await before.evaluate(() => window.tabdrive.room);
  const secret = await secretOf(before);
  const [{ uuid: location }] = (await before.evaluate(() => window.tabdrive.query('SELECT uuid FROM locations'))) as [{ uuid: string }];
  await before.evaluate(() => window.tabdrive.durable());
  await before.close();

  // What the previous version would have left in IndexedDB (its device database stays).
  await writePreviousLayout(baseURL!, { library, secret, slots: [{ device, library, lastUsed: Date.now(), name }], keptHandle: location });

  const page = await openApp(context, baseURL!);
  expect(await deviceOf(page)).toBe(device); // adopted: the same device, with its data
  expect(await page.evaluate(() => window.tabdrive.library)).toBe(library);
  expect(await secretOf(page)).toBe(secret);
  expect(await page.evaluate(() => window.tabdrive.room)).toBe(room);
  await expect(locations(page)).toContainText('2 files');
  // the slot moved into the one idb-keyval store; the old store is left empty
  // (and the device's key pair, "Rotate invite": made at its first start under this build)
  expect(await registryKeys(page)).toEqual({ meta: [`keys:${device}`, 'library', `secret:${library}`, `slot:${device}`], slots: [] });

  // "Rescan" reads the folder through the handle the previous version kept: no picker.
  await writeKept(page, { 'c.txt': 'gamma' });
  let picked = false;
  page.on('filechooser', () => (picked = true));
  await locations(page).getByRole('button', { name: 'Rescan' }).click();
  await expect(locations(page)).toContainText('3 files');
  expect(picked).toBe(false);

  // a reload keeps the device (sessionStorage + the registry in its new layout)
  await page.reload();
  await page.waitForFunction(() => window.tabdrive?.device?.uuid);
  expect(await deviceOf(page)).toBe(device);
});

test('tabs opened at the same moment on an upgraded browser: each slot once, one library and secret', async ({ baseURL }) => {
  const library = crypto.randomUUID();
  const secret = 'kept-secret-0123456789-abcdefghijklmnop';
  const slots = [1, 2].map((i) => ({ device: crypto.randomUUID(), library, lastUsed: Date.now() - i * 1000, name: `Chrome old${i}` }));
  await writePreviousLayout(baseURL!, { library, secret, slots });
  const tabs = await Promise.all(Array.from({ length: 4 }, () => openApp(context, baseURL!)));
  const devices = await Promise.all(tabs.map(deviceOf));
  expect(new Set(devices).size).toBe(4);
  expect(devices.filter((d) => slots.some((s) => s.device === d)).sort()).toEqual(slots.map((s) => s.device).sort());
  for (const t of tabs) expect(await t.evaluate(() => window.tabdrive.library)).toBe(library);
  const room = await roomName(library, secret);
  for (const t of tabs) expect(await t.evaluate(() => window.tabdrive.room)).toBe(room);
  const keys = await registryKeys(tabs[0]!);
  expect(keys['slots']).toEqual([]);
  expect(keys['meta']!.filter((k) => k.startsWith('slot:')).sort()).toEqual(devices.map((d) => `slot:${d}`).sort());
});

test('tabs opened at the same moment on a fresh browser: distinct devices, one library and secret', async ({ baseURL }) => {
  const tabs = await Promise.all(Array.from({ length: 4 }, () => openApp(context, baseURL!)));
  expect(new Set(await Promise.all(tabs.map(deviceOf))).size).toBe(4);
  const libraries = await Promise.all(tabs.map((t) => t.evaluate(() => window.tabdrive.library)));
  expect(new Set(libraries).size).toBe(1);
  expect(new Set(await Promise.all(tabs.map((t) => t.evaluate(() => window.tabdrive.room)))).size).toBe(1);
  const keys = await registryKeys(tabs[0]!);
  expect(Object.keys(keys)).toEqual(['meta']); // idb-keyval's one store, no legacy store
  expect(keys['meta']!.filter((k) => !k.startsWith('slot:') && !k.startsWith('keys:'))).toEqual(['library', `secret:${libraries[0]}`]);
  expect(keys['meta']!.filter((k) => k.startsWith('slot:'))).toHaveLength(4);
  expect(keys['meta']!.filter((k) => k.startsWith('keys:'))).toHaveLength(4); // each device's key pair
});
