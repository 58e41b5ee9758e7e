// The sync document, compaction, the in-memory network and the engine's plumbing, piece by
// piece (the named end-to-end scenarios are in sync-scenarios.test.ts).
import initSqlJs, { type SqlJsStatic } from 'sql.js';
import { beforeAll, describe, expect, it } from 'vitest';
import * as Y from 'yjs';
import type { Change, OwnedChange, OwnedState, SharedChange } from '../../src/core/change.ts';
import { createPrng } from '../../src/core/prng.ts';
import { generateSampleLocation } from '../../src/core/sample.ts';
import { compactDoc, entriesToRestore, planCompaction } from '../../src/sync/compaction.ts';
import {
  batchChanges,
  createExtractor,
  encodeOwnedValue,
  estimateChangeBytes,
  LOCAL_ORIGIN,
  MAX_BATCH_UPDATE_BYTES,
  ownedMapName,
  sharedMap,
  sharedLogSize,
  entryObject,
  encodeEntry,
  readSharedLog,
  forEachEntry,
  writeChanges,
} from '../../src/sync/doc.ts';
import { createMemoryNetwork } from '../../src/transport/memory.ts';
import { deviceData, entryData, fakeTime, locationData, tagFields, testDevice, uuidFactory } from '../support/fixtures.ts';
import { World } from '../support/sim/world.ts';
import { receiver, relay } from '../support/ydoc.ts';

let SQL: SqlJsStatic;
beforeAll(async () => {
  SQL = await initSqlJs();
});

const ids = uuidFactory('sync-doc');
const A = '0aaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa';
const B = '0bbbbbbb-bbbb-4bbb-8bbb-bbbbbbbbbbbb';


