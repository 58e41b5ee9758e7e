// The sync document, compaction, the in-memory network and the engine's plumbing, piece by
// piece (the named end-to-end scenarios are in sync-scenarios.test.ts).
import initSqlJs, { type SqlJsStatic } from 'sql.js';
import { beforeAll, describe, expect, it } from 'vitest';
import * as Y from 'yjs';
import type { Change, SharedChange } from '../../src/core/change.ts';
import { createPrng } from '../../src/core/prng.ts';
import { generateSampleLocation } from '../../src/core/sample.ts';
import { compactDoc, planCompaction } from '../../src/sync/compaction.ts';
import {
  batchChanges,
  createExtractor,
  encodeOwnedValue,
  estimateChangeBytes,
  LOCAL_ORIGIN,
  MAX_BATCH_UPDATE_BYTES,
  ownedMapName,
  sharedMap,
  writeChanges,
} from '../../src/sync/doc.ts';
import { createMemoryNetwork } from '../../src/transport/memory.ts';
import { entryData, fakeTime, locationData, tagFields, testDevice, uuidFactory } from '../support/fixtures.ts';
import { World } from '../support/sim/world.ts';

let SQL: SqlJsStatic;
beforeAll(async () => {
  SQL = await initSqlJs();
});

const ids = uuidFactory('sync-doc');
const A = '0aaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa';
const B = '0bbbbbbb-bbbb-4bbb-8bbb-bbbbbbbbbbbb';

/** A receiving doc that records what each remote transaction yields. */
function receiver() {
  const doc = new Y.Doc();
  const ex = createExtractor(doc);
  const got: ReturnType<typeof ex.fromTransaction>[] = [];
  doc.on('afterTransaction', (tr: Y.Transaction) => {
    if (tr.origin !== LOCAL_ORIGIN) got.push(ex.fromTransaction(tr));
  });
  return { doc, got };
}
const relay = (from: Y.Doc, to: Y.Doc): void => {
  Y.applyUpdate(to, Y.encodeStateAsUpdate(from, Y.encodeStateVector(to)), 'remote');
};

