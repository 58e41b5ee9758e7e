/**
 * Bench page (driven by scripts/bench.mjs): runs the REAL storage worker of the app on a
 * named IndexedDB database and times, in the same page and run:
 *  - acknowledged writes (commit → durable), one owned entry each, vs the naive baseline
 *    (insert + db.export() + put whole image), at a given library size;
 *  - reload → first query answered (page navigation start → rows back), vs a raw sql.js
 *    cold load of the same image (initSqlJs + IDB get + open + count).
 */
import initSqlJs from 'sql.js';
import { WebrtcProvider } from 'y-webrtc';
import * as Y from 'yjs';
import wasmUrl from 'sql.js/dist/sql-wasm-browser.wasm?url';
import type { Change } from '../src/core/change.ts';
import { createHlcClock } from '../src/core/hlc.ts';
import { generateSampleLocation } from '../src/core/sample.ts';
import { createStorageClient, type StorageClient } from '../src/storage/client.ts';
import { roomName, roomPassword } from '../src/transport/room.ts';
import { createTransport, type Transport } from '../src/transport/webrtc.ts';
import type { Result } from '../src/core/result.ts';

const DEVICE = '0b0b0b0b-0b0b-4b0b-8b0b-0b0b0b0b0b0b';

const unwrap = <T, E extends { message: string }>(r: Result<T, E>): T => {
  if (!r.ok) throw new Error(r.error.message);
  return r.value;
};

async function openStorage(dbName: string): Promise<{ storage: StorageClient; hlc: string | null }> {
  const worker = new Worker(new URL('../src/storage/db.worker.ts', import.meta.url), { type: 'module' });
  const storage = createStorageClient(worker);
  const boot = unwrap(await storage.call('open', { dbName, deviceUuid: DEVICE }));
  return { storage, hlc: boot.hlc };
}

function entryChange(clock: ReturnType<typeof createHlcClock>, location: string, i: number): Change {
  return {
    kind: 'owned', model: 'entry', owner: DEVICE, uuid: crypto.randomUUID(), hlc: clock.next(),
    data: { location_uuid: location, parent_uuid: null, name: `bench-${i}.txt`, kind: 'file', extension: 'txt', size: 1000 + i,
      created_at: Date.now(), modified_at: Date.now(), content_uuid: null },
  };
}

const bench = {
  ready: false,
  coldResult: null as null | { ms: number; rows: number; boot?: unknown },

  async fill(dbName: string, n: number): Promise<{ ms: number; imageBytes: number }> {
    const { storage, hlc } = await openStorage(dbName);
    const clock = createHlcClock({ device: DEVICE, now: () => Date.now(), last: hlc });
    const location = crypto.randomUUID();
    const t0 = performance.now();
    const sample = generateSampleLocation({ seed: 'bench', count: n, owner: DEVICE, locationUuid: location, volumeUuid: null, name: 'Bench', now: Date.now() });
    const changes: Change[] = sample.entries.map((e) => ({ kind: 'owned', model: 'entry', owner: DEVICE, uuid: e.uuid, hlc: clock.next(), data: e.data }));
    changes.push({ kind: 'owned', model: 'location', owner: DEVICE, uuid: location, hlc: clock.next(), data: sample.location });
    for (let i = 0; i < changes.length; i += 5000) unwrap(await storage.call('commit', { changes: changes.slice(i, i + 5000), hlc: clock.current() }));
    unwrap(await storage.call('flush', {}));
    const h = unwrap(await storage.call('snapshot', {}));
    const ms = performance.now() - t0;
    storage.terminate();
    return { ms, imageBytes: h.lastImageBytes ?? 0 };
  },

  async writes(dbName: string, k: number): Promise<number[]> {
    const { storage, hlc } = await openStorage(dbName);
    const clock = createHlcClock({ device: DEVICE, now: () => Date.now(), last: hlc });
    const location = (unwrap(await storage.call('query', { sql: 'SELECT uuid FROM locations LIMIT 1' }))[0]?.['uuid'] as string) ?? crypto.randomUUID();
    const out: number[] = [];
    for (let i = 0; i < k; i++) {
      const c = entryChange(clock, location, i);
      const t0 = performance.now();
      const r = unwrap(await storage.call('commit', { changes: [c], hlc: clock.current() }));
      out.push(performance.now() - t0);
      if (!r.durable) throw new Error('write was not durable');
      await new Promise((res) => setTimeout(res, 5)); // one user write at a time, not a burst
    }
    storage.terminate();
    return out;
  },

  async naive(dbName: string, k: number): Promise<number[]> {
    const { storage, hlc } = await openStorage(dbName);
    const clock = createHlcClock({ device: DEVICE, now: () => Date.now(), last: hlc });
    const out: number[] = [];
    for (let i = 0; i < k; i++) {
      const c = entryChange(clock, crypto.randomUUID(), i);
      const t0 = performance.now();
      unwrap(await storage.call('benchNaiveWrite', { changes: [c] }));
      out.push(performance.now() - t0);
    }
    storage.terminate();
    return out;
  },
};

declare global {
  interface Window {
    bench: typeof bench;
  }
}
window.bench = bench;

