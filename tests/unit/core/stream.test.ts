// The owned-state stream's pure parts (core/stream.ts): the page format (P4, P5), pull planning,
// and core apply with seqs (P3) on the in-memory ApplyStore.
import { describe, expect, it } from 'vitest';
import { createMemoryApplyStore } from '../../../src/core/apply-store.ts';
import { applyChanges } from '../../../src/core/apply.ts';
import type { OwnedChange, OwnedState } from '../../../src/core/change.ts';
import { MODELS } from '../../../src/core/models.ts';
import { decodePage, defaultFor, encodePage, fieldNames, MAX_PAGE_ROWS, PAGE_VERSION, isMarks, planPulls, type Marks, type SeqChange, type WirePage } from '../../../src/core/stream.ts';
import { validateChange } from '../../../src/core/validate.ts';
import { entryData, fakeTime, locationData, testDevice, uuidFactory } from '../../support/fixtures.ts';

const A = 'aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa';
const B = 'bbbbbbbb-bbbb-4bbb-8bbb-bbbbbbbbbbbb';
const C = 'cccccccc-cccc-4ccc-8ccc-cccccccccccc';
const D = 'dddddddd-dddd-4ddd-8ddd-dddddddddddd';

function setup() {
  const time = fakeTime();
  const ids = uuidFactory('stream-unit');
  return { time, ids, a: testDevice(A, time.now), b: testDevice(B, time.now), store: createMemoryApplyStore() };
}
const withSeq = <C extends OwnedChange>(c: C, seq: number): C & SeqChange => ({ ...c, seq }) as C & SeqChange;
const volumeData = (owner: string) => ({ device_uuid: owner, name: 'Disk', kind: 'sample', total_capacity: 100, available_capacity: null });

/** The owner's location, three entries (one deleted), seqs 1..5 */
function history() {
  const s = setup();
  const loc = s.ids();
  const changes: SeqChange[] = [
    withSeq(s.a.owned('volume', s.ids(), volumeData(A)), 1),
    withSeq(s.a.owned('location', loc, locationData(A, 'Photos')), 2),
    withSeq(s.a.owned('entry', s.ids(), entryData(loc, 'a.jpg')), 3),
    withSeq(s.a.owned('entry', s.ids(), entryData(loc, 'b "quoted" é.txt')), 4),
    withSeq(s.a.tombstone('entry', s.ids()), 5),
  ];
  return { ...s, loc, changes };
}
const json = (x: unknown): unknown => JSON.parse(JSON.stringify(x));

