// Two machines on a LAN: two network namespaces joined by a veth pair, made by this test
// (root only; tests/webrtc/support/machines.ts). `npm start -- --lan` runs in the first and
// serves the app, signaling and the relay over HTTPS/WSS on one origin with the certificate
// it makes on first start; a Chromium runs in either namespace and trusts that certificate by
// its public key (the SPKI hash), as a user who compared the printed fingerprint would.
//  (1) The second browser opens the invite link on the server's LAN address; the library
//      syncs both ways over WebRTC between the namespaces, and both browsers are connected to
//      the relay over wss on the same origin. A tiny STUN server on the first machine shows
//      that `?ice=` reaches the peer connections.
//  (2) Across time, through the relay over wss: A, on the other machine, writes and closes; B,
//      on the server's machine, opens the invite later with nobody else online and gets
//      everything from the relay; B writes and closes; A opens again and gets B's changes.
import type { Page } from '@playwright/test';
import type { ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { count, deviceOf, expect, test } from '../e2e/support/browser.ts';
import {
  Browsers,
  Machines,
  canMakeMachines,
  converged,
  inNamespace,
  makeTmp,
  peerConnections,
  relayOf,
  removeTmp,
  startLanServer,
  stopGroup,
  withParams,
  type LanServer,
} from './support/machines.ts';

const APP_PORT = 4470;
const STUN_PORT = 4473;
const SERVER_IP = '10.98.0.1';
const CLIENT_IP = '10.98.0.2';
const ORIGIN = `https://${SERVER_IP}:${APP_PORT}`;
const RELAY = relayOf(ORIGIN);
const machines = new Machines('tdlan');
const NS_SERVER = machines.ns('srv');
const NS_CLIENT = machines.ns('cli');

test.skip(!canMakeMachines, 'makes network namespaces: needs root and iproute2');
test.describe.configure({ timeout: 180_000 });

let tmp = '';
let server: LanServer | null = null;
let stun: ChildProcess | null = null;
let stunOut = '';
let browsers: Browsers | null = null;

/** Counts STUN binding requests (magic cookie 0x2112A442), per sender address. */
const STUN_SERVER = `
const s = require('node:dgram').createSocket('udp4');
s.on('message', (m, r) => { if (m.length >= 20 && m.readUInt32BE(4) === 0x2112a442 && m.readUInt16BE(0) === 1) console.log('binding from ' + r.address); });
s.bind(${STUN_PORT}, '${SERVER_IP}', () => console.log('stun ready'));
`;

test.beforeAll(async () => {
  // a loaded 2-core machine: PGlite's first start and vite preview can take a minute
  test.setTimeout(200_000);
  tmp = makeTmp('lan');
  machines.make(['srv', 'cli']);
  machines.link({ ns: NS_SERVER, addr: SERVER_IP }, { ns: NS_CLIENT, addr: CLIENT_IP }, 24);
  server = await startLanServer({ ns: NS_SERVER, addr: SERVER_IP, port: APP_PORT, probeFrom: NS_CLIENT, tmp });
  stun = inNamespace(NS_SERVER, [process.execPath, '-e', STUN_SERVER], process.env, (s) => (stunOut += s));
  await expect.poll(() => stunOut.includes('stun ready'), { timeout: 30_000 }).toBe(true);
  browsers = new Browsers(tmp);
});

test.afterEach(async () => {
  await browsers?.close();
});

test.afterAll(async () => {
  await server?.stop();
  await stopGroup(stun);
  machines.remove();
  if (tmp) removeTmp(tmp);
});

const relayStatus = (p: Page) => p.evaluate(() => window.tabdrive.relay!()!);
/** every table but devices (a device that joins adds its own record) */
const dataDigest = (p: Page) =>
  p.evaluate(async () => {
    const { devices: _, ...rest } = await window.tabdrive.digest();
    return JSON.stringify(rest);
  });
async function inviteOf(page: Page): Promise<URL> {
  const box = page.getByRole('textbox', { name: 'Invite link' });
  if (!(await box.isVisible())) await page.getByRole('button', { name: 'Invite', exact: true }).click();
  return new URL(await box.inputValue());
}

test('a browser on another machine opens the invite over HTTPS on the LAN and the library syncs both ways over WebRTC', async () => {
  // what start printed: the LAN address, and the fingerprint of the certificate it serves
  const { cert, spki } = server!.cert();
  expect(server!.output()).toContain(`${ORIGIN}/`);
  expect(server!.output()).toContain(cert.fingerprint256);
  expect(cert.fingerprint256).toBe(createHash('sha256').update(cert.raw).digest('hex').toUpperCase().match(/../g)!.join(':'));
  expect(cert.checkIP(SERVER_IP)).toBe(SERVER_IP);

  const { page: a } = await browsers!.open(NS_SERVER, spki, withParams(`${ORIGIN}/`, { relay: RELAY }));
  expect(await a.evaluate(() => [window.isSecureContext, typeof crypto.subtle.deriveKey])).toEqual([true, 'function']);
  await a.evaluate(() => window.tabdrive.actions!.addSampleLocation('Photos', 500));

  const invite = await inviteOf(a);
  expect(invite.origin).toBe(ORIGIN); // the link names the address the other machine can reach
  expect(invite.hash).toMatch(/^#\/join\//);
  // B's peer connections get this machine's STUN server (and one bad entry, named and left out)
  const warnings: string[] = [];
  const { page: b } = await browsers!.open(NS_CLIENT, spki, withParams(invite.toString(), { ice: `stun:${SERVER_IP}:${STUN_PORT},stun:999.1.1.1`, relay: RELAY }), { warnings });
  const refused = 'ICE server "stun:999.1.1.1" ignored: "999.1.1.1" is not a host name or IP address.';
  expect(warnings).toContain(refused);
  await expect(b.getByRole('alert').filter({ hasText: refused })).toBeVisible();
  expect(await b.evaluate(() => window.isSecureContext)).toBe(true);
  expect(await b.evaluate(() => window.tabdrive.library)).toBe(await a.evaluate(() => window.tabdrive.library));
  expect(await deviceOf(b)).not.toBe(await deviceOf(a));

  await converged([a, b]);
  expect(await count(b, "SELECT count(*) FROM entries WHERE kind = 'file'")).toBe(500);
  const nameA = await a.evaluate(() => window.tabdrive.device.name);
  const itemA = b.getByRole('list', { name: 'Devices' }).getByRole('listitem').filter({ hasText: nameA });
  await expect(itemA).toContainText('online');
  await expect(itemA).toContainText('WebRTC');
  await b.evaluate(() => window.tabdrive.actions!.addSampleLocation('From the other machine', 20));
  await expect(a.getByRole('list', { name: 'Locations' })).toContainText('From the other machine');
  await a.evaluate(() => window.tabdrive.actions!.createTag({ name: 'Shared' }));
  await expect.poll(() => count(b, "SELECT count(*) FROM tags WHERE display_name = 'Shared'")).toBe(1);
  await converged([a, b]);

  // the peer connection between the machines carried data
  expect((await peerConnections(b)).connected).toBeGreaterThanOrEqual(1);
  expect(await b.evaluate(() => window.tabdrive.transportStats!().bytesReceived)).toBeGreaterThan(0);
  // ?ice= reached B's peer connections: its STUN requests came over the veth from the other machine
  expect(stunOut).toMatch(new RegExp(`binding from ${CLIENT_IP.replace(/\./g, '\\.')}`));
  // both are on the relay too, over wss on the app's origin (one certificate for all three)
  for (const p of [a, b]) {
    await expect.poll(async () => (await relayStatus(p)).state).toBe('connected');
    expect((await relayStatus(p)).url).toBe(RELAY);
    await p.evaluate(() => window.tabdrive.relaySettled!());
    expect((await relayStatus(p)).lastError).toBeNull();
  }
});

test('across time, through the relay over wss: what a closed browser on another machine wrote reaches a browser opened later, both ways', async () => {
  const { spki } = server!.cert();
  const N = Number(process.env['LAN_RELAY_ENTRIES'] ?? 3000);
  // A, on the machine without the server, writes a library (owned entries, tags, notes) and closes
  const first = await browsers!.open(NS_CLIENT, spki, withParams(`${ORIGIN}/`, { relay: RELAY }));
  const a = first.page;
  await expect.poll(async () => (await relayStatus(a)).state).toBe('connected');
  await a.evaluate(async (n) => {
    const act = window.tabdrive.actions!;
    const r = await act.addSampleLocation('Trip', n);
    if (!r.ok) throw new Error(JSON.stringify(r));
    const rows = (await window.tabdrive.query("SELECT uuid FROM entries WHERE kind = 'file' ORDER BY name LIMIT 30")) as { uuid: string }[];
    for (const t of ['beach', 'family']) {
      const tag = await act.createTag({ name: t });
      if (!tag.ok) throw new Error(JSON.stringify(tag));
      for (const row of rows.slice(0, 15)) await act.tagEntry(tag.value.uuid, row.uuid);
    }
    for (const [i, row] of rows.slice(0, 10).entries()) await act.setNotes(row.uuid, `note ${i} from machine A`);
  }, N);
  await a.evaluate(() => window.tabdrive.relaySettled!());
  const sent = await relayStatus(a);
  expect(sent).toMatchObject({ url: RELAY, outbox: 0, lastError: null });
  expect(sent.pagesUp).toBeGreaterThan(0);
  const wantFromA = await dataDigest(a);
  const invite = await inviteOf(a);
  await a.evaluate(() => window.tabdrive.durable());
  await first.context.close(); // A is gone: the relay is all that is left

  // B, on the server's machine, opens the invite later: nobody else is online
  const started = Date.now();
  const second = await browsers!.open(NS_SERVER, spki, withParams(invite.toString(), { relay: RELAY }));
  const b = second.page;
  const ready = Date.now();
  await expect.poll(() => dataDigest(b), { timeout: 90_000, intervals: [250] }).toBe(wantFromA);
  const catchUp = [ready - started, Date.now() - ready];
  expect(await count(b, "SELECT count(*) FROM entries WHERE kind = 'file'")).toBe(N);
  expect(await count(b, 'SELECT count(*) FROM tag_links WHERE active = 1')).toBe(30);
  expect(await count(b, 'SELECT count(*) FROM user_metadata WHERE notes IS NOT NULL')).toBe(10);
  const got = await relayStatus(b);
  expect(got.url).toBe(RELAY);
  expect(got.pagesDown).toBeGreaterThan(0);
  expect(got.updatesDown).toBeGreaterThan(0);
  // nothing but the relay: no peer connection was ever made (nobody to make one with)
  expect((await peerConnections(b)).made).toBe(0);
  expect(await b.evaluate(async () => (await window.tabdrive.stats()).peers)).toBe(0);
  console.log(`[figure] across machines through the relay over wss: ${N} entries, 2 tags, 30 tag links, 10 notes, the writer closed: the browser started and joined in ${catchUp[0]} ms, equal data ${catchUp[1]} ms later; ${(got.bytesDown / 1024).toFixed(0)} KiB down (${got.pagesDown} pages, ${got.updatesDown} document updates)`);

  // the other way: B writes and closes; A opens again later and gets it from the relay
  const entry = String((await b.evaluate(() => window.tabdrive.query("SELECT uuid FROM entries WHERE kind = 'file' ORDER BY name DESC LIMIT 1")))[0]!['uuid']);
  await b.evaluate(async (uuid) => {
    const act = window.tabdrive.actions!;
    const tag = await act.createTag({ name: 'from B' });
    if (!tag.ok) throw new Error(JSON.stringify(tag));
    await act.tagEntry(tag.value.uuid, uuid);
    await act.setNotes(uuid, 'written on the server machine while A was closed');
    const r = await act.addSampleLocation('Scans on B', 40);
    if (!r.ok) throw new Error(JSON.stringify(r));
  }, entry);
  await b.evaluate(() => window.tabdrive.relaySettled!());
  const wantFromB = await dataDigest(b);
  await b.evaluate(() => window.tabdrive.durable());
  await second.context.close();

  const again = await browsers!.open(NS_CLIENT, spki, withParams(`${ORIGIN}/`, { relay: RELAY }), { profile: first.profile });
  const reopened = Date.now();
  await expect.poll(() => dataDigest(again.page), { timeout: 60_000, intervals: [250] }).toBe(wantFromB);
  expect(await count(again.page, 'SELECT count(*) FROM user_metadata WHERE notes = ?', ['written on the server machine while A was closed'])).toBe(1);
  await expect(again.page.getByRole('list', { name: 'Locations' })).toContainText('Scans on B');
  expect((await peerConnections(again.page)).made).toBe(0);
  console.log(`[figure] the writer's machine reopened: ${Date.now() - reopened} ms after its page was ready, B's tag, note and 40 entries, from the relay alone`);
});
