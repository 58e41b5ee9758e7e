/**
 * Closed tabs' cleanup on real parts (fake-indexeddb): the slot registry in IndexedDB, the
 * storage engine reading another device's database (`holdings`), databases deleted.
 */
import { IDBFactory } from 'fake-indexeddb';
import initSqlJs, { type SqlJsStatic } from 'sql.js';
import * as Y from 'yjs';
import { beforeAll, describe, expect, it } from 'vitest';
import type { Change } from '../../src/core/change.ts';
import { cleanSlots, deleteDatabase, relayOutboxOf } from '../../src/device/cleanup.ts';
import { openSlotRegistry } from '../../src/device/registry.ts';
import { dbNameOf, type LocksLike } from '../../src/device/slots.ts';
import { createStorageEngine, type StorageEngine } from '../../src/storage/engine.ts';
import { entryData, fakeTime, locationData, testDevice, uuidFactory } from '../support/fixtures.ts';

let SQL: SqlJsStatic;
beforeAll(async () => {
  SQL = await initSqlJs();
});

const LIB = '0e9a3c55-2f0b-4d7e-8a41-6b1d2c3e4f50';
const A = '11111111-1111-4111-8111-111111111111';
const B = '22222222-2222-4222-8222-222222222222';
const DAY = 86_400_000;
const time = fakeTime();

function fakeLocks(): LocksLike & { request<T>(name: string, cb: () => Promise<T>): Promise<T> } {
  const held = new Set<string>();
  return {
    request(name: string, a: unknown, b?: (l: unknown) => Promise<unknown>) {
      if (typeof a === 'function') return (a as () => Promise<unknown>)(); // the registry's waiting lock: tests run one at a time
      if (held.has(name)) return b!(null);
      held.add(name);
      return b!({ name }).finally(() => held.delete(name));
    },
  } as never;
}

async function device(idb: IDBFactory, uuid: string): Promise<StorageEngine> {
  const e = createStorageEngine({ sql: SQL, idb, now: time.now, imageDebounceMs: 3_600_000, imageMaxDelayMs: 3_600_000 });
  const r = await e.open({ dbName: dbNameOf(LIB, uuid), deviceUuid: uuid });
  if (!r.ok) throw new Error(r.error.message);
  return e;
}

/** B writes a location with n entries as a local commit (its own seqs), with a document update. */
async function writeRows(e: StorageEngine, owner: string, n: number, seed: string, doc: Y.Doc): Promise<void> {
  const d = testDevice(owner, time.now);
  const id = uuidFactory(seed);
  const loc = id();
  const changes: Change[] = [d.owned('location', loc, locationData(owner, seed))];
  for (let i = 0; i < n; i++) changes.push(d.owned('entry', id(), entryData(loc, `${seed}-${i}.txt`)));
  let yUpdate: Uint8Array | null = null;
  doc.once('update', (u: Uint8Array) => (yUpdate = u));
  doc.getMap('shared').set(`${seed}`, 1);
  const r = await e.commit({ changes, hlc: d.clock.current(), yUpdate });
  if (!r.ok) throw new Error(r.error.message);
}

const names = async (idb: IDBFactory): Promise<string[]> => (await idb.databases()).map((d) => d.name!).sort();

describe('closed tabs cleanup (IndexedDB, storage engine)', () => {
  it('reads what another device database holds: its watermarks from image and frames, its document state vector', async () => {
    const idb = new IDBFactory();
    const b = await device(idb, B);
    const bDoc = new Y.Doc();
    await writeRows(b, B, 3, 'one', bDoc);
    await b.snapshot(); // an image: the first rows' marks are inside SQLite now
    await writeRows(b, B, 2, 'two', bDoc);
    await b.close();
    const a = await device(idb, A);
    const h = await a.holdings({ dbName: dbNameOf(LIB, B) });
    expect(h.ok && h.value).toEqual({ marks: { [B]: 7 }, sv: { [String(bDoc.clientID)]: Y.getState(bDoc.store, bDoc.clientID) } });
    expect(await a.holdings({ dbName: dbNameOf(LIB, 'nope') })).toEqual({ ok: true, value: null });
    expect(await names(idb)).not.toContain(dbNameOf(LIB, 'nope')); // reading created nothing
    await a.close();
  });

  it('removes a stale closed slot whose rows this device holds; keeps one whose rows it lacks; registry and databases agree', async () => {
    const idb = new IDBFactory();
    const locks = fakeLocks();
    const registry = await openSlotRegistry(idb, locks);
    await registry.library(LIB);
    for (const d of [A, B]) await registry.put({ device: d, library: LIB, lastUsed: time.now(), name: d.slice(0, 4) });
    const b = await device(idb, B);
    const bDoc = new Y.Doc();
    await writeRows(b, B, 3, 'one', bDoc);
    await b.close();
    const a = await device(idb, A);
    const aDoc = new Y.Doc();
    time.advance(31 * DAY);
    let aMarks: Record<string, number> = { [B]: 2 }; // A pulled only part of B's rows
    const run = () =>
      cleanSlots({
        registry,
        locks,
        library: LIB,
        self: A,
        now: time.now,
        horizonMs: 30 * DAY,
        holdings: async (name) => {
          const r = await a.holdings({ dbName: name });
          if (!r.ok) throw new Error(r.error.message);
          return r.value;
        },
        held: () => Promise.resolve({ marks: aMarks, sv: new Map([...Y.decodeStateVector(Y.encodeStateVector(aDoc))]) }),
        forgotten: () => Promise.resolve(new Set()),
        settle: async () => void (await a.flush()),
        deleteDatabase: (name) => deleteDatabase(idb, name),
      });
    const kept = await run();
    expect(kept?.kept.map((k) => [k.device, k.why])).toEqual([[B, 'it holds 2 file changes and 1 edit no other device has yet']]);
    expect(await names(idb)).toContain(dbNameOf(LIB, B));
    // now A holds all of it (rows and the document change)
    aMarks = { [B]: 4 };
    Y.applyUpdate(aDoc, Y.encodeStateAsUpdate(bDoc));
    const done = await run();
    expect(done?.removed).toEqual([B]);
    expect(await names(idb)).not.toContain(dbNameOf(LIB, B));
    expect(await names(idb)).not.toContain(relayOutboxOf(dbNameOf(LIB, B)));
    expect(await names(idb)).toContain(dbNameOf(LIB, A));
    expect((await registry.slots(LIB)).map((s) => s.device)).toEqual([A]);
    expect(await registry.graves()).toEqual([]);
    await a.close();
  });

  it('registry: drop removes the slot and writes its grave in one transaction; bury removes the grave', async () => {
    const idb = new IDBFactory();
    const registry = await openSlotRegistry(idb, fakeLocks());
    await registry.put({ device: B, library: LIB, lastUsed: 1, name: 'b' });
    expect(await registry.slot(B)).toMatchObject({ device: B });
    await registry.drop(B);
    expect(await registry.slot(B)).toBeNull();
    expect(await registry.graves()).toEqual([{ device: B, library: LIB }]);
    // another open of the registry (another tab) sees the same
    expect(await (await openSlotRegistry(idb, fakeLocks())).graves()).toEqual([{ device: B, library: LIB }]);
    await registry.bury(B);
    expect(await registry.graves()).toEqual([]);
    await registry.drop('not-a-slot'); // nothing to retire: no grave
    expect(await registry.graves()).toEqual([]);
  });
});
