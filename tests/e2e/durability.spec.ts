// Durability as a user meets it: a killed browser loses no acknowledged write and leaves no
// half-written one; a damaged saved image is reported in plain words and recovered from.
import type { BrowserContext, Page } from '@playwright/test';
import { count, expect, newProfile, openApp, test, waitReady, killChromium } from './support/browser.ts';

test.setTimeout(240_000);


async function openDevice(context: BrowserContext, baseURL: string): Promise<Page> {
  const page = context.pages()[0] ?? (await context.newPage());
  await page.goto(new URL('/?signaling=', baseURL).toString());
  await waitReady(page);
  return page;
}

test('SIGKILL at random moments loses no acknowledged write and leaves no partial one', async ({ baseURL }) => {
  const profile = newProfile();
  const acked = new Set<string>();
  let device: string | null = null;
  let next = 0;
  try {
    for (let round = 0; round < 5 || acked.size < 200; round++) {
      expect(round, 'kill rounds').toBeLessThan(12);
      const context = await profile.launch();
      const page = await openDevice(context, baseURL!);
      const me = await page.evaluate(() => window.tabdrive.device.uuid);
      device ??= me;
      expect(me, 'relaunch adopts the same device').toBe(device);

      // Every acknowledged write from earlier rounds is here, and every location is whole.
      const present = new Set(
        ((await page.evaluate(() => window.tabdrive.query('SELECT name FROM locations'))) as { name: string }[]).map((r) => r.name),
      );
      for (const name of acked) expect(present.has(name), `acknowledged ${name} survived`).toBe(true);
      const partial = await count(
        page,
        `SELECT count(*) FROM locations l WHERE (SELECT count(*) FROM entries e WHERE e.location_uuid = l.uuid AND e.kind = 'file') <> 3`,
      );
      expect(partial, 'no location without all its files').toBe(0);
      const orphans = await count(page, 'SELECT count(*) FROM entries e WHERE NOT EXISTS (SELECT 1 FROM locations l WHERE l.uuid = e.location_uuid)');
      expect(orphans, 'no files of a location that was never written').toBe(0);
      if (round >= 5 && acked.size >= 200) break;

      // Write continuously; each write is one commit (a location + its 3 files). The test
      // hears of a write only after its promise resolved, i.e. after it was durable.
      await page.exposeFunction('ack', (name: string) => void acked.add(name));
      const start = next;
      next += 1000;
      await page.evaluate((start) => {
        void (async () => {
          for (let i = start; ; i++) {
            const r = await window.tabdrive.actions!.addSampleLocation(`k${i}`, 3);
            if (r.ok) await (window as unknown as { ack: (n: string) => Promise<void> }).ack(`k${i}`);
          }
        })();
      }, start);
      const target = acked.size + 40 + Math.floor(Math.random() * 30);
      await expect.poll(() => acked.size, { timeout: 60_000 }).toBeGreaterThanOrEqual(target);
      await new Promise((r) => setTimeout(r, Math.random() * 40)); // land mid-write
      killChromium(profile.dir);
      await context.close().catch(() => undefined);
    }
    expect(acked.size).toBeGreaterThanOrEqual(200);
  } finally {
    killChromium(profile.dir);
    profile.remove();
  }
});

test('durable() covers every write made so far, also ones nobody awaited: a SIGKILL right after loses none', async ({ baseURL }) => {
  const profile = newProfile();
  try {
    let context = await profile.launch();
    let page = await openDevice(context, baseURL!);
    const made = await page.evaluate(async () => {
      const t = window.tabdrive;
      const album = await t.actions!.createAlbum('Burst');
      if (!album.ok) throw new Error(album.error.message);
      await t.actions!.addSampleLocation('Burst files', 20);
      const files = (await t.query("SELECT uuid FROM entries WHERE kind = 'file' LIMIT 20")).map((r) => String(r['uuid']));
      // fire and forget: tags (written at once) and memberships (which read before they write)
      for (let i = 0; i < 40; i++) void t.actions!.createTag({ name: `burst ${i}` });
      for (const f of files) void t.actions!.addToAlbum(album.value.uuid, f);
      await t.durable();
      return files.length;
    });
    expect(made).toBe(20);
    killChromium(profile.dir); // at once: nothing after durable() gets a chance to run
    await context.close().catch(() => undefined);
    context = await profile.launch();
    page = await openDevice(context, baseURL!);
    expect(await count(page, "SELECT count(*) FROM tags WHERE display_name LIKE 'burst %'")).toBe(40);
    expect(await count(page, 'SELECT count(*) FROM album_entries ae JOIN albums a ON a.uuid = ae.album_uuid WHERE a.name = ? AND ae.active = 1', ['Burst'])).toBe(20);
    await context.close();
  } finally {
    killChromium(profile.dir);
    profile.remove();
  }
});

