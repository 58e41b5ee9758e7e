// Issue 14: "Get from device" between two tabs of one browser (two devices, BroadcastChannel):
// a file only the other tab can read is streamed, interrupted (the sender's sync paused) and
// resumed, verified, previewed, and "Save" downloads the exact bytes; a sender that corrupts
// what it sends is refused and nothing is saved; the receiver reloading mid-transfer goes on
// from what it kept; a received file is kept as this device's copy (Preview and Save again
// with its holder offline, no second transfer) until "Remove copy". Two browsers: tests/webrtc.
import type { Locator, Page } from '@playwright/test';
import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, freshBrowserPerTest, openApp, test, waitReady } from './support/browser.ts';

const browser = freshBrowserPerTest();
const nav = (p: Page): Locator => p.getByRole('navigation', { name: 'Library' });
const files = (p: Page): Locator => p.getByRole('main', { name: 'Files' }).getByRole('list', { name: 'Files' });
const inspector = (p: Page): Locator => p.getByRole('complementary', { name: 'Inspector' });
const preview = (p: Page): Locator => p.getByRole('dialog', { name: 'Preview' });
const row = (p: Page, name: string): Locator => files(p).getByRole('button', { name: new RegExp(name.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')) });
const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

let tmp: string;
test.beforeEach(() => {
  tmp = mkdtempSync(join(tmpdir(), 'tabdrive-get-'));
});
test.afterEach(() => rmSync(tmp, { recursive: true, force: true }));

/** Trip/: a text file of `mb` MB (random printable text, so Preview shows its start). */
function tripFolder(mb: number): { root: string; bytes: Buffer } {
  const root = join(tmp, 'Trip');
  mkdirSync(root);
  const bytes = Buffer.from(randomBytes(Math.round(mb * 1024 * 1024 * 0.75)).toString('base64'));
  writeFileSync(join(root, 'journal.txt'), bytes);
  return { root, bytes };
}

async function pickOnA(a: Page, root: string): Promise<void> {
  await a.bringToFront();
  await nav(a).getByLabel('Folder', { exact: true }).setInputFiles(root);
  await expect(nav(a).getByRole('status')).toContainText(': 1 files');
}

async function selectOnB(b: Page): Promise<void> {
  await b.bringToFront();
  await nav(b).getByRole('list', { name: 'Locations' }).getByRole('button', { name: /Trip/ }).first().click();
  await row(b, 'journal.txt').click();
}

test('Get from device: streamed from the other tab, interrupted and resumed, verified, previewed, saved byte for byte', async ({ baseURL }) => {
  const a = await openApp(browser.context, baseURL!);
  const b = await openApp(browser.context, baseURL!);
  const { root, bytes } = tripFolder(4);
  await pickOnA(a, root);
  await selectOnB(b);
  // a slow sender (200 ms a chunk) so the pause lands mid-transfer
  await a.evaluate(() => window.tabdrive.sendDelay?.(200));
  await inspector(b).getByRole('button', { name: 'Get from device' }).click();
  const bar = inspector(b).getByRole('progressbar', { name: 'Getting journal.txt' });
  await expect.poll(() => bar.evaluate((e: HTMLProgressElement) => e.value), { intervals: [50] }).toBeGreaterThan(0);
  await a.evaluate(() => window.tabdrive.pause(true));
  await expect(inspector(b).getByRole('status')).toHaveText('The device went offline — resuming when it returns.', { timeout: 20_000 });
  const stopped = await bar.evaluate((e: HTMLProgressElement) => e.value);
  expect(stopped).toBeLessThan(bytes.byteLength);
  await a.evaluate(() => {
    window.tabdrive.sendDelay?.(0);
    window.tabdrive.pause(false);
  });
  // resumed, checked, and shown in Preview
  await expect(preview(b).getByLabel('Text of journal.txt')).toContainText(bytes.subarray(0, 64).toString(), { timeout: 30_000 });
  const stats = await b.evaluate(() => window.tabdrive.filesStats?.().transfers);
  expect(stats?.resumed).toBeGreaterThanOrEqual(1);
  expect(stats?.bytesIn).toBeLessThan(bytes.byteLength + 20 * 256 * 1024); // resumed, not started over
  expect(stats?.verifyFailed).toBe(0);
  const [download] = await Promise.all([b.waitForEvent('download'), preview(b).getByRole('button', { name: 'Save' }).click()]);
  expect(download.suggestedFilename()).toBe('journal.txt');
  expect(sha(readFileSync((await download.path())))).toBe(sha(bytes));
});

/** records (one per file) and segments in this browser's transfer store */
const keptRecords = (p: Page): Promise<number> => p.evaluate(() => new Promise<number>((res) => {
  const r = indexedDB.open('tabdrive:transfers');
  r.onsuccess = () => {
    const db = r.result;
    if (!db.objectStoreNames.contains('parts')) return res(0);
    const c = db.transaction('parts').objectStore('parts').count();
    c.onsuccess = () => res(c.result);
  };
}));

test('the receiver reloads mid-transfer: Get from device goes on from the kept part, verified, saved byte for byte', async ({ baseURL }) => {
  const a = await openApp(browser.context, baseURL!);
  const b = await openApp(browser.context, baseURL!);
  const { root, bytes } = tripFolder(12);
  await pickOnA(a, root);
  await selectOnB(b);
  await a.evaluate(() => window.tabdrive.sendDelay?.(100));
  await inspector(b).getByRole('button', { name: 'Get from device' }).click();
  // a whole 4 MiB segment (and the record that counts it) is on disk: then B reloads
  await expect.poll(() => keptRecords(b), { intervals: [100], timeout: 30_000 }).toBeGreaterThanOrEqual(2);
  await b.reload();
  await waitReady(b);
  await a.evaluate(() => window.tabdrive.sendDelay?.(0));
  await selectOnB(b);
  await inspector(b).getByRole('button', { name: 'Get from device' }).click();
  await expect(preview(b).getByLabel('Text of journal.txt')).toContainText(bytes.subarray(0, 64).toString(), { timeout: 30_000 });
  const stats = await b.evaluate(() => window.tabdrive.filesStats?.().transfers);
  expect(stats?.resumed).toBe(1);
  expect(stats?.bytesIn).toBeLessThanOrEqual(bytes.byteLength - 4 * 1024 * 1024); // what was kept is not sent again
  expect(stats?.bytesIn).toBeGreaterThan(0);
  expect(stats?.verifyFailed).toBe(0);
  const [download] = await Promise.all([b.waitForEvent('download'), preview(b).getByRole('button', { name: 'Save' }).click()]);
  expect(sha(readFileSync((await download.path())))).toBe(sha(bytes));
});

test('a received file is kept on this device: after a reload, with its holder offline, Preview and Save read the copy; Remove copy forgets it', async ({ baseURL }) => {
  const a = await openApp(browser.context, baseURL!);
  const b = await openApp(browser.context, baseURL!);
  const { root, bytes } = tripFolder(2);
  await pickOnA(a, root);
  await selectOnB(b);
  await inspector(b).getByRole('button', { name: 'Get from device' }).click();
  await expect(preview(b).getByLabel('Text of journal.txt')).toBeVisible();
  await b.keyboard.press('Escape');
  await expect(inspector(b).getByRole('status')).toHaveText('Kept on this device, 2.0 MB');
  const served = (await a.evaluate(() => window.tabdrive.filesStats?.().transfers))?.served;
  expect(served).toBe(1);
  // B reloads and A goes offline: only the copy can answer
  await a.evaluate(() => window.tabdrive.pause(true));
  await b.reload();
  await waitReady(b);
  await selectOnB(b);
  await expect(inspector(b).getByRole('status')).toHaveText('Kept on this device, 2.0 MB');
  await expect(inspector(b).getByRole('button', { name: 'Get from device' })).toHaveCount(0);
  await inspector(b).getByRole('button', { name: 'Preview' }).click();
  await expect(preview(b).getByLabel('Text of journal.txt')).toContainText(bytes.subarray(0, 64).toString());
  const [download] = await Promise.all([b.waitForEvent('download'), preview(b).getByRole('button', { name: 'Save' }).click()]);
  expect(sha(readFileSync((await download.path())))).toBe(sha(bytes));
  expect(await b.evaluate(() => window.tabdrive.filesStats?.().transfers)).toMatchObject({ fromCopy: 1, bytesIn: 0, chunksIn: 0 });
  expect((await a.evaluate(() => window.tabdrive.filesStats?.().transfers))?.served).toBe(served);
  await b.keyboard.press('Escape');
  await inspector(b).getByRole('button', { name: 'Remove copy' }).click();
  await expect(inspector(b).getByRole('status')).toHaveCount(0);
  await expect(inspector(b).getByRole('button', { name: 'Get from device' })).toBeEnabled();
  expect(await keptRecords(b)).toBe(0);
  // the file is another device's again: with A back, Get from device transfers it
  await a.evaluate(() => window.tabdrive.pause(false));
  await inspector(b).getByRole('button', { name: 'Get from device' }).click();
  await expect(preview(b).getByLabel('Text of journal.txt')).toBeVisible({ timeout: 30_000 });
  expect((await b.evaluate(() => window.tabdrive.filesStats?.().transfers))?.bytesIn).toBe(bytes.byteLength);
});

test('a sender that corrupts what it sends: a clear error, nothing previewed or saved', async ({ baseURL }) => {
  const a = await openApp(browser.context, baseURL!);
  const b = await openApp(browser.context, baseURL!);
  const { root } = tripFolder(1);
  await pickOnA(a, root);
  await a.evaluate(() => window.tabdrive.corruptSends?.(true));
  await selectOnB(b);
  await inspector(b).getByRole('button', { name: 'Get from device' }).click();
  await expect(inspector(b).getByRole('alert')).toHaveText('The file arrived damaged (its checksum does not match what the device sent), so it was not kept.');
  await expect(preview(b)).toBeHidden();
  expect((await b.evaluate(() => window.tabdrive.filesStats?.().transfers))?.verifyFailed).toBe(1);
  // nothing kept: no part of it left in this browser's transfer store
  const kept = await b.evaluate(() => new Promise<number>((res) => {
    const r = indexedDB.open('tabdrive:transfers');
    r.onsuccess = () => {
      const db = r.result;
      if (!db.objectStoreNames.contains('parts')) return res(0);
      const c = db.transaction('parts').objectStore('parts').count();
      c.onsuccess = () => res(c.result);
    };
  }));
  expect(kept).toBe(0);
  // the preview of another device's file still says why it cannot be read
  await inspector(b).getByRole('button', { name: 'Preview' }).click();
  await expect(preview(b).getByRole('button', { name: 'Save' })).toHaveCount(0);
});

test('Cancel stops a transfer and forgets what it kept; Get from device starts it again', async ({ baseURL }) => {
  const a = await openApp(browser.context, baseURL!);
  const b = await openApp(browser.context, baseURL!);
  const { root } = tripFolder(2);
  await pickOnA(a, root);
  await selectOnB(b);
  await a.evaluate(() => window.tabdrive.sendDelay?.(200));
  const get = inspector(b).getByRole('button', { name: 'Get from device' });
  await get.click();
  await expect(get).toBeDisabled();
  const bar = inspector(b).getByRole('progressbar', { name: 'Getting journal.txt' });
  await expect.poll(() => bar.evaluate((e: HTMLProgressElement) => e.value), { intervals: [50] }).toBeGreaterThan(0);
  await inspector(b).getByRole('button', { name: 'Cancel' }).click();
  await expect(bar).toBeHidden();
  await expect(get).toBeEnabled();
  await expect.poll(() => b.evaluate(() => new Promise<number>((res) => {
    const r = indexedDB.open('tabdrive:transfers');
    r.onsuccess = () => {
      const c = r.result.transaction('parts').objectStore('parts').count();
      c.onsuccess = () => res(c.result);
    };
  }))).toBe(0);
  await a.evaluate(() => window.tabdrive.sendDelay?.(0));
  await get.click();
  await expect(preview(b).getByLabel('Text of journal.txt')).toBeVisible();
});