describe('sync document', () => {
  it('a remote transaction yields exactly the keys it changed', () => {
    const t = fakeTime();
    const a = testDevice(A, t.now);
    const src = new Y.Doc();
    const many: Change[] = [a.owned('device', A, deviceData('A'))];
    const tags = Array.from({ length: 100 }, () => ids());
    for (const tag of tags) many.push(a.shared('tag', tag, 'insert', tagFields(`T${tag.slice(-4)}`, A)));
    writeChanges(src, A, many);
    const r = receiver();
    relay(src, r.doc);
    expect(r.got.at(-1)!.changes).toHaveLength(101);
    // now the device record and one shared entry
    writeChanges(src, A, [a.owned('device', A, deviceData('A renamed')), a.shared('tag', tags[7]!, 'update', { color: '#000000' })]);
    relay(src, r.doc);
    const last = r.got.at(-1)!;
    expect(last.rejections).toEqual([]);
    expect(last.changes.map((c) => `${c.kind}:${c.model}`).sort()).toEqual(['owned:device', 'shared:tag']);
    expect(last.changes.find((c) => c.kind === 'owned')).toMatchObject({ owner: A, uuid: A, data: { name: 'A renamed' } });
    expect(last.changes.find((c) => c.kind === 'shared')).toMatchObject({ uuid: tags[7], op: 'update', fields: { color: '#000000' } });
  });

  it("a device's own records are not re-read when the first remote change arrives, but come back after a crash", () => {
    const t = fakeTime();
    const a = testDevice(A, t.now);
    const b = testDevice(B, t.now);
    const doc = new Y.Doc();
    const ex = createExtractor(doc, A);
    const got: ReturnType<typeof ex.fromTransaction>[] = [];
    doc.on('afterTransaction', (tr: Y.Transaction) => {
      if (tr.origin !== LOCAL_ORIGIN) got.push(ex.fromTransaction(tr));
    });
    const mine = a.owned('device', A, deviceData('A'));
    writeChanges(doc, A, [mine]);
    const other = new Y.Doc();
    writeChanges(other, B, [b.owned('device', B, deviceData('B'))]);
    relay(other, doc);
    // only B's record: A's own root is known from the start, so it is not read whole again
    expect(got.at(-1)!.changes.map((c) => c.kind === 'owned' && c.owner)).toEqual([B]);
    // A restarts with nothing (killed before its writes were durable); a peer sends them back
    const fresh = new Y.Doc();
    const ex2 = createExtractor(fresh, A);
    const back: ReturnType<typeof ex2.fromTransaction>[] = [];
    fresh.on('afterTransaction', (tr: Y.Transaction) => back.push(ex2.fromTransaction(tr)));
    relay(doc, fresh);
    expect(back.flatMap((g) => g.changes).filter((c) => c.kind === 'owned' && c.owner === A)).toEqual([mine]);
  });

  it('the owner rule: a value in owned:X not stamped by X is rejected as ownership', () => {
    const t = fakeTime();
    const b = testDevice(B, t.now);
    const src = new Y.Doc();
    src.transact(() => src.getMap(ownedMapName(A)).set(`device:${A}`, { hlc: b.clock.next(), data: deviceData('Forged') }));
    const r = receiver();
    relay(src, r.doc);
    const all = r.got.flatMap((g) => g.rejections);
    expect(all).toHaveLength(1);
    expect(all[0]).toMatchObject({ reason: 'ownership' });
    expect(all[0]!.detail).toContain(B);
    expect(r.got.flatMap((g) => g.changes)).toEqual([]);
  });

  it('malformed keys, values and roots are rejected as invalid, never thrown', () => {
    const t = fakeTime();
    const a = testDevice(A, t.now);
    const src = new Y.Doc();
    src.transact(() => {
      const mine = src.getMap(ownedMapName(A));
      mine.set('garbage', { hlc: a.clock.next(), data: {} });
      mine.set(`device:${ids()}`, 42);
      mine.set(`device:${ids()}`, { hlc: 'yesterday', data: {} });
      mine.set(`device:${ids()}`, { hlc: a.clock.next(), data: { name: 'no slug' } });
      src.getMap('owned:not-a-uuid').set(`device:${ids()}`, { hlc: a.clock.next(), data: {} });
      sharedMap(src).set(a.clock.next(), [1, 2, 3]);
      sharedMap(src).set(a.clock.next(), { model: 'tag', uuid: ids(), op: 'explode', fields: {} });
    });
    const r = receiver();
    expect(() => relay(src, r.doc)).not.toThrow();
    const all = r.got.flatMap((g) => g.rejections);
    expect(all.map((x) => x.reason)).toEqual(Array(7).fill('invalid'));
    expect(all.map((x) => x.detail)).toEqual(expect.arrayContaining(['malformed key', 'value is not an object', 'invalid HLC', 'owned map of a non-uuid device']));
    expect(r.got.flatMap((g) => g.changes)).toEqual([]);
  });

  it('device records travel as positional JSON strings, and every malformed one is rejected with its reason', () => {
    const t = fakeTime();
    const a = testDevice(A, t.now);
    const b = testDevice(B, t.now);
    const record = a.owned('device', A, deviceData('A "quoted" name'));
    const src = new Y.Doc();
    writeChanges(src, A, [record]);
    const stored = src.getMap(ownedMapName(A)).get(`device:${A}`);
    expect(typeof stored).toBe('string');
    expect(stored).toBe(encodeOwnedValue(record));
    src.transact(() => {
      const mine = src.getMap(ownedMapName(A));
      mine.set(`device:${ids()}`, '{not json');
      mine.set(`device:${ids()}`, '{"hlc":"x"}');
      mine.set(`device:${ids()}`, JSON.stringify([a.clock.next(), 'name', null]));
      mine.set(`device:${ids()}`, encodeOwnedValue({ ...record, hlc: b.clock.next() }));
    });
    const r = receiver();
    relay(src, r.doc);
    expect(r.got.flatMap((g) => g.changes)).toEqual([record]);
    const rejections = r.got.flatMap((g) => g.rejections);
    expect(rejections.map((x) => [x.reason, x.detail])).toEqual(
      expect.arrayContaining([
        ['invalid', 'value is not JSON'],
        ['invalid', 'value is not a record'],
        // shorter: an older schema's record, which still must have every required field
        ['invalid', 'device.slug: required'],
        ['ownership', expect.stringContaining(B)],
      ]),
    );
    expect(rejections).toHaveLength(4);
    // a delete is the stamp alone, read back as a tombstone
    const gone = a.tombstone('device', A);
    writeChanges(src, A, [gone]);
    expect(src.getMap(ownedMapName(A)).get(`device:${A}`)).toBe(JSON.stringify([gone.hlc]));
    relay(src, r.doc);
    expect(r.got.at(-1)!.changes).toEqual([gone]);
  });

  it('reads records written in the object form (documents from before the positional one)', () => {
    const t = fakeTime();
    const a = testDevice(A, t.now);
    const record = a.owned('device', A, deviceData('Old'));
    const src = new Y.Doc();
    src.transact(() => src.getMap(ownedMapName(A)).set(`device:${A}`, { hlc: record.hlc, data: record.data }));
    const r = receiver();
    relay(src, r.doc);
    expect(r.got.flatMap((g) => g.changes)).toEqual([record]);
  });

  it('streamed models planted in an owned root are rejected as invalid (they travel in the stream), whatever their form', () => {
    const t = fakeTime();
    const a = testDevice(A, t.now);
    const loc = ids();
    const planted: OwnedChange[] = [
      a.owned('volume', ids(), { device_uuid: A, name: 'V', kind: 'sample', total_capacity: null, available_capacity: null }),
      a.owned('location', loc, locationData(A, 'Photos')),
      a.owned('entry', ids(), entryData(loc, 'x.jpg')),
      a.tombstone('entry', ids()),
    ];
    const src = new Y.Doc();
    src.transact(() => {
      const mine = src.getMap(ownedMapName(A));
      for (const c of planted) mine.set(`${c.model}:${c.uuid}`, encodeOwnedValue(c));
      const e = planted[2] as OwnedState;
      mine.set(`entry:${ids()}`, { hlc: e.hlc, data: e.data }); // the object form too
    });
    const r = receiver();
    relay(src, r.doc);
    expect(r.got.flatMap((g) => g.changes)).toEqual([]);
    const rejections = r.got.flatMap((g) => g.rejections);
    expect(rejections).toHaveLength(5);
    for (const x of rejections) {
      expect(x.reason).toBe('invalid');
      expect(x.detail).toMatch(/^(volume|location|entry) records travel in the owned-state stream, not the document$/);
    }
    // and a device's own writes never put them there
    const doc = new Y.Doc();
    writeChanges(doc, A, planted);
    expect(doc.share.has(ownedMapName(A)) ? doc.getMap(ownedMapName(A)).size : 0).toBe(0);
    expect(Y.encodeStateAsUpdate(doc).byteLength).toBe(Y.encodeStateAsUpdate(new Y.Doc()).byteLength);
  });

  it('deleting shared keys (compaction) is not a change', () => {
    const t = fakeTime();
    const a = testDevice(A, t.now);
    const src = new Y.Doc();
    const tag = ids();
    writeChanges(src, A, [a.shared('tag', tag, 'insert', tagFields('Old', A))]);
    writeChanges(src, A, [a.shared('tag', tag, 'update', { color: '#111111' }), a.shared('tag', tag, 'update', { display_name: 'New', canonical_name: 'new', namespace: null, tag_type: 'standard', privacy_level: 'normal', search_weight: 1, created_by_device: A })]);
    const r = receiver();
    relay(src, r.doc);
    const n = r.got.length;
    expect(compactDoc(src, LOCAL_ORIGIN).drop).toHaveLength(1);
    relay(src, r.doc);
    expect(r.got.length).toBeGreaterThan(n);
    expect(r.got.slice(n).flatMap((g) => [...g.changes, ...g.rejections])).toEqual([]);
    expect(sharedLogSize(r.doc)).toBe(2);
  });

  it('a local write with a record of another device writes nothing at all', () => {
    const t = fakeTime();
    const a = testDevice(A, t.now);
    const b = testDevice(B, t.now);
    const doc = new Y.Doc();
    const mine = a.shared('tag', ids(), 'insert', tagFields('Mine', A));
    expect(() => writeChanges(doc, A, [mine, b.owned('device', B, { name: 'B', slug: 'b', os: 'x', browser: 'y', created_at: 1 })])).toThrow();
    expect(sharedMap(doc).size).toBe(0);
  });
});