describe('page format', () => {
  it('round-trips: encode → JSON → decode gives the same changes, and each validates', () => {
    const { changes } = history();
    const page = encodePage(A, 0, 5, changes);
    expect(page).toMatchObject({ v: PAGE_VERSION, owner: A, from: 0, to: 5 });
    // stamps travel without their device part (the owner's by rule)
    expect(JSON.stringify(page)).not.toContain(`-${A}`);
    const decoded = decodePage(json(page));
    if (!decoded.ok) throw new Error(decoded.error);
    expect(decoded.value).toMatchObject({ owner: A, from: 0, to: 5, unknownFields: [] });
    const byUuid = (xs: readonly unknown[]) => [...xs].sort((x, y) => ((x as OwnedChange).uuid < (y as OwnedChange).uuid ? -1 : 1));
    expect(byUuid(decoded.value.changes)).toEqual(byUuid(changes));
    for (const c of decoded.value.changes) expect(validateChange(c)).toEqual({ ok: true, value: c });
  });

  it('encodePage refuses rows of another owner or outside the range (a caller bug, not data)', () => {
    const { b, changes, ids } = history();
    expect(() => encodePage(A, 1, 5, changes)).toThrow(/does not belong/);
    expect(() => encodePage(A, 0, 4, changes)).toThrow(/does not belong/);
    expect(() => encodePage(A, 0, 5, [withSeq(b.owned('volume', ids(), volumeData(B)), 3)])).toThrow(/does not belong/);
  });

  it('decodes a page written with the previous field list: unknown fields ignored and reported, missing ones defaulted', () => {
    const { a, ids, loc, changes } = history();
    const entry = a.owned('entry', ids(), entryData(loc, 'old.jpg'));
    const volume = a.owned('volume', ids(), volumeData(A));
    // the previous schema: entries without `content_uuid` (nullable) and `size` (int), with a
    // `thumb` field since removed; volumes without `kind` (one of a list)
    const entryFields = fieldNames('entry').filter((f) => f !== 'content_uuid' && f !== 'size');
    const volumeFields = fieldNames('volume').filter((f) => f !== 'kind');
    const stamp = (h: string) => h.slice(0, 19);
    const page: WirePage = {
      v: PAGE_VERSION,
      owner: A,
      from: 10,
      to: 12,
      models: {
        entry: { fields: [...entryFields, 'thumb'], rows: [[entry.uuid, 11, stamp(entry.hlc), ...entryFields.map((f) => entry.data[f]), 'ab12']] },
        volume: { fields: volumeFields, rows: [[volume.uuid, 12, stamp(volume.hlc), ...volumeFields.map((f) => volume.data[f])]] },
      },
      deleted: [],
    };
    const decoded = decodePage(json(page));
    if (!decoded.ok) throw new Error(decoded.error);
    expect(decoded.value.unknownFields).toEqual(['entry.thumb']);
    const spec = MODELS;
    expect(defaultFor(spec.entry.fields['content_uuid']!)).toBeNull();
    expect(defaultFor(spec.entry.fields['size']!)).toBe(0);
    expect(defaultFor(spec.volume.fields['kind']!)).toBe('browser');
    const got = decoded.value.changes.map((c) => validateChange(c));
    expect(got.every((r) => r.ok)).toBe(true);
    const [e, v] = got.map((r) => (r.ok ? r.value : null)) as [OwnedState, OwnedState];
    expect(e).toEqual({ ...entry, seq: 11, data: { ...entry.data, content_uuid: null, size: 0 } });
    expect(e.data).not.toHaveProperty('thumb');
    expect(v).toEqual({ ...volume, seq: 12, data: { ...volume.data, kind: 'browser' } });
    // and they apply like any streamed row (the entry's location is held: core I3)
    const store = createMemoryApplyStore();
    applyChanges(store, changes.filter((c) => c.model === 'location'));
    expect(applyChanges(store, decoded.value.changes)).toMatchObject({ applied: 2, pending: 0, rejected: [] });
    expect(store.tables.get('entries')!.get(entry.uuid)).toMatchObject({ name: 'old.jpg', size: 0, _seq: 11 });
  });

  it('a page lacking a required reference yields a change core validation rejects; the other rows still apply', () => {
    const { a, ids, loc } = history();
    const fields = fieldNames('entry').filter((f) => f !== 'location_uuid');
    expect(defaultFor(MODELS.entry.fields['location_uuid']!)).toBeUndefined();
    const e1 = a.owned('entry', ids(), entryData(loc, 'x'));
    const page = {
      v: PAGE_VERSION, owner: A, from: 0, to: 1, deleted: [],
      models: { entry: { fields, rows: [[e1.uuid, 1, e1.hlc.slice(0, 19), ...fields.map((f) => e1.data[f])]] } },
    };
    const decoded = decodePage(json(page));
    if (!decoded.ok) throw new Error(decoded.error);
    const v = validateChange(decoded.value.changes[0]);
    expect(v.ok).toBe(false);
    if (!v.ok) expect(v.error.detail).toContain('location_uuid');
    const report = applyChanges(createMemoryApplyStore(), decoded.value.changes);
    expect(report.applied).toBe(0);
    expect(report.rejected).toMatchObject([{ type: 'invalid', uuid: e1.uuid }]);
  });

  it('structural errors reject the whole page with a reason', () => {
    const { changes } = history();
    const good = json(encodePage(A, 0, 5, changes)) as Record<string, unknown>;
    expect(decodePage(good).ok).toBe(true);
    const rows = (n: number) => Array.from({ length: n }, (_, i) => [`00000000-0000-4000-8000-${String(i).padStart(12, '0')}`, i + 1, '000000000001-000000', ...fieldNames('entry').map(() => null)]);
    const cases: [string, unknown, RegExp][] = [
      ['not an object', [good], /not an object/],
      ['null', null, /not an object/],
      ['newer format', { ...good, v: PAGE_VERSION + 1 }, /format/],
      ['no version', { ...good, v: undefined }, /format/],
      ['owner not a uuid', { ...good, owner: 'device-a' }, /owner/],
      ['range backwards', { ...good, from: 6, to: 5 }, /range/],
      ['negative from', { ...good, from: -1 }, /range/],
      ['fractional to', { ...good, to: 5.5 }, /range/],
      ['range as text', { ...good, to: '5' }, /range/],
      ['models not a record', { ...good, models: [] }, /malformed/],
      ['deleted not a list', { ...good, deleted: {} }, /malformed/],
      ['a shared model', { ...good, models: { tag: { fields: [], rows: [] } } }, /not a streamed model/],
      ['device records', { ...good, models: { device: { fields: [], rows: [] } } }, /not a streamed model/],
      ['section without rows', { ...good, models: { entry: { fields: [] } } }, /section malformed/],
      ['field names not strings', { ...good, models: { entry: { fields: [1], rows: [] } } }, /field names/],
      ['too many rows', { ...good, from: 0, to: MAX_PAGE_ROWS + 1, models: { entry: { fields: fieldNames('entry'), rows: rows(MAX_PAGE_ROWS + 1) } } }, new RegExp(`more than ${MAX_PAGE_ROWS}`)],
      ['too many rows with deletes', { ...good, from: 0, to: MAX_PAGE_ROWS + 1, models: { entry: { fields: fieldNames('entry'), rows: rows(MAX_PAGE_ROWS) } }, deleted: [['entry', `00000000-0000-4000-9000-000000000001`, MAX_PAGE_ROWS + 1, '000000000001-000000']] }, new RegExp(`more than ${MAX_PAGE_ROWS}`)],
    ];
    for (const [name, page, reason] of cases) {
      const r = decodePage(page);
      expect(r.ok, name).toBe(false);
      if (!r.ok) expect(r.error, name).toMatch(reason);
    }
    // exactly MAX_PAGE_ROWS is a page
    expect(decodePage({ ...good, from: 0, to: MAX_PAGE_ROWS, models: { entry: { fields: fieldNames('entry'), rows: rows(MAX_PAGE_ROWS) } }, deleted: [] }).ok).toBe(true);
  });

  it('rows outside (from, to], or malformed, are passed on invalid and rejected one by one', () => {
    const { changes } = history();
    const page = json(encodePage(A, 0, 5, changes)) as { models: Record<string, { rows: unknown[][] }>; deleted: unknown[][] } & Record<string, unknown>;
    // re-label the range as (2, 4]: the volume (1), the location (2) and the delete (5) fall outside
    const decoded = decodePage({ ...page, from: 2, to: 4, models: { ...page.models, entry: { ...page.models['entry']!, rows: [...page.models['entry']!.rows, 'not a row', [1, 2]] } } });
    if (!decoded.ok) throw new Error(decoded.error);
    const store = createMemoryApplyStore();
    applyChanges(store, changes.filter((c) => c.model === 'location')); // held before: the entries do not wait (core I3)
    const report = applyChanges(store, decoded.value.changes);
    expect(report.applied).toBe(2); // the two entries with seqs 3 and 4
    expect(report.rejected).toHaveLength(5);
    expect(report.rejected.every((r) => r.type === 'invalid')).toBe(true);
    const valid = decoded.value.changes.filter((c) => validateChange(c).ok) as SeqChange[];
    expect(valid.map((c) => c.seq).sort()).toEqual([3, 4]);
  });

  it('every row of a page is its owner\'s: a row naming another device is rejected for ownership', () => {
    const { a, ids } = setup();
    const page = json(encodePage(A, 0, 1, [withSeq(a.owned('location', ids(), locationData(A, 'Mine')), 1)])) as { models: { location: { rows: unknown[][] } } } & Record<string, unknown>;
    const row = page.models.location.rows[0]!;
    row[3] = B; // device_uuid: the first field
    const decoded = decodePage(page);
    if (!decoded.ok) throw new Error(decoded.error);
    expect(decoded.value.changes[0]).toMatchObject({ owner: A });
    const report = applyChanges(createMemoryApplyStore(), decoded.value.changes);
    expect(report).toMatchObject({ applied: 0, rejected: [{ type: 'ownership' }] });
  });
  // `n in spec` (core/stream.ts decodePage) also finds Object.prototype's names: a field called
  // `constructor` or `toString` is neither used nor reported as unknown. Harmless for the data
  // (rows are built from the spec's own keys), but P4's report misses it — kept failing until
  // decodePage checks Object.hasOwn(spec, n).
  it('reports inherited-looking field names (constructor, toString) as unknown', () => {
    const { changes } = history();
    const page = json(encodePage(A, 0, 5, changes)) as { models: Record<string, { fields: string[]; rows: unknown[][] }> } & Record<string, unknown>;
    const entry = page.models['entry']!;
    const decoded = decodePage({ ...page, models: { ...page.models, entry: { fields: [...entry.fields, 'constructor', 'toString'], rows: entry.rows.map((r) => [...r, 1, 2]) } } });
    if (!decoded.ok) throw new Error(decoded.error);
    expect([...decoded.value.unknownFields].sort()).toEqual(['entry.constructor', 'entry.toString']);
  });
});

