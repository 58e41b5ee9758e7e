/// <reference lib="webworker" />
// Composition root of the storage worker: real IndexedDB, sql.js from its hashed wasm asset,
// one engine, a message loop. Every answer is data: { id, ok, value } or { id, ok:false, error }.
import initSqlJs from 'sql.js';
import wasmUrl from 'sql.js/dist/sql-wasm-browser.wasm?url';
import { dispatch } from './dispatch.ts';
import { createStorageEngine, type StorageEngine } from './engine.ts';
import type { ResponseMessage, WorkerEvent } from './rpc.ts';

declare const self: DedicatedWorkerGlobalScope;

const engineP: Promise<StorageEngine> = initSqlJs({ locateFile: () => wasmUrl }).then((sql) =>
  createStorageEngine({
    sql,
    idb: typeof indexedDB === 'undefined' ? null : indexedDB,
    now: () => Date.now(),
    estimate: () => (self.navigator.storage as StorageManager | undefined)?.estimate() ?? Promise.resolve({}),
    onHealth: (health) => self.postMessage({ event: 'health', health } satisfies WorkerEvent),
  }),
);

self.addEventListener('message', (ev: MessageEvent<unknown>) => {
  const msg = ev.data as { id?: unknown; method?: unknown; params?: unknown } | null;
  const id = typeof msg?.id === 'number' ? msg.id : -1;
  void engineP
    .then((engine) => dispatch(engine, msg?.method, msg?.params))
    .catch((e: unknown) => ({ ok: false as const, error: { type: 'Unknown' as const, message: String(e) } }))
    .then((r) => self.postMessage((r.ok ? { id, ok: true, value: r.value } : { id, ok: false, error: r.error }) satisfies ResponseMessage, r.ok ? pageBuffers(r.value) : []));
});

/** Served pages go back transferred, not copied (the main thread only forwards them). */
function pageBuffers(value: unknown): Transferable[] {
  const pages = typeof value === 'object' && value !== null ? (value as { pages?: unknown }).pages : undefined;
  if (!Array.isArray(pages)) return [];
  return pages.flatMap((p: unknown) => {
    const b = typeof p === 'object' && p !== null ? (p as { bytes?: unknown }).bytes : undefined;
    return b instanceof Uint8Array && b.byteOffset === 0 && b.byteLength === b.buffer.byteLength && b.buffer instanceof ArrayBuffer ? [b.buffer] : [];
  });
}
