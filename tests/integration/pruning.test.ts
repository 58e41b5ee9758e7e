// Automatic compaction (issue 13 item 2, decision 0013): the engine compacts the shared log by
// itself (E6) and drops what forgotten devices left in the document (compaction.ts C7). Real
// engines, real sql.js storage, the simulator's network.
import initSqlJs, { type SqlJsStatic } from 'sql.js';
import { beforeAll, describe, expect, it } from 'vitest';
import * as Y from 'yjs';
import { createPrng } from '../../src/core/prng.ts';
import { liveStateBytes } from '../../src/sync/compaction.ts';
import { HORIZON_KEY } from '../../src/sync/engine.ts';
import { allAcks, currentSegment, entryObject, forEachEntry, keptDeletes, metaMap, ownedMapName, sharedLogSize, sharedMap } from '../../src/sync/doc.ts';
import { deviceData, tagFields, uuidFactory } from '../support/fixtures.ts';
import { World, type SimDevice } from '../support/sim/world.ts';

let SQL: SqlJsStatic;
beforeAll(async () => {
  SQL = await initSqlJs();
});

const ids = uuidFactory('pruning');
const A = '0aaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa';
const B = '0bbbbbbb-bbbb-4bbb-8bbb-bbbbbbbbbbbb';
const C = '0ccccccc-cccc-4ccc-8ccc-cccccccccccc';
const D = '0ddddddd-dddd-4ddd-8ddd-dddddddddddd';

const docBytes = (d: SimDevice): number => Y.encodeStateAsUpdate(d.live!.doc).byteLength;

