import { IDBFactory } from 'fake-indexeddb';
import { createHash } from 'node:crypto';
import initSqlJs, { type SqlJsStatic } from 'sql.js';
import * as Y from 'yjs';
import { beforeAll, describe, expect, it } from 'vitest';
import type { Change, OwnedState } from '../../src/core/change.ts';
import { createStorageEngine, imageDocState, type StorageEngine, type StorageEngineDeps } from '../../src/storage/engine.ts';
import { MIGRATIONS } from '../../src/storage/migrations.ts';
import { deviceData, entryData, fakeTime, locationData, testDevice, uuidFactory } from '../support/fixtures.ts';

let SQL: SqlJsStatic;
beforeAll(async () => {
  SQL = await initSqlJs();
});

const DEV = '11111111-1111-4111-8111-111111111111';
const time = fakeTime();

function engine(idb: IDBFactory | null, extra: Partial<StorageEngineDeps> = {}): StorageEngine {
  // Long debounce: images are taken only when a test asks for one.
  return createStorageEngine({ sql: SQL, idb, now: time.now, imageDebounceMs: 3_600_000, imageMaxDelayMs: 3_600_000, ...extra });
}

async function openEngine(idb: IDBFactory | null, extra: Partial<StorageEngineDeps> = {}) {
  const e = engine(idb, extra);
  const boot = await e.open({ dbName: 'dev', deviceUuid: DEV });
  if (!boot.ok) throw new Error(boot.error.message);
  return { e, boot: boot.value };
}

function locationWithEntries(n: number, name: string, seed = name): Change[] {
  const d = testDevice(DEV, time.now);
  const id = uuidFactory(seed);
  const loc = id();
  const out: Change[] = [d.owned('location', loc, locationData(DEV, name))];
  for (let i = 0; i < n; i++) out.push(d.owned('entry', id(), entryData(loc, `${name}-file-${i}.txt`)));
  return out;
}

const count = (e: StorageEngine, sql: string): number => {
  const r = e.query({ sql });
  if (!r.ok) throw new Error(r.error.message);
  return Number(Object.values(r.value[0]!)[0]);
};

