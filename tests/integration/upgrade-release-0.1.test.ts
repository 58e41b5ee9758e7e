// A library persisted by release 0.1 (tests/fixtures/release-0.1.json: one device's IndexedDB
// — an image and the frames after it — made by that release's own code, with a second
// device's rows, tags, notes and links synced in) opens after the upgrade with every row,
// tag, note and link intact; its own rows are numbered for the owned-state stream, its
// document keeps only what the document holds now, and it serves its rows to a new device.
import { IDBFactory } from 'fake-indexeddb';
import { readFileSync } from 'node:fs';
import initSqlJs, { type SqlJsStatic } from 'sql.js';
import { beforeAll, describe, expect, it } from 'vitest';
import * as Y from 'yjs';
import { createPrng } from '../../src/core/prng.ts';
import { createInProcessStorage, type StorageClient } from '../../src/storage/client.ts';
import { createStorageEngine } from '../../src/storage/engine.ts';
import { openJournal } from '../../src/storage/journal.ts';
import { createStream } from '../../src/sync/stream.ts';
import { createMemoryHub } from '../../src/transport/stream-net.ts';

/** The digest of a table without rows (core/digest.ts). */
const EMPTY_TABLE = '0:0000000000000000';

interface Fixture {
  readonly device: string;
  readonly other: string;
  readonly digest: Record<string, string>;
  readonly counts: Record<string, number>;
  readonly idb: { readonly name: string; readonly version: number } & Record<string, { keyPath: string | null; records: [IDBValidKey, unknown][] } | string | number>;
}

const fixture = JSON.parse(readFileSync(new URL('../fixtures/release-0.1.json', import.meta.url), 'utf8')) as Fixture;

const revive = (v: unknown): unknown => {
  if (Array.isArray(v)) return v.map(revive);
  if (v && typeof v === 'object') {
    const o = v as Record<string, unknown>;
    if (typeof o['$bytes'] === 'string') return new Uint8Array(Buffer.from(o['$bytes'], 'base64'));
    return Object.fromEntries(Object.entries(o).map(([k, x]) => [k, revive(x)]));
  }
  return v;
};

/** Writes the fixture's database into a fresh IndexedDB, store by store, as release 0.1 left it. */
async function restore(idb: IDBFactory): Promise<void> {
  const { name, version, ...stores } = fixture.idb;
  const db = await new Promise<IDBDatabase>((res, rej) => {
    const r = idb.open(name, version);
    r.onupgradeneeded = () => {
      for (const [s, v] of Object.entries(stores)) {
        if (typeof v !== 'object') continue;
        r.result.createObjectStore(s, v.keyPath ? { keyPath: v.keyPath } : undefined);
      }
    };
    r.onsuccess = () => res(r.result);
    r.onerror = () => rej(r.error ?? new Error('open failed'));
  });
  for (const [s, v] of Object.entries(stores)) {
    if (typeof v !== 'object') continue;
    const t = db.transaction(s, 'readwrite');
    const st = t.objectStore(s);
    for (const [k, val] of v.records) {
      if (v.keyPath) st.put(revive(val));
      else st.put(revive(val), k);
    }
    await new Promise((res) => (t.oncomplete = res));
  }
  db.close();
}

let SQL: SqlJsStatic;
beforeAll(async () => {
  SQL = await initSqlJs();
});

async function open(idb: IDBFactory, device: string, dbName: string) {
  const engine = createStorageEngine({ sql: SQL, idb, now: () => Date.now(), imageDebounceMs: 1e9, imageMaxDelayMs: 1e9 });
  const storage = createInProcessStorage(engine);
  const boot = await storage.call('open', { dbName, deviceUuid: device });
  if (!boot.ok) throw new Error(boot.error.message);
  return { engine, storage, boot: boot.value };
}
const q = async (s: StorageClient, sql: string) => {
  const r = await s.call('query', { sql, params: [] });
  if (!r.ok) throw new Error(r.error.message);
  return r.value;
};

