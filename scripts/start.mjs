#!/usr/bin/env node
// `npm start` — builds the production bundle if it is missing or older than the sources,
// then serves it on http://127.0.0.1:4173 together with the signaling server
// (ws://127.0.0.1:4444) and the relay (ws://127.0.0.1:4445, its data in .data/relay).
// Ctrl-C stops all three.
//
// `npm start -- --lan` (or TABDRIVE_LAN=1) serves the app on every interface over HTTPS with
// a self-signed certificate made on first start and kept in .data/tls (scripts/lib/tls.mjs),
// and prints the https address of each LAN interface and the certificate's fingerprint.
// Signaling and the relay stay on loopback; the app's server forwards wss://<host>:<port>/signaling
// and /relay to them, so one origin and one certificate serve all three.
//
//   HOST / PORT                 where the app is served (default 127.0.0.1:4173; 0.0.0.0 with --lan)
//   SIGNALING_HOST / _PORT      where the signaling server listens (default 127.0.0.1:4444)
//   SIGNALING_ORIGINS           extra origins the signaling server serves (server/signaling.mjs)
//   RELAY_HOST / _PORT          where the relay listens (default 127.0.0.1:4445)
//   RELAY_ORIGINS               extra origins the relay serves (server/relay/main.mjs)
//   DATABASE_URL / REDIS_URL    a PostgreSQL server / Redis for the relay instead of its embedded
//                               PGlite and in-process fan-out (server/relay/main.mjs)
//   TABDRIVE_ICE                STUN/TURN servers built into the app, e.g.
//                               stun:stun.example:3478,turn:user:pass@turn.example:3478
//                               (src/transport/endpoints.ts); none by default
//   TABDRIVE_DATA               where the certificate and the relay's data are kept (default .data)
//   TABDRIVE_DIST               serve this build instead of building dist/ (tests serve dist-test)
// A service that crashes is restarted with backoff; the others keep running.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { hostname, networkInterfaces } from 'node:os';
import { join, resolve } from 'node:path';
import { ensureCertificate } from './lib/tls.mjs';
import { relayArgs, relayEnv } from '../server/relay/launch.mjs';

const root = resolve(import.meta.dirname, '..');
const lan = process.argv.includes('--lan') || ['1', 'true', 'yes'].includes((process.env.TABDRIVE_LAN ?? '').toLowerCase());
const host = process.env.HOST ?? (lan ? '0.0.0.0' : '127.0.0.1');
const port = process.env.PORT ?? '4173';
const dataDir = resolve(root, process.env.TABDRIVE_DATA ?? '.data');
const scheme = lan ? 'https' : 'http';

function newestMtime(dir) {
  let newest = 0;
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    const s = statSync(p);
    newest = Math.max(newest, s.isDirectory() ? newestMtime(p) : s.mtimeMs);
  }
  return newest;
}

// The build has TABDRIVE_ICE compiled in (vite.config.ts): another value needs another build.
const dist = process.env.TABDRIVE_DIST ? resolve(root, process.env.TABDRIVE_DIST) : join(root, 'dist');
const stamp = join(dist, '.tabdrive-build.json');
const buildEnv = JSON.stringify({ ice: process.env.TABDRIVE_ICE ?? '' });
const built = join(dist, 'index.html');
const stale =
  !existsSync(built) ||
  Math.max(newestMtime(join(root, 'src')), statSync(join(root, 'index.html')).mtimeMs) > statSync(built).mtimeMs ||
  (existsSync(stamp) ? readFileSync(stamp, 'utf8') : JSON.stringify({ ice: '' })) !== buildEnv;
if (process.env.TABDRIVE_DIST) {
  if (!existsSync(built)) {
    console.error(`TABDRIVE_DIST: no build at ${dist}`);
    process.exit(1);
  }
} else if (stale) {
  console.log('Building the production bundle …');
  const r = spawnSync('npx', ['vite', 'build', '--logLevel', 'warn'], { cwd: root, stdio: 'inherit' });
  if (r.status !== 0) process.exit(r.status ?? 1);
  writeFileSync(stamp, buildEnv);
}

