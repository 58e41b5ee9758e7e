// "Rotate invite" between browsers over WebRTC alone (no relay): members move to the new
// room and keep syncing there; a forgotten member that kept the old secret sees the rotation
// it was not given, is told, and never gets what follows. Runs in the test network namespace.
import type { BrowserContext, Page } from '@playwright/test';
import { count, expect, newProfile, test, waitReady, type Profile } from '../e2e/support/browser.ts';

const SIGNALING = 'ws://127.0.0.1:4192';
const profiles: Profile[] = [];
const contexts: BrowserContext[] = [];
test.afterEach(async () => {
  for (const c of contexts.splice(0)) await c.close().catch(() => undefined);
  for (const p of profiles.splice(0)) p.remove();
});

async function open(url: string, join: boolean): Promise<Page> {
  const profile = newProfile();
  profiles.push(profile);
  const context = await profile.launch();
  contexts.push(context);
  const page = context.pages()[0] ?? (await context.newPage());
  await page.goto(url);
  if (join) await page.getByRole('dialog', { name: 'Join this library?' }).getByRole('button', { name: 'Join' }).click();
  await waitReady(page);
  return page;
}
const roomOf = (p: Page): Promise<string | null> => p.evaluate(() => window.tabdrive.room ?? null).catch(() => null);
const tags = (p: Page, name: string) => count(p, 'SELECT count(*) FROM tags WHERE display_name = ?', [name]);

test('rotate invite over WebRTC: a member moves to the new room and syncs there; a forgotten member is told and left behind', async ({ baseURL }) => {
  const a = await open(`${baseURL}/?signaling=${SIGNALING}`, false);
  await a.getByRole('button', { name: 'Invite', exact: true }).click();
  const hash = new URL(await a.getByRole('textbox', { name: 'Invite link' }).inputValue()).hash;
  const b = await open(`${baseURL}/?signaling=${SIGNALING}${hash}`, true);
  const f = await open(`${baseURL}/?signaling=${SIGNALING}${hash}`, true);
  const [bDevice, fDevice] = await Promise.all([b, f].map((p) => p.evaluate(() => window.tabdrive.device.uuid)));
  await expect.poll(async () => (await a.evaluate(() => window.tabdrive.rotation!().keyed)).length, { timeout: 60_000 }).toBe(3);
  await expect.poll(() => count(a, 'SELECT count(*) FROM devices'), { timeout: 60_000 }).toBe(3);
  await a.evaluate(async (uuid) => {
    const r = await window.tabdrive.actions!.forgetDevice(uuid);
    if (!r.ok) throw new Error(JSON.stringify(r));
  }, fDevice!);
  await expect.poll(() => count(f, 'SELECT count(*) FROM forgotten_devices'), { timeout: 60_000 }).toBe(1);
  const oldRoom = (await roomOf(a))!;

  await a.getByRole('button', { name: 'Rotate invite' }).click();
  for (const p of [a, b])
    await expect.poll(async () => {
      const room = await roomOf(p);
      return room !== null && room !== oldRoom;
    }, { timeout: 60_000 }).toBe(true);
  await Promise.all([waitReady(a), waitReady(b)]);
  expect(await roomOf(b)).toBe(await roomOf(a));
  expect(await b.evaluate(() => window.tabdrive.device.uuid)).toBe(bDevice);
  await a.evaluate(() => window.tabdrive.actions!.createTag({ name: 'after' }));
  await expect.poll(() => tags(b, 'after'), { timeout: 60_000 }).toBe(1);
  await expect(f.getByRole('alert', { name: 'Invite replaced' })).toContainText('This invite is no longer valid: ask a member for a new one');
  expect(await roomOf(f)).toBe(oldRoom);
  await b.evaluate(() => window.tabdrive.actions!.createTag({ name: 'after too' }));
  await expect.poll(() => tags(a, 'after too'), { timeout: 60_000 }).toBe(1);
  expect(await tags(f, 'after')).toBe(0);
  expect(await tags(f, 'after too')).toBe(0);
});
