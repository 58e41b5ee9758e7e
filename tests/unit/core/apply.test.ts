import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { createMemoryApplyStore } from '../../../src/core/apply-store.ts';
import { applyChanges } from '../../../src/core/apply.ts';
import type { Change } from '../../../src/core/change.ts';
import { MODELS_IN_DEPENDENCY_ORDER } from '../../../src/core/models.ts';
import { albumEntryUuid, tagLinkUuid } from '../../../src/core/uuid.ts';
import { deviceData, entryData, fakeTime, locationData, tagFields, testDevice } from '../../support/fixtures.ts';

const A = 'aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa';
const B = 'bbbbbbbb-bbbb-4bbb-8bbb-bbbbbbbbbbbb';
const LOC = '10000000-0000-4000-8000-000000000001';
const DIR = '10000000-0000-4000-8000-000000000002';
const FILE = '10000000-0000-4000-8000-000000000003';
const TAG = '20000000-0000-4000-8000-000000000001';

function setup() {
  const time = fakeTime();
  return { time, a: testDevice(A, time.now), b: testDevice(B, time.now), store: createMemoryApplyStore() };
}

describe('device-owned records', () => {
  it('upsert by uuid, idempotently; an older state changes nothing', () => {
    const { a, store } = setup();
    const v1 = a.owned('location', LOC, locationData(A, 'Photos'));
    const v2 = a.owned('location', LOC, locationData(A, 'Pictures'));
    expect(applyChanges(store, [v1]).applied).toBe(1);
    expect(applyChanges(store, [v2]).applied).toBe(1);
    const again = applyChanges(store, [v1, v2]);
    expect(again).toMatchObject({ applied: 0, unchanged: 2 });
    expect(store.get('locations', LOC)).toMatchObject({ name: 'Pictures', _owner: A, _hlc: v2.hlc });
  });

  it('reset local-only columns on receipt: a location arrives pending', () => {
    const { a, store } = setup();
    applyChanges(store, [a.owned('location', LOC, locationData(A, 'Photos'))]);
    expect(store.get('locations', LOC)).toMatchObject({ scan_state: 'pending', error_message: null });
  });

  it('reject writes by anyone but the owner, and count them', () => {
    const { a, b, store } = setup();
    applyChanges(store, [a.owned('location', LOC, locationData(A, 'Mine'))]);
    const r = applyChanges(store, [
      b.owned('location', LOC, locationData(B, 'Stolen')), // row belongs to A
      b.owned('device', A, deviceData('Fake A')), // a device record is its own device
      b.owned('volume', '30000000-0000-4000-8000-000000000001', { device_uuid: A, name: 'v', kind: 'browser', total_capacity: null, available_capacity: null }),
      b.owned('entry', FILE, entryData(LOC, 'x.txt')), // A's location
      { ...a.owned('entry', FILE, entryData(LOC, 'y.txt')), owner: B }, // stamped by A, claimed by B
    ]);
    expect(r.applied).toBe(0);
    expect(r.rejected.map((x) => x.type)).toEqual(['ownership', 'ownership', 'ownership', 'ownership', 'ownership']);
    expect(store.get('locations', LOC)?.['name']).toBe('Mine');
    expect(store.get('entries', FILE)).toBeUndefined();
  });

  it('a deleted location takes its entries with it, and entries arriving later stay out', () => {
    const { a, store } = setup();
    applyChanges(store, [
      a.owned('location', LOC, locationData(A, 'Photos', DIR)),
      a.owned('entry', DIR, entryData(LOC, 'root', null, 'dir')),
      a.owned('entry', FILE, entryData(LOC, 'a.jpg', DIR)),
    ]);
    const late = a.owned('entry', '10000000-0000-4000-8000-000000000009', entryData(LOC, 'late.jpg', DIR));
    const del = a.tombstone('location', LOC);
    applyChanges(store, [del]);
    expect(store.get('locations', LOC)).toBeUndefined();
    expect(store.uuidsWhere('entries', 'location_uuid', LOC)).toEqual([]);
    const r = applyChanges(store, [late, a.owned('location', LOC, locationData(A, 'Back'))]);
    expect(r.applied).toBe(0);
    expect(r.rejected.map((x) => x.type)).toEqual(['tombstoned', 'tombstoned']);
  });

  it('a deleted directory removes its whole subtree', () => {
    const { a, store } = setup();
    const sub = '10000000-0000-4000-8000-00000000000a';
    applyChanges(store, [
      a.owned('location', LOC, locationData(A, 'Photos', DIR)),
      a.owned('entry', DIR, entryData(LOC, 'root', null, 'dir')),
      a.owned('entry', sub, entryData(LOC, 'sub', DIR, 'dir')),
      a.owned('entry', FILE, entryData(LOC, 'deep.txt', sub)),
    ]);
    applyChanges(store, [a.tombstone('entry', DIR)]);
    expect([...(store.tables.get('entries')?.keys() ?? [])]).toEqual([]);
  });

  it('an entry arriving before its location waits, durably, and appears with it (DESIGN §5.6)', () => {
    const { a, store } = setup();
    const entry = a.owned('entry', FILE, entryData(LOC, 'early.txt'));
    const loc = a.owned('location', LOC, locationData(A, 'Photos'));
    expect(applyChanges(store, [entry])).toMatchObject({ applied: 0, unchanged: 0, pending: 1, rejected: [] });
    expect(store.get('entries', FILE)).toBeUndefined();
    expect(store.countPending()).toBe(1);
    expect(applyChanges(store, [entry])).toMatchObject({ applied: 0, unchanged: 1, pending: 0 }); // idempotent
    // the location applies, and with it what waited for it (the report counts both)
    const r = applyChanges(store, [loc]);
    expect(r).toMatchObject({ applied: 2, pending: 0, rejected: [] });
    expect([...r.tables].sort()).toEqual(['entries', 'locations']);
    expect(store.get('entries', FILE)).toMatchObject({ name: 'early.txt', _owner: A, _hlc: entry.hlc });
    expect(store.countPending()).toBe(0);
  });

  it("an entry written into another device's location: the same rows and rejection in either arrival order", () => {
    const { a, b } = setup();
    const loc = a.owned('location', LOC, locationData(A, 'Mine'));
    const mine = a.owned('entry', DIR, entryData(LOC, 'mine.txt'));
    const hostile = b.owned('entry', FILE, entryData(LOC, 'planted.txt'));
    const outcome = (order: Change[][]) => {
      const store = createMemoryApplyStore();
      const rejected = order.flatMap((batch) => applyChanges(store, batch).rejected.map((r) => `${r.type} ${r.model} ${r.uuid}`));
      return { rejected, entries: store.tables.get('entries'), locations: store.tables.get('locations'), pending: store.countPending() };
    };
    const locationFirst = outcome([[loc], [mine], [hostile]]);
    expect(locationFirst.rejected).toEqual([`ownership entry ${FILE}`]);
    expect([...locationFirst.entries!.keys()]).toEqual([DIR]);
    for (const order of [[[hostile], [loc], [mine]], [[hostile], [mine], [loc]], [[mine, hostile], [loc]], [[hostile, loc, mine]]])
      expect(outcome(order)).toEqual(locationFirst);
  });

  it('a waiting entry keeps only its newest version; a newer state of the row supersedes it', () => {
    const { a, store } = setup();
    const v1 = { ...a.owned('entry', FILE, entryData(LOC, 'v1.txt')), seq: 3 };
    const v2 = { ...a.owned('entry', FILE, entryData(LOC, 'v2.txt')), seq: 5 };
    expect(applyChanges(store, [v2]).pending).toBe(1);
    expect(applyChanges(store, [v1])).toMatchObject({ pending: 0, unchanged: 1 }); // older than what waits
    expect(store.countPending()).toBe(1);
    applyChanges(store, [{ ...a.owned('location', LOC, locationData(A, 'Photos')), seq: 7 }]);
    expect(store.get('entries', FILE)).toMatchObject({ name: 'v2.txt', _seq: 5 });
    // and in the other order, the newer one replaces the older one waiting
    const other = createMemoryApplyStore();
    expect(applyChanges(other, [v1]).pending).toBe(1);
    expect(applyChanges(other, [v2]).pending).toBe(1);
    expect(other.countPending()).toBe(1);
    applyChanges(other, [{ ...a.owned('location', LOC, locationData(A, 'Photos')), seq: 7 }]);
    expect(other.tables.get('entries')).toEqual(store.tables.get('entries'));
    // a row moved to a location not known yet keeps its state until that location arrives …
    const elsewhere = '10000000-0000-4000-8000-0000000000aa';
    const moved = { ...a.owned('entry', FILE, entryData(elsewhere, 'moved.txt')), seq: 8 };
    expect(applyChanges(store, [moved]).pending).toBe(1);
    expect(store.get('entries', FILE)).toMatchObject({ name: 'v2.txt' });
    // … unless a newer state in a known location comes first: the waiting one is dropped
    const back = { ...a.owned('entry', FILE, entryData(LOC, 'back.txt')), seq: 9 };
    expect(applyChanges(store, [back]).applied).toBe(1);
    expect(store.countPending()).toBe(0);
    applyChanges(store, [{ ...a.owned('location', elsewhere, locationData(A, 'Later')), seq: 10 }]);
    expect(store.get('entries', FILE)).toMatchObject({ name: 'back.txt', location_uuid: LOC, _seq: 9 });
  });

  it('a deleted location rejects what waits for it; a deleted entry or device drops its waiting versions', () => {
    const { a, b, store } = setup();
    const waiting = a.owned('entry', FILE, entryData(LOC, 'w.txt'));
    const planted = b.owned('entry', DIR, entryData(LOC, 'p.txt'));
    expect(applyChanges(store, [waiting, planted]).pending).toBe(2);
    const r = applyChanges(store, [a.tombstone('location', LOC)]);
    expect(r.applied).toBe(1);
    expect(r.rejected.map((x) => `${x.type} ${x.uuid}`).sort()).toEqual([`tombstoned ${DIR}`, `tombstoned ${FILE}`]);
    expect(store.countPending()).toBe(0);
    const nowhere = '10000000-0000-4000-8000-0000000000bb';
    const gone = a.owned('entry', '10000000-0000-4000-8000-0000000000cc', entryData(nowhere, 'gone.txt'));
    const theirs = b.owned('entry', '10000000-0000-4000-8000-0000000000dd', entryData(nowhere, 'theirs.txt'));
    expect(applyChanges(store, [gone, theirs]).pending).toBe(2);
    applyChanges(store, [a.tombstone('entry', gone.uuid)]);
    expect(store.countPending()).toBe(1);
    applyChanges(store, [b.owned('device', B, deviceData('B')), b.tombstone('device', B)]);
    expect(store.countPending()).toBe(0);
  });

  it('entries whose location never comes stay pending, counted, and change no row', () => {
    const { a, store } = setup();
    const nowhere = '10000000-0000-4000-8000-0000000000ee';
    const r = applyChanges(store, Array.from({ length: 40 }, (_, i) => a.owned('entry', `10000000-0000-4000-8000-${String(100 + i).padStart(12, '0')}`, entryData(nowhere, `f${i}`))));
    expect(r).toMatchObject({ applied: 0, pending: 40, rejected: [], tables: [] });
    expect(store.countPending()).toBe(40);
    expect(store.tables.get('entries')?.size ?? 0).toBe(0);
  });
});