describe('rows ahead of the page (P6)', () => {
  it('a page carries the current row of its entries\' location written after it; the entries then apply without waiting', () => {
    const s = setup();
    const loc = s.ids();
    const entries = [withSeq(s.a.owned('entry', s.ids(), entryData(loc, 'a.jpg')), 2), withSeq(s.a.owned('entry', s.ids(), entryData(loc, 'b.jpg')), 3)];
    const ahead = withSeq(s.a.owned('location', loc, { ...locationData(A, 'Photos'), total_file_count: 2 }), 9);
    const page = json(encodePage(A, 1, 3, entries, [ahead]));
    const d = decodePage(page);
    if (!d.ok) throw new Error(d.error);
    expect(d.value.changes).toHaveLength(3);
    const report = applyChanges(s.store, d.value.changes);
    expect(report.applied).toBe(3);
    expect(report.pending).toBe(0);
    expect(s.store.tables.get('locations')!.get(loc)!['_seq']).toBe(9);
  });

  it('a row "ahead" that is not after the page is invalid; too many rows ahead reject the page; a page without ahead still reads', () => {
    const s = setup();
    const loc = s.ids();
    const e = withSeq(s.a.owned('entry', s.ids(), entryData(loc, 'a.jpg')), 2);
    expect(() => encodePage(A, 1, 3, [e], [withSeq(s.a.owned('location', loc, locationData(A, 'P')), 3)])).toThrow();
    const page = json(encodePage(A, 1, 3, [e], [withSeq(s.a.owned('location', loc, locationData(A, 'P')), 7)])) as WirePage & { ahead: { location: { rows: unknown[][] } } };
    page.ahead.location.rows[0]![1] = 3; // claims to be ahead but is inside the range
    const d = decodePage(page);
    if (!d.ok) throw new Error(d.error);
    expect(applyChanges(s.store, d.value.changes).rejected.map((r) => r.type)).toEqual(['invalid']);
    const many = json(encodePage(A, 1, 3, [e], Array.from({ length: 257 }, (_, i) => withSeq(s.a.owned('location', s.ids(), locationData(A, `L${i}`)), 10 + i))));
    expect(decodePage(many).ok).toBe(false);
    const plain = json(encodePage(A, 1, 3, [e])) as Record<string, unknown>;
    expect('ahead' in plain).toBe(false);
    expect(decodePage(plain).ok).toBe(true);
  });
});

