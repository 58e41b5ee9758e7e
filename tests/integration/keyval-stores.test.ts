// The main thread's key-value stores through idb-keyval (issue 16): the slot registry and the
// kept directory handles, on fake-indexeddb — each test its own "browser" (IDBFactory), each
// tab its own connection. The first layouts are written here exactly as the previous code
// wrote them (same open version, stores, key paths), and must be read back after the upgrade.
import { IDBFactory } from 'fake-indexeddb';
import { promisifyRequest } from 'idb-keyval';
import { describe, expect, it } from 'vitest';
import { openSlotRegistry, type RegistryLocks } from '../../src/device/registry.ts';
import { claimDeviceSlot, type LocksLike, type Slot, type StorageLike } from '../../src/device/slots.ts';
import { createHandleStore } from '../../src/indexer/handles.ts';
import { keyvalStore } from '../../src/storage/keyval.ts';
import { uuidFactory } from '../support/fixtures.ts';

/** Web Locks with ifAvailable (device locks), as in tests/unit/device/slots.test.ts. */
function deviceLocks(): LocksLike {
  const held = new Set<string>();
  return {
    request(name, _opts, cb) {
      if (held.has(name)) return cb(null);
      held.add(name);
      return cb({ name }).finally(() => held.delete(name));
    },
  };
}
/** Waiting exclusive Web Locks (the registry lock): callers run one after another per name. */
function waitingLocks(): RegistryLocks & { granted: number } {
  const tails = new Map<string, Promise<unknown>>();
  const locks = {
    granted: 0,
    request<T>(name: string, cb: () => Promise<T>): Promise<T> {
      const run = (tails.get(name) ?? Promise.resolve()).then(() => {
        locks.granted++;
        return cb();
      });
      tails.set(name, run.catch(() => undefined));
      return run;
    },
  };
  return locks;
}
const session = (): StorageLike => {
  const m = new Map<string, string>();
  return { getItem: (k) => m.get(k) ?? null, setItem: (k, v) => void m.set(k, v) };
};

/** The registry's first layout, written as src/device/registry.ts did before idb-keyval. */
async function writeFirstLayout(idb: IDBFactory, meta: Record<string, unknown>, slots: unknown[]): Promise<void> {
  const open = idb.open('tabdrive:registry', 1);
  open.onupgradeneeded = () => {
    open.result.createObjectStore('meta');
    open.result.createObjectStore('slots', { keyPath: 'device' });
  };
  const db = await promisifyRequest(open);
  const t = db.transaction(['meta', 'slots'], 'readwrite', { durability: 'strict' });
  for (const [k, v] of Object.entries(meta)) t.objectStore('meta').put(v, k);
  for (const s of slots) t.objectStore('slots').put(s);
  await promisifyRequest(t);
  db.close(); // the old tab is gone
}
async function storeContents(idb: IDBFactory, dbName: string): Promise<Record<string, { keys: IDBValidKey[]; values: unknown[] }>> {
  const db = await promisifyRequest(idb.open(dbName));
  const out: Record<string, { keys: IDBValidKey[]; values: unknown[] }> = {};
  for (const name of db.objectStoreNames) {
    const s = db.transaction(name).objectStore(name);
    out[name] = { keys: await promisifyRequest(s.getAllKeys()), values: await promisifyRequest(s.getAll()) };
  }
  db.close();
  return out;
}

const LIB = 'lib-0000-old';
const SECRET = 'old-secret';
const A: Slot = { device: 'dev-a', library: LIB, lastUsed: 1000, name: 'Chrome deva' };
const B: Slot = { device: 'dev-b', library: LIB, lastUsed: 2000, name: 'Chrome devb' };
const OTHER: Slot = { device: 'dev-o', library: 'lib-other', lastUsed: 3000, name: 'Chrome devo' };

