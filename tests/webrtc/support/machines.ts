// "Machines" for the WebRTC suite's multi-machine specs (lan.spec.ts, relay-only.spec.ts):
// network namespaces made by the test (root + iproute2), joined by veth pairs; the server
// (`npm start -- --lan`: app, signaling and relay over HTTPS/WSS on one origin) in one of
// them; a Chromium in any of them, trusting the server's self-signed certificate by its
// public key (the SPKI hash), as a user who compared the printed fingerprint would.
//
// Namespaces from `ip netns add` are global to the host (a bind mount under /var/run/netns),
// also when the suite itself runs inside scripts/netns.sh (`npm test`): a new namespace is
// not nested in the caller's, it is a fresh one. Their names carry this process's pid, so a
// leftover of a killed run is recognised (its pid is gone) and removed, and a concurrent run
// (another worktree's) is left alone.
import type { BrowserContext, Page } from '@playwright/test';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { X509Certificate, createHash } from 'node:crypto';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { ARGS, CHROMIUM, expect, newProfile, waitReady, type Profile } from '../../e2e/support/browser.ts';

const ROOT = resolve(import.meta.dirname, '../../..');
const DIST = process.env['WEBRTC_DIST'] ?? 'dist-test';

export const canMakeMachines: boolean = (() => {
  if (process.getuid?.() !== 0) return false;
  try {
    execFileSync('ip', ['-V'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
})();

export const ip = (...args: string[]): string => execFileSync('ip', args, { stdio: ['ignore', 'pipe', 'pipe'], encoding: 'utf8' });

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** One end of a link: a namespace and its address on that link. */
export interface End {
  readonly ns: string;
  readonly addr: string;
}

/**
 * The namespaces of one spec: `<prefix>-<pid>-<role>`. `make` removes leftovers of dead runs
 * of the same prefix first; `remove` removes this run's.
 */
export class Machines {
  readonly names: string[] = [];
  #links = 0;
  constructor(readonly prefix: string) {}

  ns(role: string): string {
    return `${this.prefix}-${process.pid}-${role}`;
  }

  /** Fresh namespaces with loopback up. */
  make(roles: readonly string[]): void {
    for (const line of ip('netns', 'list').split('\n')) {
      const name = line.split(' ')[0] ?? '';
      const m = new RegExp(`^${this.prefix}-(\\d+)-`).exec(name);
      if (m && (Number(m[1]) === process.pid || !alive(Number(m[1])))) ip('netns', 'del', name);
    }
    for (const role of roles) {
      const ns = this.ns(role);
      ip('netns', 'add', ns);
      this.names.push(ns);
      ip('-n', ns, 'link', 'set', 'lo', 'up');
      // A namespace inherits IPv4 settings from the host's (net.core.devconf_inherit_init_net
      // = 0 copies them for IPv4): a host that forwards would make every machine a router.
      ip('netns', 'exec', ns, 'sysctl', '-q', '-w', 'net.ipv4.ip_forward=0');
    }
  }

  /**
   * A veth pair between two namespaces. `prefixLen` 24: one subnet, each end's default route
   * over it (they reach each other and anything via the link). 32: a point-to-point link:
   * each end reaches the other's address only; `gatewayFor` gets a default route via the
   * other end (which, not forwarding, reaches nothing beyond itself).
   */
  link(a: End, b: End, prefixLen: 24 | 32, gatewayFor: End | null = null): void {
    const n = this.#links++;
    const dev = (side: string) => `td${process.pid % 100000}${n}${side}`;
    const [da, db] = [dev('a'), dev('b')];
    ip('link', 'add', da, 'type', 'veth', 'peer', 'name', db);
    for (const [end, d, other] of [[a, da, b], [b, db, a]] as const) {
      ip('link', 'set', d, 'netns', end.ns);
      ip('-n', end.ns, 'addr', 'add', `${end.addr}/${prefixLen}`, 'dev', d);
      ip('-n', end.ns, 'link', 'set', d, 'up');
      if (prefixLen === 24) ip('-n', end.ns, 'route', 'add', 'default', 'dev', d);
      else {
        ip('-n', end.ns, 'route', 'add', `${other.addr}/32`, 'dev', d);
        if (gatewayFor === end) ip('-n', end.ns, 'route', 'add', 'default', 'via', other.addr, 'dev', d);
      }
    }
  }

  remove(): void {
    for (const ns of this.names.splice(0)) {
      try {
        ip('netns', 'del', ns);
      } catch {
        // already gone
      }
    }
  }
}

/** A process group in `ns`, so its children (vite, signaling, relay) stop with it. */
export function inNamespace(ns: string, cmd: string[], env: NodeJS.ProcessEnv, onOutput: (s: string) => void): ChildProcess {
  const child = spawn('ip', ['netns', 'exec', ns, ...cmd], { cwd: ROOT, env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  child.stdout.on('data', (d: Buffer) => onOutput(d.toString()));
  child.stderr.on('data', (d: Buffer) => onOutput(d.toString()));
  return child;
}

/** SIGTERM the group, then SIGKILL what is left of it after a moment. */
export async function stopGroup(child: ChildProcess | null): Promise<void> {
  if (child?.pid === undefined) return;
  const pid = child.pid;
  const signal = (s: NodeJS.Signals): void => {
    try {
      process.kill(-pid, s);
    } catch {
      // already gone
    }
  };
  if (child.exitCode === null && child.signalCode === null) signal('SIGTERM');
  await new Promise((r) => setTimeout(r, 500));
  signal('SIGKILL');
}

/** Runs `node -e code` in `ns`; true when it exits 0 within `timeout` ms. */
export function nodeIn(ns: string, code: string, timeout = 5000, env: NodeJS.ProcessEnv = process.env): boolean {
  try {
    execFileSync('ip', ['netns', 'exec', ns, process.execPath, '-e', code], { env, stdio: 'ignore', timeout });
    return true;
  } catch {
    return false;
  }
}

/** Whether a TCP connection from `ns` to addr:port is accepted (within 3 s). */
export function tcpReaches(ns: string, addr: string, port: number): boolean {
  const code = `const s = require('node:net').connect(${port}, '${addr}', () => process.exit(0)); s.on('error', () => process.exit(1)); setTimeout(() => process.exit(2), 3000);`;
  return nodeIn(ns, code, 6000);
}

export interface LanServer {
  readonly ns: string;
  readonly origin: string;
  readonly dataDir: string;
  /** what `npm start -- --lan` printed so far */
  output(): string;
  /** the certificate it serves, and its SPKI hash (what Chromium's allow-list takes) */
  cert(): { cert: X509Certificate; spki: string };
  stop(): Promise<void>;
}

/**
 * `npm start -- --lan` (scripts/start.mjs on the test build) in `ns`, serving `https://addr:port`;
 * up once `probeFrom` fetches the page over HTTPS and signaling and the relay said they listen.
 */
export async function startLanServer(o: { ns: string; addr: string; port: number; probeFrom: string; tmp: string }): Promise<LanServer> {
  const dataDir = join(o.tmp, 'data');
  let out = '';
  const child = inNamespace(
    o.ns,
    [process.execPath, 'scripts/start.mjs', '--lan'],
    // signaling and the relay on their default loopback ports of this namespace: the app's
    // origin forwards /signaling and /relay to them
    { ...process.env, PORT: String(o.port), SIGNALING_PORT: '4444', RELAY_PORT: '4445', TABDRIVE_DATA: dataDir, TABDRIVE_DIST: DIST, DATABASE_URL: '', REDIS_URL: '' },
    (s) => (out += s),
  );
  const origin = `https://${o.addr}:${o.port}`;
  const probe = `fetch('${origin}/').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))`;
  const up = (): boolean => nodeIn(o.probeFrom, probe, 5000, { ...process.env, NODE_TLS_REJECT_UNAUTHORIZED: '0' }) && /signaling: ws:/.test(out) && /relay: listening/.test(out);
  try {
    await expect.poll(up, { timeout: 150_000, intervals: [500] }).toBe(true);
  } catch (e) {
    throw new Error(`npm start -- --lan did not come up:\n${out}`, { cause: e });
  }
  return {
    ns: o.ns,
    origin,
    dataDir,
    output: () => out,
    cert() {
      const cert = new X509Certificate(readFileSync(join(dataDir, 'tls', 'cert.pem')));
      const spki = createHash('sha256').update(cert.publicKey.export({ type: 'spki', format: 'der' })).digest('base64');
      return { cert, spki };
    },
    stop: () => stopGroup(child),
  };
}

/** Every RTCPeerConnection a page made, and each state it went through (an init script). */
export interface PeerConnectionLog {
  readonly made: number;
  /** peer connections that got the other side's description (offer/answer went through signaling) */
  readonly negotiated: number;
  /** peer connections whose ICE started checking candidate pairs */
  readonly checking: number;
  /** peer connections that ever reached connectionState 'connected' */
  readonly connected: number;
  readonly states: string[];
}

type PcRecords = { remote: boolean; checking: boolean; connected: boolean; states: string[] }[];

function watchPeerConnections(): void {
  const w = window as unknown as { __pcs: PcRecords };
  w.__pcs = [];
  const Base = window.RTCPeerConnection;
  class Watched extends Base {
    constructor(config?: RTCConfiguration) {
      super(config);
      const rec = { remote: false, checking: false, connected: false, states: [] as string[] };
      w.__pcs.push(rec);
      const note = (): void => {
        if (this.remoteDescription) rec.remote = true;
        if (this.iceConnectionState === 'checking') rec.checking = true;
        if (this.connectionState === 'connected') rec.connected = true;
        rec.states.push(`${this.connectionState}/${this.iceConnectionState}`);
      };
      this.addEventListener('connectionstatechange', note);
      this.addEventListener('iceconnectionstatechange', note);
      this.addEventListener('signalingstatechange', note);
    }
  }
  window.RTCPeerConnection = Watched;
}

export async function peerConnections(page: Page): Promise<PeerConnectionLog> {
  return page.evaluate(() => {
    const pcs = (window as unknown as { __pcs: PcRecords }).__pcs;
    return {
      made: pcs.length,
      negotiated: pcs.filter((p) => p.remote).length,
      checking: pcs.filter((p) => p.checking).length,
      connected: pcs.filter((p) => p.connected).length,
      states: pcs.map((p) => p.states.join(' → ')),
    };
  });
}

/** Browsers on machines; `close()` closes them all and removes their profiles. */
export class Browsers {
  readonly #launched: { context: BrowserContext; profile: Profile }[] = [];
  constructor(readonly tmp: string) {}

  /**
   * A Chromium on machine `ns` (a fresh profile unless `profile` is given), trusting only the
   * certificate with SPKI hash `spki`, opening `url` (answering Join on an invite).
   */
  async open(ns: string, spki: string, url: string, o: { warnings?: string[]; profile?: Profile; args?: string[] } = {}): Promise<{ page: Page; context: BrowserContext; profile: Profile }> {
    const wrapper = join(this.tmp, `chromium-${ns}`);
    writeFileSync(wrapper, `#!/bin/sh\nexec ip netns exec ${ns} ${CHROMIUM} "$@"\n`);
    chmodSync(wrapper, 0o755);
    const profile = o.profile ?? newProfile();
    const context = await profile.launch({ executablePath: wrapper, args: [...ARGS, `--ignore-certificate-errors-spki-list=${spki}`, ...(o.args ?? [])] });
    this.#launched.push({ context, profile });
    context.on('console', (m) => {
      if (m.type() === 'warning') o.warnings?.push(m.text());
    });
    await context.addInitScript(watchPeerConnections);
    const page = context.pages()[0] ?? (await context.newPage());
    await page.goto(url);
    if (new URL(url).hash.startsWith('#/join/')) await page.getByRole('dialog', { name: 'Join this library?' }).getByRole('button', { name: 'Join' }).click();
    await waitReady(page);
    return { page, context, profile };
  }

  /** Closes every browser first, then removes the profiles (one may have been opened twice). */
  async close(): Promise<void> {
    const launched = this.#launched.splice(0);
    for (const { context } of launched) await context.close().catch(() => undefined);
    for (const profile of new Set(launched.map((l) => l.profile))) profile.remove();
  }
}

export const makeTmp = (what: string): string => mkdtempSync(join(tmpdir(), `tabdrive-${what}-`));
export const removeTmp = (dir: string): void => rmSync(dir, { recursive: true, force: true });

/** The relay over the app's own origin, as `npm start -- --lan` serves it. */
export const relayOf = (origin: string): string => `${origin.replace(/^https:/, 'wss:')}/relay`;

/** A URL of `origin` with `?relay=` (and more parameters) set. */
export function withParams(url: string, params: Record<string, string>): string {
  const u = new URL(url);
  for (const [k, v] of Object.entries(params)) u.searchParams.set(k, v);
  return u.toString();
}

const digestOf = (p: Page): Promise<string> => p.evaluate(async () => JSON.stringify(await window.tabdrive.digest()));
/** Waits until every page's database digest is the same. */
export async function converged(pages: Page[], timeout = 60_000): Promise<void> {
  await expect.poll(async () => new Set(await Promise.all(pages.map(digestOf))).size, { timeout, intervals: [250] }).toBe(1);
}
