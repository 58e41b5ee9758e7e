import { describe, expect, it } from 'vitest';
import { cleanSlots, relayOutboxOf, unreplicated, type CleanupDeps, type HeldHere } from '../../../src/device/cleanup.ts';
import { claimDeviceSlot, createMemorySlotRegistry, dbNameOf, lockName, type LocksLike, type SlotRegistry, type StorageLike } from '../../../src/device/slots.ts';
import type { Holdings } from '../../../src/storage/rpc.ts';
import { fakeTime, uuidFactory } from '../../support/fixtures.ts';

/** Web Locks as Chromium behaves with ifAvailable: null when held, held until cb's promise settles. */
function fakeLocks(): LocksLike & { held: Set<string> } {
  const held = new Set<string>();
  return {
    held,
    request(name, _opts, cb) {
      if (held.has(name)) return cb(null);
      held.add(name);
      return cb({ name }).finally(() => held.delete(name));
    },
  };
}
const session = (): StorageLike => {
  const m = new Map<string, string>();
  return { getItem: (k) => m.get(k) ?? null, setItem: (k, v) => void m.set(k, v) };
};

const DAY = 86_400_000;
const LIB = 'b0a6d3c1-4a4b-4c3e-9b1a-0d6f3c2e1a00';

/** A browser: a registry, locks, a clock, and databases by name (what each one holds). */
function world() {
  const registry = createMemorySlotRegistry();
  const locks = fakeLocks();
  const time = fakeTime();
  const uuid = uuidFactory('cleanup');
  const dbs = new Map<string, Holdings>();
  const deleted: string[] = [];
  const open = async (forceNew = false) => {
    const c = await claimDeviceSlot({ session: session(), registry, locks, randomUuid: uuid, now: time.now, forceNew }, 'Chrome');
    if (!dbs.has(c.dbName)) dbs.set(c.dbName, { marks: {}, sv: {} });
    return c;
  };
  const here: { held: HeldHere; forgotten: Set<string> } = { held: { marks: {}, sv: new Map() }, forgotten: new Set() };
  const deps = (self: string, over: Partial<CleanupDeps> = {}): CleanupDeps => ({
    registry,
    locks,
    library: LIB,
    self,
    now: time.now,
    horizonMs: 30 * DAY,
    holdings: (name) => Promise.resolve(dbs.get(name) ?? null),
    held: () => Promise.resolve(here.held),
    forgotten: () => Promise.resolve(here.forgotten),
    settle: () => Promise.resolve(),
    deleteDatabase: (name) => {
      deleted.push(name);
      dbs.delete(name);
      return Promise.resolve(true);
    },
    ...over,
  });
  return { registry, locks, time, dbs, deleted, open, here, deps };
}

/** library() picks the first candidate: make it LIB */
async function start(w: ReturnType<typeof world>) {
  await w.registry.library(LIB);
}

/** this tab (me) and a tab closed a month ago (old) */
async function oneClosedMonthAgo() {
  const w = world();
  await start(w);
  const me = await w.open();
  const old = await w.open();
  old.release();
  w.time.advance(31 * DAY);
  return { w, me, old };
}

