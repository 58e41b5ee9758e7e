#!/usr/bin/env node
// Runs the Playwright suite against the test build (build first: `npx vite build --mode test`).
// Extra arguments go to `playwright test` (e.g. a file name or --grep).
import { spawnSync } from 'node:child_process';
import { resolve } from 'node:path';
import { ensureChromium } from './lib/chromium.mjs';

const root = resolve(import.meta.dirname, '..');
const chromium = ensureChromium();
if (!chromium) process.exit(1);
const r = spawnSync('npx', ['playwright', 'test', ...process.argv.slice(2)], {
  cwd: root,
  stdio: 'inherit',
  env: { ...process.env, CHROMIUM_PATH: chromium },
});
process.exit(r.status ?? 1);