describe("a segment's entries (doc.ts D5)", () => {
  it('are positional strings that read back as the object form; a newer field is read as field_<i>; what does not fit is refused', () => {
    const tag = ids();
    const fields = { display_name: 'Beach', color: '#00aa00' };
    const s = encodeEntry({ model: 'tag', uuid: tag, op: 'update', fields });
    expect(typeof s).toBe('string');
    expect(entryObject(s)).toEqual({ model: 'tag', uuid: tag, op: 'update', fields });
    expect(String(s).length).toBeLessThan(JSON.stringify({ model: 'tag', uuid: tag, op: 'update', fields }).length - 25);
    // a newer build's tag with one more field (bit 40, past this registry's fields)
    const newer = JSON.stringify(['tag', tag, 'update', 2 ** 40 + 1, 'beach', 'x']);
    expect(entryObject(newer)?.['fields']).toEqual({ canonical_name: 'beach', field_40: 'x' });
    // a model or field this build does not know stays an object
    expect(encodeEntry({ model: 'future_model', uuid: tag, op: 'insert', fields: { a: 1 } })).toEqual({ model: 'future_model', uuid: tag, op: 'insert', fields: { a: 1 } });
    expect(typeof encodeEntry({ model: 'tag', uuid: tag, op: 'update', fields: { emoji: 'x' } })).toBe('object');
    // malformed: counted as invalid by the extractor, never thrown
    for (const bad of ['not json', '[1,2]', JSON.stringify(['tag', tag, 'update', 3, 'only one value']), JSON.stringify(['tag', tag, 'update', 1, 'a', 'extra'])]) expect(entryObject(bad)).toBeNull();
    const doc = new Y.Doc();
    doc.getMap('log').set('seg', new Y.Map());
    (doc.getMap('log').get('seg') as Y.Map<unknown>).set(testDevice(A, fakeTime().now).clock.next(), 'not json');
    expect(readSharedLog(doc).rejections).toHaveLength(1);
  });
});