describe('automatic compaction', () => {
  // The figure of decision 0013 is PRUNE_RENAMES=10000 (~4 min on a loaded 2-core machine);
  // the suite runs 2,000, which crosses the same thresholds 30 times on each device.
  it('renames of one tag on two devices: the shared log stays a few entries; the figures', async () => {
    const w = new World(SQL, createPrng('pruning-renames'), { drop: 0, duplicate: 0, reorder: 0 });
    const a = await w.addDevice(A, 0);
    const b = await w.addDevice(B, 0);
    const tag = ids();
    await a.write([a.shared('tag', tag, 'insert', tagFields('Start', A))]);
    await w.heal();
    const before = { doc: docBytes(a), live: liveStateBytes(a.live!.doc), log: sharedLogSize(a.live!.doc) };
    let peak = 0;
    const N = Number(process.env["PRUNE_RENAMES"] ?? 2_000);
    for (let i = 0; i < N; i++) {
      const d = i % 2 ? b : a;
      await d.write([await d.sharedAbove('tag', tag, 'update', { display_name: `Name ${i}`, canonical_name: `name ${i}` })]);
      w.time += 1000; // a rename a second: automatic compactions fall due as the app would run them
      w.net.deliver();
      await w.idle();
      peak = Math.max(peak, sharedLogSize(a.live!.doc));
    }
    await w.heal();
    const after = { doc: docBytes(a), live: liveStateBytes(a.live!.doc), log: sharedLogSize(a.live!.doc) };
    const stats = [a, b].map((d) => d.live!.engine.stats());
    await a.live!.engine.compact();
    await w.heal();
    const compacted = { doc: docBytes(a), live: liveStateBytes(a.live!.doc), log: sharedLogSize(a.live!.doc) };
    console.log(`${N} renames on two devices: shared log ${before.log} → ${after.log} entries as the app leaves it (at most ${peak} between compactions), ` +
      `${compacted.log} once compacted; live state ${before.live} B → ${after.live} B (${compacted.live} B compacted); ` +
      `document ${before.doc} B → ${after.doc} B (${compacted.doc} B compacted); automatic compactions ${stats.map((s) => s.autoCompactions).join(' + ')}`);
    expect((await a.rows('SELECT display_name AS name FROM tags WHERE uuid = ?', [tag]))[0]?.['name']).toBe(`Name ${N - 1}`);
    expect(await b.digest()).toEqual(await a.digest());
    // the renames since the last automatic compaction stay below its threshold; compacted, the
    // insert (it sets fields no rename sets) and the last rename are left
    expect(after.log).toBeLessThanOrEqual(64 + 2);
    expect(compacted.log).toBe(2);
    expect(peak).toBeLessThanOrEqual(2 * 64 + 4);
    // one device compacts each round: the other sees its segment arrive and counts from there
    const runs = stats[0]!.autoCompactions + stats[1]!.autoCompactions;
    expect(runs).toBeGreaterThanOrEqual(Math.floor(N / 70));
    expect(runs).toBeLessThanOrEqual(Math.ceil(N / 64) + 2);
    // the live state is bounded (the threshold's 64 entries of ~100 B at most, and two acks)
    expect(after.live).toBeLessThanOrEqual(2 * before.live + 8192);
    expect(compacted.live).toBeLessThanOrEqual(2 * before.live + 1024);
    // and so is what a compaction leaves behind (C8): a few merged clock ranges a run, not a
    // key per superseded entry (layout 1 left ~76 B per rename: 765 KB after 10,000)
    expect(compacted.doc - compacted.live).toBeLessThanOrEqual(24 * (runs + 1) + 256);
    await w.dispose();
  }, 600_000);

  it('does not run below the threshold, and can be turned off', async () => {
    const w = new World(SQL, createPrng('pruning-threshold'), { drop: 0, duplicate: 0, reorder: 0 });
    const a = await w.addDevice(A, 0);
    const tag = ids();
    await a.write([a.shared('tag', tag, 'insert', tagFields('Start', A))]);
    for (let i = 0; i < 62; i++) await a.write([await a.sharedAbove('tag', tag, 'update', { display_name: `N${i}` })]);
    await w.idle(true);
    expect(a.live!.engine.stats().autoCompactions).toBe(0);
    expect(sharedLogSize(a.live!.doc)).toBe(63);
    await a.write([await a.sharedAbove('tag', tag, 'update', { display_name: 'last' })]);
    await w.idle(true);
    expect(a.live!.engine.stats().autoCompactions).toBe(1);
    expect(a.live!.engine.stats().lastCompaction).toMatchObject({ auto: true, dropped: 62, kept: 2 });
    expect(sharedLogSize(a.live!.doc)).toBe(2);
    await w.dispose();
  });

  it("drops a forgotten device's records, ack and meta keys everywhere; the forget itself stays", async () => {
    const w = new World(SQL, createPrng('pruning-forgotten'), { drop: 0, duplicate: 0, reorder: 0 });
    const [a, b, c] = [await w.addDevice(A, 0), await w.addDevice(B, 0), await w.addDevice(C, 0)];
    await c.write([c.owned('device', C, deviceData('C')), c.shared('tag', ids(), 'insert', tagFields('From C', C))]);
    await a.write([a.shared('tag', ids(), 'insert', tagFields('From A', A))]); // C acks it
    await c.live!.engine.setMeta(`schema:${C}`, 99);
    await c.live!.engine.setMeta(`key:${C}`, 'not a real key');
    await w.heal();
    for (const d of [a, b]) {
      expect(allAcks(d.live!.doc).has(C)).toBe(true);
      expect(d.live!.doc.getMap(ownedMapName(C)).size).toBeGreaterThan(0);
    }
    await c.kill();
    await a.write([a.shared('forgotten_device', C, 'insert', { forgotten_by: A, forgotten_at: w.time })]);
    w.net.deliver();
    await w.idle(true);
    // the forget itself schedules a compaction (an ack of a forgotten device is there: C7),
    // which dropped them; one asked for now finds nothing left
    const auto = a.live!.engine.stats().lastCompaction;
    expect(auto).toMatchObject({ auto: true, forgotten: 5 }); // the device record, the ack, schema:, layout: (announced at start) and key:
    expect(await a.live!.engine.compact()).toBe(0);
    expect(a.live!.engine.stats().lastCompaction?.forgotten).toBe(0);
    w.net.deliver();
    await w.idle(true);
    expect(allAcks(b.live!.doc).has(C)).toBe(false);
    expect(b.live!.doc.getMap(ownedMapName(C)).size).toBe(0);
    // C comes back (a start) and learns it was forgotten; the ack it writes again is
    // dropped by the next compaction, whoever runs it
    await w.heal();
    await b.live!.engine.compact();
    await w.heal();
    for (const d of [a, b, c]) {
      const doc = d.live!.doc;
      expect(allAcks(doc).has(C)).toBe(false);
      expect(metaMap(doc).has(`schema:${C}`)).toBe(false);
      expect(metaMap(doc).has(`key:${C}`)).toBe(false);
      expect(d.live!.engine.newestSchema()).toBeLessThan(99);
      expect(await d.rows('SELECT uuid FROM forgotten_devices')).toEqual([{ uuid: C }]);
      expect(await d.rows('SELECT uuid FROM devices WHERE uuid = ?', [C])).toEqual([]);
      // the tag C made is a shared change of a person: kept
      expect(await d.rows("SELECT 1 FROM tags WHERE display_name = 'From C'")).toHaveLength(1);
    }
    expect(await b.digest()).toEqual(await a.digest());
    await w.dispose();
  });

  it('two devices compacting apart lose nothing: what the lost segment alone held is written back (E7)', async () => {
    const w = new World(SQL, createPrng('pruning-apart'), { drop: 0, duplicate: 0, reorder: 0 });
    const [a, b] = [await w.addDevice(A, 0), await w.addDevice(B, 0)];
    const shared = ids();
    await a.write([a.shared('tag', shared, 'insert', tagFields('Both', A))]);
    await w.heal();
    expect(currentSegment(a.live!.doc)).not.toBeNull(); // layout 2 from the first shared write
    w.net.isolate(A, true);
    w.net.isolate(B, true);
    const [onlyA, onlyB] = [ids(), ids()];
    for (const [d, onlyD, color] of [[a, onlyA, '#aa'], [b, onlyB, '#bb']] as const) {
      await d.write([d.shared('tag', onlyD, 'insert', tagFields(`Only ${d === a ? 'A' : 'B'}`, d.id))]);
      await d.write([await d.sharedAbove('tag', shared, 'update', { color: `${color}0000` })]);
      await d.write([await d.sharedAbove('tag', shared, 'update', { color: `${color}1111` })]);
      // each replaces the segment with one the other never saw (the first color is dropped)
      expect(await d.live!.engine.compact()).toBe(1);
    }
    await w.heal();
    const restored = a.live!.engine.stats().restored + b.live!.engine.stats().restored;
    expect(restored).toBeGreaterThan(0);
    for (const d of [a, b]) {
      const names = (await d.rows('SELECT display_name AS n FROM tags ORDER BY n')).map((r) => r['n']);
      expect(names).toEqual(['Both', 'Only A', 'Only B']);
      const keys: string[] = [];
      forEachEntry(d.live!.doc, (v, k) => {
        if (entryObject(v)?.["uuid"] !== shared) keys.push(k);
      });
      expect(keys).toHaveLength(2); // both inserts are in the one segment left
    }
    expect(await b.digest()).toEqual(await a.digest());
    // a device that joins later reads everything from that segment alone
    const c = await w.addDevice(C, 0);
    await w.heal();
    expect(await c.digest()).toEqual(await a.digest());
    await w.dispose();
  });

  it('the layout follows the devices: back into `shared` when one that reads only that appears, segments again once it reads them (C9)', async () => {
    const w = new World(SQL, createPrng('pruning-layout'), { drop: 0, duplicate: 0, reorder: 0 });
    const [a, b] = [await w.addDevice(A, 0), await w.addDevice(B, 0)];
    for (const d of [a, b]) await d.live!.engine.announceSchema(7);
    const tags = [ids(), ids()];
    await a.write([a.shared('tag', tags[0]!, 'insert', tagFields('First', A))]);
    await w.heal();
    for (const d of [a, b]) expect(currentSegment(d.live!.doc)).not.toBeNull();
    // a device of an earlier build (a schema version, no layout) is met
    const OLD = '0ddddddd-dddd-4ddd-8ddd-dddddddddddd';
    await b.live!.engine.setMeta(`schema:${OLD}`, 5);
    await w.heal();
    for (const d of [a, b]) {
      const doc = d.live!.doc;
      expect(currentSegment(doc)).toBeNull();
      expect(sharedMap(doc).size).toBe(1); // what the earlier build reads
      expect(allAcks(doc).size).toBeGreaterThan(0);
    }
    // meanwhile entries go where it reads them
    await a.write([a.shared('tag', tags[1]!, 'insert', tagFields('Second', A))]);
    await w.heal();
    expect(sharedMap(b.live!.doc).size).toBe(2);
    expect(currentSegment(b.live!.doc)).toBeNull();
    // it is updated: the next compaction moves the log into a segment again
    await b.live!.engine.setMeta(`layout:${OLD}`, 2);
    await w.heal();
    await a.live!.engine.compact();
    await w.heal();
    for (const d of [a, b]) {
      expect(currentSegment(d.live!.doc)).not.toBeNull();
      expect(sharedMap(d.live!.doc).size).toBe(0);
      expect(sharedLogSize(d.live!.doc)).toBe(2);
      expect((await d.rows('SELECT display_name AS n FROM tags ORDER BY n')).map((r) => r['n'])).toEqual(['First', 'Second']);
    }
    await w.dispose();
  });

  it('a peer that overwrites the segment with garbage loses nobody anything (D6)', async () => {
    const w = new World(SQL, createPrng('pruning-hostile'), { drop: 0, duplicate: 0, reorder: 0 });
    const [a, b] = [await w.addDevice(A, 0), await w.addDevice(B, 0)];
    await a.write([a.shared('tag', ids(), 'insert', tagFields('Kept', A)), a.shared('tag', ids(), 'insert', tagFields('Also kept', A))]);
    await w.heal();
    b.live!.doc.transact(() => b.live!.doc.getMap('log').set('seg', 'not a segment'), 'hostile');
    await w.heal();
    for (const d of [a, b]) {
      expect(sharedLogSize(d.live!.doc)).toBe(2); // written back, into `shared`
      expect((await d.rows('SELECT count(*) AS n FROM tags'))[0]?.['n']).toBe(2);
    }
    // the device the garbage arrived at first writes back in the same tick (E7): b, here
    expect(b.live!.engine.stats().restored).toBe(2);
    await a.live!.engine.compact(); // and into a segment again
    await w.heal();
    const c = await w.addDevice(C, 0);
    await w.heal();
    for (const d of [a, b, c]) {
      expect(currentSegment(d.live!.doc)).not.toBeNull();
      expect(await d.digest()).toEqual(await a.digest());
    }
    await w.dispose();
  });
});

