// Two machines on a LAN: two network namespaces joined by a veth pair, made by this test
// (root only). `npm start -- --lan` runs in the first and serves the app, signaling and the
// relay over HTTPS with the certificate it makes on first start; a Chromium runs in each
// namespace and trusts that certificate by its public key (the SPKI hash), as a user who
// compared the printed fingerprint would. The second browser opens the invite link on the
// server's LAN address; the library syncs both ways over WebRTC between the namespaces.
// A tiny STUN server on the first machine shows that `?ice=` reaches the peer connections.
import type { BrowserContext, Page } from '@playwright/test';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { X509Certificate, createHash } from 'node:crypto';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { ARGS, CHROMIUM, count, deviceOf, expect, newProfile, test, waitReady, type Profile } from '../e2e/support/browser.ts';

const ROOT = resolve(import.meta.dirname, '../..');
const DIST = process.env['WEBRTC_DIST'] ?? 'dist-test';
const APP_PORT = 4470;
const SIGNALING_PORT = 4471;
const RELAY_PORT = 4472;
const STUN_PORT = 4473;
const SERVER_IP = '10.98.0.1';
const CLIENT_IP = '10.98.0.2';
const ORIGIN = `https://${SERVER_IP}:${APP_PORT}`;
// names unique to this run; a leftover of a killed run is removed by name prefix below
const NS_SERVER = `tdlan-${process.pid}-srv`;
const NS_CLIENT = `tdlan-${process.pid}-cli`;