describe("an entry that leaves the view (doc.ts D6)", () => {
  it('held by both `shared` and the segment and gone from both at once, it is one entry, and it is written back (simulator seed 2640)', () => {
    const tag = ids();
    const hlc = testDevice(A, fakeTime().now).clock.next();
    const value = encodeEntry({ model: 'tag', uuid: tag, op: 'insert', fields: tagFields('Twin', A) });
    const doc = new Y.Doc();
    const ex = createExtractor(doc);
    const seen: ReturnType<typeof ex.observe>[] = [];
    doc.on('afterTransaction', (tr: Y.Transaction) => void seen.push(ex.observe(tr, true)));
    const seg = new Y.Map<unknown>();
    doc.transact(() => {
      doc.getMap('log').set('seg', seg);
      seg.set('ack:~seg', JSON.stringify(['one.1']));
      seg.set(hlc, value);
      sharedMap(doc).set(hlc, entryObject(value)); // a write-back into layout 1 beside it
    });
    // a compaction elsewhere: a new segment without it, and `shared` emptied
    doc.transact(() => {
      const next = new Y.Map<unknown>();
      next.set('ack:~seg', JSON.stringify(['two.1']));
      doc.getMap('log').set('seg', next);
      sharedMap(doc).delete(hlc);
    }, 'remote');
    const gone = seen.flatMap((o) => o.vanished);
    expect(gone.map(([k]) => k)).toEqual([hlc]);
    expect(entriesToRestore(doc, gone, 'one.1').map(([k]) => k)).toEqual([hlc]);
  });
});

