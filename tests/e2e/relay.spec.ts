// The always-on relay as a user meets it (issue 12): separate browser profiles (no shared
// BroadcastChannel), signaling off (`?signaling=`), so the relay — a real relay process on
// PGlite in a temporary folder — is the only path between them.
//  (a) catch-up with everyone else offline: A writes a library and closes; B opens the invite
//      later and gets everything from the relay alone ("Catching up n%"), same digest;
//  (b) live: two profiles connected only through the relay see each other's edits, and list
//      each other as online through the relay (presence messages), offline once one closes;
//  (c) the relay is killed while A writes: A keeps working, its outbox holds the writes, and
//      after the relay restarts they drain and B gets them.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { BrowserContext, Page } from '@playwright/test';
import { count, expect, expectPageErrors, newProfile, test, waitReady, type Profile } from './support/browser.ts';
import { startRelay, type RelayProc } from './support/relay.ts';

/** this spec's relays (ports 4460–4469 are this spec's) */
const PORTS = [4460, 4461, 4462, 4463];
const refused = /^WebSocket connection to 'ws:\/\/127\.0\.0\.1:446\d\/' failed/;

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

async function relayAt(port: number, dir?: string): Promise<RelayProc> {
  const data = dir ?? mkdtempSync(join(tmpdir(), 'tabdrive-e2e-relay-'));
  if (!dir) dirs.push(data);
  const r = await startRelay(port, data);
  relays.push(r);
  return r;
}
async function browser(): Promise<BrowserContext> {
  const p = newProfile();
  profiles.push(p);
  const c = await p.launch();
  contexts.push(c);
  return c;
}
async function open(context: BrowserContext, url: string): Promise<Page> {
  const page = await context.newPage();
  await page.goto(url);
  await waitReady(page);
  return page;
}
/** Opens `library`'s invite in `context` (answering Join), relay only. */
async function joinInvite(context: BrowserContext, baseURL: string, relay: string, invite: { library: string; secret: string }, watch?: (page: Page) => Promise<void>): Promise<Page> {
  const page = await context.newPage();
  await watch?.(page);
  await page.goto(`${baseURL}/?signaling=&relay=${relay}#/join/${invite.library}/${invite.secret}`);
  await page.getByRole('button', { name: 'Join' }).click();
  await waitReady(page);
  return page;
}
async function inviteOf(page: Page): Promise<{ library: string; secret: string }> {
  await page.getByRole('button', { name: 'Invite', exact: true }).click();
  const link = await page.getByRole('textbox', { name: 'Invite link' }).inputValue();
  await page.getByRole('button', { name: 'Invite', exact: true }).click();
  const m = /#\/join\/([^/]+)\/([^/]+)$/.exec(link)!;
  return { library: m[1]!, secret: m[2]! };
}
const deviceItem = (p: Page, name: string) => p.getByRole('list', { name: 'Devices' }).getByRole('listitem').filter({ hasText: name });
const relayStatus = (page: Page) => page.evaluate(() => window.tabdrive.relay!()!);
const digest = (page: Page) => page.evaluate(async () => JSON.stringify(await window.tabdrive.digest()));
/** every table but devices (a device that joins adds its own record) */
const dataDigest = (page: Page) =>
  page.evaluate(async () => {
    const { devices: _, ...rest } = await window.tabdrive.digest();
    return JSON.stringify(rest);
  });

