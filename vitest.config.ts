import { defineConfig } from 'vitest/config';
import { svelte } from '@sveltejs/vite-plugin-svelte';

// Suites (DESIGN §9): unit = pure core with fake time; integration = sql.js + fake-indexeddb
// in Node; relay = server/relay on PGlite and on real PostgreSQL + Redis; property = the convergence simulator (seeded; FC_NUM_RUNS / --runs for more).
export default defineConfig({
  plugins: [svelte()],
  test: {
    projects: [
      { extends: true, test: { name: 'unit', include: ['tests/unit/**/*.test.ts'], environment: 'node' } },
      {
        extends: true,
        test: {
          name: 'integration',
          include: ['tests/integration/**/*.test.ts'],
          environment: 'node',
          setupFiles: ['tests/support/setup-idb.ts'],
          // a limit for hangs, not a speed check (speed is `npm run bench`): real sql.js
          // scenarios of a few seconds pass 5 s on a shared 2-core machine at load 9
          testTimeout: 30_000,
        },
      },
      {
        // the relay (server/relay) against PGlite in process, and against real PostgreSQL +
        // Redis + relay processes that the suites start themselves (tests/relay/support)
        extends: true,
        test: {
          name: 'relay',
          include: ['tests/relay/**/*.test.ts'],
          environment: 'node',
          testTimeout: 60_000,
          hookTimeout: 120_000,
        },
      },
      {
        extends: true,
        test: {
          name: 'property',
          include: ['tests/property/**/*.test.ts'],
          environment: 'node',
          setupFiles: ['tests/support/setup-idb.ts'],
          testTimeout: 240_000,
        },
      },
    ],
  },
});
