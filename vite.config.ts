import { defineConfig } from 'vite';
import { svelte } from '@sveltejs/vite-plugin-svelte';
import { VitePWA } from 'vite-plugin-pwa';
import { contentSecurityPolicy } from './build/csp.ts';
import { dependencyPatch } from './build/patch-dependency.ts';
import { SQLJS_FILE_GROWTH } from './build/sqljs-file-growth.ts';
import { YWEBRTC_CONNECT_STATE } from './build/ywebrtc-connect-state.ts';

/**
 * Two builds. `vite build` (mode production, `dist/`, what `npm start` serves) is the app
 * alone: no bench pages, and the test hooks (`import.meta.env.MODE === 'test'` branches:
 * `tabdrive.injectInbound`/`dropInboundFor`, the worker's `benchNaiveWrite`) are compiled
 * out. `vite build --mode test` (`dist-test/`, served by `vite preview --mode test`) adds
 * them and the bench and transport harness pages: `npm test`'s browser suites and
 * `npm run bench` use it. scripts/check-production.mjs checks `dist/` has none of it.
 */
export default defineConfig(({ mode }) => ({
  plugins: [
    svelte(),
    contentSecurityPolicy(),
    dependencyPatch(SQLJS_FILE_GROWTH),
    dependencyPatch(YWEBRTC_CONNECT_STATE),
    // Installable, and opens offline: the service worker precaches the app shell, the
    // storage worker and sql.js' wasm (not matched by workbox's default patterns). The bench
    // and transport harness pages are not part of the app and stay out of the cache.
    VitePWA({
      registerType: 'prompt',
      injectRegister: null,
      includeAssets: ['favicon.svg'],
      manifest: {
        name: 'tabdrive',
        short_name: 'tabdrive',
        description: 'A local-first file library where every browser tab is a device',
        theme_color: '#3b5bdb',
        background_color: '#f7f8fb',
        display: 'standalone',
        start_url: '/',
        icons: [
          { src: 'icon-192.png', sizes: '192x192', type: 'image/png' },
          { src: 'icon-512.png', sizes: '512x512', type: 'image/png' },
          { src: 'icon-maskable-512.png', sizes: '512x512', type: 'image/png', purpose: 'maskable' },
          { src: 'favicon.svg', sizes: 'any', type: 'image/svg+xml' },
        ],
      },
      workbox: {
        globPatterns: ['**/*.{js,mjs,css,html,wasm}'], // icons come from the manifest and includeAssets; .mjs: pdf.js' worker
        globIgnores: ['bench/**', 'assets/bench-*', 'assets/transport-*', '**/*.map'],
        maximumFileSizeToCacheInBytes: 5 * 1024 * 1024,
        navigateFallback: 'index.html',
        navigateFallbackDenylist: [/^\/bench\//],
        cleanupOutdatedCaches: true,
      },
    }),
  ],
  // the storage worker (where sql.js runs) is bundled with its own plugin list
  worker: { format: 'es', plugins: () => [dependencyPatch(SQLJS_FILE_GROWTH)] },
  build: {
    target: 'es2022',
    sourcemap: true,
    outDir: mode === 'test' ? 'dist-test' : 'dist',
    rollupOptions: {
      input: (mode === 'test' ? { app: 'index.html', bench: 'bench/index.html', transport: 'bench/transport.html' } : { app: 'index.html' }) as Record<string, string>,
    },
  },
  server: { host: '127.0.0.1', port: 5173 },
  preview: { host: '127.0.0.1', port: 4173, strictPort: true },
}));