// Tombstone pruning (compaction.ts C10, doc.ts D7, engine.ts E8): a delete entry leaves the
// document once every device within the horizon has acked the segment holding it.
describe('tombstone pruning', () => {
  const rounds = async (w: World, n: number, stepMs = 5000): Promise<void> => {
    for (let i = 0; i < n; i++) {
      w.time += stepMs;
      w.net.deliver();
      await w.idle(true);
    }
  };
  const tombstonesInDoc = (d: SimDevice): number => {
    let n = 0;
    forEachEntry(d.live!.doc, (v) => {
      if (entryObject(v)?.['op'] === 'delete') n++;
    });
    return n;
  };

  it('deletes every device has seen leave the document; a device joining later never holds them; the figures', async () => {
    const w = new World(SQL, createPrng('prune-tombstones'), { drop: 0, duplicate: 0, reorder: 0 });
    const [a, b] = [await w.addDevice(A, 0), await w.addDevice(B, 0)];
    await a.write([a.shared('tag', ids(), 'insert', tagFields('Kept', A))]);
    await w.heal();
    await a.live!.engine.compact();
    await w.heal();
    const before = docBytes(a);
    const N = 300;
    const tags = Array.from({ length: N }, () => ids());
    await a.write(tags.map((t, i) => a.shared('tag', t, 'insert', tagFields(`Tag ${i}`, A))));
    await w.heal();
    const created = docBytes(a);
    await b.write(tags.map((t) => b.shared('tag', t, 'delete')));
    const deleted = { doc: docBytes(b), tombstones: tombstonesInDoc(b) }; // as written, before any compaction
    expect(deleted.tombstones).toBe(N);
    // delivered, compacted (each record's delete is all that is left of it), acked by both, pruned
    await w.heal();
    await rounds(w, 4);
    await w.heal();
    const pruned = [a, b].reduce((n, d) => n + d.live!.engine.stats().pruned, 0);
    const after = docBytes(a);
    console.log(`${N} tags created and deleted on two devices: document ${before} B → ${created} B created → ${deleted.doc} B deleted (${deleted.tombstones} tombstones) → ${after} B pruned (${pruned} tombstones pruned)`);
    expect(pruned).toBe(N);
    for (const d of [a, b]) {
      expect(tombstonesInDoc(d)).toBe(0);
      expect(sharedLogSize(d.live!.doc)).toBe(1);
      expect((await d.rows('SELECT count(*) AS n FROM tags'))[0]?.['n']).toBe(1);
      expect((await d.rows("SELECT count(*) AS n FROM tombstones WHERE model = 'tag'"))[0]?.['n']).toBe(N); // sticky where they were seen
    }
    expect(after).toBeLessThan(before + 2_000); // a few residues per compaction, not per delete
    const c = await w.addDevice(C, 0);
    await w.heal();
    expect((await c.rows('SELECT count(*) AS n FROM tags'))[0]?.['n']).toBe(1);
    expect((await c.rows("SELECT count(*) AS n FROM tombstones WHERE model = 'tag'"))[0]?.['n']).toBe(0);
    for (const d of [b, c]) expect(await d.digest()).toEqual(await a.digest());
    await w.dispose();
  });

  it('a few deletes, below the compaction threshold, leave the document by themselves (carried into a segment first)', async () => {
    const w = new World(SQL, createPrng('prune-few'), { drop: 0, duplicate: 0, reorder: 0 });
    const [a, b] = [await w.addDevice(A, 0), await w.addDevice(B, 0)];
    const tags = Array.from({ length: 20 }, () => ids());
    await a.write(tags.map((t, i) => a.shared('tag', t, 'insert', tagFields(`Tag ${i}`, A))));
    await w.heal();
    await b.write(tags.map((t) => b.shared('tag', t, 'delete')));
    await w.heal();
    await rounds(w, 6);
    await w.heal();
    for (const d of [a, b]) expect(sharedLogSize(d.live!.doc)).toBe(0);
    expect([a, b].reduce((n, d) => n + d.live!.engine.stats().pruned, 0)).toBe(20);
    expect([a, b].reduce((n, d) => n + d.live!.engine.stats().autoCompactions, 0)).toBeGreaterThanOrEqual(2); // carried, then pruned
    await w.dispose();
  });

  it('a device within the horizon holds pruning back; past it, it is left out, and what it wrote of a deleted tag meanwhile does not bring the tag back', async () => {
    const w = new World(SQL, createPrng('prune-horizon'), { drop: 0, duplicate: 0, reorder: 0 });
    const [a, b, c] = [await w.addDevice(A, 0), await w.addDevice(B, 0), await w.addDevice(C, 0)];
    const [gone, kept] = [ids(), ids()];
    await a.write([a.shared('tag', gone, 'insert', tagFields('Gone', A)), a.shared('tag', kept, 'insert', tagFields('Kept', A))]);
    await w.heal();
    await a.live!.engine.compact();
    await w.heal();
    w.net.isolate(C, true);
    await a.write([a.shared('tag', gone, 'delete')]);
    await c.write([await c.sharedAbove('tag', gone, 'update', { display_name: 'Renamed while apart', canonical_name: 'renamed while apart' })]);
    const made = ids();
    await c.write([c.shared('tag', made, 'insert', tagFields('Made while apart', C))]);
    // C's last ack is recent: pruning waits for it (within the default 30 days)
    await a.live!.engine.compact();
    await rounds(w, 4);
    await a.live!.engine.compact();
    expect(a.live!.engine.stats().lastGate?.waiting).toContain(C);
    expect(tombstonesInDoc(a)).toBe(1);
    // an hour's horizon, and two hours pass: C is left out
    await a.live!.engine.setMeta(HORIZON_KEY, 1 / 24);
    w.time += 2 * 3_600_000;
    await rounds(w, 2);
    await a.live!.engine.compact(); // A's and B's acks of this segment follow
    await rounds(w, 4);
    await a.live!.engine.compact();
    await rounds(w, 2);
    expect(a.live!.engine.stats().lastGate?.past).toContain(C);
    expect(a.live!.engine.stats().pruned).toBe(1);
    expect(tombstonesInDoc(a)).toBe(0);
    // C comes back: its rename lands on a deleted tag, which A and B refuse and delete again (E8)
    await w.heal();
    await rounds(w, 4);
    await w.heal();
    expect([a, b].reduce((n, d) => n + d.live!.engine.stats().reasserted, 0)).toBeGreaterThan(0);
    const d = await w.addDevice(D, 0); // and a device that never held the tag
    await w.heal();
    for (const x of [a, b, c, d]) {
      expect((await x.rows('SELECT display_name AS n FROM tags ORDER BY n')).map((r) => r['n'])).toEqual(['Kept', 'Made while apart']);
      expect(await x.digest()).toEqual(await a.digest());
    }
    await w.dispose();
  });

  it('a delete written again is kept until the device that wrote the record back has seen it, horizon or not (D8)', async () => {
    const w = new World(SQL, createPrng('prune-kept'), { drop: 0, duplicate: 0, reorder: 0 });
    const [a, b, c] = [await w.addDevice(A, 0), await w.addDevice(B, 0), await w.addDevice(C, 0)];
    const gone = ids();
    await a.write([a.shared('tag', gone, 'insert', tagFields('Gone', A))]);
    await w.heal();
    await a.live!.engine.setMeta(HORIZON_KEY, 1 / 24);
    // C is apart past the horizon while A deletes the tag: it is pruned without C
    w.net.isolate(C, true);
    await a.write([a.shared('tag', gone, 'delete')]);
    await c.write([await c.sharedAbove('tag', gone, 'update', { display_name: 'Renamed while apart', canonical_name: 'renamed while apart' })]);
    w.time += 2 * 3_600_000;
    for (let i = 0; i < 3; i++) {
      await a.live!.engine.compact();
      await rounds(w, 2);
    }
    expect(a.live!.engine.stats().pruned).toBe(1);
    expect(tombstonesInDoc(a)).toBe(0);
    // C's rename reaches A, which refuses it and writes the delete again, marked kept (E8, D8)
    w.net.isolate(C, false);
    w.net.syncAll();
    w.net.deliver();
    await w.idle(true);
    expect(a.live!.engine.stats().reasserted).toBe(1);
    expect(keptDeletes(a.live!.doc).size).toBe(1);
    // C is cut off again before it saw that delete, and its ack grows old: the horizon leaves
    // C out, but the kept delete waits for it (pruned, C would write the tag back once more)
    w.net.isolate(C, true);
    w.time += 2 * 3_600_000;
    for (let i = 0; i < 3; i++) {
      await a.live!.engine.compact();
      await rounds(w, 2);
    }
    const gate = a.live!.engine.stats().lastGate;
    expect(gate?.ok).toBe(true);
    expect(gate?.past).toEqual([C]);
    expect(gate?.everyone.ok).toBe(false);
    expect(tombstonesInDoc(a)).toBe(1);
    expect(keptDeletes(a.live!.doc).size).toBe(1);
    expect(a.live!.engine.stats().pruned).toBe(1);
    // C comes back and sees it: the tag is deleted there too, and the kept delete is pruned
    await w.heal();
    await rounds(w, 6);
    await w.heal();
    for (const x of [a, b, c]) {
      expect(tombstonesInDoc(x)).toBe(0);
      expect(keptDeletes(x.live!.doc).size).toBe(0);
      expect(await x.rows('SELECT uuid FROM tags')).toEqual([]);
      expect(await x.digest()).toEqual(await a.digest());
    }
    expect([a, b, c].reduce((n, d) => n + d.live!.engine.stats().pruned, 0)).toBe(2);
    // A and B, which both hold the tombstone, each wrote the delete again once: no loop
    expect([a, b, c].reduce((n, d) => n + d.live!.engine.stats().reasserted, 0)).toBe(2);
    await w.dispose();
  });
});