describe('shared records', () => {
  it('keep, per field, the value with the highest HLC — whatever the arrival order', () => {
    const { a, b, time } = setup();
    const changes: Change[] = [a.shared('tag', TAG, 'insert', tagFields('Vacation', A))];
    time.advance(10);
    changes.push(a.shared('tag', TAG, 'update', { color: '#ff0000' }));
    changes.push(b.shared('tag', TAG, 'update', { color: '#00ff00', display_name: 'Holidays' }));
    time.advance(5);
    changes.push(a.shared('tag', TAG, 'update', { namespace: 'travel' }));
    const winnerColor = changes[1]!.hlc > changes[2]!.hlc ? '#ff0000' : '#00ff00';
    fc.assert(
      fc.property(fc.shuffledSubarray(changes, { minLength: changes.length, maxLength: changes.length }), (order) => {
        const store = createMemoryApplyStore();
        for (const c of order) applyChanges(store, [c]);
        expect(store.get('tags', TAG)).toMatchObject({ color: winnerColor, display_name: 'Holidays', namespace: 'travel', canonical_name: 'vacation' });
      }),
    );
  });

  it('concurrent edits of different fields both survive', () => {
    const { a, b, store } = setup();
    applyChanges(store, [a.shared('tag', TAG, 'insert', tagFields('Work', A))]);
    applyChanges(store, [b.shared('tag', TAG, 'update', { color: '#123456' }), a.shared('tag', TAG, 'update', { display_name: 'Office' })]);
    expect(store.get('tags', TAG)).toMatchObject({ color: '#123456', display_name: 'Office' });
  });

  it('a delete wins over any later-stamped or later-arriving update (sticky)', () => {
    const { a, b, time, store } = setup();
    applyChanges(store, [a.shared('tag', TAG, 'insert', tagFields('Temp', A))]);
    const del = a.shared('tag', TAG, 'delete');
    time.advance(1000);
    const laterUpdate = b.shared('tag', TAG, 'update', { color: '#000000' });
    const r = applyChanges(store, [del, laterUpdate]);
    expect(r.rejected.map((x) => x.type)).toEqual(['tombstoned']);
    expect(store.get('tags', TAG)).toBeUndefined();
    // and in the other order, on another device
    const other = createMemoryApplyStore();
    applyChanges(other, [laterUpdate]);
    applyChanges(other, [del]);
    expect(other.get('tags', TAG)).toBeUndefined();
  });

  it('an update arriving before its insert makes a partial row that completes later', () => {
    const { a, store } = setup();
    const insert = a.shared('tag', TAG, 'insert', tagFields('Late', A));
    const update = a.shared('tag', TAG, 'update', { color: '#abcdef' });
    applyChanges(store, [update]);
    expect(store.get('tags', TAG)).toMatchObject({ color: '#abcdef' });
    applyChanges(store, [insert]);
    expect(store.get('tags', TAG)).toMatchObject({ color: '#abcdef', display_name: 'Late' });
  });

  it('relationships are one row per pair and can be removed and added again', () => {
    const { a, b, store } = setup();
    const album = '40000000-0000-4000-8000-000000000001';
    const id = albumEntryUuid(album, FILE);
    const add = (d: typeof a) => d.shared('album_entry', id, 'insert', { album_uuid: album, entry_uuid: FILE, added_at: 1, active: true });
    applyChanges(store, [add(a), add(b)]);
    expect(store.tables.get('album_entries')?.size).toBe(1);
    const link = tagLinkUuid(TAG, FILE);
    const linkFields = { tag_uuid: TAG, target_uuid: FILE, target_kind: 'entry', source: 'user', applied_by_device: A, active: true };
    applyChanges(store, [a.shared('tag_link', link, 'insert', linkFields)]);
    applyChanges(store, [a.shared('tag_link', link, 'update', { active: false })]);
    expect(store.get('tag_links', link)?.['active']).toBe(0);
    // B has seen A's removal before it re-adds the link (as it would through sync).
    b.clock.receive((JSON.parse(store.get('tag_links', link)!['_hlcs'] as string) as { active: string }).active);
    applyChanges(store, [b.shared('tag_link', link, 'update', { active: true })]);
    expect(store.get('tag_links', link)?.['active']).toBe(1);
  });

  it('two "Vacation" tags with different uuids both survive', () => {
    const { a, b, store } = setup();
    applyChanges(store, [
      a.shared('tag', TAG, 'insert', tagFields('Vacation', A)),
      b.shared('tag', '20000000-0000-4000-8000-000000000002', 'insert', tagFields('Vacation', B)),
    ]);
    expect(store.tables.get('tags')?.size).toBe(2);
  });
});

