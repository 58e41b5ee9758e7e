/**
 * Build-time patches of dependency sources: one exact text replacement each, applied by a
 * Vite transform. A patch whose text is not found exactly once fails the build (and its
 * unit test) — a dependency upgrade must be looked at, never silently run unpatched.
 */
import type { Plugin } from 'vite';

export interface DependencyPatch {
  readonly name: string;
  /** the module it patches (matched against the resolved file path) */
  readonly file: RegExp;
  /** must match exactly once (give it the `g` flag) */
  readonly find: RegExp;
  readonly replace: string;
}

export function applyPatch(patch: DependencyPatch, code: string): string {
  const matches = code.match(patch.find)?.length ?? 0;
  if (matches !== 1) throw new Error(`${patch.name}: expected the patched text once, found it ${matches} times (did the dependency change?)`);
  return code.replace(patch.find, patch.replace);
}

export function dependencyPatch(patch: DependencyPatch): Plugin {
  return {
    name: `tabdrive:${patch.name}`,
    enforce: 'pre',
    transform(code, id) {
      return patch.file.test(id.split('?')[0]!) ? { code: applyPatch(patch, code), map: null } : null;
    },
  };
}
