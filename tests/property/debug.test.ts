import initSqlJs from 'sql.js';
import { it } from 'vitest';
import { runSeed } from '../support/sim/run.ts';
it('debug', async () => {
  const SQL = await initSqlJs();
  (globalThis as any).__simDebug = true;
  const r = await runSeed(SQL, Number(process.env['SIM_SEED']));
  console.log(JSON.stringify(r.failures));
}, 120000);
