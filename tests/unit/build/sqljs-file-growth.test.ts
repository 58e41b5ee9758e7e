import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import { applyPatch } from '../../../build/patch-dependency.ts';
import { SQLJS_FILE_GROWTH } from '../../../build/sqljs-file-growth.ts';

const source = readFileSync(createRequire(import.meta.url).resolve('sql.js/dist/sql-wasm-browser.js'), 'utf8');

describe('sql.js MEMFS file growth (build patch)', () => {
  it('finds the installed sql.js growth factor exactly once and makes it doubling', () => {
    const patched = applyPatch(SQLJS_FILE_GROWTH, source);
    expect(patched).not.toContain('?2:1.125)>>>0');
    expect(patched.length).toBe(source.length - 4);
    expect(patched).toContain('?2:2)>>>0');
  });

  it('fails loudly when the expression is missing (a sql.js upgrade changed it)', () => {
    expect(() => applyPatch(SQLJS_FILE_GROWTH, 'var x = 1;')).toThrow(/found it 0 times/);
  });
});
