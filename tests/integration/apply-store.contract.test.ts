// One contract, every ApplyStore: the in-memory double and the SQLite store behave alike.
import initSqlJs, { type SqlJsStatic } from 'sql.js';
import { beforeAll, describe, expect, it } from 'vitest';
import { createMemoryApplyStore, type ApplyStore } from '../../src/core/apply-store.ts';
import { MIGRATIONS } from '../../src/storage/migrations.ts';
import { createSqliteApplyStore } from '../../src/storage/sqlite-apply-store.ts';
import { openSqlite } from '../../src/storage/sqlite.ts';

let SQL: SqlJsStatic;
beforeAll(async () => {
  SQL = await initSqlJs();
});

/** The stream position a store keeps with a tombstone (not part of the port: read per store). */
type StreamedOf = (model: string, uuid: string) => { owner: string | null; seq: number | null } | undefined;
const streamedOf = new WeakMap<ApplyStore, StreamedOf>();

const stores: [string, () => ApplyStore][] = [
  ['memory', () => {
    const s = createMemoryApplyStore();
    streamedOf.set(s, (model, uuid) => {
      if (s.tombstones.get(`${model}:${uuid}`) === undefined) return undefined;
      return s.tombstoneSeqs.get(`${model}:${uuid}`) ?? { owner: null, seq: null };
    });
    return s;
  }],
  ['sqlite', () => {
    const db = openSqlite(SQL);
    db.migrate(MIGRATIONS, 0);
    const s = createSqliteApplyStore(db);
    streamedOf.set(s, (model, uuid) => {
      const r = db.all('SELECT owner, seq FROM tombstones WHERE model = ? AND uuid = ?', [model, uuid])[0];
      return r ? { owner: r['owner'] === null ? null : String(r['owner']), seq: r['seq'] === null ? null : Number(r['seq']) } : undefined;
    });
    return s;
  }],
];
const U1 = '00000000-0000-4000-8000-000000000001';
const U2 = '00000000-0000-4000-8000-000000000002';
const pick = (row: Record<string, unknown> | undefined, keys: string[]) => (row ? Object.fromEntries(keys.map((k) => [k, row[k]])) : row);

