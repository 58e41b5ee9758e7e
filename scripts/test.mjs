#!/usr/bin/env node
// `npm test` — everything CI runs, in CI order: lint, type checks (svelte-check, pure-core
// tsc, core import ban), Node suites (unit, integration, property), the production build
// (checked: no test hooks, CSP on every page), the test build (`--mode test`: hooks and bench
// pages, dist-test/), and the end-to-end suites in Debian's Chromium against the test build.
// Prints one closing line "N passed, N failed".
//
//   npm test                  everything
//   npm test -- --skip-e2e    no browser (fast loop)
//   npm test -- --only e2e    one stage: lint | check | node | build | e2e
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, mkdirSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { ensureChromium } from './lib/chromium.mjs';

const root = resolve(import.meta.dirname, '..');
const args = process.argv.slice(2);
const only = args.includes('--only') ? args[args.indexOf('--only') + 1] : null;
const skipE2e = args.includes('--skip-e2e');
const out = join(root, 'test-results');
mkdirSync(out, { recursive: true });

const totals = { passed: 0, failed: 0, skipped: 0 };
const failures = [];

function run(stage, cmd, cmdArgs, env = {}) {
  console.log(`\n=== ${stage}: ${cmd} ${cmdArgs.join(' ')}`);
  const started = Date.now();
  const r = spawnSync(cmd, cmdArgs, { cwd: root, stdio: 'inherit', env: { ...process.env, ...env } });
  const secs = ((Date.now() - started) / 1000).toFixed(1);
  const code = r.status ?? 1;
  console.log(`=== ${stage}: ${code === 0 ? 'ok' : `FAILED (exit ${code})`} in ${secs}s`);
  if (code !== 0) failures.push(stage);
  return code === 0;
}

const want = (stage) => (only ? only === stage : !(stage === 'e2e' && skipE2e));

if (want('lint')) run('lint', 'npx', ['eslint', '.', '--max-warnings', '0']);
if (want('check')) {
  run('svelte-check', 'npx', ['svelte-check', '--tsconfig', './tsconfig.json', '--fail-on-warnings']);
  run('core tsc', 'npx', ['tsc', '-p', 'tsconfig.core.json']);
  run('core imports', 'node', ['scripts/check-core-imports.mjs']);
}
if (want('node')) {
  const json = join(out, 'vitest.json');
  rmSync(json, { force: true });
  run('node suites', 'npx', ['vitest', 'run', '--reporter=default', '--reporter=json', `--outputFile=${json}`]);
  if (existsSync(json)) {
    const r = JSON.parse(readFileSync(json, 'utf8'));
    totals.passed += r.numPassedTests ?? 0;
    totals.failed += r.numFailedTests ?? 0;
    totals.skipped += (r.numPendingTests ?? 0) + (r.numTodoTests ?? 0);
  } else totals.failed += 1;
}
if (want('build')) {
  if (run('build', 'npx', ['vite', 'build', '--logLevel', 'warn'])) run('production check', 'node', ['scripts/check-production.mjs']);
}
if (want('build') || want('e2e')) run('test build', 'npx', ['vite', 'build', '--mode', 'test', '--logLevel', 'warn']);
if (want('e2e')) {
  const chromium = ensureChromium();
  if (!chromium) {
    failures.push('e2e (no chromium)');
    totals.failed += 1;
  } else {
    const json = join(out, 'e2e.json');
    rmSync(json, { force: true });
    run('e2e', 'node', ['scripts/e2e.mjs', '--reporter=list,json'], {
      PLAYWRIGHT_JSON_OUTPUT_NAME: json,
      CHROMIUM_PATH: chromium,
    });
    countPlaywright(json);
    // Two-browser WebRTC suite: inside a private network namespace when we are root (CI),
    // so no WebRTC traffic ever touches a real interface; directly on a developer laptop.
    const wjson = join(out, 'webrtc.json');
    rmSync(wjson, { force: true });
    const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
    const cmd = isRoot ? ['scripts/netns.sh', 'npx', 'playwright', 'test', '-c', 'playwright.webrtc.config.ts', '--reporter=list,json'] : ['npx', 'playwright', 'test', '-c', 'playwright.webrtc.config.ts', '--reporter=list,json'];
    run('e2e webrtc', cmd[0], cmd.slice(1), { PLAYWRIGHT_JSON_OUTPUT_NAME: wjson, CHROMIUM_PATH: chromium });
    countPlaywright(wjson);
  }
}

function countPlaywright(file) {
  if (existsSync(file)) {
    const s = JSON.parse(readFileSync(file, 'utf8')).stats ?? {};
    totals.passed += (s.expected ?? 0) + (s.flaky ?? 0);
    totals.failed += s.unexpected ?? 0;
    totals.skipped += s.skipped ?? 0;
  } else totals.failed += 1;
}

console.log('');
if (failures.length) console.log(`failed stages: ${failures.join(', ')}`);
console.log(`${totals.passed} passed, ${totals.failed} failed, ${totals.skipped} skipped`);
process.exit(failures.length || totals.failed ? 1 : 0);
