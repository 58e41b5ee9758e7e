#!/usr/bin/env node
// Runs the relay (./relay.mjs) as a process. Start it as `launch.mjs` says (`relayCommand()`:
// the Node flags its memory figures were measured with).
//
//   RELAY_HOST (127.0.0.1)  RELAY_PORT (4445; 0 = any free port, printed)
//   DATABASE_URL   a PostgreSQL server (the system of record for several relay processes);
//                  without it, PGlite keeps the data in RELAY_DATA_DIR (.data/relay)
//   REDIS_URL      Redis for fan-out between relay processes and the compaction lease;
//                  without it, both stay in this process
//   RELAY_ORIGINS  comma-separated extra origins whose pages may connect (loopback origins
//                  always may; clients that send no Origin — not browsers — may too)
//   RELAY_TRUST_PROXY=1  a connection from loopback counts as its last X-Forwarded-For address
//                  for the per-address cap (behind the app's HTTPS proxy, `npm start -- --lan`)
//   RELAY_LEASE_MS (60000)  how long a compaction lease lives without a chunk or commit
//   RELAY_ORPHAN_AFTER_MS, RELAY_ORPHAN_SWEEP_MS  collection of abandoned snapshot uploads
//   RELAY_PGLITE_SHARED_BUFFERS (4MB)  PGlite's shared_buffers
//   RELAY_WASM_TIER_UP=1  let V8 optimise PGlite's WebAssembly (more memory; see below)
// Prints `relay listening on ws://host:port` once it accepts connections.
import { mkdirSync } from 'node:fs';
import { resolve } from 'node:path';
import v8 from 'node:v8';
import { parseOrigins } from '../signaling.mjs';
import { startRelay } from './relay.mjs';

const root = resolve(import.meta.dirname, '../..');
const databaseUrl = process.env.DATABASE_URL || undefined;
const dataDir = databaseUrl ? undefined : resolve(root, process.env.RELAY_DATA_DIR ?? '.data/relay');
if (dataDir) mkdirSync(dataDir, { recursive: true });
// PGlite is 9 MB of WebAssembly; V8 compiles it with its baseline compiler (Liftoff), then
// recompiles the functions it finds hot with TurboFan in the background, and keeps both.
// The optimised copies were ~30–45 MB of this process's RSS (measured on opening a store:
// 145–158 MB → 113 MB with Liftoff only), more than the relay's whole share of ten catch-ups;
// the relay spends little of its time in the database (0.5 s of CPU a 100k catch-up), so it
// keeps the baseline code. Set before PGlite's module is compiled; this process only.
if (dataDir && process.env.RELAY_WASM_TIER_UP !== '1') v8.setFlagsFromString('--liftoff-only');
/** @type {Partial<typeof import('./relay.mjs').LIMITS>} */
const limits = {};
if (process.env.RELAY_LEASE_MS) limits.leaseMs = Number(process.env.RELAY_LEASE_MS);
if (process.env.RELAY_ORPHAN_AFTER_MS) limits.orphanAfterMs = Number(process.env.RELAY_ORPHAN_AFTER_MS);
if (process.env.RELAY_ORPHAN_SWEEP_MS) limits.orphanSweepMs = Number(process.env.RELAY_ORPHAN_SWEEP_MS);

const relay = await startRelay({
  host: process.env.RELAY_HOST ?? '127.0.0.1',
  port: Number(process.env.RELAY_PORT ?? 4445),
  databaseUrl,
  dataDir,
  redisUrl: process.env.REDIS_URL || undefined,
  origins: parseOrigins(process.env.RELAY_ORIGINS),
  trustProxy: ['1', 'true', 'yes'].includes((process.env.RELAY_TRUST_PROXY ?? '').toLowerCase()),
  limits,
  log: (m) => console.log(`relay: ${m}`),
});
const stop = () => {
  relay.close().then(
    () => process.exit(0),
    () => process.exit(1),
  );
};
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