describe('compaction', () => {
  it('is deterministic, keeps a record\'s delete entry, and ignores invalid entries (seed 294)', () => {
    const t = fakeTime();
    const a = testDevice(A, t.now);
    const b = testDevice(B, t.now);
    const tag = ids();
    const gone = ids();
    const [d1, d2] = [new Y.Doc(), new Y.Doc()];
    writeChanges(d1, A, [a.shared('tag', tag, 'insert', tagFields('Work', A)), a.shared('tag', gone, 'insert', tagFields('Gone', A))]);
    t.advance(10);
    writeChanges(d1, A, [a.shared('tag', tag, 'update', { color: '#aa0000' })]);
    relay(d1, d2);
    t.advance(10);
    writeChanges(d2, B, [b.shared('tag', gone, 'update', { color: '#bb0000' }), b.shared('tag', gone, 'delete')]);
    // a newer entry that does not validate sets `color` too: it must not hide #aa0000
    d2.transact(() => sharedMap(d2).set(b.clock.next(), { model: 'tag', uuid: tag, op: 'update', fields: { color: 42 } }));
    relay(d2, d1);
    const p1 = planCompaction(d1);
    const p2 = planCompaction(d2);
    expect(p1).toEqual(p2);
    expect(p1.invalid).toBe(1);
    // dropped: Gone's insert and its update (the delete stays). Work's insert sets fields the
    // update does not, so it stays; the invalid update supersedes nothing.
    expect(p1.drop).toHaveLength(2);
    compactDoc(d1, LOCAL_ORIGIN);
    const left: Partial<SharedChange>[] = [];
    forEachEntry(d1, (v) => left.push(entryObject(v) as Partial<SharedChange>));
    expect(left.filter((v) => v.uuid === gone).map((v) => v.op)).toEqual(['delete']);
    expect(left.some((v) => v.uuid === tag && v.fields?.['color'] === '#aa0000')).toBe(true);
    expect(planCompaction(d1).drop).toEqual([]); // idempotent
  });
});

describe('bulk batches', () => {
  const linkFields = (tag: string, target: string, by: string) => ({ tag_uuid: tag, target_uuid: target, target_kind: 'entry', source: 'user', applied_by_device: by, active: true });

  it('10,000 tag links split into batches whose update stays under 200 KiB', () => {
    const t = fakeTime();
    const a = testDevice(A, t.now);
    const tag = ids();
    const changes = Array.from({ length: 10_000 }, () => a.shared('tag_link', ids(), 'insert', linkFields(tag, ids(), A)));
    const doc = new Y.Doc();
    const sizes: number[] = [];
    doc.on('update', (u: Uint8Array) => sizes.push(u.byteLength));
    const batches = batchChanges(changes);
    expect(batches.length).toBeGreaterThan(1);
    expect(batches.flat()).toEqual(changes); // in order, nothing lost
    for (const batch of batches) writeChanges(doc, A, batch);
    expect(sizes).toHaveLength(batches.length);
    expect(Math.max(...sizes)).toBeLessThan(MAX_BATCH_UPDATE_BYTES);
    expect(sharedMap(doc).size).toBe(10_000);
    const perRecord = sizes.reduce((s, x) => s + x, 0) / changes.length;
    const estimated = changes.reduce((s, c) => s + estimateChangeBytes(c), 0) / changes.length;
    expect(estimated).toBeGreaterThan(perRecord); // the estimate is an upper bound
    console.log(`bulk: ${changes.length} tag links → ${batches.length} batches of ≤ ${Math.max(...batches.map((b) => b.length))}; ` +
      `${perRecord.toFixed(0)} B of update per link (estimate ${estimated.toFixed(0)} B); largest update ${Math.max(...sizes)} B`);
  });

  it('a bulk write of 10,000 entries adds nothing to the document (they travel in the stream)', () => {
    const t = fakeTime();
    const a = testDevice(A, t.now);
    const loc = ids();
    const sample = generateSampleLocation({ seed: 'bulk', count: 10_000, owner: A, locationUuid: loc, volumeUuid: null, name: 'Big', now: t.now(), withContent: true });
    const entries = sample.entries.map((e) => a.owned('entry', e.uuid, e.data));
    const tag = ids();
    const doc = new Y.Doc();
    writeChanges(doc, A, [a.owned('device', A, deviceData('A'))]);
    const before = Y.encodeStateAsUpdate(doc).byteLength;
    let updates = 0;
    doc.on('update', () => void updates++);
    for (const batch of batchChanges([a.owned('location', loc, locationData(A, 'Big')), ...entries])) writeChanges(doc, A, batch);
    expect(updates).toBe(0);
    expect(Y.encodeStateAsUpdate(doc).byteLength).toBe(before);
    // mixed in one write, only the shared change and the device record land in the document
    writeChanges(doc, A, [...entries.slice(0, 500), a.shared('tag_link', ids(), 'insert', linkFields(tag, entries[0]!.uuid, A)), a.owned('device', A, deviceData('A2'))]);
    expect(updates).toBe(1);
    expect(sharedMap(doc).size).toBe(1);
    expect([...doc.getMap(ownedMapName(A)).keys()]).toEqual([`device:${A}`]);
    expect(Y.encodeStateAsUpdate(doc).byteLength - before).toBeLessThan(1024);
  });

  it('the estimate is an upper bound for every kind of change that travels in the document', () => {
    const t = fakeTime();
    const a = testDevice(A, t.now);
    const kinds: Record<string, () => Change> = {
      'device record': () => a.owned('device', A, deviceData('A device with a longer name')),
      'device tombstone': () => a.tombstone('device', A),
      'shared insert': () => a.shared('tag', ids(), 'insert', tagFields('T', A)),
      'shared update': () => a.shared('tag_link', ids(), 'update', { active: false }),
      'shared delete': () => a.shared('album', ids(), 'delete'),
    };
    for (const [kind, make] of Object.entries(kinds)) {
      // a device writes one record of its own (one key), however often; shared entries pile up
      for (const n of kind.startsWith('device') ? [1] : [1, 300]) {
        const doc = new Y.Doc();
        let bytes = 0;
        doc.on('update', (u: Uint8Array) => void (bytes += u.byteLength));
        const changes = Array.from({ length: n }, make);
        writeChanges(doc, A, changes);
        expect(bytes, `${kind} × ${n} wrote nothing`).toBeGreaterThan(0);
        const estimate = 64 + changes.reduce((s, c) => s + estimateChangeBytes(c), 0);
        expect(estimate, `${kind} × ${n}: ${bytes} B`).toBeGreaterThanOrEqual(bytes);
      }
    }
  });

  it('non-ASCII names are counted in UTF-8 bytes', () => {
    const t = fakeTime();
    const a = testDevice(A, t.now);
    const changes = Array.from({ length: 600 }, (_, i) => a.shared('tag', ids(), 'insert', tagFields(`${'写真'.repeat(90)}${i}`, A)));
    const doc = new Y.Doc();
    const sizes: number[] = [];
    doc.on('update', (u: Uint8Array) => sizes.push(u.byteLength));
    for (const batch of batchChanges(changes)) writeChanges(doc, A, batch);
    expect(sizes.length).toBeGreaterThan(1);
    expect(Math.max(...sizes)).toBeLessThan(MAX_BATCH_UPDATE_BYTES);
  });
});