test('catch-up with everyone else offline: a fresh browser gets the whole library from the relay alone', async ({ baseURL }) => {
  test.setTimeout(600_000);
  const relay = await relayAt(PORTS[0]!);
  const a = await open(await browser(), `${baseURL}/?signaling=&relay=${relay.url}`);
  await expect.poll(async () => (await relayStatus(a)).state).toBe('connected');
  const N = Number(process.env['RELAY_E2E_ENTRIES'] ?? 20_000);
  await a.evaluate(async (n) => {
    const act = window.tabdrive.actions!;
    const r = await act.addSampleLocation('Holiday', n);
    if (!r.ok) throw new Error(JSON.stringify(r));
    const rows = (await window.tabdrive.query("SELECT uuid FROM entries WHERE kind = 'file' ORDER BY name LIMIT 50")) as { uuid: string }[];
    for (const t of ['beach', 'family', 'sunset']) {
      const tag = await act.createTag({ name: t });
      if (!tag.ok) throw new Error(JSON.stringify(tag));
      for (const row of rows.slice(0, 20)) await act.tagEntry(tag.value.uuid, row.uuid);
    }
    for (const [i, row] of rows.slice(0, 10).entries()) await act.setNotes(row.uuid, `note ${i} about this photo`);
  }, N);
  await a.evaluate(() => window.tabdrive.relaySettled!());
  const sent = await relayStatus(a);
  expect(sent.outbox).toBe(0);
  expect(sent.lastError).toBeNull();
  expect(sent.pagesUp).toBeGreaterThanOrEqual(N / 2000);
  const files = await count(a, "SELECT count(*) FROM entries WHERE kind = 'file'");
  expect(files).toBe(N);
  const want = await dataDigest(a);
  const deviceA = await a.evaluate(() => window.tabdrive.device.uuid);
  const invite = await inviteOf(a);
  await a.evaluate(() => window.tabdrive.durable());
  await contexts[0]!.close(); // A is gone: the relay is all that is left

  const seen: string[] = [];
  const started = Date.now();
  const b = await joinInvite(await browser(), baseURL!, relay.url, invite, async (page) => {
    await page.exposeFunction('__status', (t: string) => void seen.push(t));
    await page.addInitScript(() => {
      const watch = (): void => {
        const el = document.querySelector('[role="status"][aria-label="Sync status"]');
        if (!el) return void setTimeout(watch, 20);
        new MutationObserver(() => void (window as unknown as { __status: (t: string) => void }).__status(el.textContent ?? '')).observe(el, { subtree: true, childList: true, characterData: true });
      };
      watch();
    });
  });
  // the cheap count first: a digest of every table polled every 250 ms would compete with the
  // pages being applied in the storage worker (at 100k it doubled the figure)
  await expect.poll(() => count(b, "SELECT count(*) FROM entries WHERE kind = 'file'"), { timeout: 300_000, intervals: [100] }).toBe(N);
  await expect.poll(() => dataDigest(b), { timeout: 60_000, intervals: [250] }).toBe(want);
  const ms = Date.now() - started;
  expect(await count(b, 'SELECT count(*) FROM devices WHERE uuid = ?', [deviceA])).toBe(1);
  const got = await relayStatus(b);
  const st = await b.evaluate(() => window.tabdrive.transportStats!().stream);
  console.log(`[figure] stream of the catch-up: ${st.pulls} pulls, ${st.pagesIn} pages, ${st.rowsIn} rows, ${st.stalls} stalls, ${st.gaps} gaps, ${st.rejected} rejected`);
  expect(await count(b, "SELECT count(*) FROM entries WHERE kind = 'file'")).toBe(N);
  expect(await count(b, 'SELECT count(*) FROM tag_links WHERE active = 1')).toBe(60);
  expect(await count(b, 'SELECT count(*) FROM user_metadata WHERE notes IS NOT NULL')).toBe(10);
  expect(seen.some((t) => /Catching up \d+%/.test(t))).toBe(true);
  await expect(b.getByRole('status', { name: 'Sync status' })).toContainText('Ready', { timeout: 30_000 });
  // the Sync inspector's Relay section
  await b.getByRole('button', { name: 'Sync inspector' }).click();
  const section = b.getByRole('region', { name: 'Relay' });
  await expect(section).toContainText('connected');
  await expect(section).toContainText(relay.url);
  await expect(section).toContainText('0 updates waiting');
  console.log(`[figure] relay catch-up, ${N.toLocaleString('en')} entries + 3 tags, 60 tag links, 10 notes, every other device offline: ${ms} ms from opening the invite to equal digests; ${(got.bytesDown / 1024).toFixed(0)} KiB downloaded (${got.pagesDown} pages, ${got.updatesDown} document updates), ${(got.bytesUp / 1024).toFixed(1)} KiB uploaded`);
});

