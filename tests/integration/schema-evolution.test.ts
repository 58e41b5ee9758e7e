// A library outlives releases (DESIGN §6): a device one schema behind applies what it knows of
// a newer device's changes and is told it is behind; after its own upgrade it gets back what
// it left out. The newer device is played by writing, into the sync document, exactly what a
// newer build writes: fields and models this build does not know.
import initSqlJs, { type SqlJsStatic } from 'sql.js';
import { beforeAll, describe, expect, it } from 'vitest';
import * as Y from 'yjs';
import { validateChange } from '../../src/core/validate.ts';
import { BOOT_ORIGIN, LOCAL_ORIGIN, metaMap, ownedMapName, sharedMap, writeChanges } from '../../src/sync/doc.ts';
import { deviceData, fakeTime, tagFields, testDevice, uuidFactory } from '../support/fixtures.ts';
import { World } from '../support/sim/world.ts';
import { receiver, relay } from '../support/ydoc.ts';
import { createPrng } from '../../src/core/prng.ts';
import { planCompaction } from '../../src/sync/compaction.ts';

let SQL: SqlJsStatic;
beforeAll(async () => {
  SQL = await initSqlJs();
});

const ids = uuidFactory('schema-evolution');
const A = '0aaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa';
const B = '0bbbbbbb-bbbb-4bbb-8bbb-bbbbbbbbbbbb';


describe('validation tolerates a newer schema', () => {
  it("leaves out a field named like a model field, reports it, and accepts the rest", () => {
    const t = fakeTime();
    const a = testDevice(A, t.now);
    const tag = ids();
    const c = { ...a.shared('tag', tag, 'insert', tagFields('Trip', A)) };
    const newer: string[] = [];
    const v = validateChange({ ...c, fields: { ...c.fields, emoji: '🏖' } }, (w) => newer.push(w));
    expect(v.ok).toBe(true);
    const plain = validateChange(c);
    expect(plain.ok && v.ok && v.value.kind === 'shared' && plain.value.kind === 'shared').toBe(true);
    if (plain.ok && v.ok) expect(v.value).toEqual(plain.value);
    expect(newer).toEqual(['tag.emoji']);
    // a key no schema would use is still invalid: garbage is not "newer"
    const bad = validateChange({ ...c, fields: { ...c.fields, 'Robert"); DROP': 1 } }, (w) => newer.push(w));
    expect(bad.ok).toBe(false);
    expect(newer).toEqual(['tag.emoji']);
  });

  it('an update of newer fields only, and a newer model, are refused as behind, not as invalid', () => {
    const t = fakeTime();
    const b = testDevice(B, t.now);
    const src = new Y.Doc();
    const tag = ids();
    writeChanges(src, B, [b.shared('tag', tag, 'insert', tagFields('Trip', B))]);
    const r = receiver();
    relay(src, r.doc);
    src.transact(() => {
      sharedMap(src).set(b.clock.next(), { model: 'tag', uuid: tag, op: 'update', fields: { emoji: '🏖' } });
      sharedMap(src).set(b.clock.next(), { model: 'library_name', uuid: ids(), op: 'insert', fields: { name: 'Holidays' } });
      src.getMap(ownedMapName(B)).set(`printer:${ids()}`, JSON.stringify([b.clock.next(), 'Laser']));
    }, LOCAL_ORIGIN);
    relay(src, r.doc);
    const last = r.got.at(-1)!;
    expect(last.rejections).toEqual([]);
    expect(last.changes).toEqual([]);
    expect(last.newer.sort()).toEqual(['library_name', 'printer', 'tag.emoji']);
  });

  it('a device record with fields appended by a newer schema decodes; the extra ones are reported', () => {
    const t = fakeTime();
    const b = testDevice(B, t.now);
    const src = new Y.Doc();
    const d = deviceData('B');
    const row = [b.clock.next(), d['name'], d['slug'], d['os'], d['browser'], d['created_at'], 'arm64'];
    src.transact(() => src.getMap(ownedMapName(B)).set(`device:${B}`, JSON.stringify(row)), LOCAL_ORIGIN);
    const r = receiver();
    relay(src, r.doc);
    const got = r.got.at(-1)!;
    expect(got.rejections).toEqual([]);
    expect(got.changes).toHaveLength(1);
    expect(got.changes[0]).toMatchObject({ kind: 'owned', model: 'device', data: { name: 'B', slug: 'b' } });
    expect(got.newer).toEqual(['device.field_6']);
  });
});

describe('compaction on an older device', () => {
  it("never drops an entry whose newer fields no later entry sets (C6)", () => {
    const t = fakeTime();
    const b = testDevice(B, t.now);
    const doc = new Y.Doc();
    const tag = ids();
    writeChanges(doc, B, [b.shared('tag', tag, 'insert', tagFields('Trip', B))]);
    const withEmoji = b.clock.next();
    const withoutEmoji = b.clock.next();
    doc.transact(() => {
      sharedMap(doc).set(withEmoji, { model: 'tag', uuid: tag, op: 'update', fields: { color: '#00ff00', emoji: 'beach' } });
      sharedMap(doc).set(withoutEmoji, { model: 'tag', uuid: tag, op: 'update', fields: { color: '#0000ff' } });
    }, LOCAL_ORIGIN);
    expect(planCompaction(doc).drop).not.toContain(withEmoji);
    // once a later entry sets the newer field too, it is superseded like any other
    doc.transact(() => sharedMap(doc).set(b.clock.next(), { model: 'tag', uuid: tag, op: 'update', fields: { color: '#000000', emoji: 'snow' } }), LOCAL_ORIGIN);
    expect(planCompaction(doc).drop).toEqual(expect.arrayContaining([withEmoji, withoutEmoji]));
  });
});

describe('the schema record in the document', () => {
  it('each device records its schema once; the newest is what every device reads', async () => {
    const world = new World(SQL, createPrng(7), { drop: 0, duplicate: 0, reorder: 0 });
    try {
      const a = (await world.addDevice(A, 0)).live!;
      const b = (await world.addDevice(B, 0)).live!;
      await a.engine.announceSchema(4);
      await b.engine.announceSchema(9);
      await world.heal();
      expect(a.engine.newestSchema()).toBe(9);
      expect(b.engine.newestSchema()).toBe(9);
      expect(metaMap(a.doc).get(`schema:${A}`)).toBe(4);
      // announcing the same version again writes nothing
      const before = Y.encodeStateVector(a.doc);
      await a.engine.announceSchema(4);
      expect(Y.encodeStateVector(a.doc)).toEqual(before);
    } finally {
      await world.dispose();
    }
  });

  it('rematerialize applies what the document holds and the database lacks', async () => {
    const world = new World(SQL, createPrng(8), { drop: 0, duplicate: 0, reorder: 0 });
    try {
      const a = await world.addDevice(A, 0);
      const tag = ids();
      const other = testDevice(B, fakeTime().now);
      // a tag in the document that never reached this database (older code left it out):
      // boot-origin transactions are not materialized
      const doc = a.live!.doc;
      doc.transact(() => sharedMap(doc).set(other.clock.next(), { model: 'tag', uuid: tag, op: 'insert', fields: tagFields('Kept', B) }), BOOT_ORIGIN);
      await world.idle();
      expect(await a.rows('SELECT display_name FROM tags WHERE uuid = ?', [tag])).toEqual([]);
      const r = await a.live!.engine.rematerialize();
      expect(r.ok).toBe(true);
      expect(await a.rows('SELECT display_name FROM tags WHERE uuid = ?', [tag])).toEqual([{ display_name: 'Kept' }]);
    } finally {
      await world.dispose();
    }
  });
});