describe('closed tabs cleanup', () => {
  it('removes a stale slot nobody runs whose rows are held here: record, database and relay outbox', async () => {
    const w = world();
    await start(w);
    const me = await w.open();
    const old = await w.open();
    old.release(); // the tab closed
    w.dbs.set(old.dbName, { marks: { [old.device]: 40, [me.device]: 7 }, sv: { '11': 5 } });
    w.here.held = { marks: { [old.device]: 40, [me.device]: 9 }, sv: new Map([[11, 5]]) };
    w.time.advance(31 * DAY);
    const report = await cleanSlots(w.deps(me.device));
    expect(report?.removed).toEqual([old.device]);
    expect(await w.registry.slot(old.device)).toBeNull();
    expect(w.deleted).toEqual([old.dbName, relayOutboxOf(old.dbName)]);
    expect(await w.registry.graves()).toEqual([]);
    // this tab's own slot is in use: its lastUsed is now, not a month ago
    expect((await w.registry.slot(me.device))?.lastUsed).toBe(w.time.now());
  });

  it('keeps a slot whose tab runs (lock held), one used within the horizon, and never removes its own', async () => {
    const w = world();
    await start(w);
    const me = await w.open();
    const running = await w.open();
    const recent = await w.open();
    recent.release();
    w.time.advance(31 * DAY);
    await w.registry.put({ ...(await w.registry.slot(recent.device))!, lastUsed: w.time.now() - 29 * DAY });
    const report = await cleanSlots(w.deps(me.device));
    expect(report).toMatchObject({ removed: [], kept: [] });
    expect((await w.registry.slots(LIB)).map((s) => s.device).sort()).toEqual([me.device, running.device, recent.device].sort());
    expect(w.deleted).toEqual([]);
  });

  it('keeps a slot holding rows or edits held nowhere else, and says so; a peer or the relay holding them counts', async () => {
    const w = world();
    await start(w);
    const me = await w.open();
    const old = await w.open();
    old.release();
    w.dbs.set(old.dbName, { marks: { [old.device]: 40 }, sv: { '11': 5 } });
    w.here.held = { marks: { [old.device]: 38 }, sv: new Map([[11, 5]]) };
    w.time.advance(31 * DAY);
    const r1 = await cleanSlots(w.deps(me.device));
    expect(r1?.removed).toEqual([]);
    expect(r1?.kept).toEqual([expect.objectContaining({ device: old.device, why: 'it holds 2 file changes no other device has yet' })]);
    // the rows are everywhere but an edit (Yjs client 12's clock 3) is not
    w.dbs.set(old.dbName, { marks: { [old.device]: 40 }, sv: { '11': 5, '12': 3 } });
    w.here.held = { marks: { [old.device]: 40 }, sv: new Map([[11, 5]]) };
    expect((await cleanSlots(w.deps(me.device)))?.kept[0]?.why).toBe('it holds 3 edits no other device has yet');
    // the marks here are the max of this device's, its peers' and the relay's (main.ts): held
    w.here.held = { marks: { [old.device]: 40 }, sv: new Map([[11, 5], [12, 3]]) };
    expect((await cleanSlots(w.deps(me.device)))?.removed).toEqual([old.device]);
  });

  it("asks what is held leaving out the slot's own device (a closed tab's lingering presence must not vouch for itself)", async () => {
    const { w, me, old } = await oneClosedMonthAgo();
    const asked: string[] = [];
    await cleanSlots(w.deps(me.device, { held: (d) => (asked.push(d), Promise.resolve(w.here.held)) }));
    expect(asked).toEqual([old.device]);
  });

  it("a kept slot's database is read once while nobody uses it; again once a tab has used it", async () => {
    const { w, me, old } = await oneClosedMonthAgo();
    w.dbs.set(old.dbName, { marks: { [old.device]: 40 }, sv: {} });
    const reads: string[] = [];
    const memo = new Map();
    const deps = w.deps(me.device, { memo, holdings: (name) => (reads.push(name), Promise.resolve(w.dbs.get(name) ?? null)) });
    for (let i = 0; i < 3; i++) expect((await cleanSlots(deps))?.kept.map((k) => k.device)).toEqual([old.device]);
    expect(reads).toEqual([old.dbName]);
    const again = await w.open(); // a new tab adopts it (fresh lastUsed), then closes
    expect(again.device).toBe(old.device);
    again.release();
    await new Promise((r) => setTimeout(r, 0));
    w.time.advance(31 * DAY);
    w.here.held = { marks: { [old.device]: 40 }, sv: new Map() };
    expect((await cleanSlots(deps))?.removed).toEqual([old.device]);
    expect(reads).toEqual([old.dbName, old.dbName]);
  });

  it('a forgotten device goes whatever it holds; rows of forgotten owners do not keep a slot', async () => {
    const w = world();
    await start(w);
    const me = await w.open();
    const gone = await w.open();
    const other = await w.open();
    gone.release();
    other.release();
    const third = '5f0e8c8a-1111-4222-8333-444455556666';
    w.dbs.set(gone.dbName, { marks: { [gone.device]: 99 }, sv: { '1': 9 } });
    w.dbs.set(other.dbName, { marks: { [third]: 50 }, sv: {} });
    w.here.forgotten = new Set([gone.device, third]);
    w.time.advance(31 * DAY);
    const report = await cleanSlots(w.deps(me.device));
    expect([...(report?.removed ?? [])].sort()).toEqual([gone.device, other.device].sort());
  });

  it('keeps a slot whose database cannot be read; removes one whose database is not there', async () => {
    const w = world();
    await start(w);
    const me = await w.open();
    const bad = await w.open();
    const empty = await w.open();
    bad.release();
    empty.release();
    w.dbs.set(bad.dbName, { unreadable: 'its image is damaged (checksum mismatch)' });
    w.dbs.delete(empty.dbName);
    w.time.advance(31 * DAY);
    const report = await cleanSlots(w.deps(me.device));
    expect(report?.removed).toEqual([empty.device]);
    expect(report?.kept).toEqual([expect.objectContaining({ device: bad.device, why: 'its database cannot be read (its image is damaged (checksum mismatch))' })]);
  });

  it('a horizon of never removes nothing; without Web Locks nothing runs', async () => {
    const w = world();
    await start(w);
    const me = await w.open();
    (await w.open()).release();
    w.time.advance(400 * DAY);
    expect((await cleanSlots(w.deps(me.device, { horizonMs: null })))?.removed).toEqual([]);
    expect(await cleanSlots(w.deps(me.device, { locks: null }))).toBeNull();
    expect(await w.registry.slots(LIB)).toHaveLength(2);
  });

  it('two tabs cleaning at once: the second skips its run, each slot is removed once', async () => {
    const w = world();
    await start(w);
    const a = await w.open();
    const b = await w.open();
    const old = await w.open();
    old.release();
    w.time.advance(31 * DAY);
    const [ra, rb] = await Promise.all([cleanSlots(w.deps(a.device)), cleanSlots(w.deps(b.device))]);
    expect([ra, rb].filter((r) => r === null)).toHaveLength(1);
    expect([...(ra?.removed ?? []), ...(rb?.removed ?? [])]).toEqual([old.device]);
    expect(w.deleted.filter((n) => n === old.dbName)).toHaveLength(1);
  });

  it('race: a new tab that listed the slots before cleanup retired one does not adopt it', async () => {
    const { w, me, old } = await oneClosedMonthAgo();
    // the new tab reads the slot list, then cleanup runs to the end, then the tab takes locks
    const racing: SlotRegistry = {
      ...w.registry,
      slots: async (lib) => {
        const listed = await w.registry.slots(lib);
        expect((await cleanSlots(w.deps(me.device)))?.removed).toEqual([old.device]);
        return listed;
      },
    };
    const c = await claimDeviceSlot({ session: session(), registry: racing, locks: w.locks, randomUuid: uuidFactory('late'), now: w.time.now, forceNew: false }, 'Chrome');
    expect(c.how).toBe('created');
    expect(c.device).not.toBe(old.device);
    expect(await w.registry.slot(old.device)).toBeNull(); // not written back by the claim
  });

  it('race: a slot adopted after cleanup listed it is not removed (its lock is held, or its lastUsed is fresh)', async () => {
    const { w, me, old } = await oneClosedMonthAgo();
    let adopted: Awaited<ReturnType<typeof w.open>> | null = null;
    const racing = (closeAtOnce: boolean): SlotRegistry => ({
      ...w.registry,
      slots: async (lib) => {
        const listed = await w.registry.slots(lib);
        adopted = await w.open(); // a new tab adopts the most recently used free slot: old
        expect(adopted.device).toBe(old.device);
        if (closeAtOnce) adopted.release();
        return listed;
      },
    });
    expect((await cleanSlots(w.deps(me.device, { registry: racing(false) })))?.removed).toEqual([]);
    adopted!.release();
    await new Promise((r) => setTimeout(r, 0));
    w.time.advance(31 * DAY);
    // adopted and closed again between the list and the lock: the re-read sees a fresh lastUsed
    expect((await cleanSlots(w.deps(me.device, { registry: racing(true) })))?.removed).toEqual([]);
    expect(await w.registry.slot(old.device)).not.toBeNull();
    expect(w.deleted).toEqual([]);
  });

  it("a dropped slot (a forgotten device that rejoined) leaves a grave: its databases go once its tab is gone", async () => {
    const w = world();
    await start(w);
    const me = await w.open();
    const forgotten = await w.open();
    await w.registry.drop(forgotten.device);
    expect(await w.registry.graves()).toEqual([{ device: forgotten.device, library: LIB }]);
    // its tab is still open: the lock is held, nothing is deleted
    expect((await cleanSlots(w.deps(me.device)))?.buried).toEqual([]);
    expect(w.locks.held.has(lockName(forgotten.device))).toBe(true);
    forgotten.release();
    await new Promise((r) => setTimeout(r, 0));
    const report = await cleanSlots(w.deps(me.device));
    expect(report?.buried).toEqual([forgotten.device]);
    expect(w.deleted).toEqual([dbNameOf(LIB, forgotten.device), relayOutboxOf(dbNameOf(LIB, forgotten.device))]);
    expect(await w.registry.graves()).toEqual([]);
  });

  it('a database that is not deleted in time keeps its grave for the next run', async () => {
    const { w, me, old } = await oneClosedMonthAgo();
    const report = await cleanSlots(w.deps(me.device, { deleteDatabase: () => Promise.resolve(false) }));
    expect(report?.removed).toEqual([old.device]);
    expect(await w.registry.slot(old.device)).toBeNull();
    expect(await w.registry.graves()).toEqual([{ device: old.device, library: LIB }]);
    expect((await cleanSlots(w.deps(me.device)))?.buried).toEqual([old.device]);
  });

  it('unreplicated: counts rows per owner above what is held, and Yjs clocks above this document', () => {
    const here: HeldHere = { marks: { a: 10, b: 3 }, sv: new Map([[1, 4]]) };
    expect(unreplicated({ marks: { a: 10, b: 2 }, sv: { '1': 4 } }, here, new Set())).toBeNull();
    expect(unreplicated({ marks: { a: 11, c: 2 }, sv: { '1': 5 } }, here, new Set())).toBe('it holds 3 file changes and 1 edit no other device has yet');
    expect(unreplicated({ marks: { c: 2 }, sv: {} }, here, new Set(['c']))).toBeNull();
  });
});