describe('slot registry through idb-keyval', () => {
  it('a browser with the first layout keeps its library, secret and devices after the upgrade', async () => {
    const idb = new IDBFactory();
    await writeFirstLayout(idb, { library: LIB, [`secret:${LIB}`]: SECRET, 'secret:lib-other': 's2' }, [A, B, OTHER]);
    const reg = await openSlotRegistry(idb, waitingLocks());
    expect(reg.stats()).toEqual({ migrated: 3, invalid: 0 });
    expect(await reg.library('candidate-lib')).toBe(LIB);
    expect(await reg.secret(LIB, 'candidate-secret')).toBe(SECRET);
    expect((await reg.libraries()).sort()).toEqual([LIB, 'lib-other']);
    expect((await reg.slots(LIB)).sort((x, y) => x.lastUsed - y.lastUsed)).toEqual([A, B]);
    expect(await reg.slots('lib-other')).toEqual([OTHER]);
    // a new tab adopts the most recently used device it had before the upgrade
    const claim = await claimDeviceSlot({ session: session(), registry: reg, locks: deviceLocks(), randomUuid: uuidFactory('u'), now: () => 5000, forceNew: false }, 'Chrome');
    expect(claim).toMatchObject({ library: LIB, device: B.device, how: 'adopted', name: B.name, siblings: [`tabdrive:${LIB}:${A.device}`] });

    // the move happened once: the old store is empty, the slots are `slot:<device>` in meta
    const after = await storeContents(idb, 'tabdrive:registry');
    expect(after['slots']).toEqual({ keys: [], values: [] });
    expect(after['meta']!.keys).toEqual(expect.arrayContaining(['library', `secret:${LIB}`, 'slot:dev-a', 'slot:dev-b', 'slot:dev-o']));
    const again = await openSlotRegistry(idb, null);
    expect(again.stats().migrated).toBe(0);
    expect((await again.slots(LIB)).find((s) => s.device === B.device)?.lastUsed).toBe(5000);
  });

  it('a fresh browser gets the one-store layout idb-keyval opens (no legacy store)', async () => {
    const idb = new IDBFactory();
    const reg = await openSlotRegistry(idb, null);
    const lib = await reg.library('L1');
    await reg.put({ device: 'd1', library: lib, lastUsed: 1, name: 'n' });
    const db = await storeContents(idb, 'tabdrive:registry');
    expect(Object.keys(db)).toEqual(['meta']);
    expect(db['meta']!.keys.sort()).toEqual(['library', 'slot:d1']);
  });

  it('tabs opening an old-layout browser at the same moment move each slot once and agree', async () => {
    const idb = new IDBFactory();
    await writeFirstLayout(idb, { library: LIB, [`secret:${LIB}`]: SECRET }, [A, B]);
    const locks = waitingLocks();
    const regs = await Promise.all(Array.from({ length: 4 }, () => openSlotRegistry(idb, locks)));
    expect(regs.map((r) => r.stats().migrated).reduce((x, y) => x + y)).toBe(2);
    const dl = deviceLocks();
    const uuid = uuidFactory('at-once');
    const claims = await Promise.all(regs.map((registry) => claimDeviceSlot({ session: session(), registry, locks: dl, randomUuid: uuid, now: () => 9000, forceNew: false }, 'Chrome')));
    expect(new Set(claims.map((c) => c.library))).toEqual(new Set([LIB]));
    expect(new Set(claims.map((c) => c.device)).size).toBe(4);
    expect(claims.filter((c) => c.how === 'adopted').map((c) => c.device).sort()).toEqual([A.device, B.device]);
    expect(new Set(await Promise.all(regs.map((r) => r.secret(LIB, crypto.randomUUID()))))).toEqual(new Set([SECRET]));
  });

  for (const [label, locks] of [['the registry lock', waitingLocks], ['IndexedDB alone (no Web Locks)', () => null]] as const) {
    it(`tabs opening a fresh browser at the same moment agree on one library and secret (${label})`, async () => {
      const idb = new IDBFactory();
      const shared = locks();
      const regs = await Promise.all(Array.from({ length: 6 }, () => openSlotRegistry(idb, shared)));
      const dl = deviceLocks();
      const uuid = uuidFactory(label);
      const claims = await Promise.all(regs.map((registry) => claimDeviceSlot({ session: session(), registry, locks: dl, randomUuid: uuid, now: () => 1, forceNew: false }, 'Chrome')));
      expect(new Set(claims.map((c) => c.library)).size).toBe(1);
      expect(new Set(claims.map((c) => c.device)).size).toBe(6);
      const lib = claims[0]!.library;
      expect(new Set(await Promise.all(regs.map((r) => r.secret(lib, crypto.randomUUID())))).size).toBe(1);
      expect(await regs[0]!.slots(lib)).toHaveLength(6);
      if (shared) expect(shared.granted).toBeGreaterThanOrEqual(6 + 6 + 6); // migrations, libraries, secrets
    });
  }

  it('malformed records are skipped and counted, not thrown', async () => {
    const idb = new IDBFactory();
    await writeFirstLayout(idb, { library: 42 }, [A, { device: 'dev-bad', library: LIB }]);
    const reg = await openSlotRegistry(idb, null);
    expect(await reg.slots(LIB)).toEqual([A]);
    expect(reg.stats().invalid).toBe(1);
    expect(await reg.library('L-new')).toBe('L-new'); // a non-string library is replaced
    expect(reg.stats()).toEqual({ migrated: 2, invalid: 2 });
  });

  it('join and open switch the library; writes are strict', async () => {
    const idb = new IDBFactory();
    const reg = await openSlotRegistry(idb, null);
    expect(await reg.library('L1')).toBe('L1');
    await reg.join('L2', 'S2');
    expect(await reg.library('L3')).toBe('L2');
    expect(await reg.secret('L2', 'other')).toBe('S2');
    await reg.open('L1');
    expect(await reg.library('L3')).toBe('L1');
    const strict = keyvalStore(idb, 'tabdrive:registry', 'meta', 'strict');
    expect(await strict('readwrite', (s) => s.transaction.durability)).toBe('strict');
  });
});

