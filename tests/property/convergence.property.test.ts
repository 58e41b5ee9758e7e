// The convergence simulator (DESIGN §9). Each seed is a whole hostile run (tests/support/sim).
// CI runs a bounded number of seeds; `npm run test:sim -- --runs N` (or --seed S) runs more.
// A failing seed prints its one-line reproduction; add it to REGRESSIONS below.
import initSqlJs, { type SqlJsStatic } from 'sql.js';
import { beforeAll, describe, expect, it } from 'vitest';
import { runSeed, shrinkSeed } from '../support/sim/run.ts';

let SQL: SqlJsStatic;
beforeAll(async () => {
  SQL = await initSqlJs();
});

/** Seeds that once failed, kept forever (name: what they caught). */
const REGRESSIONS: Record<string, number> = {
  'compaction must not let an invalid entry supersede a valid one': 294,
  'a stamp that left the device is never issued again after a crash (clock lease)': 5031,
};

const runs = Number(process.env['SIM_RUNS'] ?? 40);
const start = Number(process.env['SIM_START'] ?? 1);
const only = process.env['SIM_SEED'] ? Number(process.env['SIM_SEED']) : null;
const seeds = only !== null ? [only] : Array.from({ length: runs }, (_, i) => start + i);

describe('convergence simulator', () => {
  for (const [name, seed] of Object.entries(REGRESSIONS)) {
    it(`regression: ${name} (seed ${seed})`, async () => {
      expect((await runSeed(SQL, seed)).failures).toEqual([]);
    });
  }

  it(`${seeds.length} seeded runs converge with every invariant held`, async () => {
    let longest = 0;
    for (const seed of seeds) {
      const t0 = Date.now();
      const r = await runSeed(SQL, seed);
      longest = Math.max(longest, Date.now() - t0);
      if (r.failures.length) {
        const small = await shrinkSeed(SQL, seed, r.steps);
        console.error(
          `seed ${seed} failed (${r.devices} devices, ${r.steps} steps, ${r.kills} kills); shortest failing prefix: ${small.steps} steps:\n  ` +
            `${small.failures.slice(0, 8).join('\n  ')}\nreproduce: npm run test:sim -- --seed ${seed}`,
        );
      }
      expect(r.failures, `seed ${seed}`).toEqual([]);
    }
    console.log(`simulator: ${seeds.length} seeds from ${seeds[0]}, longest run ${longest} ms`);
  });
});
