#!/usr/bin/env node
// `npm start` — builds the production bundle if it is missing or older than the sources,
// then serves it on http://127.0.0.1:4173 together with the signaling server
// (ws://127.0.0.1:4444). Ctrl-C stops both.
//
//   HOST / PORT                 where the app is served (default 127.0.0.1:4173)
//   SIGNALING_HOST / _PORT      where the signaling server listens (default 127.0.0.1:4444)
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

const children = [];
const signaling = join(root, 'server', 'signaling.mjs');
if (existsSync(signaling)) {
  children.push(spawn('node', [signaling], { cwd: root, stdio: 'inherit', env: process.env }));
}
children.push(
  spawn('npx', ['vite', 'preview', '--host', host, '--port', port, '--strictPort'], {
    cwd: root,
    stdio: 'inherit',
  }),
);
console.log(`\ntabdrive: open http://${host}:${port}/ (each tab is a device)\n`);

const stop = () => {
  for (const c of children) c.kill('SIGTERM');
  process.exit(0);
};
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
for (const c of children) {
  c.on('exit', (code) => {
    if (code !== 0 && code !== null) {
      console.error(`a server exited with code ${code}; stopping`);
      stop();
    }
  });
}
