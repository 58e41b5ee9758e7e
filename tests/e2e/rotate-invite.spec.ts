// "Rotate invite" (issue 13 item 4; sync/rotation.ts) as users meet it: separate browser
// profiles joined only through a real relay process (signaling off), plus a second tab of the
// rotating browser (BroadcastChannel).
//  - A (two tabs) and B are members online; D is a member whose browser is closed; F was a
//    member, is forgotten before the rotation, and stays online in the old room.
//  - A rotates: both of A's tabs and B move to the new secret (their room changes) and a tag
//    made afterwards reaches B; the Invite panel shows the new link.
//  - F (a member that kept the old secret) sees the rotation it was not given: it is told the
//    invite is no longer valid and never gets the tag.
//  - C has only the old link and opens it after the rotation: it is told the invite is no
//    longer valid and never gets the tag. The relay's log under the old handle, decrypted
//    with the old secret's keys, holds the rotation record but nothing written after it.
//  - D comes back later: it learns of the rotation from the relay's old log, moves over and
//    gets the tag.
// And without a relay: a second tab moves over through the BroadcastChannel alone.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { BrowserContext, Page } from '@playwright/test';
import * as Y from 'yjs';
import { RelayClient } from '../../server/relay/client.mjs';
import { decryptBlob, deriveRelayKeys } from '../../src/transport/relay-crypto.ts';
import { count, expect, expectPageErrors, newProfile, test, waitReady, type Profile } from './support/browser.ts';
import { startRelay, type RelayProc } from './support/relay.ts';

/** this spec's relay port (4470–4479 are this spec's) */
const PORT = 4470;
const refused = /^WebSocket connection to 'ws:\/\/127\.0\.0\.1:447\d\/' failed/;