describe('in-memory network', () => {
  const docs = (n: number) => Array.from({ length: n }, (_, i) => Object.assign(new Y.Doc(), { clientID: i + 1 }));

  it('with drops, duplicates, delays and a partition, syncAll after healing gives everyone everything', () => {
    const net = createMemoryNetwork(createPrng('net'), { drop: 0.3, duplicate: 0.2, reorder: 0.5, delay: 0.2 });
    const ds = docs(4);
    ds.forEach((d, i) => net.join(`d${i}`, d));
    net.setLink('d0', 'd1', false);
    net.isolate('d3', true);
    ds.forEach((d, i) => {
      for (let k = 0; k < 20; k++) d.getMap('m').set(`d${i}:${k}`, k);
    });
    net.deliver();
    expect(ds[3]!.getMap('m').size).toBe(20); // isolated: only its own
    net.isolate('d3', false);
    net.setLink('d0', 'd1', true);
    net.syncAll();
    for (const d of ds) expect(d.getMap('m').size).toBe(80);
    const s = net.stats();
    expect(s.dropped + s.duplicated + s.delayed).toBeGreaterThan(0);
  });

  it('relays through a third peer (as y-webrtc re-broadcasts) and applies with a remote origin', () => {
    const net = createMemoryNetwork(createPrng('relay'));
    const ds = docs(3);
    ds.forEach((d, i) => net.join(`d${i}`, d));
    net.setLink('d0', 'd2', false);
    const origins: unknown[] = [];
    ds[2]!.on('update', (_u: Uint8Array, origin: unknown) => origins.push(origin));
    ds[0]!.getMap('m').set('k', 'v');
    net.deliver();
    expect(ds[2]!.getMap('m').get('k')).toBe('v');
    expect(origins).toEqual([{ net: 'tabdrive:net', from: 'd1' }]);
  });

  it('is deterministic for a given seed', () => {
    const run = (): string => {
      const net = createMemoryNetwork(createPrng('same'), { drop: 0.2, duplicate: 0.2, reorder: 1, delay: 0.1 });
      const ds = docs(3);
      ds.forEach((d, i) => net.join(`d${i}`, d));
      ds.forEach((d, i) => {
        for (let k = 0; k < 10; k++) d.getArray('log').push([`${i}:${k}`]);
      });
      net.deliver();
      return JSON.stringify([net.stats(), ds.map((d) => d.getArray<string>('log').toArray())]);
    };
    expect(run()).toEqual(run());
  });
});

