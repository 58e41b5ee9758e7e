/**
 * The Content-Security-Policy of every page the build emits (a `<meta http-equiv>` at the top
 * of <head>, so it governs every script the page loads; `vite preview` and any static host
 * serve it as is). Build only: the dev server injects its own client scripts.
 *
 *  - scripts: this origin only, no inline or eval'd script; `'wasm-unsafe-eval'` lets sql.js
 *    compile its WebAssembly (the storage worker, and the bench page on the main thread);
 *  - workers and the service worker: this origin (Vite emits the storage worker as a file);
 *  - connect: this origin, plus `ws:`/`wss:` to ANY host — the signaling servers are the
 *    user's choice (`?signaling=`, asked for when not this page's host); WebRTC data channels
 *    are not governed by CSP;
 *  - styles: this origin only, no inline `<style>` or `style="…"` markup. Svelte sets
 *    dynamic styles (`style:` directives: list positions, tag swatches) through the CSSOM
 *    (`el.style.cssText`), which CSP does not govern — checked: the e2e test sees no
 *    violation; a `url()` to another host stays blocked by img-src/font-src;
 *  - images: this origin, `data:` and `blob:` (thumbnails and previews made in the page);
 *  - nothing may frame-submit, embed objects or rebase URLs.
 *
 * `frame-ancestors` cannot be set from a meta tag (browsers ignore it there): a host that
 * must refuse framing sends it as a header.
 */
import type { Plugin } from 'vite';

export const CONTENT_SECURITY_POLICY = [
  "default-src 'self'",
  "script-src 'self' 'wasm-unsafe-eval'",
  "worker-src 'self'",
  "connect-src 'self' ws: wss:",
  "style-src 'self'",
  "img-src 'self' data: blob:",
  "media-src 'self' blob:",
  "font-src 'self'",
  "manifest-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'none'",
].join('; ');

export function contentSecurityPolicy(policy = CONTENT_SECURITY_POLICY): Plugin {
  return {
    name: 'tabdrive:csp',
    apply: 'build',
    transformIndexHtml: {
      order: 'post',
      handler: () => [{ tag: 'meta', attrs: { 'http-equiv': 'Content-Security-Policy', content: policy }, injectTo: 'head-prepend' }],
    },
  };
}
