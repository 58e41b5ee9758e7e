#!/usr/bin/env node
// npm run test:sim -- [--runs N] [--start S] [--seed S]: more convergence-simulator seeds.
import { spawnSync } from 'node:child_process';
import { resolve } from 'node:path';

const args = process.argv.slice(2);
const get = (flag) => (args.includes(flag) ? args[args.indexOf(flag) + 1] : undefined);
const env = { ...process.env, SIM_RUNS: get('--runs') ?? '200', SIM_START: get('--start') ?? '1' };
if (get('--seed')) env.SIM_SEED = get('--seed');
const r = spawnSync('npx', ['vitest', 'run', '--project', 'property', '--testTimeout', '0'], {
  cwd: resolve(import.meta.dirname, '..'),
  stdio: 'inherit',
  env,
});
process.exit(r.status ?? 1);
