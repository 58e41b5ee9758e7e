// Fails if anything under src/core imports outside src/core or a banned package
// (DOM-free, IO-free core: DESIGN §2). tsconfig.core.json already bans DOM/Node globals.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative, resolve, dirname } from 'node:path';

const root = resolve(import.meta.dirname, '..');
const core = join(root, 'src/core');
const files = [];
const walk = (d) => {
  for (const f of readdirSync(d)) {
    const p = join(d, f);
    if (statSync(p).isDirectory()) walk(p);
    else if (/\.(ts|js|mjs)$/.test(f)) files.push(p);
  }
};
walk(core);
const bad = [];
const importRe = /(?:import|export)\s[^'"]*?from\s*['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]\s*\)|^\s*import\s*['"]([^'"]+)['"]/gm;
for (const file of files) {
  const src = readFileSync(file, 'utf8');
  for (const m of src.matchAll(importRe)) {
    const spec = m[1] ?? m[2] ?? m[3];
    if (!spec) continue;
    if (spec.startsWith('.')) {
      const target = resolve(dirname(file), spec);
      if (!target.startsWith(core)) bad.push(`${relative(root, file)}: imports ${spec} (outside src/core)`);
    } else {
      bad.push(`${relative(root, file)}: imports package "${spec}" (core imports no packages)`);
    }
  }
}
if (bad.length) {
  console.error('src/core must stay pure:\n  ' + bad.join('\n  '));
  process.exit(1);
}
console.log(`core purity: ${files.length} files, no outside imports`);