describe('kept directory handles through idb-keyval', () => {
  const handle = (name: string) => ({ kind: 'directory', name }) as unknown as FileSystemDirectoryHandle;

  it('handles kept by the previous code are still there; save, load and forget', async () => {
    const idb = new IDBFactory();
    // as src/indexer/handles.ts wrote them before idb-keyval
    const open = idb.open('tabdrive:folder-handles', 1);
    open.onupgradeneeded = () => open.result.createObjectStore('handles');
    const db = await promisifyRequest(open);
    const t = db.transaction('handles', 'readwrite');
    t.objectStore('handles').put(handle('Trip'), 'loc-1');
    t.objectStore('handles').put('not a handle', 'loc-bad');
    await promisifyRequest(t);
    db.close();

    const store = createHandleStore(idb);
    expect(await store.load('loc-1')).toEqual({ kind: 'directory', name: 'Trip' });
    expect(await store.load('loc-bad')).toBeNull();
    expect(await store.load('loc-none')).toBeNull();
    await store.save('loc-2', handle('Photos'));
    expect(await createHandleStore(idb).load('loc-2')).toEqual({ kind: 'directory', name: 'Photos' });
    await store.forget('loc-1');
    expect(await store.load('loc-1')).toBeNull();
    expect(Object.keys(await storeContents(idb, 'tabdrive:folder-handles'))).toEqual(['handles']);
  });

  it('a version change elsewhere closes the connection instead of blocking it; the store reopens', async () => {
    const idb = new IDBFactory();
    const store = createHandleStore(idb);
    await store.save('loc', handle('A'));
    const upgrade = idb.open('tabdrive:folder-handles', 2);
    let blocked = false;
    upgrade.onblocked = () => (blocked = true);
    (await promisifyRequest(upgrade)).close();
    expect(blocked).toBe(false);
    expect(await store.load('loc')).toEqual({ kind: 'directory', name: 'A' });
  });
});
