// The set-up the profiling scripts share: the test build served by `vite preview` on
// loopback (PROFILE_DIST: another build folder) and headless Chromium in a fresh profile
// with a debugging port (for scripts/lib/cdp-profiler.mjs). Stopped when the process exits.
import { spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { chromium } from 'playwright-core';
import { findChromium } from './chromium.mjs';

const root = resolve(import.meta.dirname, '..', '..');
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

export async function openProfiledApp(port, prefix) {
  const base = `http://127.0.0.1:${port}`;
  const dist = process.env.PROFILE_DIST ? ['--outDir', process.env.PROFILE_DIST] : [];
  const server = spawn('npx', ['vite', 'preview', '--mode', 'test', ...dist, '--host', '127.0.0.1', '--port', String(port), '--strictPort'], { cwd: root, stdio: 'ignore', detached: true });
  process.on('exit', () => { try { process.kill(-server.pid, 'SIGTERM'); } catch { /* gone */ } });
  for (let i = 0; i < 150 && !(await fetch(base).then((r) => r.ok, () => false)); i++) await sleep(200);
  const dir = mkdtempSync(join(tmpdir(), prefix));
  const ctx = await chromium.launchPersistentContext(dir, {
    executablePath: findChromium(), headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--remote-debugging-port=0'],
  });
  return { base, dir, ctx };
}