async function cold(dbName: string): Promise<void> {
  const { storage } = await openStorage(dbName);
  const rows = unwrap(await storage.call('query', { sql: "SELECT uuid, name, size FROM entries WHERE kind = 'file' ORDER BY name LIMIT 50" }));
  bench.coldResult = { ms: performance.now(), rows: rows.length };
}

async function rawCold(dbName: string): Promise<void> {
  // The baseline: what plain sql.js needs to answer a first query from a saved image.
  const SQL = await initSqlJs({ locateFile: () => wasmUrl });
  const db = await new Promise<IDBDatabase>((res, rej) => {
    const r = indexedDB.open(dbName, 1);
    r.onsuccess = () => res(r.result);
    r.onerror = () => rej(r.error ?? new Error('IndexedDB open failed'));
  });
  const read = <T>(store: string, key: string): Promise<T> =>
    new Promise((res, rej) => {
      const r = db.transaction(store).objectStore(store).get(key);
      r.onsuccess = () => res(r.result as T);
      r.onerror = () => rej(r.error ?? new Error('IndexedDB read failed'));
    });
  const pointer = await read<{ current: string }>('meta', 'pointer');
  const image = await read<{ bytes?: Uint8Array; chunks?: string[]; bank?: number; size?: number; chunkBytes?: number }>('images', pointer.current);
  // a chunked image (decision 0016): its chunks in order, into one buffer, as the engine does
  let bytes = image.bytes;
  if (image.chunks) {
    bytes = new Uint8Array(image.size!);
    for (let i = 0; i < image.chunks.length; i++) bytes.set(await read<Uint8Array>('images', `chunk:${image.bank}-${image.chunks[i]}`), i * image.chunkBytes!);
  }
  const sdb = new SQL.Database(bytes);
  const rows = sdb.exec("SELECT uuid, name, size FROM entries WHERE kind = 'file' ORDER BY name LIMIT 50")[0]?.values.length ?? 0;
  bench.coldResult = { ms: performance.now(), rows };
}

const params = new URLSearchParams(location.search);
const job = params.get('cold') ? cold(params.get('cold')!) : params.get('rawcold') ? rawCold(params.get('rawcold')!) : Promise.resolve();
job.then(
  () => (bench.ready = true),
  (e: unknown) => {
    document.body.textContent = `bench failed: ${String(e)}`;
  },
);

// ── raw y-webrtc baseline: two bare Y.Docs in one room, no storage, no engine ──────────────

const raw = {
  doc: null as Y.Doc | null,
  seen: [] as { key: string; at: number }[],
  start(room: string, signaling: string[]) {
    const doc = new Y.Doc();
    const provider = new WebrtcProvider(room, doc, { signaling, peerOpts: { config: { iceServers: [] } } });
    void provider;
    doc.getMap<unknown>('m').observe((ev) => {
      const at = performance.timeOrigin + performance.now();
      for (const k of ev.keysChanged) raw.seen.push({ key: String(k), at });
    });
    raw.doc = doc;
  },
  send(key: string): number {
    const at = performance.timeOrigin + performance.now();
    raw.doc!.getMap('m').set(key, { at, name: `file-${key}.jpg`, size: 12345 });
    return at;
  },
  fill(n: number) {
    raw.doc!.transact(() => {
      for (let i = 0; i < n; i++) raw.doc!.getMap('m').set(`r${i}`, { id: crypto.randomUUID(), name: `IMG_${i}.jpg`, size: i, ext: 'jpg', parent: null, ctime: 1, mtime: 2, atime: 3 });
    });
  },
  size: () => raw.doc!.getMap('m').size,
};
(window as unknown as { raw: typeof raw }).raw = raw;

// ── our provider on a bare document: the transport contract in the browser ─────────────────

const harness = {
  doc: null as Y.Doc | null,
  transport: null as Transport | null,
  start(room: string, signaling: string[]) {
    const doc = new Y.Doc();
    harness.doc = doc;
    harness.transport = createTransport({ doc, room, password: `pw-${room}`, signaling, self: { device: crypto.randomUUID(), name: 'harness' } });
  },
  /** joins a real library's room (tabs only) as a bare document: a hostile member's view */
  async startLibrary(library: string, secret: string) {
    const doc = new Y.Doc();
    harness.doc = doc;
    harness.transport = createTransport({ doc, room: await roomName(library, secret), password: await roomPassword(library, secret), signaling: [] });
  },
  set: (map: string, key: string, value: unknown) => harness.doc!.getMap<unknown>(map).set(key, value),
  get: (map: string, key: string) => harness.doc!.getMap<unknown>(map).get(key),
  /** n records shaped like tests/support/transport-contract.ts `contractRecord` */
  fill(map: string, n: number) {
    harness.doc!.transact(() => {
      for (let i = 0; i < n; i++)
        harness.doc!.getMap<unknown>(map).set(`r${i}`, {
          id: `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`, name: `IMG_${i}.jpg`, size: i * 1000, ext: 'jpg',
          parent: '11111111-1111-4111-8111-111111111111', ctime: 1_700_000_000_000 + i, mtime: 1_700_000_000_000 + i, atime: 1_700_000_000_000,
        });
    });
  },
  size: (map: string) => harness.doc!.getMap<unknown>(map).size,
  pause: () => harness.transport!.pause(),
  resume: () => harness.transport!.resume(),
};
(window as unknown as { harness: typeof harness }).harness = harness;