test('live: two browsers that reach each other only through the relay see each other’s edits', async ({ baseURL }) => {
  const relay = await relayAt(PORTS[1]!);
  const a = await open(await browser(), `${baseURL}/?signaling=&relay=${relay.url}`);
  const b = await joinInvite(await browser(), baseURL!, relay.url, await inviteOf(a));
  await expect.poll(async () => (await relayStatus(b)).state).toBe('connected');
  // the other device shows in the list, online through the relay, although no peer is connected directly
  const aName = await a.evaluate(() => window.tabdrive.device.name);
  const bName = await b.evaluate(() => window.tabdrive.device.name);
  await expect(deviceItem(b, aName)).toContainText('online · relay', { timeout: 30_000 });
  await expect(deviceItem(a, bName)).toContainText('online · relay', { timeout: 30_000 });
  expect(await b.evaluate(async () => (await window.tabdrive.stats()).peers)).toBe(0);
  // the Sync inspector lists it with the path "relay", and compares the digest it sent that way
  await b.getByRole('button', { name: 'Sync inspector' }).click();
  const panel = b.getByRole('dialog', { name: 'Sync inspector' });
  const row = panel.getByRole('region', { name: 'Peers' }).getByRole('row').filter({ hasText: aName });
  await expect(row).toContainText('relay');
  await expect(row).toContainText(/all \d+ match/, { timeout: 30_000 });
  await b.getByRole('button', { name: 'Sync inspector' }).click();
  await expect(panel).toBeHidden();
  for (const p of [a, b]) expect(await p.evaluate(() => window.tabdrive.relayPresence!())).toMatchObject({ invalid: 0, refused: 0 });

  await a.getByRole('button', { name: 'New tag' }).click();
  await a.getByRole('textbox', { name: 'Tag name' }).fill('from-a');
  await a.getByRole('button', { name: 'Create' }).click();
  await expect(b.getByRole('list', { name: 'Tags' })).toContainText('from-a', { timeout: 15_000 });
  await b.evaluate(() => window.tabdrive.actions!.createTag({ name: 'from-b' }));
  await expect(a.getByRole('list', { name: 'Tags' })).toContainText('from-b', { timeout: 15_000 });
  // edit → the other browser's database, through the relay: 20 tags one after another
  await b.evaluate(() => {
    const w = window as unknown as { __tagCommits: number[] };
    w.__tagCommits = [];
    addEventListener('tabdrive:commit', (e) => {
      const d = (e as CustomEvent<{ origin: string; tables: string[]; at: number }>).detail;
      if (d.origin === 'remote' && d.tables.includes('tags')) w.__tagCommits.push(d.at);
    });
  });
  const ms: number[] = [];
  for (let i = 0; i < 20; i++) {
    const t0 = await a.evaluate(async (n) => {
      const t = performance.timeOrigin + performance.now();
      await window.tabdrive.actions!.createTag({ name: `latency-${n}` });
      return t;
    }, i);
    await expect.poll(() => b.evaluate(() => (window as unknown as { __tagCommits: number[] }).__tagCommits.length), { intervals: [5] }).toBeGreaterThan(i);
    const at = await b.evaluate((n) => (window as unknown as { __tagCommits: number[] }).__tagCommits[n]!, i);
    ms.push(at - t0);
  }
  ms.sort((x, y) => x - y);
  console.log(`[figure] edit → other browser through the relay only (20 tags): p50 ${ms[9]!.toFixed(1)} ms, max ${ms[19]!.toFixed(1)} ms`);
  // owned rows too: a's new location reaches b through the relay's pages, as pushed (RS6)
  await a.evaluate(() => window.tabdrive.actions!.addSampleLocation('Live', 500));
  await expect.poll(() => count(b, "SELECT count(*) FROM entries WHERE kind = 'file'"), { timeout: 30_000 }).toBe(500);
  expect((await relayStatus(b)).pagesLive).toBeGreaterThan(0);
  await expect.poll(async () => (await digest(a)) === (await digest(b)), { timeout: 30_000 }).toBe(true);
  // A goes away: B lists it offline once its presence times out (3 × 5 s)
  const gone = Date.now();
  await a.context().close();
  await expect(deviceItem(b, aName)).toContainText('offline', { timeout: 30_000 });
  const offlineMs = Date.now() - gone;
  console.log(`[figure] a device reached only through the relay shows offline ${offlineMs} ms after closing`);
  expect(offlineMs).toBeGreaterThan(5_000);
});