const profiles: Profile[] = [];
const contexts: BrowserContext[] = [];
const relays: RelayProc[] = [];
const dirs: string[] = [];
test.afterEach(async () => {
  for (const c of contexts.splice(0)) await c.close().catch(() => undefined);
  for (const p of profiles.splice(0)) p.remove();
  for (const r of relays.splice(0)) await r.stop();
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

async function launch(profile: Profile): Promise<BrowserContext> {
  const c = await profile.launch();
  contexts.push(c);
  return c;
}
function profile(): Profile {
  const p = newProfile();
  profiles.push(p);
  return p;
}
async function page(context: BrowserContext, url: string, join = false): Promise<Page> {
  const p = await context.newPage();
  expectPageErrors(p, refused);
  await p.goto(url);
  if (join) await p.getByRole('button', { name: 'Join' }).click();
  await waitReady(p);
  return p;
}
async function inviteLinkOf(p: Page): Promise<string> {
  const box = p.getByRole('textbox', { name: 'Invite link' });
  if (!(await box.isVisible())) await p.getByRole('button', { name: 'Invite', exact: true }).click();
  return box.inputValue();
}
const secretOf = (link: string): string => /#\/join\/[^/]+\/([^/]+)$/.exec(link)![1]!;
/** the page's room, or null while it restarts */
const roomOf = (p: Page): Promise<string | null> => p.evaluate(() => window.tabdrive.room ?? null).catch(() => null);
const tags = (p: Page, name: string) => count(p, 'SELECT count(*) FROM tags WHERE display_name = ?', [name]);
async function tag(p: Page, name: string): Promise<void> {
  await p.evaluate(async (n) => {
    const r = await window.tabdrive.actions!.createTag({ name: n });
    if (!r.ok) throw new Error(JSON.stringify(r));
  }, name);
}
/** Restarted on another secret: its room is no longer `before`; waits until it is ready again. */
async function moved(p: Page, before: string): Promise<string> {
  await expect.poll(async () => {
    const room = await roomOf(p);
    return room !== null && room !== before;
  }, { timeout: 60_000 }).toBe(true);
  await waitReady(p);
  return (await roomOf(p))!;
}

/** Every update the relay keeps under `secret`'s handle, decrypted with its keys, as one document. */
async function relayDocument(url: string, secret: string): Promise<{ doc: Y.Doc; updates: number }> {
  const keys = await deriveRelayKeys(secret);
  const client = await RelayClient.connect(url);
  try {
    await client.auth(keys.handle, keys.token);
    const items = await client.readAll(keys.handle);
    const doc = new Y.Doc();
    for (const it of items) Y.applyUpdate(doc, await decryptBlob(keys, it.data, 'update'));
    return { doc, updates: items.length };
  } finally {
    client.ws.close();
  }
}
// the shared log: layout 1's `shared` and the current segment (src/sync/doc.ts D5)
const logValues = (doc: Y.Doc): unknown[] => {
  const seg = doc.getMap('log').get('seg');
  return [...doc.getMap('shared').values(), ...(seg instanceof Y.Map ? [...(seg as Y.Map<unknown>).values()] : [])];
};
const sharedNames = (doc: Y.Doc): string[] =>
  logValues(doc).flatMap((v) => {
    // a segment's entry: '["tag","<uuid>","insert",<mask>,…values]' — its string values
    // (an ack there is a bare HLC string: not an entry)
    if (typeof v === 'string') return v.startsWith('[') ? (JSON.parse(v) as unknown[]).slice(4).filter((x): x is string => typeof x === 'string') : [];
    const f = (v as { fields?: { display_name?: unknown } }).fields;
    return typeof f?.display_name === 'string' ? [f.display_name] : [];
  });

test('rotate invite: members move over, an old link no longer joins or reads, an offline member follows later', async ({ baseURL }) => {
  test.setTimeout(300_000);
  const data = mkdtempSync(join(tmpdir(), 'tabdrive-e2e-relay-'));
  dirs.push(data);
  const relay = await startRelay(PORT, data);
  relays.push(relay);
  const app = `${baseURL}/?signaling=&relay=${relay.url}`;

  const ctxA = await launch(profile());
  const a1 = await page(ctxA, app);
  await tag(a1, 'before');
  const a2 = await page(ctxA, app); // a second tab of A's browser: another device
  const oldLink = await inviteLinkOf(a1);
  const oldSecret = secretOf(oldLink);
  const joinUrl = `${app}#${oldLink.split('#')[1]!}`;
  const ctxB = await launch(profile());
  const b = await page(ctxB, joinUrl, true);
  const dProfile = profile();
  let ctxD = await launch(dProfile);
  let d = await page(ctxD, joinUrl, true);
  const dDevice = await d.evaluate(() => window.tabdrive.device.uuid);
  const f = await page(await launch(profile()), joinUrl, true);
  const members = await Promise.all([a1, a2, b, d, f].map((p) => p.evaluate(() => window.tabdrive.device.uuid)));
  const fDevice = members[4]!;
  // A knows every device record and public key before it rotates
  await expect.poll(async () => (await a1.evaluate(() => window.tabdrive.rotation!().keyed)).sort(), { timeout: 60_000 }).toEqual([...members].sort());
  await expect.poll(() => count(a1, 'SELECT count(*) FROM devices'), { timeout: 60_000 }).toBe(5);
  // F is forgotten (Forget device; the UI of it is library-lifecycle.spec's): it keeps the old secret
  await a1.evaluate(async (uuid) => {
    const r = await window.tabdrive.actions!.forgetDevice(uuid);
    if (!r.ok) throw new Error(JSON.stringify(r));
  }, fDevice);
  await expect.poll(() => count(f, 'SELECT count(*) FROM forgotten_devices WHERE uuid = ?', [fDevice]), { timeout: 60_000 }).toBe(1);
  await expect.poll(() => count(b, 'SELECT count(*) FROM forgotten_devices WHERE uuid = ?', [fDevice]), { timeout: 60_000 }).toBe(1);
  await expect.poll(() => tags(d, 'before'), { timeout: 60_000 }).toBe(1);
  await d.evaluate(() => window.tabdrive.relaySettled!());
  const oldRoom = (await roomOf(a1))!;
  expect(await roomOf(b)).toBe(oldRoom);
  // D's browser closes: it is offline during the rotation
  await ctxD.close();

  const clicked = Date.now();
  await a1.getByRole('button', { name: 'Rotate invite' }).click();
  const newRoom = await moved(a1, oldRoom);
  expect(await moved(a2, oldRoom)).toBe(newRoom);
  expect(await moved(b, oldRoom)).toBe(newRoom);
  // when each restart began (its page's time origin) and when it was ready (in this poll's steps)
  const began = async (p: Page) => Math.round((await p.evaluate(() => performance.timeOrigin)) - clicked);
  console.log(`[figure] rotate invite: click → restart of A ${await began(a1)} ms, A's other tab ${await began(a2)} ms, B (through the relay) ${await began(b)} ms; all ready on the new secret ${Date.now() - clicked} ms after the click`);
  // the rotating tab shows the new link; its secret is a new one
  const newLink = await a1.getByRole('textbox', { name: 'Invite link' }).inputValue();
  const newSecret = secretOf(newLink);
  expect(newSecret).not.toBe(oldSecret);
  expect(newLink).not.toContain(oldSecret);
  // members sync on the new secret
  const tagged = Date.now();
  await tag(a1, 'after');
  await expect.poll(() => tags(b, 'after'), { timeout: 60_000 }).toBe(1);
  console.log(`[figure] rotate invite: a tag made after the rotation reached B ${Date.now() - tagged} ms later (poll steps)`);
  await expect.poll(() => tags(a2, 'after'), { timeout: 60_000 }).toBe(1);
  await a1.evaluate(() => window.tabdrive.relaySettled!());
  await b.evaluate(() => window.tabdrive.relaySettled!());
  // F, forgotten, still on the old secret and online: told, and it never gets the tag
  await expect(f.getByRole('alert', { name: 'Invite replaced' })).toContainText('This invite is no longer valid', { timeout: 60_000 });
  expect(await roomOf(f)).toBe(oldRoom);
  await f.evaluate(() => window.tabdrive.relaySettled!());
  expect(await tags(f, 'after')).toBe(0);

  // C has only the old link: it joins the old room, finds the rotation it cannot open
  const ctxC = await launch(profile());
  const c = await page(ctxC, joinUrl, true);
  await expect(c.getByRole('alert', { name: 'Invite replaced' })).toContainText('This invite is no longer valid: ask a member for a new one', { timeout: 60_000 });
  expect(await roomOf(c)).toBe(oldRoom);
  expect(await tags(c, 'before')).toBe(1); // what was written before the rotation: the old link always read that
  await c.evaluate(() => window.tabdrive.relaySettled!());
  expect(await tags(c, 'after')).toBe(0);
  expect((await c.evaluate(() => window.tabdrive.rotation!())).stranded).toBe(true);
  await c.getByRole('button', { name: 'Invite', exact: true }).click();
  await expect(c.getByRole('textbox', { name: 'Invite link' })).toHaveCount(0);

  // what the relay keeps under each handle: the old one has the rotation, nothing after it
  const oldLog = await relayDocument(relay.url, oldSecret);
  const newLog = await relayDocument(relay.url, newSecret);
  expect(sharedNames(oldLog.doc)).toContain('before');
  expect(sharedNames(oldLog.doc)).not.toContain('after');
  expect([...oldLog.doc.getMap('meta').keys()].filter((k) => k.startsWith('rotation:'))).toHaveLength(1);
  expect(sharedNames(newLog.doc)).toEqual(expect.arrayContaining(['before', 'after']));
  expect(JSON.stringify(oldLog.doc.getMap('meta').toJSON())).not.toContain(newSecret);

  // D comes back: its old log at the relay holds the rotation, sealed to it; it moves and catches up
  ctxD = await launch(dProfile);
  d = await ctxD.newPage();
  expectPageErrors(d, refused);
  await d.goto(app);
  expect(await moved(d, oldRoom)).toBe(newRoom);
  expect(await d.evaluate(() => window.tabdrive.device.uuid)).toBe(dDevice);
  await expect.poll(() => tags(d, 'after'), { timeout: 60_000 }).toBe(1);
  // nothing under the new handle was sealed with the old key (each device emptied its outbox
  // under the old handle before it moved)
  for (const p of [a1, a2, b, d]) expect((await p.evaluate(() => window.tabdrive.relay!()!)).undecryptable).toBe(0);
  // and C and F still never got it
  expect(await tags(c, 'after')).toBe(0);
  expect(await tags(f, 'after')).toBe(0);
});

test('rotate invite without a relay: a tab of the same browser moves over through the BroadcastChannel alone', async ({ baseURL }) => {
  const ctx = await launch(profile());
  const tabsOnly = `${baseURL}/?signaling=&relay=`;
  const a1 = await page(ctx, tabsOnly);
  const a2 = await page(ctx, tabsOnly);
  const other = await a2.evaluate(() => window.tabdrive.device.uuid);
  await expect.poll(async () => (await a1.evaluate(() => window.tabdrive.rotation!().keyed)).includes(other)).toBe(true);
  await expect.poll(() => count(a1, 'SELECT count(*) FROM devices')).toBe(2);
  const oldRoom = (await roomOf(a1))!;
  const oldSecret = secretOf(await inviteLinkOf(a1));
  // paused, the new invite could reach nobody: refused, in words, and nothing moves
  await a1.evaluate(() => window.tabdrive.pause(true));
  await a1.getByRole('button', { name: 'Rotate invite' }).click();
  await expect(a1.getByRole('alert').filter({ hasText: 'Rotate invite failed' })).toContainText('resume sync first');
  expect(await roomOf(a1)).toBe(oldRoom);
  await a1.evaluate(() => window.tabdrive.pause(false));
  await expect.poll(async () => (await a1.evaluate(() => window.tabdrive.stats())).peers).toBeGreaterThan(0);
  await a1.getByRole('button', { name: 'Rotate invite' }).click();
  const newRoom = await moved(a1, oldRoom);
  expect(await moved(a2, oldRoom)).toBe(newRoom);
  expect(secretOf(await a1.getByRole('textbox', { name: 'Invite link' }).inputValue())).not.toBe(oldSecret);
  await tag(a2, 'after');
  await expect.poll(() => tags(a1, 'after')).toBe(1);
  expect(await a1.evaluate(() => window.tabdrive.relay!())).toBeNull();
});