/**
 * The machine's addresses other machines can reach it on: no loopback, no IPv6 link-local
 * (a browser needs a zone for it); IPv6 only when listening on `::` (0.0.0.0 is IPv4 alone).
 * @param {boolean} v6
 */
function lanAddresses(v6) {
  const out = [];
  for (const list of Object.values(networkInterfaces())) {
    for (const a of list ?? []) {
      if (a.internal || (a.family === 'IPv6' && (!v6 || a.address.toLowerCase().startsWith('fe80')))) continue;
      out.push(a.address);
    }
  }
  return out;
}
const urlHost = (/** @type {string} */ h) => (h.includes(':') ? `[${h}]` : h);

// Serving on the LAN: the certificate, and the names and origins it is reached by.
/** @type {string[]} the origins pages are served from, for the signaling and relay allow-lists */
let appOrigins = [];
/** @type {Record<string, string>} */
let appEnv = {};
/** @type {string[]} */
let addresses = [];
/** @type {ReturnType<typeof ensureCertificate> | null} */
let tls = null;
if (lan) {
  const any = host === '0.0.0.0' || host === '::';
  addresses = any ? lanAddresses(host === '::') : [host];
  const me = hostname();
  const names = [...new Set([...addresses, '127.0.0.1', '::1', 'localhost', me, ...(me.includes('.') ? [] : [`${me}.local`])])];
  tls = ensureCertificate(join(dataDir, 'tls'), names);
  appOrigins = names.map((n) => `https://${urlHost(n)}:${port}`);
  appEnv = { TABDRIVE_TLS_CERT: tls.certPath, TABDRIVE_TLS_KEY: tls.keyPath };
} else if (!['127.0.0.1', 'localhost', '::1', '0.0.0.0', '::'].includes(host)) {
  appOrigins = [`http://${urlHost(host)}:${port}`];
}
const withOrigins = (/** @type {string | undefined} */ given) => [given, ...appOrigins].filter(Boolean).join(',');

// Each service is supervised: one that exits on its own (a crash, an OOM kill) is restarted
// with backoff, and the app keeps running; one that fails again and again right after
// starting (a port in use, a broken build) is given up on, loudly. Ctrl-C stops everything.
const BACKOFF_MS = [500, 1000, 2000, 5000, 10_000, 30_000];
/** a run at least this long resets the backoff */
const HEALTHY_MS = 60_000;
/** this many runs in a row shorter than QUICK_MS: stop trying */
const MAX_QUICK_FAILURES = 5;
const QUICK_MS = 5_000;
let stopping = false;
/** @type {Set<import('node:child_process').ChildProcess>} */
const running = new Set();

function supervise(name, cmd, args, env) {
  let failures = 0;
  let quick = 0;
  const run = () => {
    const started = Date.now();
    const child = spawn(cmd, args, { cwd: root, stdio: 'inherit', env });
    running.add(child);
    child.on('error', (e) => console.error(`${name}: ${e.message}`)); // 'exit' follows
    child.on('exit', (code, signal) => {
      running.delete(child);
      if (stopping) return;
      const ran = Date.now() - started;
      if (ran >= HEALTHY_MS) failures = 0;
      quick = ran < QUICK_MS ? quick + 1 : 0;
      const how = signal ? `was killed (${signal})` : `exited with code ${code}`;
      if (quick >= MAX_QUICK_FAILURES) {
        console.error(`${name} ${how}, ${quick} times in a row right after starting; not restarting it.`);
        return;
      }
      const wait = BACKOFF_MS[Math.min(failures, BACKOFF_MS.length - 1)];
      failures++;
      console.error(`${name} ${how}; restarting it in ${wait / 1000} s (restart ${failures}).`);
      setTimeout(() => !stopping && run(), wait);
    });
  };
  run();
}

