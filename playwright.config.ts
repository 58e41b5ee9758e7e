import { defineConfig } from '@playwright/test';

// End-to-end tests run against the test build (`vite build --mode test` → dist-test/: the
// production app plus test hooks and bench pages; `vite preview --mode test`) in Debian's Chromium.
// Browsers are launched by tests/e2e/support/browser.ts (persistent contexts: the kill test
// relaunches the same profile), so no `projects`/`use.browserName` here.
const port = Number(process.env['TABDRIVE_E2E_PORT'] ?? 4173);

export default defineConfig({
  testDir: 'tests/e2e',
  testMatch: '**/*.spec.ts',
  timeout: 120_000,
  expect: { timeout: 15_000 },
  fullyParallel: false,
  workers: 1,
  retries: 0,
  reporter: [['list']],
  use: { baseURL: `http://127.0.0.1:${port}` },
  webServer: {
    command: `npx vite preview --mode test --host 127.0.0.1 --port ${port} --strictPort`,
    url: `http://127.0.0.1:${port}/`,
    reuseExistingServer: !process.env['CI'],
    timeout: 60_000,
  },
});