describe('storage engine', () => {
  it('migrates a fresh database and records the migration', async () => {
    const { e, boot } = await openEngine(new IDBFactory());
    expect(boot.source).toBe('fresh');
    expect(boot.migrationsApplied).toBe(MIGRATIONS.length);
    expect(count(e, 'SELECT count(*) FROM _migrations')).toBe(MIGRATIONS.length);
  });

  it('acknowledges a commit only once durable, and replays the journal after a crash', async () => {
    const idb = new IDBFactory();
    const { e } = await openEngine(idb);
    const d = testDevice(DEV, time.now);
    const r = await e.commit({ changes: [d.owned('device', DEV, deviceData('Chrome 1111'))], hlc: d.clock.current() });
    expect(r.ok && r.value.durable && r.value.applied === 1).toBe(true);
    for (let i = 0; i < 5; i++) await e.commit({ changes: locationWithEntries(3, `loc${i}`), hlc: null });
    // crash: drop the engine without an image
    const { e: e2, boot } = await openEngine(idb);
    expect(boot.replayedFrames).toBe(6);
    expect(count(e2, 'SELECT count(*) FROM locations')).toBe(5);
    expect(count(e2, 'SELECT count(*) FROM entries')).toBe(15);
    expect(boot.hlc).toBe(d.clock.current());
  });

  it('groups concurrent commits into fewer frames and answers each', async () => {
    const idb = new IDBFactory();
    const { e } = await openEngine(idb);
    const results = await Promise.all(Array.from({ length: 40 }, (_, i) => e.commit({ changes: locationWithEntries(1, `g${i}`), hlc: null })));
    expect(results.every((r) => r.ok && r.value.durable)).toBe(true);
    const seqs = new Set(results.map((r) => (r.ok ? r.value.seq : -1)));
    expect(seqs.size).toBeLessThan(40);
    const { e: e2 } = await openEngine(idb);
    expect(count(e2, 'SELECT count(*) FROM entries')).toBe(40);
  });

  it('boots from a verified image plus the frames after it', async () => {
    const idb = new IDBFactory();
    const { e } = await openEngine(idb);
    await e.commit({ changes: locationWithEntries(10, 'a'), hlc: null });
    const snap = await e.snapshot();
    expect(snap.ok && snap.value.lastImageBytes).toBeGreaterThan(0);
    await e.commit({ changes: locationWithEntries(10, 'b'), hlc: null });
    const { e: e2, boot } = await openEngine(idb);
    expect(boot.source).toBe('image');
    expect(boot.replayedFrames).toBe(1);
    expect(count(e2, 'SELECT count(*) FROM entries')).toBe(20);
  });

  it('answers commits while an image is being checked, and keeps them in the journal after it', async () => {
    const idb = new IDBFactory();
    const { e } = await openEngine(idb);
    await e.commit({ changes: locationWithEntries(300, 'a'), hlc: null });
    let imageDone = false;
    const snap = e.snapshot().then((r) => {
      imageDone = true;
      return r;
    });
    const during = await e.commit({ changes: locationWithEntries(3, 'b'), hlc: null });
    expect(during.ok && during.value.durable).toBe(true);
    expect(imageDone).toBe(false);
    const s = await snap;
    expect(s.ok && s.value.lastImageBytes).toBeGreaterThan(0);
    const { e: e2, boot } = await openEngine(idb);
    expect(boot.source).toBe('image');
    expect(boot.replayedFrames).toBe(1);
    expect(count(e2, 'SELECT count(*) FROM entries')).toBe(303);
  });

  it('recovers from a damaged current image using the previous image and the journal', async () => {
    const idb = new IDBFactory();
    const { e } = await openEngine(idb);
    await e.commit({ changes: locationWithEntries(5, 'a'), hlc: null });
    await e.snapshot();
    await e.commit({ changes: locationWithEntries(5, 'b'), hlc: null });
    await e.snapshot();
    await e.commit({ changes: locationWithEntries(5, 'c'), hlc: null });
    await e.close();
    await corruptCurrentImage(idb);
    const { e: e2, boot } = await openEngine(idb);
    expect(boot.source).toBe('previous-image');
    expect(boot.recovered).toMatch(/damaged/);
    expect(boot.recovered).toMatch(/nothing acknowledged was lost/);
    expect(count(e2, 'SELECT count(*) FROM entries')).toBe(15);
  });

  it('rebuilds from the journal when the only image is damaged', async () => {
    const idb = new IDBFactory();
    const { e } = await openEngine(idb);
    await e.commit({ changes: locationWithEntries(4, 'a'), hlc: null });
    await e.snapshot();
    await e.commit({ changes: locationWithEntries(4, 'b'), hlc: null });
    await e.close();
    await corruptCurrentImage(idb);
    const { e: e2, boot } = await openEngine(idb);
    expect(boot.source).toBe('fresh');
    expect(boot.recovered).toMatch(/damaged/);
    expect(count(e2, 'SELECT count(*) FROM entries')).toBe(8);
  });

  it('keeps working in memory, and says so, when storage is full', async () => {
    const idb = new IDBFactory();
    const { e } = await openEngine(idb);
    await e.commit({ changes: locationWithEntries(1, 'ok'), hlc: null });
    const restore = failPuts();
    const r = await e.commit({ changes: locationWithEntries(2, 'full'), hlc: null }).finally(restore);
    expect(r.ok && !r.value.durable).toBe(true);
    expect(e.health().mode).toBe('memory-only');
    expect(e.health().problem).toMatch(/storage is full/i);
    expect(count(e, 'SELECT count(*) FROM entries')).toBe(3);
    const later = await e.commit({ changes: locationWithEntries(1, 'later'), hlc: null });
    expect(later.ok && later.value.durable).toBe(false);
  });

  it('runs memory-only when IndexedDB is unavailable', async () => {
    const { e, boot } = await openEngine(null);
    expect(boot.health.mode).toBe('memory-only');
    expect(boot.health.problem).toMatch(/unavailable/);
    const r = await e.commit({ changes: locationWithEntries(2, 'm'), hlc: null });
    expect(r.ok && r.value.durable).toBe(false);
    expect(count(e, 'SELECT count(*) FROM entries')).toBe(2);
  });

  it('reports an IndexedDB that fails to open as memory-only, not a crash', async () => {
    const broken = { open: () => { throw new DOMException('The user denied permission', 'InvalidStateError'); } } as unknown as IDBFactory;
    const { boot } = await openEngine(broken);
    expect(boot.health.mode).toBe('memory-only');
    expect(boot.health.problem).toMatch(/denied permission/);
  });

  it('refuses writes through query and reports SQL errors as data', async () => {
    const { e } = await openEngine(new IDBFactory());
    const w = e.query({ sql: "INSERT INTO meta (key, value) VALUES ('x', 'y')" });
    expect(!w.ok && w.error.type).toBe('ReadOnlyViolation');
    const bad = e.query({ sql: 'SELECT * FROM nowhere' });
    expect(!bad.ok && bad.error.type).toBe('SqlError');
    expect(e.query({ sql: 'SELECT 1 AS one' })).toEqual({ ok: true, value: [{ one: 1 }] });
  });

  it('finds entries by name prefix with FTS4', async () => {
    const { e } = await openEngine(new IDBFactory());
    await e.commit({ changes: locationWithEntries(3, 'Vacation'), hlc: null });
    const r = e.query({ sql: "SELECT e.name FROM entries_fts f JOIN entries e ON e.rowid = f.docid WHERE entries_fts MATCH 'vaca*' ORDER BY e.name" });
    expect(r.ok && r.value.map((x) => x['name'])).toEqual(['Vacation-file-0.txt', 'Vacation-file-1.txt', 'Vacation-file-2.txt']);
  });

  it('digests equal rows equally whatever the insert order, and differently when a field differs', async () => {
    const changes = locationWithEntries(20, 'dg');
    const { e: a } = await openEngine(new IDBFactory());
    const { e: b } = await openEngine(new IDBFactory());
    await a.commit({ changes, hlc: null });
    for (const c of [...changes].reverse()) await b.commit({ changes: [c], hlc: null });
    expect(b.digest()).toEqual(a.digest());
    time.advance(1000); // a later state of the same entry
    const d = testDevice(DEV, time.now);
    const first = changes[1]!;
    await b.commit({ changes: [d.owned('entry', first.uuid, { ...(first as OwnedState).data, size: 1 })], hlc: null });
    const da = a.digest(), db = b.digest();
    expect(da.ok && db.ok && da.value['entries'] !== db.value['entries']).toBe(true);
    expect(da.ok && db.ok && da.value['locations'] === db.value['locations']).toBe(true);
  });
});