describe('sync document', () => {
  it('a remote transaction yields exactly the keys it changed', () => {
    const t = fakeTime();
    const a = testDevice(A, t.now);
    const src = new Y.Doc();
    const loc = ids();
    const many: Change[] = [a.owned('location', loc, locationData(A, 'Photos'))];
    for (let i = 0; i < 100; i++) many.push(a.owned('entry', ids(), entryData(loc, `f${i}.txt`)));
    const tag = ids();
    many.push(a.shared('tag', tag, 'insert', tagFields('Work', A)));
    writeChanges(src, A, many);
    const r = receiver();
    relay(src, r.doc);
    expect(r.got.at(-1)!.changes).toHaveLength(102);
    // now one owned record and one shared entry
    writeChanges(src, A, [a.owned('location', loc, locationData(A, 'Pictures')), a.shared('tag', tag, 'update', { color: '#000000' })]);
    relay(src, r.doc);
    const last = r.got.at(-1)!;
    expect(last.rejections).toEqual([]);
    expect(last.changes.map((c) => `${c.kind}:${c.model}`).sort()).toEqual(['owned:location', 'shared:tag']);
    expect(last.changes.find((c) => c.kind === 'owned')).toMatchObject({ owner: A, uuid: loc, data: { name: 'Pictures' } });
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
    const loc = ids();
    const mine: Change[] = [a.owned('location', loc, locationData(A, 'Photos'))];
    for (let i = 0; i < 50; i++) mine.push(a.owned('entry', ids(), entryData(loc, `f${i}.txt`)));
    writeChanges(doc, A, mine);
    const other = new Y.Doc();
    writeChanges(other, B, [b.owned('location', ids(), locationData(B, 'Music'))]);
    relay(other, doc);
    expect(got.at(-1)!.changes.map((c) => c.kind === 'owned' && c.owner)).toEqual([B]);
    // A restarts with nothing (killed before its writes were durable); a peer sends them back
    const fresh = new Y.Doc();
    const ex2 = createExtractor(fresh, A);
    const back: ReturnType<typeof ex2.fromTransaction>[] = [];
    fresh.on('afterTransaction', (tr: Y.Transaction) => back.push(ex2.fromTransaction(tr)));
    relay(doc, fresh);
    expect(back.flatMap((g) => g.changes).filter((c) => c.kind === 'owned' && c.owner === A)).toHaveLength(51);
  });

  it('the owner rule: a value in owned:X not stamped by X is rejected as ownership', () => {
    const t = fakeTime();
    const b = testDevice(B, t.now);
    const src = new Y.Doc();
    src.transact(() => src.getMap(ownedMapName(A)).set(`location:${ids()}`, { hlc: b.clock.next(), data: locationData(A, 'Forged') }));
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
      mine.set(`entry:${ids()}`, 42);
      mine.set(`entry:${ids()}`, { hlc: 'yesterday', data: {} });
      mine.set(`entry:${ids()}`, { hlc: a.clock.next(), data: { name: 'no location' } });
      src.getMap('owned:not-a-uuid').set(`device:${ids()}`, { hlc: a.clock.next(), data: {} });
      sharedMap(src).set(a.clock.next(), [1, 2, 3]);
      sharedMap(src).set(a.clock.next(), { model: 'tag', uuid: ids(), op: 'explode', fields: {} });
    });
    const r = receiver();
    expect(() => relay(src, r.doc)).not.toThrow();
    const all = r.got.flatMap((g) => g.rejections);
    expect(all.map((x) => x.reason)).toEqual(Array(7).fill('invalid'));
    expect(r.got.flatMap((g) => g.changes)).toEqual([]);
  });

  it('owned records travel as positional JSON strings, and every malformed one is rejected with its reason', () => {
    const t = fakeTime();
    const a = testDevice(A, t.now);
    const b = testDevice(B, t.now);
    const loc = ids();
    const entry = a.owned('entry', ids(), entryData(loc, 'a "quoted" name.txt'));
    const gone = a.tombstone('entry', ids());
    const src = new Y.Doc();
    writeChanges(src, A, [entry, gone]);
    const stored = src.getMap(ownedMapName(A)).get(`entry:${entry.uuid}`);
    expect(typeof stored).toBe('string');
    expect(stored).toBe(encodeOwnedValue(entry));
    expect(src.getMap(ownedMapName(A)).get(`entry:${gone.uuid}`)).toBe(JSON.stringify([gone.hlc]));
    src.transact(() => {
      const mine = src.getMap(ownedMapName(A));
      mine.set(`entry:${ids()}`, '{not json');
      mine.set(`entry:${ids()}`, '{"hlc":"x"}');
      mine.set(`entry:${ids()}`, JSON.stringify([a.clock.next(), loc, null]));
      mine.set(`entry:${ids()}`, encodeOwnedValue({ ...entry, hlc: b.clock.next() }));
    });
    const r = receiver();
    relay(src, r.doc);
    const changes = r.got.flatMap((g) => g.changes);
    expect(changes).toEqual(expect.arrayContaining([entry, gone]));
    expect(changes).toHaveLength(2);
    const rejections = r.got.flatMap((g) => g.rejections);
    expect(rejections.map((x) => [x.reason, x.detail])).toEqual(
      expect.arrayContaining([
        ['invalid', 'value is not JSON'],
        ['invalid', 'value is not a record'],
        ['invalid', '2 fields where entry has 9'],
        ['ownership', expect.stringContaining(B)],
      ]),
    );
    expect(rejections).toHaveLength(4);
  });

  it('reads records written in the object form (documents from before the positional one)', () => {
    const t = fakeTime();
    const a = testDevice(A, t.now);
    const entry = a.owned('entry', ids(), entryData(ids(), 'old.txt'));
    const src = new Y.Doc();
    src.transact(() => src.getMap(ownedMapName(A)).set(`entry:${entry.uuid}`, { hlc: entry.hlc, data: entry.data }));
    const r = receiver();
    relay(src, r.doc);
    expect(r.got.flatMap((g) => g.changes)).toEqual([entry]);
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
    expect(sharedMap(r.doc).size).toBe(2);
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
    const left = [...sharedMap(d1).values()] as Partial<SharedChange>[];
    expect(left.filter((v) => v.uuid === gone).map((v) => v.op)).toEqual(['delete']);
    expect(left.some((v) => v.uuid === tag && v.fields?.['color'] === '#aa0000')).toBe(true);
    expect(planCompaction(d1).drop).toEqual([]); // idempotent
  });
});