describe('watermark vectors', () => {
  it('isMarks accepts owner uuid → non-negative integer, bounded in size, and nothing else', () => {
    expect(isMarks({})).toBe(true);
    expect(isMarks({ [A]: 0, [B]: 12 })).toBe(true);
    for (const bad of [null, [], 'x', { [A]: -1 }, { [A]: 1.5 }, { [A]: '3' }, { 'not-a-uuid': 1 }, { [A]: Number.MAX_SAFE_INTEGER + 2 }])
      expect(isMarks(bad), JSON.stringify(bad)).toBe(false);
    expect(isMarks({ [A]: 1, [B]: 2, [C]: 3 }, 2)).toBe(false);
  });
});

describe('planPulls', () => {
  it('asks the peer furthest ahead, from where this device is', () => {
    const plan = planPulls(A, { [C]: 3 }, [
      { device: B, marks: { [C]: 5 } },
      { device: D, marks: { [C]: 9 } },
    ], new Set());
    expect(plan).toEqual([{ owner: C, peer: D, after: 3, target: 9 }]);
  });

  it('on a tie prefers the owner, then the lowest device id, whatever the order peers are listed in', () => {
    const peers: { device: string; marks: Marks }[] = [
      { device: D, marks: { [C]: 9, [B]: 4 } },
      { device: C, marks: { [C]: 9, [B]: 4 } },
      { device: B, marks: { [C]: 8 } },
    ];
    const expected = [
      { owner: B, peer: C, after: 0, target: 4 }, // neither D nor C owns B's rows: the lowest id
      { owner: C, peer: C, after: 0, target: 9 }, // the owner
    ];
    expect(planPulls(A, {}, peers, new Set())).toEqual(expected);
    expect(planPulls(A, {}, [...peers].reverse(), new Set())).toEqual(expected);
  });

  it('skips owners already being pulled, owners this device is level with, and its own rows', () => {
    const peers = [{ device: B, marks: { [A]: 100, [B]: 7, [C]: 5, [D]: 2 } }];
    expect(planPulls(A, { [A]: 3, [D]: 2 }, peers, new Set([C]))).toEqual([{ owner: B, peer: B, after: 0, target: 7 }]);
    expect(planPulls(A, { [A]: 3, [B]: 9, [D]: 2 }, peers, new Set())).toEqual([{ owner: C, peer: B, after: 0, target: 5 }]);
  });
});