async function withDb<T>(idb: IDBFactory, fn: (db: IDBDatabase) => Promise<T>, name = 'dev'): Promise<T> {
  const db = await new Promise<IDBDatabase>((res, rej) => {
    const r = idb.open(name, 1);
    r.onsuccess = () => res(r.result);
    r.onerror = () => rej(r.error ?? new Error('open failed'));
  });
  try {
    return await fn(db);
  } finally {
    db.close();
  }
}

async function corruptCurrentImage(idb: IDBFactory, name = 'dev'): Promise<void> {
  await withDb(idb, async (db) => {
    const t = db.transaction(['meta', 'images'], 'readwrite');
    const done = new Promise((r) => (t.oncomplete = r));
    const p = t.objectStore('meta').get('pointer');
    p.onsuccess = () => {
      const id = (p.result as { current: string }).current;
      const g = t.objectStore('images').get(id);
      g.onsuccess = () => {
        const img = g.result as { bytes?: Uint8Array; chunks?: string[]; bank?: number };
        // a chunked image: its first chunk (the SQLite header), as a bad disk would flip it
        const key = img.chunks ? `chunk:${img.bank}-${img.chunks[0]}` : null;
        const c = key ? t.objectStore('images').get(key) : null;
        const flip = (b: Uint8Array): Uint8Array => {
          const bytes = b.slice();
          for (let i = 100; i < 4000; i += 7) bytes[i] = bytes[i]! ^ 0xff;
          return bytes;
        };
        if (c && key) c.onsuccess = () => t.objectStore('images').put(flip(c.result as Uint8Array), key);
        else t.objectStore('images').put({ ...img, bytes: flip(img.bytes!) }, id);
      };
    };
    await done;
  }, name);
}

/** Until restored, every IndexedDB put or add throws QuotaExceededError (as a full disk does). */
function failPuts(): () => void {
  const proto = IDBDatabase.prototype;
  const original = Object.getOwnPropertyDescriptor(proto, 'transaction')!;
  const origTransaction = original.value as (this: IDBDatabase, ...a: Parameters<IDBDatabase['transaction']>) => IDBTransaction;
  proto.transaction = function (this: IDBDatabase, ...args: Parameters<IDBDatabase['transaction']>) {
    const t = origTransaction.apply(this, args);
    if (args[1] === 'readwrite') {
      const store = (name: string) => IDBTransaction.prototype.objectStore.call(t, name);
      t.objectStore = (name: string) => {
        const s = store(name);
        s.put = s.add = () => {
          throw new DOMException('The quota has been exceeded.', 'QuotaExceededError');
        };
        return s;
      };
    }
    return t;
  };
  return () => Object.defineProperty(proto, 'transaction', original);
}

describe('storage engine: clock-only commits', () => {
  it('persists a commit that only moves the clock (the sync lease), without a seq gap', async () => {
    const idb = new IDBFactory();
    const { e } = await openEngine(idb);
    const lease = '0197a7c3c800-000000-11111111-1111-4111-8111-111111111111';
    await e.commit({ changes: [], hlc: lease });
    await e.commit({ changes: [], hlc: lease }); // nothing new: no frame
    await e.commit({ changes: locationWithEntries(1, 'after-lease'), hlc: null });
    const { boot } = await openEngine(idb);
    expect(boot.hlc).toBe(lease);
    expect(boot.replayedFrames).toBe(2);
    expect(boot.recovered).toBeNull();
  });
});

