/**
 * sql.js keeps the database file in Emscripten's MEMFS, which grows a file by 12.5% at a time
 * once it is over 1 MiB — every growth allocates a new array and copies the whole file. A
 * fresh device filling a 50 MB database copies it about 35 times (measured in Node on 102k
 * entries: ~1.9 s of a 6.1 s apply, plus the garbage collector). sql.js does not expose
 * MEMFS, so the browser build rewrites that one factor to 2 (doubling, as MEMFS already does
 * below 1 MiB). The file may then hold up to twice its size in capacity; images are exported
 * through sql.js' own pre-sized path and are not affected.
 *
 * If a sql.js upgrade changes the expression the build fails: see MEMFS.expandFileStorage in
 * node_modules/sql.js/dist/sql-wasm-browser-debug.js.
 */
import type { DependencyPatch } from './patch-dependency.ts';

export const SQLJS_FILE_GROWTH: DependencyPatch = {
  name: 'sqljs-file-growth',
  file: /[\\/]sql\.js[\\/]dist[\\/]sql-wasm-browser\.js$/,
  find: /\?2:1\.125\)>>>0/g,
  replace: '?2:2)>>>0',
};