const signaling = join(root, 'server', 'signaling.mjs');
const signalingPort = process.env.SIGNALING_PORT ?? '4444';
if (existsSync(signaling)) {
  // The app's own origin is always allowed when it is on loopback; served on another host
  // name, that origin must be allowed too (more with SIGNALING_ORIGINS).
  const env = { ...process.env, SIGNALING_PORT: signalingPort };
  if (appOrigins.length > 0) env.SIGNALING_ORIGINS = withOrigins(process.env.SIGNALING_ORIGINS);
  else if (!['127.0.0.1', 'localhost', '::1'].includes(host) && !process.env.SIGNALING_ORIGINS) {
    console.log(`Note: the signaling server serves pages on this machine only; set SIGNALING_ORIGINS to the address other machines open (e.g. http://<this host>:${port}), or use --lan.`);
  }
  // behind the app's HTTPS proxy every LAN client arrives from loopback: count each by the
  // address the proxy passes on, or one machine's tabs would use up every machine's share
  if (lan) env.SIGNALING_TRUST_PROXY = '1';
  supervise('the signaling server', process.execPath, [signaling], env);
}
const relay = join(root, 'server', 'relay', 'main.mjs');
const relayHost = process.env.RELAY_HOST ?? '127.0.0.1';
const relayPort = process.env.RELAY_PORT ?? '4445';
if (existsSync(relay)) {
  const env = { ...process.env, RELAY_HOST: relayHost, RELAY_PORT: relayPort };
  if (!process.env.RELAY_DATA_DIR && process.env.TABDRIVE_DATA) env.RELAY_DATA_DIR = join(dataDir, 'relay');
  // the app's own origin may connect, as for signaling
  if (appOrigins.length > 0) env.RELAY_ORIGINS = withOrigins(process.env.RELAY_ORIGINS);
  if (lan) env.RELAY_TRUST_PROXY = '1';
  supervise('the relay', process.execPath, relayArgs(), relayEnv(env));
}
// vite itself, not `npx vite`: npx does not pass SIGTERM on, and its vite would outlive us
const vite = join(root, 'node_modules', 'vite', 'bin', 'vite.js');
supervise(
  'the app server (vite preview)',
  process.execPath,
  [vite, 'preview', '--host', host, '--port', port, '--strictPort', '--outDir', dist],
  { ...process.env, ...appEnv, SIGNALING_PORT: signalingPort, RELAY_PORT: relayPort },
);
if (tls) {
  const urls = addresses.length > 0 ? addresses : ['127.0.0.1'];
  console.log(`\ntabdrive on the LAN (each tab is a device); open on any machine of this network:`);
  for (const a of urls) console.log(`  https://${urlHost(a)}:${port}/`);
  const how = tls.made === 'new' ? 'made now' : tls.made === 'reissued' ? 'issued again (new addresses or near its end): the fingerprint changed' : 'kept';
  console.log(`The certificate is self-signed (${how}; ${join(dataDir, 'tls', 'cert.pem')}). Before accepting it in a`);
  console.log('browser, compare the SHA-256 fingerprint the browser shows with this one:');
  console.log(`  ${tls.fingerprint}`);
} else {
  console.log(`\ntabdrive: open ${scheme}://${urlHost(host)}:${port}/ (each tab is a device)`);
}
if (existsSync(relay)) {
  const store = process.env.DATABASE_URL ? 'PostgreSQL at DATABASE_URL' : 'PGlite; its first start takes a few seconds';
  console.log(`tabdrive: relay on ws://${relayHost}:${relayPort}${lan ? ' (wss://…/relay for pages)' : ''} (${store})`);
}
if (process.env.TABDRIVE_ICE) console.log(`tabdrive: ICE servers built in from TABDRIVE_ICE`);
console.log('');

const stop = () => {
  stopping = true;
  for (const c of running) c.kill('SIGTERM');
  process.exit(0);
};
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