describe('validation at the door', () => {
  it('drops malformed changes, counts them, and applies the rest', () => {
    const { a, store } = setup();
    const good = a.owned('device', A, deviceData('A'));
    const r = applyChanges(store, [
      null, 42, 'x', {}, { ...good, model: 'nope' }, { ...good, uuid: 'not-a-uuid' }, { ...good, hlc: 'yesterday' },
      { ...good, data: { ...good.data, name: 7 } }, { ...good, data: { ...good.data, 'no such field!': 1 } },
      { ...good, data: { ...good.data, name: 'x'.repeat(10_000) } },
      { kind: 'shared', model: 'tag', uuid: TAG, hlc: good.hlc, op: 'update', fields: {} },
      { kind: 'shared', model: 'tag', uuid: TAG, hlc: good.hlc, op: 'insert', fields: { display_name: 'no canonical' } },
      good,
    ]);
    expect(r.applied).toBe(1);
    expect(r.rejected).toHaveLength(12);
    expect(r.rejected.every((x) => x.type === 'invalid')).toBe(true);
  });

  it("a field named as a newer schema would name it is left out; the rest of the change applies", () => {
    const { a, store } = setup();
    const good = a.owned('device', A, deviceData('A'));
    const r = applyChanges(store, [{ ...good, data: { ...good.data, cpu_arch: 'arm64' } }]);
    expect(r.rejected).toEqual([]);
    expect(store.get('devices', A)?.['name']).toBe('A');
    expect(store.get('devices', A)).not.toHaveProperty('cpu_arch');
  });

  it('never throws, whatever it is given', () => {
    fc.assert(
      fc.property(fc.array(fc.anything()), (junk) => {
        const r = applyChanges(createMemoryApplyStore(), junk);
        expect(r.applied).toBe(0);
      }),
      { numRuns: 300 },
    );
  });
});