describe('storage engine: a new device starts from a sibling in this browser (S5)', () => {
  const open = async (idb: IDBFactory, dbName: string, seedFrom: string[] = []) => {
    const e = engine(idb);
    const boot = await e.open({ dbName, deviceUuid: DEV, seedFrom });
    if (!boot.ok) throw new Error(boot.error.message);
    return { e, boot: boot.value };
  };
  const rows = (e: StorageEngine, sql: string) => {
    const r = e.query({ sql });
    if (!r.ok) throw new Error(r.error.message);
    return r.value;
  };

  it("takes the sibling's verified image and the frames after it, until it has an image of its own", async () => {
    const idb = new IDBFactory();
    const { e: a } = await open(idb, 'sibling');
    const doc = new Y.Doc();
    const update = (k: string): Uint8Array => {
      const before = Y.encodeStateVector(doc);
      doc.getMap('m').set(k, k);
      return Y.encodeStateAsUpdate(doc, before);
    };
    await a.commit({ changes: locationWithEntries(30, 'a'), hlc: null, yUpdate: update('in-image') });
    expect((await a.snapshot()).ok).toBe(true);
    await a.commit({ changes: locationWithEntries(5, 'b'), hlc: null, yUpdate: update('after-image') });
    const lease = testDevice(DEV, time.now).clock.next(); // the sibling's clock moved last
    await a.commit({ changes: [], hlc: lease });
    const aDigest = a.digest();
    const { e: b, boot } = await open(idb, 'newcomer', ['missing-device', 'sibling']);
    expect(boot.source).toBe('sibling');
    expect(boot.seeded).toMatchObject({ dbName: 'sibling', frames: 2 });
    const seeded = new Y.Doc();
    for (const u of boot.ydoc) Y.applyUpdate(seeded, u);
    expect(seeded.getMap('m').toJSON()).toEqual({ 'in-image': 'in-image', 'after-image': 'after-image' });
    expect(count(b, 'SELECT count(*) FROM entries')).toBe(35);
    expect(b.digest()).toEqual(aDigest);
    expect(rows(b, 'SELECT DISTINCT scan_state FROM locations')).toEqual([{ scan_state: 'pending' }]);
    expect(boot.hlc).toBe(lease);
    // reading a device that does not exist did not create its database
    expect((await idb.databases()).map((x) => x.name).sort()).toEqual(['newcomer', 'sibling']);
    // killed before its own first image: it starts from the sibling again, plus its own frames
    await b.commit({ changes: locationWithEntries(2, 'mine'), hlc: null });
    const { e: b2, boot: restarted } = await open(idb, 'newcomer', ['sibling']);
    expect(restarted.source).toBe('sibling');
    expect(restarted.replayedFrames).toBe(1);
    expect(count(b2, 'SELECT count(*) FROM entries')).toBe(37);
    // once it has an image of its own, no sibling is read any more
    expect((await b2.snapshot()).ok).toBe(true);
    await b2.commit({ changes: locationWithEntries(1, 'later'), hlc: null });
    const { e: b3, boot: again } = await open(idb, 'newcomer', ['sibling']);
    expect(again.source).toBe('image');
    expect(again.seeded).toBeNull();
    expect(count(b3, 'SELECT count(*) FROM entries')).toBe(38);
  });

  it("a sibling whose clock runs a day ahead does not drag the new device's clock along, also after its own image", async () => {
    const idb = new IDBFactory();
    const { e: a } = await open(idb, 'ahead');
    await a.commit({ changes: locationWithEntries(3, 'a'), hlc: null });
    const dayAhead = testDevice(DEV, () => time.now() + 86_400_000).clock.next();
    await a.commit({ changes: [], hlc: dayAhead });
    expect((await a.snapshot()).ok).toBe(true);
    const { e: b, boot } = await open(idb, 'behind', ['ahead']);
    expect(boot.source).toBe('sibling');
    expect(count(b, 'SELECT count(*) FROM entries')).toBe(3);
    expect(boot.hlc).toBeNull();
    // its own image, then a restart from it: the sibling's stamp is not in it either
    expect((await b.snapshot()).ok).toBe(true);
    const { boot: again } = await open(idb, 'behind', ['ahead']);
    expect(again.source).toBe('image');
    expect(again.hlc).toBeNull();
  });

  it('skips a sibling without a readable image and syncs from scratch instead', async () => {
    const idb = new IDBFactory();
    const { e: a } = await open(idb, 'no-image');
    await a.commit({ changes: locationWithEntries(3, 'a'), hlc: null });
    const { e: c } = await open(idb, 'damaged');
    await c.commit({ changes: locationWithEntries(3, 'c'), hlc: null });
    await c.snapshot();
    await c.close();
    await corruptCurrentImage(idb, 'damaged');
    const { e: b, boot } = await open(idb, 'newcomer', ['no-image', 'damaged']);
    expect(boot.source).toBe('fresh');
    expect(boot.seeded).toBeNull();
    expect(boot.recovered).toBeNull();
    expect(count(b, 'SELECT count(*) FROM entries')).toBe(0);
  });

  it('never seeds a device that has an image of its own', async () => {
    const idb = new IDBFactory();
    const { e: a } = await open(idb, 'sibling');
    await a.commit({ changes: locationWithEntries(3, 'a'), hlc: null });
    await a.snapshot();
    const { e: b } = await open(idb, 'me');
    await b.commit({ changes: locationWithEntries(1, 'mine'), hlc: null });
    await b.snapshot();
    const { e: b2, boot } = await open(idb, 'me', ['sibling']);
    expect(boot.source).toBe('image');
    expect(count(b2, 'SELECT count(*) FROM entries')).toBe(1);
  });
});

describe('storage engine: the document state an image keeps', () => {
  const doc = new Y.Doc();
  const update = (n: number): Uint8Array => {
    const before = Y.encodeStateVector(doc);
    doc.transact(() => {
      for (let i = 0; i < n; i++) doc.getMap('m').set(`k${doc.getMap('m').size}`, 'x'.repeat(40));
    });
    return Y.encodeStateAsUpdate(doc, before);
  };
  const state = (parts: readonly (Uint8Array | null)[]) => {
    const d = new Y.Doc();
    for (const p of parts) if (p) Y.applyUpdate(d, p);
    return d.getMap('m').toJSON();
  };

  it('keeps a large base as it is and small later updates as one merged tail', () => {
    const base = update(2000);
    const small = [update(1), update(2), update(3)];
    const r = imageDocState(base, small);
    expect(r.ydoc).toBe(base); // not re-encoded
    expect(r.ydocTail).toHaveLength(1);
    expect(state([r.ydoc, ...r.ydocTail])).toEqual(state([base, ...small]));
  });

  it('merges everything once the tail outgrows a quarter of the base', () => {
    const base = update(100);
    const big = [update(60), update(1)];
    const r = imageDocState(base, big);
    expect(r.ydoc).not.toBe(base);
    expect(r.ydocTail).toEqual([]);
    expect(state([r.ydoc])).toEqual(state([base, ...big]));
    expect(imageDocState(null, [base])).toMatchObject({ ydocTail: [] });
  });
});

