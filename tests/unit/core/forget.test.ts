// Forgetting a device (issue 13 item 3, core/apply.ts I7): a shared record that removes the
// device and all it owns on every device and refuses what it owns from then on — whatever the
// arrival order, whoever relays it.
import { describe, expect, it } from 'vitest';
import { createMemoryApplyStore } from '../../../src/core/apply-store.ts';
import { applyChanges } from '../../../src/core/apply.ts';
import type { Change } from '../../../src/core/change.ts';
import { validateChange } from '../../../src/core/validate.ts';
import { deviceData, entryData, fakeTime, locationData, tagFields, testDevice } from '../../support/fixtures.ts';

const A = 'aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa';
const B = 'bbbbbbbb-bbbb-4bbb-8bbb-bbbbbbbbbbbb';
const LOC = '10000000-0000-4000-8000-000000000001';
const ROOT = '10000000-0000-4000-8000-000000000002';
const FILE = '10000000-0000-4000-8000-000000000003';
const LATE = '10000000-0000-4000-8000-000000000004';
const VOL = '10000000-0000-4000-8000-000000000005';
const TAG = '20000000-0000-4000-8000-000000000001';
const B_LOC = '30000000-0000-4000-8000-000000000001';

function world() {
  const time = fakeTime();
  const a = testDevice(A, time.now);
  const b = testDevice(B, time.now);
  let seq = 0;
  const stream = <C extends Change>(c: C): C => ({ ...c, seq: ++seq });
  // A's state: its record, a volume, a location with a folder and a file; B's: its own location; a shared tag
  const aRows: Change[] = [
    a.owned('device', A, deviceData('Alpha')),
    stream(a.owned('volume', VOL, { device_uuid: A, name: 'Disk', kind: 'browser', total_capacity: null, available_capacity: null })),
    stream(a.owned('location', LOC, locationData(A, 'Photos', ROOT))),
    stream(a.owned('entry', ROOT, entryData(LOC, 'Photos', null, 'dir'))),
    stream(a.owned('entry', FILE, entryData(LOC, 'beach.jpg', ROOT))),
  ];
  const bRows: Change[] = [b.owned('device', B, deviceData('Beta')), stream(b.owned('location', B_LOC, locationData(B, 'Docs')))];
  const tag = a.shared('tag', TAG, 'insert', tagFields('Vacation', A));
  time.advance(100);
  const forgetA = b.shared('forgotten_device', A, 'insert', { forgotten_by: B, forgotten_at: time.now() });
  time.advance(100);
  // what A does after it was forgotten, before it hears of it
  const later: Change[] = [
    a.owned('device', A, deviceData('Alpha again')),
    stream(a.owned('entry', LATE, entryData(LOC, 'late.txt', ROOT))),
    stream(a.tombstone('entry', FILE)),
  ];
  return { aRows, bRows, tag, forgetA, later };
}

const state = (store: ReturnType<typeof createMemoryApplyStore>) => ({
  devices: store.uuidsWhere('devices', '_owner', A).length + store.uuidsWhere('devices', '_owner', B).length,
  a: ['volumes', 'locations', 'entries'].map((t) => store.uuidsWhere(t, '_owner', A).length),
  b: store.uuidsWhere('locations', '_owner', B).length,
  tag: store.get('tags', TAG)?.['display_name'] ?? null,
  forgotten: store.get('forgotten_devices', A)?.['forgotten_by'] ?? null,
});

describe('forgetting a device', () => {
  it('removes the device and all it owns, keeps the others and shared records, refuses what comes later', () => {
    const w = world();
    const store = createMemoryApplyStore();
    applyChanges(store, [...w.aRows, ...w.bRows, w.tag]);
    expect(state(store)).toEqual({ devices: 2, a: [1, 1, 2], b: 1, tag: 'Vacation', forgotten: null });
    const r = applyChanges(store, [w.forgetA]);
    expect(r.tables).toEqual(expect.arrayContaining(['forgotten_devices', 'devices', 'volumes', 'locations', 'entries']));
    expect(state(store)).toEqual({ devices: 1, a: [0, 0, 0], b: 1, tag: 'Vacation', forgotten: B });
    // the forgotten device comes back (or an old peer relays its rows): all refused
    const again = applyChanges(store, [...w.aRows, ...w.later]);
    expect(again.applied).toBe(0);
    expect(again.rejected.map((x) => x.type)).toEqual(Array(w.aRows.length + w.later.length).fill('tombstoned'));
    expect(again.rejected[0]!.detail).toContain('was forgotten');
    expect(state(store)).toEqual({ devices: 1, a: [0, 0, 0], b: 1, tag: 'Vacation', forgotten: B });
  });

  it('ends the same whatever the arrival order (one change at a time, any permutation)', () => {
    const w = world();
    const all = [...w.aRows, ...w.bRows, w.tag, w.forgetA, ...w.later];
    const results = new Set<string>();
    for (let k = 0; k < 40; k++) {
      // a deterministic shuffle per k
      const order = [...all].sort((x, y) => ((hash(x.hlc + k) - hash(y.hlc + k)) | 0));
      const store = createMemoryApplyStore();
      for (const c of order) applyChanges(store, [c]);
      results.add(JSON.stringify(state(store)));
    }
    const batch = createMemoryApplyStore();
    applyChanges(batch, all);
    expect([...results]).toEqual([JSON.stringify(state(batch))]);
    expect(state(batch)).toEqual({ devices: 1, a: [0, 0, 0], b: 1, tag: 'Vacation', forgotten: B });
  });

  it('an entry waiting for a location of the forgotten device is dropped', () => {
    const w = world();
    const store = createMemoryApplyStore();
    applyChanges(store, [w.aRows[4]!]); // the file before its location: it waits
    expect(store.countPending()).toBe(1);
    applyChanges(store, [w.forgetA]);
    expect(store.countPending()).toBe(0);
    expect(applyChanges(store, [w.aRows[2]!]).rejected).toHaveLength(1);
  });

  it('two devices forgetting the same device at once make one record; a forget cannot be deleted', () => {
    const w = world();
    const time = fakeTime(1_750_000_000_500);
    const c = testDevice('cccccccc-cccc-4ccc-8ccc-cccccccccccc', time.now);
    const second = c.shared('forgotten_device', A, 'insert', { forgotten_by: c.uuid, forgotten_at: 5 });
    const s1 = createMemoryApplyStore();
    const s2 = createMemoryApplyStore();
    applyChanges(s1, [...w.aRows, w.forgetA, second]);
    applyChanges(s2, [second, ...w.aRows, w.forgetA]);
    expect(state(s1)).toEqual(state(s2));
    expect(validateChange(c.shared('forgotten_device', A, 'delete')).ok).toBe(false);
    expect(validateChange(c.shared('forgotten_device', A, 'insert', { forgotten_by: 'me', forgotten_at: 1 })).ok).toBe(false);
  });
});

function hash(s: string): number {
  let h = 2166136261;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 16777619);
  return h;
}
