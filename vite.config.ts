import { readFileSync } from 'node:fs';
import { defineConfig, type PreviewOptions } from 'vite';
import { svelte } from '@sveltejs/vite-plugin-svelte';
import { VitePWA } from 'vite-plugin-pwa';
import { contentSecurityPolicy } from './build/csp.ts';
import { dependencyPatch } from './build/patch-dependency.ts';
import { SQLJS_FILE_GROWTH } from './build/sqljs-file-growth.ts';
import { MAX_ICE_SERVERS, parseIceEntry, parseIceServers, RELAY_PORT, SIGNALING_PORT } from './src/transport/endpoints.ts';

/**
 * The ICE servers built into the app (`TABDRIVE_ICE`, see src/transport/endpoints.ts): a build
 * default rather than a file fetched at run time, so an installed app offline, the service
 * worker's cached page and any static host all have it, at the cost of a rebuild when it
 * changes (`npm start` does that). Bad entries are named here and left out of the page's list.
 */
function builtIce(): string {
  const text = process.env['TABDRIVE_ICE'] ?? '';
  for (const p of parseIceServers(text).problems) console.warn(`TABDRIVE_ICE: ${p}`);
  const good = text.split(',').map((e) => e.trim()).filter((e) => e && typeof parseIceEntry(e) !== 'string');
  return good.slice(0, MAX_ICE_SERVERS).join(',');
}

/**
 * `npm start -- --lan` (scripts/start.mjs): the preview server speaks HTTPS with the kept
 * certificate and forwards WebSockets on `/signaling` and `/relay` to the servers listening on
 * loopback, so one origin and one certificate serve all three (src/transport/endpoints.ts).
 */
function lanPreview(): Pick<PreviewOptions, 'https' | 'proxy'> {
  const cert = process.env['TABDRIVE_TLS_CERT'];
  const key = process.env['TABDRIVE_TLS_KEY'];
  if (!cert || !key) return {};
  // xfwd: the servers behind count connections per client address (X-Forwarded-For, trusted
  // from loopback only: SIGNALING_TRUST_PROXY / RELAY_TRUST_PROXY, set by scripts/start.mjs)
  const to = (port: string | undefined, fallback: number) => ({ target: `ws://127.0.0.1:${port ?? fallback}`, ws: true, xfwd: true, rewrite: () => '/' });
  return {
    https: { cert: readFileSync(cert), key: readFileSync(key) },
    proxy: {
      '/signaling': to(process.env['SIGNALING_PORT'], SIGNALING_PORT),
      '/relay': to(process.env['RELAY_PORT'], RELAY_PORT),
    },
  };
}

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
  define: { 'import.meta.env.TABDRIVE_ICE': JSON.stringify(builtIce()) },
  server: { host: '127.0.0.1', port: 5173 },
  preview: { host: '127.0.0.1', port: 4173, strictPort: true, ...lanPreview() },
}));