describe('engine plumbing', () => {
  it('queued remote updates are merged into one commit; the boot document is not re-materialized', async () => {
    const w = new World(SQL, createPrng('plumbing'), { drop: 0, duplicate: 0, reorder: 0 });
    const a = await w.addDevice(A, 0);
    const b = await w.addDevice(B, 0);
    await w.idle();
    w.net.isolate(B, true);
    const tags = Array.from({ length: 6 }, () => ids());
    for (const tag of tags) await a.write([a.shared('tag', tag, 'insert', tagFields(`T${tag.slice(-4)}`, A))]);
    // count B's commits
    const storage = b.live!.storage;
    let commits = 0;
    const call = storage.call.bind(storage);
    storage.call = ((m: Parameters<typeof call>[0], p: never) => {
      if (m === 'commit') commits++;
      return call(m, p);
    });
    const receivedBefore = b.live!.engine.stats().received;
    w.net.isolate(B, false);
    w.net.syncAll();
    await w.idle();
    expect(commits).toBe(1);
    expect(b.live!.engine.stats().received - receivedBefore).toBe(6);
    expect(await b.rows('SELECT count(*) AS n FROM tags')).toEqual([{ n: 6 }]);
    // restart B: its document comes back from storage, nothing is materialized again
    await b.live!.storage.call('flush', {});
    await b.kill();
    await b.start();
    await w.idle(true);
    expect(b.live!.engine.stats().received).toBe(0);
    expect(sharedLogSize(b.live!.doc)).toBe(6);
    expect(await b.digest()).toEqual(await a.digest());
    await w.dispose();
  });

  it('an entry planted in an owned root of the document is rejected as invalid and never applied', async () => {
    const w = new World(SQL, createPrng('planted'), { drop: 0, duplicate: 0, reorder: 0 });
    const a = await w.addDevice(A, 0);
    const b = await w.addDevice(B, 0);
    await w.idle();
    const loc = ids();
    await a.write([a.owned('location', loc, locationData(A, 'Real'))]);
    await w.idle();
    expect(await b.rows('SELECT count(*) AS n FROM locations')).toEqual([{ n: 1 }]); // through the stream
    // a well-formed entry of A, stamped by A, written into owned:A of B's document
    const entry = a.owned('entry', ids(), entryData(loc, 'planted.txt'));
    const src = new Y.Doc();
    src.transact(() => src.getMap(ownedMapName(A)).set(`entry:${entry.uuid}`, encodeOwnedValue(entry)));
    const before = b.live!.engine.stats();
    const invalidBefore = before.rejectedBy['invalid'] ?? 0;
    Y.applyUpdate(b.live!.doc, Y.encodeStateAsUpdate(src), 'remote');
    await w.idle();
    const after = b.live!.engine.stats();
    expect((after.rejectedBy['invalid'] ?? 0) - invalidBefore).toBe(1);
    expect(after.received).toBe(before.received);
    expect(await b.rows('SELECT count(*) AS n FROM entries WHERE uuid = ?', [entry.uuid])).toEqual([{ n: 0 }]);
    await w.dispose();
  });
});