describe('bulk batches', () => {
  it('a 10,000-entry location splits into batches whose update stays under 200 KiB', () => {
    const t = fakeTime();
    const a = testDevice(A, t.now);
    const loc = ids();
    const sample = generateSampleLocation({ seed: 'bulk', count: 10_000, owner: A, locationUuid: loc, volumeUuid: null, name: 'Big', now: t.now(), withContent: true });
    const changes = sample.entries.map((e) => a.owned('entry', e.uuid, e.data));
    const doc = new Y.Doc();
    const sizes: number[] = [];
    doc.on('update', (u: Uint8Array) => sizes.push(u.byteLength));
    const batches = batchChanges(changes);
    for (const batch of batches) writeChanges(doc, A, batch);
    expect(sizes).toHaveLength(batches.length);
    expect(Math.max(...sizes)).toBeLessThan(MAX_BATCH_UPDATE_BYTES);
    const perRecord = sizes.reduce((s, x) => s + x, 0) / changes.length;
    const estimated = changes.reduce((s, c) => s + estimateChangeBytes(c), 0) / changes.length;
    expect(estimated).toBeGreaterThan(perRecord); // the estimate is an upper bound
    console.log(`bulk: ${changes.length} entries → ${batches.length} batches of ≤ ${Math.max(...batches.map((b) => b.length))}; ` +
      `${perRecord.toFixed(0)} B of update per owned entry (estimate ${estimated.toFixed(0)} B); largest update ${Math.max(...sizes)} B`);
  });

  it('the estimate is an upper bound for every kind of change', () => {
    const t = fakeTime();
    const a = testDevice(A, t.now);
    const loc = ids();
    const kinds: Record<string, () => Change> = {
      'owned state': () => a.owned('entry', ids(), entryData(loc, 'x.jpg')),
      'owned tombstone': () => a.tombstone('entry', ids()),
      'shared insert': () => a.shared('tag', ids(), 'insert', tagFields('T', A)),
      'shared update': () => a.shared('tag_link', ids(), 'update', { active: false }),
      'shared delete': () => a.shared('album', ids(), 'delete'),
    };
    for (const [kind, make] of Object.entries(kinds)) {
      for (const n of [1, 300]) {
        const doc = new Y.Doc();
        let bytes = 0;
        doc.on('update', (u: Uint8Array) => void (bytes += u.byteLength));
        const changes = Array.from({ length: n }, make);
        writeChanges(doc, A, changes);
        const estimate = 64 + changes.reduce((s, c) => s + estimateChangeBytes(c), 0);
        expect(estimate, `${kind} × ${n}: ${bytes} B`).toBeGreaterThanOrEqual(bytes);
      }
    }
  });

  it('non-ASCII names are counted in UTF-8 bytes', () => {
    const t = fakeTime();
    const a = testDevice(A, t.now);
    const loc = ids();
    const changes = Array.from({ length: 600 }, (_, i) => a.owned('entry', ids(), entryData(loc, `${'写真'.repeat(150)}${i}.jpg`)));
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
    w.net.isolate(B, true);
    const loc = ids();
    await a.write([a.owned('location', loc, locationData(A, 'One'))]);
    for (let i = 0; i < 5; i++) await a.write([a.owned('entry', ids(), entryData(loc, `f${i}`))]);
    // count B's commits
    const storage = b.live!.storage;
    let commits = 0;
    const call = storage.call.bind(storage);
    storage.call = ((m: Parameters<typeof call>[0], p: never) => {
      if (m === 'commit') commits++;
      return call(m, p);
    });
    w.net.isolate(B, false);
    w.net.syncAll();
    await w.idle();
    expect(commits).toBe(1);
    expect(b.live!.engine.stats().received).toBe(6);
    expect(await b.rows('SELECT count(*) AS n FROM entries')).toEqual([{ n: 5 }]);
    // restart B: its document comes back from storage, nothing is materialized again
    await b.live!.storage.call('flush', {});
    await b.kill();
    await b.start();
    await w.idle(true);
    expect(b.live!.engine.stats().received).toBe(0);
    expect(b.live!.doc.getMap(ownedMapName(A)).size).toBe(6);
    expect(await b.digest()).toEqual(await a.digest());
    await w.dispose();
  });
});
