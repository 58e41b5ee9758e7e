// Content identities are derived on every device from the entries it holds (DESIGN §3, §4;
// migration 8), not sent as shared records: the rows follow the entries, a shared record
// (an earlier build's indexer, the addContentIdentity act) stays one, and digests compare only
// what is replicated. Real storage engines: sql.js, fake IndexedDB.
import { IDBFactory } from 'fake-indexeddb';
import initSqlJs, { type SqlJsStatic } from 'sql.js';
import { beforeAll, describe, expect, it } from 'vitest';
import type { Change } from '../../src/core/change.ts';
import { contentUuid } from '../../src/core/uuid.ts';
import { createStorageEngine, type StorageEngine } from '../../src/storage/engine.ts';
import { MIGRATIONS } from '../../src/storage/migrations.ts';
import { openSqlite } from '../../src/storage/sqlite.ts';
import { entryData, fakeTime, locationData, testDevice, uuidFactory, type TestDevice } from '../support/fixtures.ts';

let SQL: SqlJsStatic;
beforeAll(async () => {
  SQL = await initSqlJs();
});

const A = '0aaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa';
const time = fakeTime();
const X = contentUuid('sha256:x');
const Y = contentUuid('sha256:y');

async function open(name: string): Promise<StorageEngine> {
  const e = createStorageEngine({ sql: SQL, idb: new IDBFactory(), now: time.now, imageDebounceMs: 3_600_000, imageMaxDelayMs: 3_600_000 });
  const boot = await e.open({ dbName: name, deviceUuid: A });
  if (!boot.ok) throw new Error(boot.error.message);
  return e;
}
async function commit(e: StorageEngine, changes: Change[]): Promise<void> {
  const r = await e.commit({ changes, hlc: null });
  if (!r.ok) throw new Error(r.error.message);
  expect(r.value.rejected).toBe(0);
}
const rows = (e: StorageEngine, sql: string) => {
  const r = e.query({ sql });
  if (!r.ok) throw new Error(r.error.message);
  return r.value;
};
const identities = (e: StorageEngine) => rows(e, 'SELECT uuid, content_hash, kind, total_size, _hlcs FROM content_identities ORDER BY uuid');
const file = (d: TestDevice, loc: string, uuid: string, name: string, content: string | null, size = 1234) =>
  d.owned('entry', uuid, { ...entryData(loc, name), size, content_uuid: content });

describe('content identities', () => {
  it('are derived from the entries held: one per content, gone with its last entry', async () => {
    const e = await open('derive');
    const d = testDevice(A, time.now);
    const id = uuidFactory('derive');
    const loc = id();
    const [f1, f2, f3, f4] = [id(), id(), id(), id()];
    await commit(e, [d.owned('location', loc, locationData(A, 'Trip')), file(d, loc, f1, 'beach.JPG', X, 500), file(d, loc, f2, 'copy.jpg', X, 500), file(d, loc, f3, 'notes.txt', Y, 20), file(d, loc, f4, 'unread.bin', null)]);
    expect(identities(e)).toEqual([
      { uuid: X, content_hash: null, kind: 'image', total_size: 500, _hlcs: '{}' },
      { uuid: Y, content_hash: null, kind: 'text', total_size: 20, _hlcs: '{}' },
    ].sort((a, b) => (a.uuid < b.uuid ? -1 : 1)));
    await commit(e, [d.tombstone('entry', f1)]);
    expect(identities(e).map((r) => r['uuid'])).toContain(X); // the copy still names it
    await commit(e, [d.tombstone('entry', f2)]);
    expect(identities(e).map((r) => r['uuid'])).toEqual([Y]);
    // an entry whose content changed: the old identity goes, the new one comes
    await commit(e, [file(d, loc, f3, 'notes.txt', X, 30)]);
    expect(identities(e)).toEqual([{ uuid: X, content_hash: null, kind: 'text', total_size: 30, _hlcs: '{}' }]);
    // a bulk commit (multi-row inserts, the search index filled after) derives them too
    const many = Array.from({ length: 300 }, (_, i) => file(d, loc, id(), `f${i}.mp3`, contentUuid(`sha256:${i % 100}`), 7));
    await commit(e, many);
    expect(rows(e, "SELECT count(*) AS n FROM content_identities WHERE kind = 'audio' AND total_size = 7")).toEqual([{ n: 100 }]);
  });

  it('a shared record stays one (its fields win, it outlives the entries); digests leave derived rows out', async () => {
    const withEntries = await open('shared-a');
    const without = await open('shared-b');
    const d = testDevice(A, time.now);
    const id = uuidFactory('shared');
    const loc = id();
    const f = id();
    await commit(withEntries, [d.owned('location', loc, locationData(A, 'Trip')), file(d, loc, f, 'a.png', X, 9), file(d, loc, id(), 'b.txt', Y, 3)]);
    const record = d.shared('content_identity', X, 'insert', { content_hash: 'sha256:x', mime_type: 'image/png', kind: 'image', total_size: 9 });
    for (const e of [withEntries, without]) await commit(e, [record]);
    expect(identities(withEntries).find((r) => r['uuid'] === X)).toMatchObject({ content_hash: 'sha256:x', kind: 'image', total_size: 9 });
    const digest = (e: StorageEngine) => {
      const r = e.digest();
      if (!r.ok) throw new Error(r.error.message);
      return r.value;
    };
    // one device derives Y from its entries, the other holds no entries: the replicated part is equal
    expect(digest(withEntries)['content_identities']).toBe(digest(without)['content_identities']);
    expect(digest(withEntries)['entries']).not.toBe(digest(without)['entries']);
    await commit(withEntries, [d.tombstone('entry', f)]);
    expect(identities(withEntries).map((r) => r['uuid'])).toContain(X); // stamped: a shared record
  });

  it('a database of schema 7 gets the identities of the entries it holds when it migrates', () => {
    const db = openSqlite(SQL);
    db.migrate(MIGRATIONS.filter((m) => m.id <= 7), 1);
    const loc = '0ccccccc-cccc-4ccc-8ccc-cccccccccccc';
    const ins = 'INSERT INTO entries (uuid, location_uuid, name, kind, extension, size, content_uuid, _owner, _hlc) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)';
    db.run(ins, ['0e000000-0000-4000-8000-000000000001', loc, 'a.pdf', 'file', 'pdf', 10, X, A, 'h']);
    db.run(ins, ['0e000000-0000-4000-8000-000000000002', loc, 'b.pdf', 'file', 'pdf', 10, X, A, 'h']);
    db.run(ins, ['0e000000-0000-4000-8000-000000000003', loc, 'c', 'file', null, 1, Y, A, 'h']);
    // a shared record an earlier build's indexer wrote for Y stays as it is
    db.run("INSERT INTO content_identities (uuid, content_hash, kind, total_size, _hlcs) VALUES (?, 'sha256:y', 'text', 1, '{\"content_hash\":\"h\"}')", [Y]);
    expect(db.migrate(MIGRATIONS, 2)).toBe(1);
    expect(db.all('SELECT uuid, content_hash, kind, total_size FROM content_identities ORDER BY kind')).toEqual([
      { uuid: X, content_hash: null, kind: 'document', total_size: 10 },
      { uuid: Y, content_hash: 'sha256:y', kind: 'text', total_size: 1 },
    ]);
    db.close();
  });
});