// ── issue 11, item 7: failing storage is said in words, and loses nothing acknowledged ────

/** Rewrites one stored record in place (a bad disk, or a second writer, in the test's hands). */
async function rewrite(idb: IDBFactory, store: 'journal' | 'images', key: IDBValidKey, /* 'current': the current image */ fn: (v: Record<string, unknown>) => Record<string, unknown>): Promise<void> {
  await withDb(idb, async (db) => {
    const t = db.transaction(['meta', store], 'readwrite');
    const done = new Promise((r) => (t.oncomplete = r));
    const at = (k: IDBValidKey): void => {
      const g = t.objectStore(store).get(k);
      g.onsuccess = () => {
        const v = fn(g.result as Record<string, unknown>);
        if (store === 'journal') t.objectStore(store).put(v);
        else t.objectStore(store).put(v, k);
      };
    };
    if (key !== 'current') at(key);
    else {
      const p = t.objectStore('meta').get('pointer');
      p.onsuccess = () => at((p.result as { current: string }).current);
    }
    await done;
  });
}

const yUpdate = (doc: Y.Doc, k: string): Uint8Array => {
  const before = Y.encodeStateVector(doc);
  doc.getMap('m').set(k, `value of ${k}`);
  return Y.encodeStateAsUpdate(doc, before);
};

