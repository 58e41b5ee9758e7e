#!/usr/bin/env node
// Checks the production build (`vite build` → dist/, what `npm start` serves): no test hooks
// in its JavaScript, no bench or harness pages, and the Content-Security-Policy on every page.
// The test build (`vite build --mode test` → dist-test/) is where hooks and benches live.
//
//   node scripts/check-production.mjs [dir]      (default dist)
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';

const root = resolve(import.meta.dirname, '..');
const dir = resolve(root, process.argv[2] ?? 'dist');
/** names that exist only for tests and benches (main.ts, webrtc.ts, the storage worker) */
const HOOKS = ['injectInbound', 'dropInboundFor', 'benchNaiveWrite', 'divergeLocally', 'transportHarness'];
const problems = [];

if (!existsSync(join(dir, 'index.html'))) {
  console.error(`check-production: ${relative(root, dir)}/index.html missing (build first: npx vite build)`);
  process.exit(1);
}
const files = [];
const walk = (d) => {
  for (const name of readdirSync(d)) {
    const p = join(d, name);
    if (statSync(p).isDirectory()) walk(p);
    else files.push(p);
  }
};
walk(dir);

for (const f of files) {
  const rel = relative(dir, f);
  if (/^bench\//.test(rel) || /(^|\/)(bench|transport)-[^/]*\.js$/.test(rel)) problems.push(`${rel}: a bench or harness file in the production build`);
  if (f.endsWith('.js')) {
    const text = readFileSync(f, 'utf8');
    for (const h of HOOKS) if (text.includes(h)) problems.push(`${rel}: contains the test hook "${h}"`);
  }
  if (f.endsWith('.html')) {
    const html = readFileSync(f, 'utf8');
    const m = /<meta http-equiv="Content-Security-Policy" content="([^"]*)"/.exec(html);
    if (!m) problems.push(`${rel}: no Content-Security-Policy meta tag`);
    else {
      const csp = m[1].replaceAll('&#39;', "'").replaceAll('&quot;', '"');
      const script = /script-src ([^;]*)/.exec(csp)?.[1] ?? '';
      if (!script.includes("'wasm-unsafe-eval'")) problems.push(`${rel}: script-src lacks 'wasm-unsafe-eval' (sql.js)`);
      if (/'unsafe-inline'|'unsafe-eval'/.test(script)) problems.push(`${rel}: script-src allows inline or eval'd script`);
      if (html.indexOf('Content-Security-Policy') > html.indexOf('<script')) problems.push(`${rel}: the policy comes after a script`);
    }
    if (/<script(?![^>]*\bsrc=)[^>]*>/.test(html)) problems.push(`${rel}: an inline script`);
  }
}

if (problems.length) {
  for (const p of problems) console.error(`check-production: ${p}`);
  process.exit(1);
}
console.log(`check-production: ${files.length} files in ${relative(root, dir)}/ — no test hooks, no bench pages, CSP on every page`);