describe.each(stores)('ApplyStore contract: %s', (_name, make) => {
  it('upserts partially: columns not given keep their value', () => {
    const s = make();
    s.upsert('tags', { uuid: U1, display_name: 'A', color: '#111', _hlcs: '{}' });
    s.upsert('tags', { uuid: U1, color: '#222' });
    expect(pick(s.get('tags', U1), ['uuid', 'display_name', 'color'])).toEqual({ uuid: U1, display_name: 'A', color: '#222' });
  });

  it('gets undefined for a missing row, and deletes', () => {
    const s = make();
    expect(s.get('tags', U2)).toBeUndefined();
    s.upsert('tags', { uuid: U2, display_name: 'B', _hlcs: '{}' });
    s.delete('tags', U2);
    expect(s.get('tags', U2)).toBeUndefined();
  });

  it('finds uuids by column value', () => {
    const s = make();
    const row = (uuid: string, parent: string | null) => ({ uuid, location_uuid: U1, parent_uuid: parent, name: uuid.slice(-1), kind: 'file', extension: null, size: 0, created_at: null, modified_at: null, content_uuid: null, _owner: U1, _hlc: 'h' });
    s.upsert('entries', row(U1, null));
    s.upsert('entries', row(U2, U1));
    expect(s.uuidsWhere('entries', 'parent_uuid', U1)).toEqual([U2]);
    expect(s.uuidsWhere('entries', 'location_uuid', U1).sort()).toEqual([U1, U2]);
    expect(s.uuidsWhere('entries', 'parent_uuid', U2)).toEqual([]);
  });

  it('inserts many new rows at once (more than one statement holds), readable like upserted ones', () => {
    const s = make();
    const uuid = (i: number) => `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`;
    const rows = Array.from({ length: 123 }, (_, i) => ({ uuid: uuid(i + 10), location_uuid: U1, parent_uuid: null, name: `f${i}`, kind: 'file', extension: null, size: i, created_at: null, modified_at: null, content_uuid: null, _owner: U1, _hlc: 'h' }));
    s.insertMany('entries', rows);
    s.insertMany('entries', []);
    expect(s.uuidsWhere('entries', 'location_uuid', U1)).toHaveLength(123);
    expect(pick(s.get('entries', uuid(77)), ['name', 'size'])).toEqual({ name: 'f67', size: 67 });
    expect(() => s.insertMany('entries', [rows[0]!])).toThrow(); // not new: a bug in the caller, not a silent overwrite
  });

  it('reads many rows at once (more than one statement holds), only those that exist', () => {
    const s = make();
    const uuid = (i: number) => `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`;
    const rows = Array.from({ length: 700 }, (_, i) => ({ uuid: uuid(i), location_uuid: U1, parent_uuid: null, name: `f${i}`, kind: 'file', extension: null, size: i, created_at: null, modified_at: null, content_uuid: null, _owner: U1, _hlc: 'h' }));
    s.insertMany('entries', rows.filter((_, i) => i % 2 === 0));
    const asked = Array.from({ length: 1400 }, (_, i) => uuid(i));
    const got = s.getMany('entries', asked);
    expect(got.map((r) => r['uuid']).sort()).toEqual(rows.filter((_, i) => i % 2 === 0).map((r) => r.uuid));
    expect(pick(got.find((r) => r['uuid'] === uuid(42)), ['name', 'size'])).toEqual({ name: 'f42', size: 42 });
    expect(s.getMany('entries', [])).toEqual([]);
  });

  it('keeps tombstones apart from rows, replacing their HLC', () => {
    const s = make();
    expect(s.tombstone('tag', U1)).toBeUndefined();
    s.putTombstone('tag', U1, 'h1');
    s.putTombstone('tag', U1, 'h2');
    expect(s.tombstone('tag', U1)).toBe('h2');
    expect(s.tombstone('album', U1)).toBeUndefined();
  });

  it('keeps the owner and the highest seq of a streamed delete, and the higher stamp', () => {
    const s = make();
    const seqOf = streamedOf.get(s)!;
    expect(seqOf('entry', U1)).toBeUndefined();
    s.putTombstone('entry', U1, 'h2', { owner: U2, seq: 5 });
    expect(s.tombstone('entry', U1)).toBe('h2');
    expect(seqOf('entry', U1)).toEqual({ owner: U2, seq: 5 });
    s.putTombstone('entry', U1, 'h3', { owner: U2, seq: 3 }); // an older position: the seq stays
    expect(seqOf('entry', U1)).toEqual({ owner: U2, seq: 5 });
    expect(s.tombstone('entry', U1)).toBe('h3');
    s.putTombstone('entry', U1, 'h1', { owner: U2, seq: 8 }); // a later one: the stamp stays
    expect(seqOf('entry', U1)).toEqual({ owner: U2, seq: 8 });
    expect(s.tombstone('entry', U1)).toBe('h3');
    s.putTombstone('entry', U1, 'h4'); // a delete without a stream position keeps the one held
    expect(seqOf('entry', U1)).toEqual({ owner: U2, seq: 8 });
    expect(s.tombstone('entry', U1)).toBe('h4');
    // a tombstone first written without a position gets one when a streamed copy arrives
    s.putTombstone('location', U2, 'h1');
    expect(seqOf('location', U2)).toEqual({ owner: null, seq: null });
    s.putTombstone('location', U2, 'h1', { owner: U1, seq: 2 });
    expect(seqOf('location', U2)).toEqual({ owner: U1, seq: 2 });
    expect(s.hasTombstones('location')).toBe(true);
    expect(s.hasTombstones('volume')).toBe(false);
  });

  it('drops the streamed deletes of one owner only (a forgotten device)', () => {
    const s = make();
    s.putTombstone('entry', U1, 'h1', { owner: U2, seq: 1 });
    s.putTombstone('location', U1, 'h1', { owner: U1, seq: 1 });
    s.putTombstone('device', U2, 'h2');
    s.dropTombstonesOf(U2);
    expect(s.tombstone('entry', U1)).toBeUndefined();
    expect(s.tombstone('location', U1)).toBe('h1');
    expect(s.tombstone('device', U2)).toBe('h2');
  });

  it('holds pending records one version per (model, uuid, owner), and gives them back once, in stamp order', () => {
    const s = make();
    const L = '00000000-0000-4000-8000-0000000000aa';
    const M = '00000000-0000-4000-8000-0000000000bb';
    const change = (uuid: string, owner: string, hlc: string, seq: number, name: string, loc = L) => ({
      kind: 'owned' as const, model: 'entry' as const, owner, uuid, hlc, seq,
      data: { location_uuid: loc, parent_uuid: null, name, kind: 'file', extension: null, size: 1, created_at: null, modified_at: null, content_uuid: null },
    });
    const put = (c: ReturnType<typeof change>) => s.putPending({ model: 'entry', uuid: c.uuid, owner: c.owner, waitsFor: c.data.location_uuid, seq: c.seq, hlc: c.hlc, change: c });
    expect(s.hasPending()).toBe(false);
    expect(s.takePending(L)).toEqual([]);
    put(change(U1, U1, 'h2', 2, 'old'));
    put(change(U1, U1, 'h5', 5, 'new')); // replaces the version of the same owner
    put(change(U1, U2, 'h3', 3, 'theirs')); // another owner's version is held beside it
    put(change(U2, U1, 'h1', 1, 'first'));
    put(change(U2, U2, 'h9', 9, 'other location', M));
    expect(s.hasPending()).toBe(true);
    expect(s.countPending()).toBe(4);
    expect(s.pendingVersions('entry', U1).sort((a, b) => (a.owner < b.owner ? -1 : 1))).toEqual([{ owner: U1, seq: 5, hlc: 'h5' }, { owner: U2, seq: 3, hlc: 'h3' }]);
    expect(s.pendingVersions('location', U1)).toEqual([]);
    const taken = s.takePending(L) as { uuid: string; owner: string; data: { name: string } }[];
    expect(taken.map((c) => c.data.name)).toEqual(['first', 'theirs', 'new']);
    expect(taken[2]).toEqual(change(U1, U1, 'h5', 5, 'new'));
    expect(s.takePending(L)).toEqual([]);
    expect(s.countPending()).toBe(1);
    put(change(U1, U1, 'h6', 6, 'again'));
    put(change(U1, U2, 'h7', 7, 'again theirs'));
    s.dropPending('entry', U1, U2);
    expect(s.pendingVersions('entry', U1)).toEqual([{ owner: U1, seq: 6, hlc: 'h6' }]);
    s.dropPending('entry', U1);
    expect(s.pendingVersions('entry', U1)).toEqual([]);
    s.dropPendingOf(U2);
    expect(s.countPending()).toBe(0);
  });
});