describe('storage engine: checksums and damaged frames (S6)', () => {
  it('skips a frame whose content no longer matches its checksum, says how many, and keeps the rest', async () => {
    const idb = new IDBFactory();
    const { e } = await openEngine(idb);
    for (const n of ['a', 'b', 'c']) await e.commit({ changes: locationWithEntries(2, n), hlc: null });
    await e.close();
    // one flipped bit in frame 2: a file name changes by one letter
    await rewrite(idb, 'journal', 2, (f) => {
      const changes = structuredClone(f['changes']) as { data: { name: string } }[];
      changes[1]!.data.name = String.fromCharCode(changes[1]!.data.name.charCodeAt(0) ^ 1) + changes[1]!.data.name.slice(1);
      return { ...f, changes };
    });
    const { e: e2, boot } = await openEngine(idb);
    expect(boot.skippedFrames).toBe(1);
    expect(boot.replayedFrames).toBe(2);
    expect(boot.recovered).toMatch(/1 acknowledged change group in the change journal \(#2\) could not be used: damaged \(checksum mismatch\)/);
    expect(boot.recovered).not.toMatch(/nothing acknowledged was lost/);
    // what was not damaged is all there; nothing of the damaged frame was applied
    expect(count(e2, "SELECT count(*) FROM locations WHERE name IN ('a', 'c')")).toBe(2);
    expect(count(e2, "SELECT count(*) FROM locations WHERE name = 'b'")).toBe(0);
    // the next frames go above the damaged one (add would refuse its number): #4 is the own-seq
    // guard the boot wrote (invariant 16: the lost frame's stream seqs are never reissued)
    expect(boot.repairOwn).toBe(true);
    expect(boot.marks[DEV]).toBeGreaterThanOrEqual(1e6);
    const r = await e2.commit({ changes: locationWithEntries(1, 'd'), hlc: null });
    expect(r.ok && r.value.durable && r.value.seq).toBe(5);
    expect(e2.health().mode).toBe('durable');
  });

  it('reads each frame on its own when one cannot be read, and names the unreadable one', async () => {
    const idb = new IDBFactory();
    const { e } = await openEngine(idb);
    for (const n of ['a', 'b', 'c', 'd']) await e.commit({ changes: locationWithEntries(1, n), hlc: null });
    await e.close();
    // As Chromium does for a large value whose blob file is gone: the whole read fails, and
    // so does every read of that one record.
    const proto = IDBObjectStore.prototype;
    const getAll = Object.getOwnPropertyDescriptor(proto, 'getAll')!;
    const get = Object.getOwnPropertyDescriptor(proto, 'get')!;
    const readGet = get.value as (this: IDBObjectStore, key: IDBValidKey | IDBKeyRange) => IDBRequest;
    proto.getAll = function () {
      throw new DOMException('Failed to read large IndexedDB value', 'NotReadableError');
    };
    proto.get = function (this: IDBObjectStore, key: IDBValidKey | IDBKeyRange) {
      if (this.name === 'journal' && key === 3) throw new DOMException('Failed to read large IndexedDB value', 'NotReadableError');
      return readGet.call(this, key);
    };
    try {
      const { e: e2, boot } = await openEngine(idb);
      expect(boot.skippedFrames).toBe(1);
      expect(boot.recovered).toMatch(/\(#3\) could not be used: unreadable \(NotReadableError: Failed to read large IndexedDB value\)/);
      expect(count(e2, 'SELECT count(*) FROM locations')).toBe(3);
      expect(e2.health().mode).toBe('durable');
    } finally {
      Object.defineProperty(proto, 'getAll', getAll);
      Object.defineProperty(proto, 'get', get);
    }
  });

  it('accepts frames and images written before checksums (legacy)', async () => {
    const idb = new IDBFactory();
    const { e } = await openEngine(idb);
    const doc = new Y.Doc();
    await e.commit({ changes: locationWithEntries(2, 'a'), hlc: null, yUpdate: yUpdate(doc, 'a') });
    await e.snapshot();
    await e.commit({ changes: locationWithEntries(2, 'b'), hlc: null, yUpdate: yUpdate(doc, 'b') });
    await e.close();
    await rewrite(idb, 'journal', 2, ({ sum: _sum, ...f }) => f);
    await rewrite(idb, 'images', 'current', ({ docChecksum: _d, ...img }) => img);
    const { e: e2, boot } = await openEngine(idb);
    expect(boot.source).toBe('image');
    expect(boot.recovered).toBeNull();
    expect(count(e2, 'SELECT count(*) FROM locations')).toBe(2);
    const restored = new Y.Doc();
    for (const u of boot.ydoc) Y.applyUpdate(restored, u);
    expect(restored.getMap('m').toJSON()).toEqual({ a: 'value of a', b: 'value of b' });
  });

  it("falls back to the previous image when the current image's document state was changed by one bit", async () => {
    const idb = new IDBFactory();
    const { e } = await openEngine(idb);
    const doc = new Y.Doc();
    await e.commit({ changes: locationWithEntries(2, 'a'), hlc: null, yUpdate: yUpdate(doc, 'a') });
    await e.snapshot();
    await e.commit({ changes: locationWithEntries(2, 'b'), hlc: null, yUpdate: yUpdate(doc, 'b') });
    await e.snapshot();
    await e.close();
    const flipLast = (img: Record<string, unknown>): Record<string, unknown> => {
      const ydoc = (img['ydoc'] as Uint8Array).slice();
      ydoc[ydoc.length - 3] = ydoc[ydoc.length - 3]! ^ 0x01; // inside the last string value: decodes, to other content
      return { ...img, ydoc };
    };
    await rewrite(idb, 'images', 'current', flipLast);
    const { e: e2, boot } = await openEngine(idb);
    expect(boot.source).toBe('previous-image');
    expect(boot.recovered).toMatch(/document state fails its checksum/);
    expect(boot.recovered).toMatch(/nothing acknowledged was lost/);
    expect(count(e2, 'SELECT count(*) FROM locations')).toBe(2);
    const restored = new Y.Doc();
    for (const u of boot.ydoc) Y.applyUpdate(restored, u);
    expect(restored.getMap('m').toJSON()).toEqual({ a: 'value of a', b: 'value of b' });
  });

  it('decode-checks a legacy image without a document checksum, and falls back when it does not load', async () => {
    const idb = new IDBFactory();
    const { e } = await openEngine(idb);
    const doc = new Y.Doc();
    await e.commit({ changes: locationWithEntries(2, 'a'), hlc: null, yUpdate: yUpdate(doc, 'a') });
    await e.snapshot();
    await e.commit({ changes: locationWithEntries(2, 'b'), hlc: null, yUpdate: yUpdate(doc, 'b') });
    await e.snapshot();
    await e.close();
    await rewrite(idb, 'images', 'current', ({ docChecksum: _d, ...img }) => ({ ...img, ydoc: Uint8Array.of(0xff, 0xff, 0xff, 0xff, 0x0f) }));
    const { boot } = await openEngine(idb);
    expect(boot.source).toBe('previous-image');
    expect(boot.recovered).toMatch(/document state does not load/);
  });

  it('adds frames, never overwrites one: a second writer of the journal is refused and said', async () => {
    const idb = new IDBFactory();
    const { e: first } = await openEngine(idb);
    const { e: second } = await openEngine(idb); // both believe the journal is empty
    const a = await first.commit({ changes: locationWithEntries(1, 'first'), hlc: null });
    expect(a.ok && a.value.durable && a.value.seq).toBe(1);
    const b = await second.commit({ changes: locationWithEntries(1, 'second'), hlc: null });
    expect(b.ok && b.value.durable).toBe(false);
    expect(second.health().mode).toBe('memory-only');
    expect(second.health().problem).toMatch(/another writer already saved a change under the same number/);
    const { e: third } = await openEngine(idb);
    expect(count(third, "SELECT count(*) FROM locations WHERE name = 'first'")).toBe(1);
  });
});

/** Until restored, writes to the images store throw QuotaExceededError (the journal's do not). */
function failImagePuts(): () => void {
  const proto = IDBObjectStore.prototype;
  const original = Object.getOwnPropertyDescriptor(proto, 'put')!;
  const put = original.value as (this: IDBObjectStore, ...a: Parameters<IDBObjectStore['put']>) => IDBRequest<IDBValidKey>;
  proto.put = function (this: IDBObjectStore, ...args: Parameters<IDBObjectStore['put']>) {
    if (this.name === 'images') throw new DOMException('The quota has been exceeded.', 'QuotaExceededError');
    return put.apply(this, args);
  };
  return () => Object.defineProperty(proto, 'put', original);
}

describe('storage engine: an image that cannot be written (S7)', () => {
  it('keeps journaling, shows the quota, retries with backoff and recovers', async () => {
    const idb = new IDBFactory();
    const { e } = await openEngine(idb, {
      imageRetryMs: 40,
      estimate: () => Promise.resolve({ usage: 9_900_000, quota: 10_000_000 }),
    });
    await e.commit({ changes: locationWithEntries(20, 'a'), hlc: null });
    const restore = failImagePuts();
    try {
      const h = await e.snapshot();
      expect(h.ok).toBe(true);
      expect(e.health().mode).toBe('durable');
      expect(e.health().problem).toMatch(/Browser storage is full \(9\.9 MB of 10\.0 MB used; the copy needs [\d.]+ MB\): the saved copy of this library could not be updated\. Every change is still saved as it is made; trying again in 0 s\./);
      expect(e.health().imageRetryAt).not.toBeNull();
      const r = await e.commit({ changes: locationWithEntries(3, 'b'), hlc: null });
      expect(r.ok && r.value.durable).toBe(true);
      await e.snapshot(); // a second failure doubles the wait
      expect(e.health().imageRetryAt! - time.now()).toBe(80);
    } finally {
      restore();
    }
    // the retry (timer) writes the image once storage has room again
    await expect.poll(() => e.health().lastImageAt, { timeout: 5_000 }).not.toBeNull();
    expect(e.health().problem).toBeNull();
    expect(e.health().imageRetryAt).toBeNull();
    const { e: e2, boot } = await openEngine(idb);
    expect(boot.source).toBe('image');
    expect(count(e2, 'SELECT count(*) FROM entries')).toBe(23);
  });
});

// ── decision 0016: images stored as chunks, only the changed ones written ─────────────────

/** every key of the images store: image records and chunks apart */
async function imageKeys(idb: IDBFactory): Promise<{ images: string[]; chunks: string[] }> {
  return withDb(idb, async (db) => {
    const keys = await new Promise<IDBValidKey[]>((res, rej) => {
      const r = db.transaction('images').objectStore('images').getAllKeys();
      r.onsuccess = () => res(r.result);
      r.onerror = () => rej(r.error ?? new Error('getAllKeys failed'));
    });
    const all = keys.map(String);
    return { images: all.filter((k) => !k.startsWith('chunk:')).sort(), chunks: all.filter((k) => k.startsWith('chunk:')).sort() };
  });
}

async function readRecord<T>(idb: IDBFactory, store: string, key: IDBValidKey): Promise<T> {
  return withDb(idb, (db) => new Promise<T>((res, rej) => {
    const r = db.transaction(store).objectStore(store).get(key);
    r.onsuccess = () => res(r.result as T);
    r.onerror = () => rej(r.error ?? new Error('get failed'));
  }));
}

interface StoredImage { id: string; chunks?: string[]; bank?: number; size?: number; bytes?: Uint8Array }

describe('storage engine: chunked images (decision 0016)', () => {
  const CHUNK = 16 * 1024;

  it('writes only chunks the image two back lacks; current and previous never share a stored chunk', async () => {
    const idb = new IDBFactory();
    const { e } = await openEngine(idb, { imageChunkBytes: CHUNK });
    await e.commit({ changes: locationWithEntries(3000, 'Big'), hlc: null });
    const first = await e.snapshot();
    if (!first.ok) throw new Error(first.error.message);
    // all of it (chunks equal to another of the same image are stored once)
    const whole = (x: { lastImageWritten?: number | null; lastImageBytes: number | null }): void => {
      expect(x.lastImageWritten).toBeGreaterThan(x.lastImageBytes! * 0.8);
      expect(x.lastImageWritten).toBeLessThanOrEqual(x.lastImageBytes!);
    };
    whole(first.value);
    const sizes: { bytes: number; written: number }[] = [];
    for (let i = 0; i < 3; i++) {
      await e.commit({ changes: locationWithEntries(1, `Small ${i}`), hlc: null });
      const s = await e.snapshot();
      if (!s.ok) throw new Error(s.error.message);
      sizes.push({ bytes: s.value.lastImageBytes!, written: s.value.lastImageWritten! });
    }
    // the second image is the first in its bank: whole; the third and fourth reuse the first's
    // and the second's chunks and write what changed since (a small fraction)
    whole({ lastImageWritten: sizes[0]!.written, lastImageBytes: sizes[0]!.bytes });
    expect(sizes[1]!.written).toBeLessThan(sizes[1]!.bytes / 4);
    expect(sizes[2]!.written).toBeLessThan(sizes[2]!.bytes / 4);

    const pointer = await readRecord<{ current: string; previous: string }>(idb, 'meta', 'pointer');
    const cur = await readRecord<StoredImage>(idb, 'images', pointer.current);
    const prev = await readRecord<StoredImage>(idb, 'images', pointer.previous);
    expect(cur.bank).not.toBe(prev.bank);
    const ids = (img: StoredImage): string[] => img.chunks!.map((s) => `chunk:${img.bank}-${s}`);
    const keys = await imageKeys(idb);
    // nothing but the two images and their chunks: older images' unreferenced chunks collected
    expect(keys.images).toEqual([pointer.current, pointer.previous].sort());
    expect(keys.chunks).toEqual([...new Set([...ids(cur), ...ids(prev)])].sort());
    await e.close();

    const { e: again, boot } = await openEngine(idb, { imageChunkBytes: CHUNK });
    expect(boot.source).toBe('image');
    expect(count(again, "SELECT count(*) FROM entries")).toBe(3003);
    await again.close();
  });

  it('opens an image stored in one value (written before chunks), and its next image is chunked', async () => {
    const idb = new IDBFactory();
    const { e } = await openEngine(idb, { imageChunkBytes: CHUNK });
    await e.commit({ changes: locationWithEntries(500, 'Old'), hlc: null });
    await e.snapshot();
    await e.close();
    // rewrite the current image as the one-value record earlier builds wrote
    const pointer = await readRecord<{ current: string }>(idb, 'meta', 'pointer');
    const img = await readRecord<StoredImage & Record<string, unknown>>(idb, 'images', pointer.current);
    const bytes = new Uint8Array(img.size!);
    for (let i = 0; i < img.chunks!.length; i++) bytes.set(await readRecord<Uint8Array>(idb, 'images', `chunk:${img.bank}-${img.chunks![i]}`), i * CHUNK);
    const { chunks: _c, bank: _b, size: _s, chunkBytes: _k, ...rest } = img;
    await rewrite(idb, 'images', 'current', () => ({ ...rest, bytes, checksum: createHash('sha256').update(bytes).digest('hex') }));
    await withDb(idb, async (db) => {
      const t = db.transaction('images', 'readwrite');
      t.objectStore('images').delete(IDBKeyRange.bound('chunk:', 'chunk:\uffff'));
      await new Promise((r) => (t.oncomplete = r));
    });
    expect((await imageKeys(idb)).chunks).toEqual([]);

    const { e: again, boot } = await openEngine(idb, { imageChunkBytes: CHUNK });
    expect(boot.source).toBe('image');
    expect(boot.recovered).toBeNull();
    expect(count(again, "SELECT count(*) FROM entries")).toBe(500);
    await again.commit({ changes: locationWithEntries(1, 'New'), hlc: null });
    await again.snapshot();
    const now = await readRecord<{ current: string }>(idb, 'meta', 'pointer');
    const next = await readRecord<StoredImage>(idb, 'images', now.current);
    expect(next.bytes).toBeUndefined();
    expect(next.chunks!.length).toBeGreaterThan(1);
    await again.close();
    const { e: third } = await openEngine(idb, { imageChunkBytes: CHUNK });
    expect(count(third, "SELECT count(*) FROM entries")).toBe(501);
    await third.close();
  });

  it('a chunk missing from the current image falls back to the previous one, losing nothing', async () => {
    const idb = new IDBFactory();
    const { e } = await openEngine(idb, { imageChunkBytes: CHUNK });
    await e.commit({ changes: locationWithEntries(800, 'A'), hlc: null });
    await e.snapshot();
    await e.commit({ changes: locationWithEntries(5, 'B'), hlc: null });
    await e.snapshot();
    await e.commit({ changes: locationWithEntries(5, 'C'), hlc: null });
    await e.close();
    const pointer = await readRecord<{ current: string }>(idb, 'meta', 'pointer');
    const cur = await readRecord<StoredImage>(idb, 'images', pointer.current);
    await withDb(idb, async (db) => {
      const t = db.transaction('images', 'readwrite');
      t.objectStore('images').delete(`chunk:${cur.bank}-${cur.chunks![cur.chunks!.length - 1]}`);
      await new Promise((r) => (t.oncomplete = r));
    });
    const { e: again, boot } = await openEngine(idb, { imageChunkBytes: CHUNK });
    expect(boot.source).toBe('previous-image');
    expect(boot.recovered).toMatch(/chunk \d+ of \d+ is missing/);
    expect(boot.recovered).toMatch(/nothing acknowledged was lost/);
    expect(count(again, "SELECT count(*) FROM entries")).toBe(810);
    await again.close();
  });
});

describe('storage engine: timed images are spaced by what the last one cost', () => {
  it('waits IMAGE_SPACING times the last image after it before the next timed image', async () => {
    const run = async (scale: number): Promise<boolean> => {
      // a clock `scale` times faster than real time: the same image "takes" scale times longer
      const t0 = performance.now();
      const now = (): number => 1_000_000 + (performance.now() - t0) * scale;
      const e = createStorageEngine({ sql: SQL, idb: new IDBFactory(), now, imageDebounceMs: 0, imageMaxDelayMs: 0 });
      const boot = await e.open({ dbName: 'dev', deviceUuid: DEV });
      if (!boot.ok) throw new Error(boot.error.message);
      await e.commit({ changes: locationWithEntries(2000, 'A'), hlc: null });
      await e.snapshot();
      const first = e.health().lastImageAt;
      await e.commit({ changes: locationWithEntries(1, 'B'), hlc: null });
      // the unscaled engine's next image is due 10× its last image's real duration later
      const until = performance.now() + (scale === 1 ? 15_000 : 1_500);
      while (e.health().lastImageAt === first && performance.now() < until) await new Promise((r) => setTimeout(r, 50));
      const again = e.health().lastImageAt !== first;
      await e.close();
      return again;
    };
    expect(await run(1)).toBe(true); // the image took ms: the next one follows soon
    expect(await run(1_000)).toBe(false); // it "took" tens of seconds: the next waits 10× that
  }, 60_000);
});