const isRoot = process.getuid?.() === 0;
const hasIp = (() => {
  try {
    execFileSync('ip', ['-V'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
})();
test.skip(!isRoot || !hasIp, 'makes network namespaces: needs root and iproute2');
test.describe.configure({ timeout: 120_000 });

const ip = (...args: string[]) => execFileSync('ip', args, { stdio: ['ignore', 'pipe', 'pipe'], encoding: 'utf8' });
let tmp = '';
let server: ChildProcess | null = null;
let stun: ChildProcess | null = null;
let serverOut = '';
let stunOut = '';
const profiles: Profile[] = [];
const contexts: BrowserContext[] = [];

function removeNamespaces(all: boolean): void {
  for (const line of ip('netns', 'list').split('\n')) {
    const name = line.split(' ')[0] ?? '';
    if (all ? name.startsWith('tdlan-') : name === NS_SERVER || name === NS_CLIENT) ip('netns', 'del', name);
  }
}

/** Two "machines": each namespace has loopback, one end of the veth and a default route over it. */
function makeMachines(): void {
  removeNamespaces(true);
  ip('netns', 'add', NS_SERVER);
  ip('netns', 'add', NS_CLIENT);
  const a = `tdl${process.pid % 100000}a`;
  const b = `tdl${process.pid % 100000}b`;
  ip('link', 'add', a, 'type', 'veth', 'peer', 'name', b);
  ip('link', 'set', a, 'netns', NS_SERVER);
  ip('link', 'set', b, 'netns', NS_CLIENT);
  for (const [ns, dev, addr] of [[NS_SERVER, a, SERVER_IP], [NS_CLIENT, b, CLIENT_IP]] as const) {
    ip('-n', ns, 'link', 'set', 'lo', 'up');
    ip('-n', ns, 'addr', 'add', `${addr}/24`, 'dev', dev);
    ip('-n', ns, 'link', 'set', dev, 'up');
    ip('-n', ns, 'route', 'add', 'default', 'dev', dev);
  }
}

/** A process group in `ns`, so its children (vite, signaling, relay) stop with it. */
function inNamespace(ns: string, cmd: string[], env: NodeJS.ProcessEnv, onOutput: (s: string) => void): ChildProcess {
  const child = spawn('ip', ['netns', 'exec', ns, ...cmd], { cwd: ROOT, env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  child.stdout.on('data', (d: Buffer) => onOutput(d.toString()));
  child.stderr.on('data', (d: Buffer) => onOutput(d.toString()));
  return child;
}
function stop(child: ChildProcess | null): void {
  if (child?.pid === undefined || child.exitCode !== null) return;
  try {
    process.kill(-child.pid, 'SIGTERM');
  } catch {
    // already gone
  }
}

/** Counts STUN binding requests (magic cookie 0x2112A442), per sender address. */
const STUN_SERVER = `
const s = require('node:dgram').createSocket('udp4');
s.on('message', (m, r) => { if (m.length >= 20 && m.readUInt32BE(4) === 0x2112a442 && m.readUInt16BE(0) === 1) console.log('binding from ' + r.address); });
s.bind(${STUN_PORT}, '${SERVER_IP}', () => console.log('stun ready'));
`;

test.beforeAll(async () => {
  test.setTimeout(90_000);
  tmp = mkdtempSync(join(tmpdir(), 'tabdrive-lan-'));
  makeMachines();
  server = inNamespace(
    NS_SERVER,
    [process.execPath, 'scripts/start.mjs', '--lan'],
    { ...process.env, PORT: String(APP_PORT), SIGNALING_PORT: String(SIGNALING_PORT), RELAY_PORT: String(RELAY_PORT), TABDRIVE_DATA: join(tmp, 'data'), TABDRIVE_DIST: DIST },
    (s) => (serverOut += s),
  );
  stun = inNamespace(NS_SERVER, [process.execPath, '-e', STUN_SERVER], process.env, (s) => (stunOut += s));
  // up when the other machine gets the page and signaling answers through the app's origin
  const probe = `fetch('${ORIGIN}/').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))`;
  await expect
    .poll(
      () => {
        try {
          execFileSync('ip', ['netns', 'exec', NS_CLIENT, process.execPath, '-e', probe], { env: { ...process.env, NODE_TLS_REJECT_UNAUTHORIZED: '0' }, stdio: 'ignore', timeout: 5000 });
          return /signaling: ws:/.test(serverOut) && /relay: listening/.test(serverOut) && stunOut.includes('stun ready');
        } catch {
          return false;
        }
      },
      { timeout: 60_000, intervals: [500] },
    )
    .toBe(true);
});

test.afterAll(async () => {
  for (const c of contexts) await c.close().catch(() => undefined);
  for (const p of profiles) p.remove();
  stop(server);
  stop(stun);
  await new Promise((r) => setTimeout(r, 500));
  if (server?.pid !== undefined) {
    try {
      process.kill(-server.pid, 'SIGKILL');
    } catch {
      // stopped
    }
  }
  removeNamespaces(false);
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

/** Chromium on machine `ns`, trusting the server's certificate by its public key only. */
async function browserOn(ns: string, spki: string, url: string, warnings: string[] = []): Promise<Page> {
  const wrapper = join(tmp, `chromium-${ns}`);
  writeFileSync(wrapper, `#!/bin/sh\nexec ip netns exec ${ns} ${CHROMIUM} "$@"\n`);
  chmodSync(wrapper, 0o755);
  const profile = newProfile();
  profiles.push(profile);
  const context = await profile.launch({ executablePath: wrapper, args: [...ARGS, `--ignore-certificate-errors-spki-list=${spki}`] });
  contexts.push(context);
  context.on('console', (m) => {
    if (m.type() === 'warning') warnings.push(m.text());
  });
  const page = context.pages()[0] ?? (await context.newPage());
  await page.goto(url);
  if (new URL(url).hash.startsWith('#/join/')) await page.getByRole('dialog', { name: 'Join this library?' }).getByRole('button', { name: 'Join' }).click();
  await waitReady(page);
  return page;
}
const digest = (p: Page) => p.evaluate(() => window.tabdrive.digest());
async function converged(pages: Page[]): Promise<void> {
  await expect.poll(async () => new Set(await Promise.all(pages.map(async (p) => JSON.stringify(await digest(p))))).size, { timeout: 60_000 }).toBe(1);
}

test('a browser on another machine opens the invite over HTTPS on the LAN and the library syncs both ways over WebRTC', async () => {
  // what start printed: the LAN address, and the fingerprint of the certificate it serves
  const certPem = readFileSync(join(tmp, 'data', 'tls', 'cert.pem'));
  const cert = new X509Certificate(certPem);
  expect(serverOut).toContain(`${ORIGIN}/`);
  expect(serverOut).toContain(cert.fingerprint256);
  expect(cert.fingerprint256).toBe(createHash('sha256').update(cert.raw).digest('hex').toUpperCase().match(/../g)!.join(':'));
  expect(cert.checkIP(SERVER_IP)).toBe(SERVER_IP);
  const spki = createHash('sha256').update(cert.publicKey.export({ type: 'spki', format: 'der' })).digest('base64');

  const a = await browserOn(NS_SERVER, spki, `${ORIGIN}/`);
  expect(await a.evaluate(() => [window.isSecureContext, typeof crypto.subtle.deriveKey])).toEqual([true, 'function']);
  await a.evaluate(() => window.tabdrive.actions!.addSampleLocation('Photos', 500));

  const box = a.getByRole('textbox', { name: 'Invite link' });
  if (!(await box.isVisible())) await a.getByRole('button', { name: 'Invite' }).click();
  const invite = new URL(await box.inputValue());
  expect(invite.origin).toBe(ORIGIN); // the link names the address the other machine can reach
  expect(invite.hash).toMatch(/^#\/join\//);
  // B's peer connections get this machine's STUN server (and one bad entry, named and left out)
  invite.search = `?ice=${encodeURIComponent(`stun:${SERVER_IP}:${STUN_PORT},stun:999.1.1.1`)}`;
  const warnings: string[] = [];
  const b = await browserOn(NS_CLIENT, spki, invite.toString(), warnings);
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

  // ?ice= reached B's peer connections: its STUN requests came over the veth from the other machine
  expect(stunOut).toMatch(new RegExp(`binding from ${CLIENT_IP.replace(/\./g, '\\.')}`));
  // signaling went over wss on the page's origin; the relay is on the same origin too
  const relayOpens = await b.evaluate(
    (origin) =>
      new Promise<boolean>((res) => {
        const ws = new WebSocket(`${origin.replace('https:', 'wss:')}/relay`);
        ws.onopen = () => {
          ws.close();
          res(true);
        };
        ws.onerror = () => res(false);
      }),
    ORIGIN,
  );
  expect(relayOpens).toBe(true);
});
