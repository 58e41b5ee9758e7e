import { defineConfig } from '@playwright/test';

// Two separately launched Chromium processes talking WebRTC through our signaling server.
// Run inside the test network namespace (scripts/netns.sh) so no traffic touches a real
// interface: `scripts/netns.sh npx playwright test -c playwright.webrtc.config.ts`.
export const APP_PORT = 4191;
export const SIGNALING_PORT = 4192;
/** the test build to serve (`vite build --mode test`; WEBRTC_DIST lets a run use its own build) */
const DIST = process.env['WEBRTC_DIST'] ?? 'dist-test';

export default defineConfig({
  testDir: 'tests/webrtc',
  testMatch: '**/*.spec.ts',
  timeout: 240_000,
  expect: { timeout: 30_000 },
  workers: 1,
  retries: 0,
  reporter: [['list']],
  use: { baseURL: `http://127.0.0.1:${APP_PORT}` },
  webServer: [
    {
      command: `npx vite preview --mode test --host 127.0.0.1 --port ${APP_PORT} --strictPort --outDir ${DIST}`,
      url: `http://127.0.0.1:${APP_PORT}/`,
      reuseExistingServer: false,
      timeout: 60_000,
    },
    {
      command: `node server/signaling.mjs`,
      url: `http://127.0.0.1:${SIGNALING_PORT}/`,
      env: { SIGNALING_PORT: String(SIGNALING_PORT) },
      reuseExistingServer: false,
      timeout: 30_000,
    },
  ],
});