describe('bulk batches', () => {
  // The batch memo buffers new rows and reads rows ahead for large batches; neither may change
  // the outcome. Applying a batch must equal applying its changes one at a time in apply order.
  const pool = (prefix: string, n: number) => Array.from({ length: n }, (_, i) => `${prefix}-0000-4000-8000-${String(i).padStart(12, '0')}`);
  const entries = pool('30000000', 8);
  const locations = pool('40000000', 2);
  const tags = pool('50000000', 3);
  const op = fc.record({ kind: fc.integer({ min: 0, max: 6 }), i: fc.nat(7), j: fc.nat(7), by: fc.boolean() });

  it('gives the same rows, counts and rejections as one change at a time', () => {
    fc.assert(
      fc.property(fc.array(op, { minLength: 0, maxLength: 20 }), fc.array(op, { minLength: 40, maxLength: 90 }), (before, batch) => {
        const { a, b } = setup();
        const make = (o: { kind: number; i: number; j: number; by: boolean }): Change => {
          const dev = o.by ? b : a;
          const loc = locations[o.i % 2]!;
          switch (o.kind) {
            case 0:
            case 1:
              return dev.owned('entry', entries[o.i]!, entryData(locations[o.j % 2]!, `f${o.j}`, o.j % 3 === 0 ? null : entries[o.j]!));
            case 2:
              return dev.tombstone('entry', entries[o.i]!);
            case 3:
              return dev.owned('location', loc, locationData(dev.uuid, `L${o.j}`));
            case 4:
              return dev.tombstone('location', loc);
            case 5:
              return dev.shared('tag', tags[o.i % 3]!, o.j % 2 ? 'insert' : 'update', tagFields(`T${o.j}`, dev.uuid));
            default:
              return dev.shared('tag', tags[o.i % 3]!, 'delete');
          }
        };
        const first = before.map(make);
        const changes = batch.map(make);
        const together = createMemoryApplyStore();
        const oneByOne = createMemoryApplyStore();
        applyChanges(together, first);
        applyChanges(oneByOne, first);
        const r = applyChanges(together, changes);
        const ordered = [...changes].sort((x, y) => {
          const m = (c: Change) => MODELS_IN_DEPENDENCY_ORDER.indexOf(c.model);
          return m(x) - m(y) || (x.hlc < y.hlc ? -1 : 1);
        });
        let applied = 0;
        let unchanged = 0;
        let pending = 0;
        const rejected: string[] = [];
        for (const c of ordered) {
          const one = applyChanges(oneByOne, [c]);
          applied += one.applied;
          unchanged += one.unchanged;
          pending += one.pending;
          rejected.push(...one.rejected.map((x) => `${x.type} ${x.uuid}`));
        }
        expect({ applied: r.applied, unchanged: r.unchanged, pending: r.pending, rejected: r.rejected.map((x) => `${x.type} ${x.uuid}`) }).toEqual({ applied, unchanged, pending, rejected });
        expect(together.tables).toEqual(oneByOne.tables);
        expect(together.tombstones).toEqual(oneByOne.tombstones);
        expect(together.pending).toEqual(oneByOne.pending);
      }),
      { numRuns: 300 },
    );
  });
});