describe('the sqlite store: a bulk insert of entries fills the search index once', () => {
  const entry = (i: number): Record<string, string | number | null> => ({
    uuid: `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`, location_uuid: U1, parent_uuid: null, name: i % 2 ? `odd ${i}.txt` : `even ${i}.txt`,
    kind: 'file', size: i, _owner: U2, _hlc: `h${i}`, _seq: i,
  });
  const search = (db: ReturnType<typeof openSqlite>, q: string): number[] =>
    db.all('SELECT e._seq AS s FROM entries_fts JOIN entries e ON e.rowid = entries_fts.docid WHERE entries_fts MATCH ? ORDER BY e._seq', [q]).map((r) => Number(r['s']));
  const setUp = () => {
    const db = openSqlite(SQL);
    db.migrate(MIGRATIONS, 0);
    return { db, s: createSqliteApplyStore(db) };
  };

  it('every inserted row is found, the trigger is back, and rows after it are indexed one by one again', () => {
    const { db, s } = setUp();
    db.transaction(() => s.insertMany('entries', Array.from({ length: 300 }, (_, i) => entry(i + 1))));
    expect(search(db, 'odd')).toEqual(Array.from({ length: 150 }, (_, i) => 2 * i + 1));
    expect(db.all("SELECT count(*) AS n FROM sqlite_master WHERE type = 'trigger' AND name = 'entries_fts_ai'")).toEqual([{ n: 1 }]);
    db.transaction(() => s.insertMany('entries', [{ ...entry(301), name: 'lonely odd.txt' }]));
    expect(search(db, 'lonely')).toEqual([301]);
    expect(db.all("SELECT count(*) AS n FROM entries_fts WHERE entries_fts MATCH 'txt'")).toEqual([{ n: 301 }]);
  });

  it('when SQLite picks rowids below the largest (the largest possible one is in use), the new rows are found by uuid', () => {
    const { db, s } = setUp();
    db.run('INSERT INTO entries (rowid, uuid, location_uuid, name, kind, size, _owner, _hlc, _seq) VALUES (9223372036854775807, ?, ?, ?, ?, 0, ?, ?, 0)', ['00000000-0000-4000-8000-ffffffffffff', U1, 'last one.txt', 'file', U2, 'h0']);
    db.transaction(() => s.insertMany('entries', Array.from({ length: 100 }, (_, i) => entry(i + 1))));
    expect(search(db, 'even')).toEqual(Array.from({ length: 50 }, (_, i) => 2 * i + 2));
    expect(search(db, 'last')).toEqual([0]);
  });

  it('an insert that fails leaves the trigger and the index as they were', () => {
    const { db, s } = setUp();
    db.transaction(() => s.insertMany('entries', Array.from({ length: 100 }, (_, i) => entry(i + 1))));
    expect(() => db.transaction(() => s.insertMany('entries', Array.from({ length: 100 }, (_, i) => entry(i + 51))))).toThrow(/UNIQUE/);
    expect(db.all("SELECT count(*) AS n FROM sqlite_master WHERE type = 'trigger' AND name = 'entries_fts_ai'")).toEqual([{ n: 1 }]);
    expect(db.all("SELECT count(*) AS n FROM entries_fts WHERE entries_fts MATCH 'txt'")).toEqual([{ n: 100 }]);
  });
});
