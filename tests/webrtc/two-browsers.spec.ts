// Two browsers (two Chromium processes, two profiles) become devices of one library through
// an invite, backfill over WebRTC, then sync both ways; conflicting edits made while one was
// disconnected converge. Runs in the test network namespace (scripts/netns.sh).
import type { BrowserContext, Page } from '@playwright/test';
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { count, deviceOf, expect, expectPageErrors, newProfile, test, unexpectedPageErrors, waitReady, type Profile } from '../e2e/support/browser.ts';

const SIGNALING = 'ws://127.0.0.1:4192';
let profiles: Profile[] = [];
let contexts: BrowserContext[] = [];

test.afterEach(async () => {
  for (const c of contexts) await c.close().catch(() => undefined);
  for (const p of profiles) p.remove();
  profiles = [];
  contexts = [];
});

async function browser(url: string): Promise<Page> {
  const profile = newProfile();
  const context = await profile.launch();
  profiles.push(profile);
  contexts.push(context);
  const page = context.pages()[0] ?? (await context.newPage());
  await page.goto(url);
  // an invite link asks first (DESIGN §8)
  if (new URL(url).hash.startsWith('#/join/')) await join(page);
  await waitReady(page);
  return page;
}
/** Answers an invite link's question with "Join". */
async function join(page: Page): Promise<void> {
  await page.getByRole('dialog', { name: 'Join this library?' }).getByRole('button', { name: 'Join' }).click();
}
const digest = (p: Page) => p.evaluate(() => window.tabdrive.digest());
async function converged(pages: Page[], timeout = 60_000): Promise<void> {
  try {
    await expect.poll(async () => new Set(await Promise.all(pages.map(async (p) => JSON.stringify(await digest(p))))).size, { timeout }).toBe(1);
  } catch (e) {
    // what each side's sync saw, for a failure that does not reproduce alone
    for (const p of pages) {
      const state = await p
        .evaluate(async () => ({
          device: window.tabdrive.device.uuid.slice(0, 8),
          entries: (await window.tabdrive.query('SELECT count(*) AS n FROM entries'))[0],
          marks: window.tabdrive.boot?.marks,
          stream: window.tabdrive.transportStats?.().stream,
          peers: (await window.tabdrive.stats()).peers,
          status: document.querySelector('[aria-label="Sync status"]')?.textContent,
        }))
        .catch((err: unknown) => String(err));
      console.log('[diagnosis]', JSON.stringify(state));
    }
    throw e;
  }
}
/** A's library with a sample location and a "Trip" tag, and B invited into it, in step. */
async function pairWithTag(baseURL: string, location: string, files: number): Promise<{ a: Page; b: Page; tag: string }> {
  const a = await browser(`${baseURL}/?signaling=${SIGNALING}`);
  await a.evaluate(([name, n]) => window.tabdrive.actions!.addSampleLocation(name, n), [location, files] as const);
  const b = await invitedBrowser(a, baseURL);
  await converged([a, b]);
  const tag = await a.evaluate(async () => {
    const r = await window.tabdrive.actions!.createTag({ name: 'Trip' });
    return r.ok ? r.value.uuid : '';
  });
  await converged([a, b]);
  return { a, b, tag };
}
async function invitedBrowser(a: Page, baseURL: string): Promise<Page> {
  const box = a.getByRole('textbox', { name: 'Invite link' });
  if (!(await box.isVisible())) await a.getByRole('button', { name: 'Invite', exact: true }).click();
  const link = await box.inputValue();
  const url = new URL(link);
  expect(url.hash).toMatch(/^#\/join\//);
  return browser(`${baseURL}/?signaling=${SIGNALING}${url.hash}`);
}

test('an invited browser backfills the library over WebRTC, then changes flow both ways', async ({ baseURL }) => {
  const a = await browser(`${baseURL}/?signaling=${SIGNALING}`);
  await a.evaluate(() => window.tabdrive.actions!.addSampleLocation('Photos', 3000)); // ~700 KB of document: > 256 KiB
  const b = await invitedBrowser(a, baseURL!);
  expect(await b.evaluate(() => window.tabdrive.library)).toBe(await a.evaluate(() => window.tabdrive.library));
  expect(await deviceOf(b)).not.toBe(await deviceOf(a));
  await converged([a, b]);
  expect(await count(b, "SELECT count(*) FROM entries WHERE kind = 'file'")).toBe(3000);
  const nameA = await a.evaluate(() => window.tabdrive.device.name);
  const itemA = b.getByRole('list', { name: 'Devices' }).getByRole('listitem').filter({ hasText: nameA });
  await expect(itemA).toContainText('online');
  await expect(itemA).toContainText('WebRTC');
  await b.evaluate(() => window.tabdrive.actions!.addSampleLocation('From B', 40));
  await expect(a.getByRole('list', { name: 'Locations' })).toContainText('From B');
  await a.evaluate(() => window.tabdrive.actions!.createTag({ name: 'Shared' }));
  await expect.poll(() => count(b, "SELECT count(*) FROM tags WHERE display_name = 'Shared'")).toBe(1);
  const stats = await b.evaluate(() => window.tabdrive.stats());
  expect(stats.rejected).toBe(0);
});

test('both browsers edit while disconnected, reconnect, and converge sending only what was missed', async ({ baseURL }) => {
  const { a, b, tag } = await pairWithTag(baseURL!, 'Base', 2000);
  await b.getByRole('button', { name: 'Pause sync' }).click();
  await expect(b.getByRole('status', { name: 'Sync status' })).toContainText('Offline');
  const before = await a.evaluate(() => window.tabdrive.transportStats?.() ?? null);
  await a.evaluate((t) => window.tabdrive.actions!.updateTag(t, { color: '#e03131' }), tag);
  await b.evaluate((t) => window.tabdrive.actions!.updateTag(t, { name: 'Road trip' }), tag);
  await a.evaluate(() => window.tabdrive.actions!.addSampleLocation('A offline', 10));
  await b.evaluate(() => window.tabdrive.actions!.addSampleLocation('B offline', 10));
  await b.getByRole('button', { name: 'Pause sync' }).click();
  await converged([a, b]);
  for (const p of [a, b]) expect(await p.evaluate((t) => window.tabdrive.query('SELECT display_name, color FROM tags WHERE uuid = ?', [t]), tag)).toEqual([{ display_name: 'Road trip', color: '#e03131' }]);
  const after = await a.evaluate(() => window.tabdrive.transportStats?.() ?? null);
  if (before && after) {
    const sent = after.bytesSent - before.bytesSent;
    console.log(`catch-up after reconnect: A sent ${sent} bytes over WebRTC`);
    expect(sent).toBeLessThan(200_000); // the 2,000-entry document is ~470 KB: only the missed changes travel
  }
});

test('a 100,000-entry library reaches a fresh browser over WebRTC', async ({ baseURL }) => {
  test.setTimeout(600_000);
  const a = await browser(`${baseURL}/?signaling=${SIGNALING}`);
  const r = await a.evaluate(() => window.tabdrive.actions!.addSampleLocation('Big', 100_000));
  expect(r.ok).toBe(true);
  const t0 = Date.now();
  const b = await invitedBrowser(a, baseURL!);
  await expect.poll(() => count(b, "SELECT count(*) FROM entries WHERE kind = 'file'"), { timeout: 300_000, intervals: [1000] }).toBe(100_000);
  console.log(`100k backfill over WebRTC: ${Date.now() - t0} ms from opening the invite`);
  await converged([a, b], 120_000);
});

test('malformed frames on the data channel are dropped and counted; sync goes on', async ({ baseURL }) => {
  const a = await browser(`${baseURL}/?signaling=${SIGNALING}`);
  const b = await invitedBrowser(a, baseURL!);
  await converged([a, b]);
  const before = await b.evaluate(() => window.tabdrive.transportStats!());
  const channels = await b.evaluate(() => {
    const frame = (kind: number, id: number, index: number, count: number, total: number, payload: number[]) => {
      const f = new Uint8Array(17 + payload.length);
      const v = new DataView(f.buffer);
      v.setUint8(0, kind);
      v.setUint32(1, id);
      v.setUint32(5, index);
      v.setUint32(9, count);
      v.setUint32(13, total);
      f.set(payload, 17);
      return f;
    };
    const inject = window.tabdrive.injectInbound!;
    inject(new Uint8Array([1, 2])); // too short
    inject(frame(7, 1, 0, 1, 3, [1, 2, 3])); // unknown kind
    inject(frame(1, 2, 5, 2, 3, [1, 2, 3])); // index out of range
    inject(frame(1, 3, 0, 1, 0xffffffff, [])); // announces 4 GiB
    return inject(frame(1, 4, 0, 1, 6, [250, 250, 250, 250, 250, 250])); // well framed, but not the sync protocol
  });
  expect(channels).toBeGreaterThan(0);
  const after = await b.evaluate(() => window.tabdrive.transportStats!());
  expect(after.dropped - before.dropped).toBeGreaterThanOrEqual(4 * channels);
  expect(after.undecodable - before.undecodable).toBe(channels);
  await a.evaluate(() => window.tabdrive.actions!.addSampleLocation('Still flowing', 5));
  await expect(b.getByRole('list', { name: 'Locations' })).toContainText('Still flowing');
  expect(unexpectedPageErrors(b)).toEqual([]); // dropped quietly: counted, not thrown or logged
});

test('a browser holds several libraries: after joining one it can switch back to its own', async ({ baseURL }) => {
  const a = await browser(`${baseURL}/?signaling=${SIGNALING}`);
  const b = await browser(`${baseURL}/?signaling=${SIGNALING}`);
  const own = await b.evaluate(() => window.tabdrive.library);
  await b.evaluate(() => window.tabdrive.actions!.addSampleLocation('Mine only', 5));
  await a.getByRole('button', { name: 'Invite', exact: true }).click();
  const hash = new URL(await a.getByRole('textbox', { name: 'Invite link' }).inputValue()).hash;
  const joined = await a.evaluate(() => window.tabdrive.library);
  await b.goto(`${baseURL}/?signaling=${SIGNALING}${hash}`); // same page, new hash: the app restarts and asks
  await join(b);
  await expect.poll(() => b.evaluate(() => window.tabdrive?.library).catch(() => null)).toBe(joined);
  await waitReady(b);
  expect(await count(b, "SELECT count(*) FROM locations WHERE name = 'Mine only'")).toBe(0);
  const picker = b.getByRole('combobox', { name: 'Open library' });
  await expect(picker).toBeVisible();
  await Promise.all([b.waitForEvent('load'), picker.selectOption(own)]);
  await waitReady(b);
  expect(await b.evaluate(() => window.tabdrive.library)).toBe(own);
  await expect(b.getByRole('list', { name: 'Locations' })).toContainText('Mine only');
});

test('a peer that disappears mid-backfill does not stall the new device', async ({ baseURL }) => {
  test.setTimeout(400_000);
  const a = await browser(`${baseURL}/?signaling=${SIGNALING}`);
  await a.evaluate(() => window.tabdrive.actions!.addSampleLocation('Large', 20_000));
  const b = await invitedBrowser(a, baseURL!);
  await converged([a, b], 180_000);
  const target = await count(a, 'SELECT count(*) FROM entries');
  const c = await invitedBrowser(a, baseURL!); // C starts its first sync with A and B …
  await contexts[0]!.close(); // … and A's browser goes away in the middle of it
  await expect.poll(() => count(c, 'SELECT count(*) FROM entries'), { timeout: 180_000, intervals: [500] }).toBe(target);
  await converged([b, c], 60_000);
});

// A real network loss, not the "Pause sync" button: the browser goes offline
// (`context.setOffline`, which cuts its signaling WebSocket) and the test network's addresses
// go away (which cuts the WebRTC path: Chromium's offline emulation does not touch WebRTC,
// and a link merely set down still delivers local addresses through loopback).
/** Chromium's console error for a WebSocket opened while offline (setOffline) */
const OFFLINE_SIGNALING = /^WebSocket connection to 'ws:\/\/127\.0\.0\.1:4192\/' failed: .*net::ERR_INTERNET_DISCONNECTED$/;
const ADDRS = [['10.99.0.1/24', 'v0'], ['10.99.0.2/24', 'v1']] as const;
const link = (state: 'up' | 'down') => {
  for (const [addr, dev] of ADDRS) execFileSync('ip', ['addr', state === 'up' ? 'add' : 'del', addr, 'dev', dev]);
  if (state === 'up') execFileSync('ip', ['route', 'replace', 'default', 'dev', 'v0']);
};
test('the network drops: both browsers keep working, and converge when it returns', async ({ baseURL }) => {
  test.skip(!existsSync('/proc/self/ns/net') || process.getuid?.() !== 0, 'needs the test network namespace (root)');
  const { a, b, tag } = await pairWithTag(baseURL!, 'Before', 200);
  // the browser's own report of the cut: signaling reconnects fail while B is offline
  expectPageErrors(b, OFFLINE_SIGNALING);

  await contexts[1]!.setOffline(true);
  link('down');
  try {
    // B notices it is alone (the WebRTC connection times out), and both keep working.
    await expect(b.getByRole('status', { name: 'Sync status' })).toContainText('Offline', { timeout: 60_000 });
    await a.evaluate((t) => window.tabdrive.actions!.updateTag(t, { color: '#e03131' }), tag);
    await b.evaluate((t) => window.tabdrive.actions!.updateTag(t, { name: 'Road trip' }), tag);
    await a.evaluate(() => window.tabdrive.actions!.addSampleLocation('A offline', 10));
    await b.evaluate(() => window.tabdrive.actions!.addSampleLocation('B offline', 10));
    expect(await count(a, "SELECT count(*) FROM locations WHERE name = 'B offline'")).toBe(0);
  } finally {
    link('up');
    await contexts[1]!.setOffline(false);
  }
  await converged([a, b], 120_000);
  for (const p of [a, b]) {
    expect(await p.evaluate((t) => window.tabdrive.query('SELECT display_name, color FROM tags WHERE uuid = ?', [t]), tag)).toEqual([{ display_name: 'Road trip', color: '#e03131' }]);
    expect(await count(p, "SELECT count(*) FROM locations WHERE name IN ('A offline', 'B offline')")).toBe(2);
  }
  await expect(b.getByRole('status', { name: 'Sync status' })).toContainText('Ready');
});
