// Two machines that cannot reach each other, only the server (issue 12, "a case where the
// browsers cannot reach each other directly (only the relay)"). Three network namespaces made
// by this test (tests/webrtc/support/machines.ts): the server S and two machines A and B, each
// on its own point-to-point veth to S. S has one address, 10.97.0.1, on both links; A is
// 10.97.0.2 and B 10.97.0.3, each with a default route via S; S does not forward
// (ip_forward=0), so a packet from A to B dies there. `npm start -- --lan` serves the app,
// signaling and the relay on https://10.97.0.1:4480; no STUN or TURN server exists.
//
// Both browsers open the same origin and find each other through signaling (offer and answer
// go through), so y-webrtc tries, and ICE can never connect: everything — the shared
// document (tags, notes) and owned state (a location's entries, as pages) — goes through the
// relay over wss, live, both ways. The test checks that: every RTCPeerConnection either page
// made (an init script watches them) negotiated and never connected; the transport has no
// peer and received no data-channel byte; the relay carried pages and updates both ways; and
// each lists the other as online through the relay (presence over the relay).
import type { Page } from '@playwright/test';
import type { ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { count, expect, expectPageErrors, test } from '../e2e/support/browser.ts';
import {
  Browsers,
  Machines,
  canMakeMachines,
  converged,
  inNamespace,
  ip,
  makeTmp,
  peerConnections,
  relayOf,
  removeTmp,
  startLanServer,
  stopGroup,
  tcpReaches,
  withParams,
  type LanServer,
} from './support/machines.ts';

const APP_PORT = 4480;
const PROBE_PORT = 4481;
const SERVER_IP = '10.97.0.1';
const A_IP = '10.97.0.2';
const B_IP = '10.97.0.3';
const ORIGIN = `https://${SERVER_IP}:${APP_PORT}`;
const RELAY = relayOf(ORIGIN);
/**
 * Host candidates as raw addresses, not mDNS names: a name could never be resolved between
 * these machines (no multicast between them) and ICE would not even start checking; with the
 * addresses each side checks the other's and finds no path — the network stops it.
 */
const RAW_IPS = ['--disable-features=WebRtcHideLocalIpsWithMdns'];
const machines = new Machines('tdrel');
const S = { ns: machines.ns('srv'), addr: SERVER_IP };
const A = { ns: machines.ns('a'), addr: A_IP };
const B = { ns: machines.ns('b'), addr: B_IP };

test.skip(!canMakeMachines, 'makes network namespaces: needs root and iproute2');
test.describe.configure({ timeout: 180_000 });

let tmp = '';
let server: LanServer | null = null;
let browsers: Browsers | null = null;
let listener: ChildProcess | null = null;

test.beforeAll(async () => {
  // a loaded 2-core machine: PGlite's first start and vite preview can take a minute
  test.setTimeout(200_000);
  tmp = makeTmp('relay-only');
  machines.make(['srv', 'a', 'b']);
  machines.link(S, A, 32, A);
  machines.link(S, B, 32, B);
  server = await startLanServer({ ns: S.ns, addr: SERVER_IP, port: APP_PORT, probeFrom: A.ns, tmp });
  await expect.poll(() => tcpReaches(B.ns, SERVER_IP, APP_PORT), { timeout: 30_000 }).toBe(true);
  browsers = new Browsers(tmp);
});

test.afterEach(async () => {
  await browsers?.close();
  await stopGroup(listener);
  listener = null;
});

test.afterAll(async () => {
  await server?.stop();
  machines.remove();
  if (tmp) removeTmp(tmp);
});

const relayStatus = (p: Page) => p.evaluate(() => window.tabdrive.relay!()!);
const fileCount = (p: Page) => count(p, "SELECT count(*) FROM entries WHERE kind = 'file'");

/** ms from `write` resolving on one page until `seen` holds on the other (polled every 25 ms). */
async function reaches(what: string, write: () => Promise<unknown>, seen: () => Promise<boolean>, times: Record<string, number>): Promise<void> {
  await write();
  const t0 = Date.now();
  await expect.poll(seen, { timeout: 30_000, intervals: [25], message: what }).toBe(true);
  times[what] = Date.now() - t0;
}

test('two machines that cannot reach each other converge through the relay alone, live, both ways', async () => {
  // the layout: each machine reaches the server, not the other machine
  let listening = '';
  listener = inNamespace(B.ns, [process.execPath, '-e', `require('node:net').createServer((s) => s.end()).listen(${PROBE_PORT}, '${B_IP}', () => console.log('listening'))`], process.env, (s) => (listening += s));
  await expect.poll(() => listening.includes('listening'), { timeout: 15_000 }).toBe(true);
  expect(tcpReaches(B.ns, B_IP, PROBE_PORT)).toBe(true);
  expect(tcpReaches(A.ns, SERVER_IP, APP_PORT)).toBe(true);
  expect(tcpReaches(A.ns, B_IP, PROBE_PORT)).toBe(false);

  const { spki } = server!.cert();
  // A writes a library: owned entries, a tag on some of them, a note
  const { page: a } = await browsers!.open(A.ns, spki, withParams(`${ORIGIN}/`, { relay: RELAY }), { args: RAW_IPS });
  await a.evaluate(async () => {
    const act = window.tabdrive.actions!;
    const r = await act.addSampleLocation('Camera', 300);
    if (!r.ok) throw new Error(JSON.stringify(r));
    const rows = (await window.tabdrive.query("SELECT uuid FROM entries WHERE kind = 'file' ORDER BY name LIMIT 5")) as { uuid: string }[];
    const tag = await act.createTag({ name: 'trip' });
    if (!tag.ok) throw new Error(JSON.stringify(tag));
    for (const row of rows) await act.tagEntry(tag.value.uuid, row.uuid);
    await act.setNotes(rows[0]!.uuid, 'first note, from A');
  });
  const box = a.getByRole('textbox', { name: 'Invite link' });
  await a.getByRole('button', { name: 'Invite', exact: true }).click();
  const invite = await box.inputValue();
  await a.getByRole('button', { name: 'Invite', exact: true }).click();

  // B joins while A is online; signaling reaches both, WebRTC cannot
  const joined = Date.now();
  const { page: b } = await browsers!.open(B.ns, spki, withParams(invite, { relay: RELAY }), { args: RAW_IPS });
  const ready = Date.now();
  await converged([a, b], 90_000);
  const joinMs = [ready - joined, Date.now() - ready];
  expect(await fileCount(b)).toBe(300);
  expect(await count(b, 'SELECT count(*) FROM tag_links WHERE active = 1')).toBe(5);
  expect(await count(b, 'SELECT count(*) FROM devices')).toBe(2);
  // they did try: offer and answer went through signaling and ICE checks candidate pairs
  // (raw addresses: one pair each way; with no answer and no end-of-candidates, Chromium keeps
  // checking rather than failing)
  for (const p of [a, b]) await expect.poll(async () => (await peerConnections(p)).checking, { timeout: 30_000 }).toBeGreaterThanOrEqual(1);

  // live edits both ways while both are open
  const times: Record<string, number> = {};
  const entryOfA = String((await a.evaluate(() => window.tabdrive.query("SELECT uuid FROM entries WHERE kind = 'file' ORDER BY name DESC LIMIT 1")))[0]!['uuid']);
  await reaches(
    'tag A → B',
    () => a.evaluate(() => window.tabdrive.actions!.createTag({ name: 'from A' })),
    async () => (await count(b, "SELECT count(*) FROM tags WHERE display_name = 'from A'")) === 1,
    times,
  );
  await b.getByRole('button', { name: 'New tag' }).click();
  await b.getByRole('textbox', { name: 'Tag name' }).fill('from B');
  await reaches(
    'tag B → A (made in the UI)',
    () => b.getByRole('button', { name: 'Create' }).click(),
    async () => (await a.getByRole('list', { name: 'Tags' }).textContent())?.includes('from B') ?? false,
    times,
  );
  await reaches(
    "note B → A on A's entry",
    () => b.evaluate((uuid) => window.tabdrive.actions!.setNotes(uuid, 'seen on B'), entryOfA),
    async () => (await count(a, 'SELECT count(*) FROM user_metadata WHERE notes = ?', ['seen on B'])) === 1,
    times,
  );
  await reaches(
    'location B → A (80 entries, owned pages)',
    () => b.evaluate(() => window.tabdrive.actions!.addSampleLocation('Phone', 80)),
    async () => (await fileCount(a)) === 380,
    times,
  );
  await expect(a.getByRole('list', { name: 'Locations' })).toContainText('Phone');
  const entryOfB = String((await b.evaluate(() => window.tabdrive.query("SELECT e.uuid FROM entries e JOIN locations l ON l.uuid = e.location_uuid WHERE e.kind = 'file' AND l.name = 'Phone' LIMIT 1")))[0]!['uuid']);
  await reaches(
    "tag and note A → B on B's entry",
    () =>
      a.evaluate(async (uuid) => {
        const act = window.tabdrive.actions!;
        const tags = (await window.tabdrive.query("SELECT uuid FROM tags WHERE display_name = 'from B'")) as { uuid: string }[];
        await act.tagEntry(tags[0]!.uuid, uuid);
        await act.setNotes(uuid, 'seen on A');
      }, entryOfB),
    async () => (await count(b, 'SELECT count(*) FROM user_metadata WHERE notes = ?', ['seen on A'])) === 1,
    times,
  );
  await reaches(
    'location A → B (120 entries, owned pages)',
    () => a.evaluate(() => window.tabdrive.actions!.addSampleLocation('Scanner', 120)),
    async () => (await fileCount(b)) === 500,
    times,
  );
  await converged([a, b]);
  // the relay carried all of it: no peer connection ever connected, no data-channel byte
  for (const p of [a, b]) {
    const pcs = await peerConnections(p);
    expect(pcs.negotiated, pcs.states.join('\n')).toBeGreaterThanOrEqual(1);
    expect(pcs.connected, pcs.states.join('\n')).toBe(0);
    expect(await p.evaluate(async () => (await window.tabdrive.stats()).peers)).toBe(0);
    expect(await p.evaluate(() => window.tabdrive.transportStats!().bytesReceived)).toBe(0);
    const r = await relayStatus(p);
    expect(r).toMatchObject({ state: 'connected', url: RELAY, lastError: null, undecryptable: 0 });
    expect(r.pagesDown).toBeGreaterThan(0);
    expect(r.updatesDown).toBeGreaterThan(0);
  }
  // what the user sees: in sync (not "Offline": the relay is a path), the Relay section
  // connected over wss, the other device not over WebRTC
  for (const p of [a, b]) await expect(p.getByRole('status', { name: 'Sync status' })).toContainText('Ready');
  await b.getByRole('button', { name: 'Sync inspector' }).click();
  const section = b.getByRole('region', { name: 'Relay' });
  await expect(section).toContainText('connected');
  await expect(section).toContainText(RELAY);
  // each lists the other online, through the relay (presence messages), not over WebRTC
  const nameA = await a.evaluate(() => window.tabdrive.device.name);
  const nameB = await b.evaluate(() => window.tabdrive.device.name);
  await expect(b.getByRole('list', { name: 'Devices' }).getByRole('listitem').filter({ hasText: nameA })).toContainText('online · relay', { timeout: 20_000 });
  await expect(a.getByRole('list', { name: 'Devices' }).getByRole('listitem').filter({ hasText: nameB })).toContainText('online · relay', { timeout: 20_000 });
  const pcs = [await peerConnections(a), await peerConnections(b)];
  console.log(`[figure] relay only (no route between the machines): B's browser started and joined in ${joinMs[0]} ms, then had A's library (300 entries, 5 tag links, 1 note) ${joinMs[1]} ms later; live: ${Object.entries(times).map(([k, v]) => `${k} ${v} ms`).join(', ')}; peer connections tried ${pcs.map((x) => x.made).join('/')}, connected 0`);
});

/**
 * Holds `n` signaling connections from this machine (one "address"), each subscribed to a
 * topic so none is closed as idle; prints how many stayed open and how many were refused.
 */
const HOG = (origin: string, n: number) => `
const WebSocket = require('ws');
let open = 0, refused = 0, lost = 0;
const say = () => console.log('hog open ' + open + ' refused ' + refused + ' lost ' + lost + ';');
for (let i = 0; i < ${n}; i++) {
  const ws = new WebSocket('${origin.replace('https:', 'wss:')}/signaling', { origin: '${origin}', rejectUnauthorized: false });
  ws.on('open', () => { open++; ws.send(JSON.stringify({ type: 'subscribe', topics: ['hog-' + i] })); say(); });
  // a refused connection is closed with 1013 right after its handshake
  ws.on('close', (code) => { open--; if (code === 1013) refused++; else lost++; say(); });
  ws.on('error', () => {});
}
`;

test('a machine with many tabs does not lock the other machines out of signaling: the LAN proxy passes each client’s address on', async () => {
  // the server's machine holds as many signaling connections as one address may (32), and one more
  let out = '';
  listener = inNamespace(S.ns, [process.execPath, '-e', HOG(`https://127.0.0.1:${APP_PORT}`, 33)], process.env, (s) => (out += s));
  const last = () => out.match(/hog [^;]*;/g)?.at(-1);
  await expect.poll(last, { timeout: 60_000 }).toBe('hog open 32 refused 1 lost 0;');

  // two other machines still meet through signaling (offer and answer go through) and sync
  const { spki } = server!.cert();
  const { page: a } = await browsers!.open(A.ns, spki, withParams(`${ORIGIN}/`, { relay: RELAY }), { args: RAW_IPS });
  await a.evaluate(() => window.tabdrive.actions!.createTag({ name: 'beside many tabs' }));
  await a.getByRole('button', { name: 'Invite', exact: true }).click();
  const invite = await a.getByRole('textbox', { name: 'Invite link' }).inputValue();
  const { page: b } = await browsers!.open(B.ns, spki, withParams(invite, { relay: RELAY }), { args: RAW_IPS });
  for (const p of [a, b]) await expect.poll(async () => (await peerConnections(p)).negotiated, { timeout: 30_000 }).toBeGreaterThanOrEqual(1);
  await converged([a, b]);
  expect(last()).toBe('hog open 32 refused 1 lost 0;');
});

/** The relay process `npm start` supervises in the server's namespace. */
function relayPid(): number {
  for (const pid of ip('netns', 'pids', S.ns).split('\n').filter(Boolean)) {
    try {
      if (readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').some((a) => a.endsWith('server/relay/main.mjs'))) return Number(pid);
    } catch {
      // gone meanwhile
    }
  }
  return 0;
}

test('the relay crashes while both machines are open: npm start restarts it, both reconnect through the proxy, and what was written meanwhile arrives', async () => {
  const { spki } = server!.cert();
  const { page: a } = await browsers!.open(A.ns, spki, withParams(`${ORIGIN}/`, { relay: RELAY }), { args: RAW_IPS });
  await a.getByRole('button', { name: 'Invite', exact: true }).click();
  const invite = await a.getByRole('textbox', { name: 'Invite link' }).inputValue();
  const { page: b } = await browsers!.open(B.ns, spki, withParams(invite, { relay: RELAY }), { args: RAW_IPS });
  for (const p of [a, b]) await expect.poll(async () => (await relayStatus(p)).state).toBe('connected');
  await converged([a, b]);

  // while the relay is down the proxy closes each reconnect attempt, and Chromium logs that
  const down = /^WebSocket connection to 'wss:\/\/10\.97\.0\.1:4480\/relay' failed: /;
  for (const p of [a, b]) expectPageErrors(p, down);
  const before = relayPid();
  expect(before).toBeGreaterThan(0);
  process.kill(before, 'SIGKILL');
  const killed = Date.now();
  // A writes while the relay is down (or coming back): the outbox keeps it
  await a.evaluate(() => window.tabdrive.actions!.createTag({ name: 'while the relay restarts' }));
  await b.evaluate(() => window.tabdrive.actions!.addSampleLocation('During the restart', 30));
  await expect.poll(relayPid, { timeout: 30_000 }).not.toBe(0);
  expect(relayPid()).not.toBe(before);
  await expect.poll(() => count(b, "SELECT count(*) FROM tags WHERE display_name = 'while the relay restarts'"), { timeout: 60_000 }).toBe(1);
  await expect.poll(() => fileCount(a), { timeout: 60_000 }).toBe(30);
  const ms = Date.now() - killed;
  await converged([a, b]);
  for (const p of [a, b]) expect(await relayStatus(p)).toMatchObject({ state: 'connected', outbox: 0 });
  expect(server!.output()).toContain('the relay was killed (SIGKILL); restarting it');
  console.log(`[figure] relay killed and restarted by npm start: both machines had each other's writes ${ms} ms after the kill`);
});