test('a damaged database image is reported and recovered without losing acknowledged writes', async ({ baseURL }) => {
  const profile = newProfile();
  let context = await profile.launch();
  try {
    const page = await openApp(context, baseURL!);
    await page.evaluate(async () => {
      await window.tabdrive.actions!.addSampleLocation('Before image', 50);
      await window.tabdrive.snapshot();
      await window.tabdrive.actions!.addSampleLocation('After image', 20);
      // The damaged image must stay the current one until the relaunch: written now, no
      // debounced image is left to replace it (it did, under load, and nothing was damaged).
      await window.tabdrive.snapshot();
    });
    const device = await page.evaluate(() => window.tabdrive.device.uuid);
    const dbName = await page.evaluate(() => window.tabdrive.dbName);
    // Damage the current image in IndexedDB the way a bad disk would: flip bytes.
    await page.evaluate(async (name) => {
      const db = await new Promise<IDBDatabase>((res, rej) => {
        const r = indexedDB.open(name, 1);
        r.onsuccess = () => res(r.result);
        r.onerror = () => rej(r.error ?? new Error('open failed'));
      });
      await new Promise<void>((res, rej) => {
        const t = db.transaction(['meta', 'images'], 'readwrite');
        t.oncomplete = () => res();
        t.onerror = () => rej(t.error ?? new Error('transaction failed'));
        const p = t.objectStore('meta').get('pointer');
        p.onsuccess = () => {
          const id = (p.result as { current: string }).current;
          const g = t.objectStore('images').get(id);
          g.onsuccess = () => {
            const img = g.result as { bytes?: Uint8Array; chunks?: string[]; bank?: number };
            const flip = (b: Uint8Array): Uint8Array => {
              const bytes = b.slice();
              for (let i = 0; i < bytes.length; i += 97) bytes[i] = bytes[i]! ^ 0x5a;
              return bytes;
            };
            // a chunked image (decision 0016): every one of its chunks, as a bad disk would
            if (img.chunks) {
              for (const sum of img.chunks) {
                const key = `chunk:${img.bank}-${sum}`;
                const c = t.objectStore('images').get(key);
                c.onsuccess = () => t.objectStore('images').put(flip(c.result as Uint8Array), key);
              }
            } else t.objectStore('images').put({ ...img, bytes: flip(img.bytes!) }, id);
          };
        };
      });
      db.close();
    }, dbName);
    // Killed, not closed: a closing tab writes an image on pagehide, over the damaged one.
    killChromium(profile.dir);
    await context.close().catch(() => undefined);

    context = await profile.launch();
    const again = await openApp(context, baseURL!);
    expect(await again.evaluate(() => window.tabdrive.device.uuid)).toBe(device);
    const alert = again.getByRole('alert');
    await expect(alert).toContainText('damaged');
    await expect(alert).toContainText('nothing acknowledged was lost');
    expect(await count(again, "SELECT count(*) FROM entries WHERE kind = 'file'")).toBe(70);
    await expect(again.getByRole('list', { name: 'Locations' })).toContainText('Before image');
    await expect(again.getByRole('list', { name: 'Locations' })).toContainText('After image');
  } finally {
    killChromium(profile.dir);
    await context.close().catch(() => undefined);
    profile.remove();
  }
});