test('the relay is killed while A writes: A keeps working, its outbox holds the writes across a reload, they drain after the restart and B gets them', async ({ baseURL }) => {
  const data = mkdtempSync(join(tmpdir(), 'tabdrive-e2e-relay-'));
  dirs.push(data);
  const relay = await relayAt(PORTS[2]!, data);
  const ctxA = await browser();
  const a = await ctxA.newPage();
  expectPageErrors(a, refused);
  await a.goto(`${baseURL}/?signaling=&relay=${relay.url}`);
  await waitReady(a);
  const ctxB = await browser();
  const invite = await inviteOf(a);
  const b = await ctxB.newPage();
  expectPageErrors(b, refused);
  await b.goto(`${baseURL}/?signaling=&relay=${relay.url}#/join/${invite.library}/${invite.secret}`);
  await b.getByRole('button', { name: 'Join' }).click();
  await waitReady(b);
  await expect.poll(async () => (await relayStatus(b)).state).toBe('connected');
  await a.evaluate(() => window.tabdrive.relaySettled!());

  await relay.stop('SIGKILL');
  await expect.poll(async () => (await relayStatus(a)).state).not.toBe('connected');
  // A keeps working: tags made in the UI while the relay is down
  for (const name of ['while-down-1', 'while-down-2', 'while-down-3']) {
    await a.getByRole('button', { name: 'New tag' }).click();
    await a.getByRole('textbox', { name: 'Tag name' }).fill(name);
    await a.getByRole('button', { name: 'Create' }).click();
    await expect(a.getByRole('list', { name: 'Tags' })).toContainText(name);
  }
  await expect.poll(async () => (await relayStatus(a)).outbox).toBeGreaterThanOrEqual(3);
  const waiting = (await relayStatus(a)).outbox;
  // the outbox is durable: a reload (the relay still down) finds it in IndexedDB
  await a.evaluate(() => window.tabdrive.durable());
  await a.reload();
  await waitReady(a);
  // (boot may add an update of its own, e.g. an ack: at least what was waiting is still there)
  await expect.poll(async () => (await relayStatus(a)).outbox).toBeGreaterThanOrEqual(waiting);
  await a.getByRole('button', { name: 'Sync inspector' }).click();
  await expect(a.getByRole('region', { name: 'Relay' })).toContainText('offline');
  expect(await count(b, "SELECT count(*) FROM tags WHERE display_name LIKE 'while-down-%'")).toBe(0);

  relays.splice(relays.indexOf(relay), 1);
  await relayAt(PORTS[2]!, data);
  await expect.poll(async () => (await relayStatus(a)).outbox, { timeout: 60_000 }).toBe(0);
  await expect(b.getByRole('list', { name: 'Tags' })).toContainText('while-down-3', { timeout: 30_000 });
  expect(await count(b, "SELECT count(*) FROM tags WHERE display_name LIKE 'while-down-%'")).toBe(3);
  await expect(a.getByRole('region', { name: 'Relay' })).toContainText('connected', { timeout: 15_000 });
});

test("?relay= naming another host than the page's asks before connecting; Cancel connects to none of it", async ({ baseURL }) => {
  const context = await browser();
  const page = await context.newPage();
  await page.goto(`${baseURL}/?signaling=&relay=ws://localhost:4463`);
  const dialog = page.getByRole('dialog', { name: 'Use another relay?' });
  await expect(dialog).toContainText('localhost');
  await dialog.getByRole('button', { name: 'Cancel' }).click();
  await waitReady(page);
  expect(await page.evaluate(() => window.tabdrive.relay!())).toBeNull(); // the test build has no default relay
  expect(new URL(page.url()).searchParams.has('relay')).toBe(false);
  // the page's own host does not ask
  const relay = await relayAt(PORTS[3]!);
  const same = await open(context, `${baseURL}/?signaling=&relay=${relay.url}&new-device`);
  await expect.poll(async () => (await relayStatus(same)).state).toBe('connected');
});