describe('upgrade from release 0.1', () => {
  it('opens with every row, tag, note and link intact; numbers its own rows; shrinks the document; serves a new device', async () => {
    const idb = new IDBFactory();
    await restore(idb);
    const me = fixture.device;
    const a = await open(idb, me, fixture.idb.name);
    expect(a.boot.layoutUpgraded).toBe(true);
    // every synced row as release 0.1 had it (the digest covers every synced column of every table)
    // (tables added since release 0.1 are there, and empty)
    const digest = await a.storage.call('digest', {});
    const expected = { ...Object.fromEntries(Object.keys(digest.ok ? digest.value : {}).map((t) => [t, EMPTY_TABLE])), ...fixture.digest };
    expect(digest.ok && digest.value).toEqual(expected);
    const counts = (await q(a.storage, 'SELECT (SELECT count(*) FROM entries) AS entries, (SELECT count(*) FROM locations) AS locations, (SELECT count(*) FROM tag_links) AS links, (SELECT count(*) FROM user_metadata) AS meta, (SELECT count(*) FROM tags) AS tags, (SELECT count(*) FROM tombstones) AS tombstones'))[0];
    expect(counts).toEqual(fixture.counts);
    expect(await q(a.storage, "SELECT notes FROM user_metadata WHERE notes IS NOT NULL ORDER BY notes")).toEqual([{ notes: 'from B' }, { notes: 'the beach at dawn' }]);
    // its own streamed rows and deletes are numbered 1..n in the order it wrote them; others' wait for their owner
    const own = await q(a.storage, `SELECT _seq FROM entries WHERE _owner = '${me}' UNION ALL SELECT _seq FROM locations WHERE _owner = '${me}' UNION ALL SELECT _seq FROM volumes WHERE _owner = '${me}' UNION ALL SELECT seq FROM tombstones WHERE owner = '${me}'`);
    const seqs = own.map((r) => Number(r['_seq'])).sort((x, y) => x - y);
    expect(seqs).toEqual(Array.from({ length: seqs.length }, (_, i) => i + 1));
    expect(a.boot.marks).toEqual({ [me]: seqs.length });
    expect(await q(a.storage, `SELECT count(*) AS n FROM entries WHERE _owner <> '${me}' AND _seq IS NOT NULL`)).toEqual([{ n: 0 }]);
    // the document keeps the shared log, meta, this device's ack and record — no file
    const doc = new Y.Doc();
    for (const u of a.boot.ydoc) Y.applyUpdate(doc, u);
    const roots = [...doc.share.keys()].filter((k) => k.startsWith('owned:'));
    expect(roots).toEqual([`owned:${me}`]);
    expect([...doc.getMap(`owned:${me}`).keys()]).toEqual([`device:${me}`]);
    expect(doc.getMap('shared').size).toBeGreaterThan(0);
    const oldBytes = (fixture.idb['images'] as { records: [IDBValidKey, { ydoc: { $bytes: string } }][] }).records[0]![1].ydoc.$bytes.length * 0.75;
    expect(Y.encodeStateAsUpdate(doc).byteLength).toBeLessThan(oldBytes / 5);

    // the upgrade is written as an image at once; the journal then records the layout
    for (let i = 0; i < 50 && !(await layoutOf(idb, fixture.idb.name)); i++) await new Promise((r) => setTimeout(r, 20));
    expect(await layoutOf(idb, fixture.idb.name)).toBe(2);
    await a.engine.close();
    const again = await open(idb, me, fixture.idb.name);
    expect(again.boot.layoutUpgraded).toBe(false);
    const d2 = await again.storage.call('digest', {});
    expect(d2.ok && d2.value).toEqual(expected);
    expect(again.boot.marks).toEqual({ [me]: seqs.length });

    // a new device (new layout) pulls the upgraded device's own rows through the stream
    const fresh = '0fffffff-ffff-4fff-8fff-ffffffffffff';
    const b = await open(new IDBFactory(), fresh, 'fresh');
    const hub = createMemoryHub(createPrng('upgrade'));
    const mk = (self: string, storage: StorageClient, initial: Record<string, number>, peer: () => Record<string, number>, other: string) =>
      createStream({ self, storage, net: hub.join(self), peers: () => [{ device: other, marks: peer() }], announce: () => undefined, initial, now: () => Date.now(), tickMs: null });
    const sa = mk(me, again.storage, again.boot.marks, () => sb.marks(), fresh);
    const sb = mk(fresh, b.storage, b.boot.marks, () => sa.marks(), me);
    for (let i = 0; i < 100 && (sb.marks()[me] ?? 0) < seqs.length; i++) {
      sb.poke();
      hub.deliver();
      await new Promise((r) => setTimeout(r, 5));
    }
    expect(sb.marks()[me]).toBe(seqs.length);
    expect(await q(b.storage, `SELECT uuid, name, _seq FROM entries ORDER BY uuid`)).toEqual(await q(again.storage, `SELECT uuid, name, _seq FROM entries WHERE _owner = '${me}' ORDER BY uuid`));
    sa.destroy();
    sb.destroy();
    await again.engine.close();
    await b.engine.close();
  });
});

async function layoutOf(idb: IDBFactory, name: string): Promise<number | null> {
  const j = await openJournal(idb, name);
  if (!j.ok) return null;
  const v = await j.value.layout();
  j.value.close();
  return v;
}