describe('core apply with seqs (P3)', () => {
  it('a streamed row replaces the stored one only if its seq is higher, whatever the stamps', () => {
    const { a, ids, store } = setup();
    const loc = ids();
    const e = ids();
    applyChanges(store, [withSeq(a.owned('location', loc, locationData(A, 'L')), 1)]);
    expect(applyChanges(store, [withSeq(a.owned('entry', e, entryData(loc, 'v5')), 5)]).applied).toBe(1);
    // a later stamp with a lower or equal seq is an older state of the owner: unchanged
    expect(applyChanges(store, [withSeq(a.owned('entry', e, entryData(loc, 'v3')), 3)])).toMatchObject({ applied: 0, unchanged: 1 });
    expect(applyChanges(store, [withSeq(a.owned('entry', e, entryData(loc, 'v5 again')), 5)])).toMatchObject({ applied: 0, unchanged: 1 });
    expect(store.tables.get('entries')!.get(e)).toMatchObject({ name: 'v5', _seq: 5 });
    expect(applyChanges(store, [withSeq(a.owned('entry', e, entryData(loc, 'v7')), 7)]).applied).toBe(1);
    expect(store.tables.get('entries')!.get(e)).toMatchObject({ name: 'v7', _seq: 7 });
  });

  it('a row stored without a seq is replaced by the same state streamed (and gets its seq), not by an older one', () => {
    const { a, ids, store } = setup();
    const loc = ids();
    const older = a.owned('location', loc, locationData(A, 'Older'));
    const legacy = a.owned('location', loc, locationData(A, 'Legacy'));
    expect(applyChanges(store, [legacy]).applied).toBe(1);
    expect(store.tables.get('locations')!.get(loc)).toMatchObject({ _seq: null });
    expect(applyChanges(store, [withSeq(older, 2)])).toMatchObject({ applied: 0, unchanged: 1 });
    expect(applyChanges(store, [withSeq(legacy, 4)]).applied).toBe(1);
    expect(store.tables.get('locations')!.get(loc)).toMatchObject({ name: 'Legacy', _hlc: legacy.hlc, _seq: 4 });
    // from now on seqs decide
    expect(applyChanges(store, [withSeq(legacy, 4)])).toMatchObject({ unchanged: 1 });
  });

  it('tombstones keep the owner and the highest seq of the delete, even when already deleted', () => {
    const { a, ids, store } = setup();
    const loc = ids();
    const e = ids();
    applyChanges(store, [withSeq(a.owned('location', loc, locationData(A, 'L')), 1), withSeq(a.owned('entry', e, entryData(loc, 'x')), 2)]);
    const gone = a.tombstone('entry', e);
    expect(applyChanges(store, [withSeq(gone, 9)]).applied).toBe(1);
    expect(store.tables.get('entries')!.has(e)).toBe(false);
    expect(store.tombstoneSeqs.get(`entry:${e}`)).toEqual({ owner: A, seq: 9 });
    // the same delete served again later under a new seq (a layout upgrade renumbering)
    expect(applyChanges(store, [withSeq(gone, 12)])).toMatchObject({ applied: 0, unchanged: 1 });
    expect(store.tombstoneSeqs.get(`entry:${e}`)).toEqual({ owner: A, seq: 12 });
    expect(applyChanges(store, [withSeq(gone, 10)])).toMatchObject({ applied: 0, unchanged: 1 });
    expect(store.tombstoneSeqs.get(`entry:${e}`)).toEqual({ owner: A, seq: 12 });
    expect(store.tombstone('entry', e)).toBe(gone.hlc);
    // sticky: the row does not come back with a higher seq
    expect(applyChanges(store, [withSeq(a.owned('entry', e, entryData(loc, 'back')), 20)])).toMatchObject({ applied: 0, rejected: [{ type: 'tombstoned' }] });
    // a delete without seq (a shared-log era delete) records no stream position
    const other = ids();
    applyChanges(store, [a.tombstone('entry', other)]);
    expect(store.tombstoneSeqs.has(`entry:${other}`)).toBe(false);
  });

  it('validation refuses a seq on a device record, or a seq that is not a positive integer', () => {
    const { a, ids } = setup();
    for (const seq of [0, -1, 1.5, Number.NaN]) expect(validateChange({ ...a.owned('entry', ids(), entryData(ids(), 'x')), seq }).ok).toBe(false);
    expect(validateChange({ ...a.owned('device', A, { name: 'A', slug: 'a', os: 'x', browser: 'y', created_at: 1 }), seq: 1 }).ok).toBe(false);
  });
});

