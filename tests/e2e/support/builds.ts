/**
 * Another build of the app, for tests that run two builds side by side (schema evolution,
 * issue 13 item 1): the previous release is checked out of git (`git archive`, no worktree
 * registered), built with the test mode under its own base path, and cached in the temp dir
 * by commit; this tree is built under another base path. One static server serves both
 * under one origin (`/old/`, `/new/`), as a PWA leaves one tab on the old build and updates
 * another: same IndexedDB, same BroadcastChannel, same Web Locks.
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, realpathSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { extname, join, normalize, resolve } from 'node:path';

export const ROOT = resolve(import.meta.dirname, '../../..');

export interface PreviousRelease {
  readonly commit: string;
  readonly tag: string;
  readonly schema: number;
}

export function previousRelease(): PreviousRelease {
  return JSON.parse(readFileSync(join(ROOT, 'tests/fixtures/previous-release.json'), 'utf8')) as PreviousRelease;
}

function run(cmd: string, args: readonly string[], cwd: string, what: string): string {
  const r = spawnSync(cmd, args, { cwd, encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
  if (r.status !== 0) throw new Error(`${what} failed (${cmd} ${args.join(' ')}): ${(r.stderr || r.stdout || String(r.error)).slice(-2000)}`);
  return r.stdout;
}

const sha = (file: string): string => createHash('sha256').update(readFileSync(file)).digest('hex');

/**
 * The test build of `commit` under `base` (e.g. '/old/'), built once per commit and base in
 * the temp dir. A clone without the commit (shallow, as CI checkouts often are) fails here
 * with what to run — never a silent skip.
 */
export function buildCommit(commit: string, base: string): string {
  const dir = join(tmpdir(), `tabdrive-build-${commit.slice(0, 12)}-${base.replace(/\W/g, '') || 'root'}`);
  const out = join(dir, 'dist');
  if (existsSync(join(dir, 'built'))) return out;
  if (spawnSync('git', ['cat-file', '-e', `${commit}^{commit}`], { cwd: ROOT }).status !== 0) {
    const shallow = run('git', ['rev-parse', '--is-shallow-repository'], ROOT, 'git').trim() === 'true';
    throw new Error(
      `The previous release ${commit} (tests/fixtures/previous-release.json) is not in this clone` +
        `${shallow ? ' (it is shallow: git fetch --unshallow)' : ` (git fetch origin ${commit})`}.`,
    );
  }
  rmSync(dir, { recursive: true, force: true });
  const src = join(dir, 'src');
  mkdirSync(src, { recursive: true });
  const tar = join(dir, 'source.tar');
  run('git', ['archive', '--format=tar', '-o', tar, commit], ROOT, `git archive ${commit}`);
  run('tar', ['-xf', tar, '-C', src], ROOT, 'tar');
  rmSync(tar);
  // Same lockfile: this tree's node_modules serve (no network, no minutes of npm ci).
  if (sha(join(src, 'package-lock.json')) === sha(join(ROOT, 'package-lock.json'))) symlinkSync(realpathSync(join(ROOT, 'node_modules')), join(src, 'node_modules'), 'dir');
  else run('npm', ['ci', '--no-audit', '--no-fund'], src, `npm ci for ${commit}`);
  run('npx', ['vite', 'build', '--mode', 'test', '--base', base, '--outDir', out, '--emptyOutDir', '--logLevel', 'warn'], src, `building ${commit}`);
  writeFileSync(join(dir, 'built'), new Date().toISOString());
  return out;
}

/** This tree's test build under `base`, into a fresh temp dir (this run's code). */
export function buildHere(base: string): string {
  const out = join(tmpdir(), `tabdrive-build-here-${process.pid}-${base.replace(/\W/g, '')}`);
  run('npx', ['vite', 'build', '--mode', 'test', '--base', base, '--outDir', out, '--emptyOutDir', '--logLevel', 'warn'], ROOT, 'building this tree');
  return out;
}

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript',
  '.mjs': 'text/javascript',
  '.css': 'text/css',
  '.wasm': 'application/wasm',
  '.json': 'application/json',
  '.webmanifest': 'application/manifest+json',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.map': 'application/json',
};

/** Serves each build under its base path on one origin; an unknown path in a base is its index.html. */
export async function serveBuilds(builds: Readonly<Record<string, string>>): Promise<{ url: string; close: () => Promise<void> }> {
  const server: Server = createServer((req, res) => {
    const path = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname);
    const base = Object.keys(builds).find((b) => path.startsWith(b));
    if (!base) {
      res.writeHead(404).end();
      return;
    }
    const dir = builds[base]!;
    let file = normalize(join(dir, path.slice(base.length)));
    if (!file.startsWith(dir) || !existsSync(file) || statSync(file).isDirectory()) file = join(dir, 'index.html');
    res.writeHead(200, { 'content-type': TYPES[extname(file)] ?? 'application/octet-stream', 'cache-control': 'no-cache' });
    res.end(readFileSync(file));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}`, close: () => new Promise((r) => server.close(() => r())) };
}
