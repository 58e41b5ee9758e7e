// Installable and offline: the manifest is there with its icons, and once the service worker
// has installed, the app opens with the network gone — storage worker, wasm and all.
import { count, expect, newProfile, openApp, test, waitReady } from './support/browser.ts';

test('installs a service worker, then opens offline with its data', async ({ baseURL }) => {
  const profile = newProfile();
  const context = await profile.launch();
  try {
    const page = await openApp(context, baseURL!);
    const manifest = await page.evaluate(async () => {
      const href = document.querySelector<HTMLLinkElement>('link[rel="manifest"]')?.href;
      return href ? ((await (await fetch(href)).json()) as { name: string; icons: { sizes: string }[]; display: string }) : null;
    });
    expect(manifest?.name).toBe('tabdrive');
    expect(manifest?.display).toBe('standalone');
    expect(manifest?.icons.map((i) => i.sizes)).toEqual(expect.arrayContaining(['192x192', '512x512']));
    await page.evaluate(() => window.tabdrive.actions!.addSampleLocation('Offline copy', 15));
    await page.evaluate(() => window.tabdrive.durable());
    await page.evaluate(async () => {
      await navigator.serviceWorker.ready;
    });
    await page.reload(); // now controlled by the service worker
    await waitReady(page);
    expect(await page.evaluate(() => navigator.serviceWorker.controller !== null)).toBe(true);

    await context.setOffline(true);
    await page.reload();
    await waitReady(page);
    await expect(page.getByRole('list', { name: 'Locations' })).toContainText('Offline copy');
    expect(await count(page, "SELECT count(*) FROM entries WHERE kind = 'file'")).toBe(15);
    // A new tab opens offline too.
    const second = await context.newPage();
    await second.goto(new URL('/?signaling=', baseURL).toString());
    await waitReady(second);
    await expect(second.getByRole('status', { name: 'Sync status' })).toBeVisible();
  } finally {
    await context.close();
    profile.remove();
  }
});