describe('media metadata columns (migration 6) on the stream', () => {
  const MEDIA = ['taken_at', 'width', 'height', 'camera_make', 'camera_model'];
  it('a page from a device without them decodes, and the entry has them null', () => {
    const { a, ids, loc, changes } = history();
    const entry = a.owned('entry', ids(), entryData(loc, 'before.jpg'));
    const old = fieldNames('entry').filter((f) => !MEDIA.includes(f));
    expect(old.length).toBe(fieldNames('entry').length - MEDIA.length);
    const page: WirePage = {
      v: PAGE_VERSION, owner: A, from: 10, to: 11, deleted: [],
      models: { entry: { fields: old, rows: [[entry.uuid, 11, entry.hlc.slice(0, 19), ...old.map((f) => entry.data[f] ?? null)]] } },
    };
    const decoded = decodePage(json(page));
    if (!decoded.ok) throw new Error(decoded.error);
    expect(decoded.value.unknownFields).toEqual([]);
    const [c] = decoded.value.changes.map((x) => validateChange(x));
    if (!c?.ok) throw new Error('rejected');
    const data = (c.value as OwnedState).data;
    for (const f of MEDIA) expect(data[f]).toBeNull();
    expect(data['name']).toBe('before.jpg');
    const store = createMemoryApplyStore();
    applyChanges(store, changes.filter((x) => x.model === 'location'));
    expect(applyChanges(store, decoded.value.changes)).toMatchObject({ applied: 1, rejected: [] });
  });

  it('a page with them carries them', () => {
    const { a, ids, loc } = history();
    const media = { taken_at: Date.UTC(2021, 6, 4, 10, 30), width: 4032, height: 3024, camera_make: 'Canon', camera_model: 'Canon EOS 5D' };
    const entry = withSeq(a.owned('entry', ids(), { ...entryData(loc, 'new.jpg'), ...media }), 3);
    const page = json(encodePage(A, 0, 3, [entry])) as WirePage;
    expect(page.models['entry']!.fields).toEqual(expect.arrayContaining(MEDIA));
    const decoded = decodePage(page);
    if (!decoded.ok) throw new Error(decoded.error);
    expect((decoded.value.changes[0] as OwnedState).data).toMatchObject(media);
  });

  it('bad values are rejected by validation like any field', () => {
    const { a, ids, loc } = history();
    const bad = a.owned('entry', ids(), { ...entryData(loc, 'x.jpg'), width: 1.5 });
    expect(validateChange(bad).ok).toBe(false);
    const long = a.owned('entry', ids(), { ...entryData(loc, 'x.jpg'), camera_model: 'x'.repeat(201) });
    expect(validateChange(long).ok).toBe(false);
  });
});
