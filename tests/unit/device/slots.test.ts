import { describe, expect, it } from 'vitest';
import { claimDeviceSlot, createMemorySlotRegistry, type LocksLike, type SlotRegistry, type StorageLike } from '../../../src/device/slots.ts';
import { uuidFactory } from '../../support/fixtures.ts';

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

function browser(registry: SlotRegistry, locks: LocksLike, seed = 'x') {
  let t = 1000;
  const uuid = uuidFactory(seed);
  return (s: StorageLike, forceNew = false) =>
    claimDeviceSlot({ session: s, registry, locks, randomUuid: uuid, now: () => ++t, forceNew }, 'Chrome');
}

describe('device slots', () => {
  it('a reload keeps its device', async () => {
    const open = browser(createMemorySlotRegistry(), fakeLocks());
    const s = session();
    const first = await open(s);
    first.release(); // the page unloads
    const again = await open(s);
    expect(again).toMatchObject({ device: first.device, how: 'reloaded', library: first.library });
  });

  it('a duplicated tab (same sessionStorage, lock held) becomes another device', async () => {
    const open = browser(createMemorySlotRegistry(), fakeLocks());
    const s = session();
    const a = await open(s);
    const copy: StorageLike = { getItem: (k) => s.getItem(k), setItem: () => undefined };
    const dup = await open(copy);
    expect(dup.device).not.toBe(a.device);
    expect(dup.how).toBe('created');
  });

  it("names the library's other devices here, most recently used first (a new device may start from one)", async () => {
    const open = browser(createMemorySlotRegistry(), fakeLocks());
    const a = await open(session());
    const b = await open(session());
    const c = await open(session());
    expect(a.siblings).toEqual([]);
    expect(c.how).toBe('created');
    expect(c.siblings).toEqual([b.dbName, a.dbName]);
  });

  it('a new tab adopts the most recently used free slot', async () => {
    const open = browser(createMemorySlotRegistry(), fakeLocks());
    const a = await open(session());
    const b = await open(session());
    a.release();
    b.release();
    const c = await open(session()); // b was used last
    expect(c).toMatchObject({ device: b.device, how: 'adopted' });
    const d = await open(session()); // b is held by c: next most recent is a
    expect(d).toMatchObject({ device: a.device, how: 'adopted' });
  });

  it('"New device" never adopts', async () => {
    const open = browser(createMemorySlotRegistry(), fakeLocks());
    const a = await open(session());
    a.release();
    const fresh = await open(session(), true);
    expect(fresh.device).not.toBe(a.device);
    expect(fresh.how).toBe('created');
  });

  it('tabs starting at once never share a slot', async () => {
    const registry = createMemorySlotRegistry();
    const locks = fakeLocks();
    const open = browser(registry, locks);
    const first = await Promise.all(Array.from({ length: 4 }, () => open(session())));
    first.forEach((c) => c.release());
    await new Promise((r) => setTimeout(r, 0)); // lock release settles asynchronously
    const claims = await Promise.all(Array.from({ length: 6 }, () => open(session())));
    expect(new Set(claims.map((c) => c.device)).size).toBe(6);
    expect(claims.filter((c) => c.how === 'adopted')).toHaveLength(4);
  });

  it('names a device after its browser and id, and keeps devices per library', async () => {
    const registry = createMemorySlotRegistry();
    const c = await browser(registry, fakeLocks())(session());
    expect(c.name).toBe(`Chrome ${c.device.slice(0, 4)}`);
    expect(c.dbName).toBe(`tabdrive:${c.library}:${c.device}`);
    expect(await registry.slots(c.library)).toHaveLength(1);
  });
});
