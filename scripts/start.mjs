#!/usr/bin/env node
// `npm start` — builds the production bundle if it is missing or older than the sources,
// then serves it on http://127.0.0.1:4173 together with the signaling server
// (ws://127.0.0.1:4444) and the relay (ws://127.0.0.1:4445, its data in .data/relay).
// Ctrl-C stops all three.
//
//   HOST / PORT                 where the app is served (default 127.0.0.1:4173)
//   SIGNALING_HOST / _PORT      where the signaling server listens (default 127.0.0.1:4444)
//   SIGNALING_ORIGINS           extra origins the signaling server serves (server/signaling.mjs)
//   RELAY_HOST / _PORT          where the relay listens (default 127.0.0.1:4445)
//   RELAY_ORIGINS               extra origins the relay serves (server/relay/main.mjs)
//   DATABASE_URL / REDIS_URL    a PostgreSQL server / Redis for the relay instead of its embedded
//                               PGlite and in-process fan-out (server/relay/main.mjs)
// A service that crashes is restarted with backoff; the others keep running.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';

const root = resolve(import.meta.dirname, '..');
const host = process.env.HOST ?? '127.0.0.1';
const port = process.env.PORT ?? '4173';

function newestMtime(dir) {
  let newest = 0;
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    const s = statSync(p);
    newest = Math.max(newest, s.isDirectory() ? newestMtime(p) : s.mtimeMs);
  }
  return newest;
}

const built = join(root, 'dist', 'index.html');
const stale =
  !existsSync(built) ||
  Math.max(newestMtime(join(root, 'src')), statSync(join(root, 'index.html')).mtimeMs) >
    statSync(built).mtimeMs;
if (stale) {
  console.log('Building the production bundle …');
  const r = spawnSync('npx', ['vite', 'build', '--logLevel', 'warn'], { cwd: root, stdio: 'inherit' });
  if (r.status !== 0) process.exit(r.status ?? 1);
}

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
if (existsSync(signaling)) {
  // The app's own origin is always allowed when it is on loopback; served on another host
  // name, that origin must be allowed too (more with SIGNALING_ORIGINS).
  const loopback = ['127.0.0.1', 'localhost', '::1'].includes(host);
  const env = { ...process.env };
  if (!loopback && host !== '0.0.0.0' && host !== '::') {
    env.SIGNALING_ORIGINS = [process.env.SIGNALING_ORIGINS, `http://${host}:${port}`].filter(Boolean).join(',');
  } else if (!loopback && !process.env.SIGNALING_ORIGINS) {
    console.log(`Note: the signaling server serves pages on this machine only; set SIGNALING_ORIGINS to the address other machines open (e.g. http://<this host>:${port}).`);
  }
  supervise('the signaling server', process.execPath, [signaling], env);
}
const relay = join(root, 'server', 'relay', 'main.mjs');
const relayHost = process.env.RELAY_HOST ?? '127.0.0.1';
const relayPort = process.env.RELAY_PORT ?? '4445';
if (existsSync(relay)) {
  const env = { ...process.env, RELAY_HOST: relayHost, RELAY_PORT: relayPort };
  // the app's own origin may connect, as for signaling
  if (!['127.0.0.1', 'localhost', '::1', '0.0.0.0', '::'].includes(host)) {
    env.RELAY_ORIGINS = [process.env.RELAY_ORIGINS, `http://${host}:${port}`].filter(Boolean).join(',');
  }
  supervise('the relay', process.execPath, [relay], env);
}
// vite itself, not `npx vite`: npx does not pass SIGTERM on, and its vite would outlive us
const vite = join(root, 'node_modules', 'vite', 'bin', 'vite.js');
supervise('the app server (vite preview)', process.execPath, [vite, 'preview', '--host', host, '--port', port, '--strictPort'], process.env);
console.log(`\ntabdrive: open http://${host}:${port}/ (each tab is a device)`);
if (existsSync(relay)) {
  const store = process.env.DATABASE_URL ? 'PostgreSQL at DATABASE_URL' : 'PGlite in .data/relay; its first start takes a few seconds';
  console.log(`tabdrive: relay on ws://${relayHost}:${relayPort} (${store})`);
}
console.log('');

const stop = () => {
  stopping = true;
  for (const c of running) c.kill('SIGTERM');
  process.exit(0);
};
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
