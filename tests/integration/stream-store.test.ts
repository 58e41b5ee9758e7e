// The storage side of the owned-state stream (storage/engine.ts, storage/stream-store.ts) on a
// real engine: sql.js in Node, the journal in fake-indexeddb, through the storage client.
// P1 seqs in the owner's commit, P2 watermarks committed with their rows, pages served in
// consecutive ranges and applied only where they continue what is held.
import { IDBFactory } from 'fake-indexeddb';
import initSqlJs, { type SqlJsStatic } from 'sql.js';
import { beforeAll, describe, expect, it } from 'vitest';
import type { Change, Fields, OwnedChange } from '../../src/core/change.ts';
import { encodePage, fieldNames, MAX_PAGE_ROWS, type SeqChange, type StreamModelName } from '../../src/core/stream.ts';
import { createInProcessStorage, type StorageClient } from '../../src/storage/client.ts';
import { createStorageEngine } from '../../src/storage/engine.ts';
import type { ServedPages } from '../../src/storage/rpc.ts';
import { FRAME_FORMAT, openJournal } from '../../src/storage/journal.ts';
import { MIGRATIONS } from '../../src/storage/migrations.ts';
import { openSqlite, type Sqlite } from '../../src/storage/sqlite.ts';
import { MAX_PAGE_INFLATED, readPage, readPageJson, unpackPage } from '../../src/storage/stream-store.ts';
import { entryData, fakeTime, locationData, testDevice, uuidFactory } from '../support/fixtures.ts';

let SQL: SqlJsStatic;
beforeAll(async () => {
  SQL = await initSqlJs();
});

const A = 'aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa';
const B = 'bbbbbbbb-bbbb-4bbb-8bbb-bbbbbbbbbbbb';
const time = fakeTime();

async function open(idb: IDBFactory, device: string, pageRows?: number): Promise<StorageClient> {
  const engine = createStorageEngine({ sql: SQL, idb, now: time.now, imageDebounceMs: 3_600_000, imageMaxDelayMs: 3_600_000, ...(pageRows ? { pageRows } : {}) });
  const s = createInProcessStorage(engine);
  const boot = await s.call('open', { dbName: `device-${device}`, deviceUuid: device });
  if (!boot.ok) throw new Error(boot.error.message);
  return s;
}

async function must<T>(p: Promise<{ ok: true; value: T } | { ok: false; error: { type: string; message: string } }>): Promise<T> {
  const r = await p;
  if (!r.ok) throw new Error(`${r.error.type}: ${r.error.message}`);
  return r.value;
}

const rows = async (s: StorageClient, sql: string, params: (string | number | null)[] = []) => must(s.call('query', { sql, params }));
const count = async (s: StorageClient, sql: string, params: (string | number | null)[] = []) => Number(Object.values((await rows(s, sql, params))[0]!)[0]);

/** Every seq the owner's rows and deletes hold now, sorted. */
async function seqsOf(s: StorageClient, owner: string): Promise<number[]> {
  const out: number[] = [];
  for (const t of ['volumes', 'locations', 'entries']) for (const r of await rows(s, `SELECT _seq FROM ${t} WHERE _owner = ?`, [owner])) out.push(Number(r['_seq']));
  for (const r of await rows(s, 'SELECT seq FROM tombstones WHERE owner = ?', [owner])) out.push(Number(r['seq']));
  return out.sort((x, y) => x - y);
}

/** The owner A's library: a location with 10 entries (seqs 1..11), 5 more (12..16), a delete
 *  (17: the tombstone) and a rewrite (18: the row's seq moves). */
async function ownerWithHistory(pageRows?: number) {
  const idb = new IDBFactory();
  const s = await open(idb, A, pageRows);
  const a = testDevice(A, time.now);
  const ids = uuidFactory(`stream-store-${pageRows ?? 'default'}`);
  const loc = ids();
  const entries = Array.from({ length: 15 }, (_, i) => a.owned('entry', ids(), entryData(loc, `f${i}.txt`)));
  const first = await must(s.call('commit', { changes: [a.owned('location', loc, locationData(A, 'Photos')), ...entries.slice(0, 10)], hlc: null }));
  const second = await must(s.call('commit', { changes: entries.slice(10), hlc: null }));
  const deleted = await must(s.call('commit', { changes: [a.tombstone('entry', entries[3]!.uuid)], hlc: null }));
  const rewritten = await must(s.call('commit', { changes: [a.owned('entry', entries[0]!.uuid, entryData(loc, 'renamed.txt'))], hlc: null }));
  return { idb, s, a, ids, loc, entries, commits: [first, second, deleted, rewritten] };
}

async function pagesOf(s: StorageClient, owner: string, after: number, count = 8): Promise<ServedPages> {
  return must(s.call('servePages', { owner, after, count }));
}

async function unpacked(bytes: Uint8Array) {
  const r = await unpackPage(bytes);
  if (!r.ok) throw new Error(r.error);
  return r.value;
}

describe('own commits (P1)', () => {
  it('number own streamed rows 1..n in commit order, raise the watermark with them, and push each commit as a page', async () => {
    const { s, commits } = await ownerWithHistory();
    const [first, second, deleted, rewritten] = commits;
    expect(first!.marks).toEqual({ [A]: 11 });
    expect(second!.marks).toEqual({ [A]: 16 });
    expect(deleted!.marks).toEqual({ [A]: 17 });
    expect(rewritten!.marks).toEqual({ [A]: 18 });
    expect(await must(s.call('marks', {}))).toEqual({ [A]: 18 });
    // the live pages: exactly each commit's rows
    expect(commits.map((c) => [c.pages?.[0]?.from, c.pages?.[0]?.to])).toEqual([[0, 11], [11, 16], [16, 17], [17, 18]]);
    expect(commits.every((c) => c.pages?.length === 1)).toBe(true);
    const live = await unpacked(first!.pages![0]!.bytes);
    expect(live).toMatchObject({ owner: A, from: 0, to: 11 });
    expect((live.changes as SeqChange[]).map((c) => c.seq).sort((x, y) => x - y)).toEqual(Array.from({ length: 11 }, (_, i) => i + 1));
    // every seq is held once: the rewritten row moved from 2 to 18, the deleted entry's row
    // (seq 5) became the tombstone with seq 17
    const held = await seqsOf(s, A);
    expect(held).toEqual([1, ...Array.from({ length: 14 }, (_, i) => i + 3).filter((x) => x !== 5), 17, 18]);
    expect(new Set(held).size).toBe(held.length);
  });

  it('a device record is not numbered, and a commit without own streamed rows neither raises the watermark nor makes a page', async () => {
    const { s, a } = await ownerWithHistory();
    const r = await must(s.call('commit', { changes: [a.owned('device', A, { name: 'A', slug: 'a', os: 'x', browser: 'y', created_at: 1 })], hlc: null }));
    expect(r.applied).toBe(1);
    expect(r.pages).toBeUndefined();
    expect(r.marks).toEqual({ [A]: 18 });
    expect(await rows(s, 'SELECT count(*) AS n FROM devices')).toEqual([{ n: 1 }]);
  });
});

describe('serving pages', () => {
  it('serves consecutive ranges of at most pageRows rows covering everything held; the last ends at the watermark', async () => {
    const { s } = await ownerWithHistory(4);
    const served = await pagesOf(s, A, 0);
    expect(served.held).toBe(18);
    expect(served.pages.length).toBeGreaterThan(1);
    let at = 0;
    const seen: number[] = [];
    for (const p of served.pages) {
      expect(p.from).toBe(at);
      expect(p.to).toBeGreaterThan(p.from);
      const page = await unpacked(p.bytes);
      expect(page).toMatchObject({ owner: A, from: p.from, to: p.to, unknownFields: [] });
      expect(page.changes.length).toBeLessThanOrEqual(4);
      for (const c of page.changes as SeqChange[]) {
        expect(c.seq).toBeGreaterThan(p.from);
        expect(c.seq).toBeLessThanOrEqual(p.to);
        seen.push(c.seq);
      }
      at = p.to;
    }
    expect(at).toBe(18);
    expect(seen.sort((x, y) => x - y)).toEqual(await seqsOf(s, A));
    // the rewritten row is served as it is now; the delete as a tombstone
    const all = (await Promise.all(served.pages.map(async (p) => (await unpacked(p.bytes)).changes))).flat() as OwnedChange[];
    expect(all.filter((c) => 'deleted' in c)).toHaveLength(1);
    expect(all.find((c) => 'data' in c && c.data['name'] === 'renamed.txt')).toMatchObject({ seq: 18 });
  });

  it('serves from where the puller is, as many pages as asked, and nothing past the watermark', async () => {
    const { s } = await ownerWithHistory(4);
    const two = await pagesOf(s, A, 0, 2);
    expect(two.pages).toHaveLength(2);
    expect(two.pages[1]!.from).toBe(two.pages[0]!.to);
    const rest = await pagesOf(s, A, two.pages[1]!.to);
    expect(rest.pages[0]!.from).toBe(two.pages[1]!.to);
    expect(rest.pages.at(-1)!.to).toBe(18);
    expect((await pagesOf(s, A, 18)).pages).toEqual([]);
    expect((await pagesOf(s, A, 40)).pages).toEqual([]);
    expect(await pagesOf(s, B, 0)).toEqual({ pages: [], held: 0 }); // an owner it holds nothing of
  });
});

describe('pages built by SQLite (readPageJson)', () => {
  /** A raw database holding A's rows as given (seq, stamp, values), B's rows mixed in. */
  function store(): { d: Sqlite; put: (model: StreamModelName, uuid: string, seq: number, data: Fields, owner?: string) => void; tomb: (model: string, uuid: string, seq: number, owner?: string) => void } {
    const d = openSqlite(SQL);
    d.migrate(MIGRATIONS, 0);
    const stamp = (seq: number, owner: string): string => `${(1_750_000_000_000 + seq).toString(16).padStart(12, '0')}-${(seq % 7).toString(16).padStart(6, '0')}-${owner}`;
    return {
      d,
      put(model, uuid, seq, data, owner = A) {
        const fields = fieldNames(model);
        d.run(`INSERT OR REPLACE INTO ${model === 'entry' ? 'entries' : `${model}s`} (uuid, _owner, _hlc, _seq, ${fields.join(', ')}) VALUES (${['?', '?', '?', '?', ...fields.map(() => '?')].join(', ')})`,
          [uuid, owner, stamp(seq, owner), seq, ...fields.map((f) => (typeof data[f] === 'boolean' ? Number(data[f]) : (data[f] ?? null)))]);
      },
      tomb(model, uuid, seq, owner = A) {
        d.run('INSERT INTO tombstones (model, uuid, hlc, owner, seq) VALUES (?, ?, ?, ?, ?)', [model, uuid, stamp(seq, owner), owner, seq]);
      },
    };
  }
  const volume = { device_uuid: A, name: 'Disk', kind: 'sample', total_capacity: 2 ** 40, available_capacity: null };
  /** What the object path makes of the same range (the page format every build reads). */
  const viaObjects = (d: Sqlite, after: number, held: number, limit: number) => {
    const p = readPage(d, A, after, held, limit);
    return { page: encodePage(A, after, p.to, p.changes, p.ahead), to: p.to };
  };
  const viaSql = (d: Sqlite, after: number, held: number, limit: number) => {
    const p = readPageJson(d, A, after, held, limit);
    if (!p) throw new Error(`no page (${after}, ${held}]`);
    return { page: JSON.parse(new TextDecoder().decode(p.json)) as unknown, to: p.to, text: new TextDecoder().decode(p.json) };
  };

  it('parse to what encodePage makes of readPage, key order and row order included, for every start and page size', () => {
    const { d, put, tomb } = store();
    const ids = uuidFactory('sql-pages');
    const loc = ids();
    const other = ids();
    put('volume', ids(), 1, volume);
    put('location', other, 2, locationData(A, 'Other'));
    const entries = Array.from({ length: 12 }, () => ids());
    entries.forEach((e, i) => put('entry', e, 3 + i, { ...entryData(i % 3 ? loc : other, `f${i} "quoted" \\ é ✓ \n.txt`), size: i === 4 ? 0.30000000000000004 : 10 ** i, taken_at: i === 5 ? -1 : null }));
    tomb('entry', ids(), 15);
    tomb('location', ids(), 16);
    put('entry', ids(), 17, entryData(loc, 'later.txt'));
    put('location', loc, 20, { ...locationData(A, 'Photos'), total_file_count: 13 }); // rewritten with its totals last (P6)
    put('entry', ids(), 5, entryData(loc, 'not mine'), B);
    tomb('entry', ids(), 6, B);
    tomb('device', ids(), 18); // not a streamed model: never in a page
    for (const held of [14, 17, 19, 20]) // 19: the watermark past the last row a page can hold
    for (const limit of [1, 2, 3, 5, 8, MAX_PAGE_ROWS])
      for (let after = 0; after < held; after++) {
        const want = viaObjects(d, after, held, limit);
        const got = viaSql(d, after, held, limit);
        expect(got.to, `(${after}, ${held}] by ${limit}`).toBe(want.to);
        expect(got.page, `(${after}, ${held}] by ${limit}`).toEqual(want.page);
        expect(got.text).toBe(JSON.stringify(want.page)); // the same bytes, key order included
      }
    // a page of the whole history holds the location ahead of nothing (it is in range)
    expect(viaSql(d, 0, 20, MAX_PAGE_ROWS).page).not.toHaveProperty('ahead');
    expect(viaSql(d, 2, 10, MAX_PAGE_ROWS).page).toHaveProperty('ahead.location.rows.0.0', loc);
  });

  it('leaves a range with entries waiting for their location, or a value JSON cannot hold, to the object path', () => {
    const { d, put } = store();
    const ids = uuidFactory('sql-pages-fallback');
    const loc = ids();
    put('location', loc, 1, locationData(A, 'Photos'));
    put('entry', ids(), 2, entryData(loc, 'a.txt'));
    const waiting = ids();
    d.run('INSERT INTO pending_owned (model, uuid, owner, location_uuid, seq, hlc, change) VALUES (?, ?, ?, ?, ?, ?, ?)',
      ['entry', waiting, A, ids(), 3, '0000000000ff-000000-' + A, JSON.stringify({ kind: 'owned', model: 'entry', owner: A, uuid: waiting, seq: 3, hlc: '0000000000ff-000000-' + A, data: entryData(loc, 'w.txt') })]);
    expect(readPageJson(d, A, 0, 3)).toBeNull();
    expect(readPageJson(d, A, 0, 2)).not.toBeNull(); // the waiting row is past this range
    d.run('UPDATE entries SET name = ? WHERE _seq = 2', [new Uint8Array([1, 2]) as unknown as string]);
    expect(readPageJson(d, A, 0, 2)).toBeNull();
  });
});

describe('the digest is computed once per database state', () => {
  it('Sqlite.writes grows with every write, rolled back or not, and keeps growing after an export (which reopens the handle)', () => {
    const d = openSqlite(SQL);
    d.migrate(MIGRATIONS, 0);
    const seen = [d.writes()];
    const grew = (): void => {
      const w = d.writes();
      expect(w).toBeGreaterThan(seen.at(-1)!);
      seen.push(w);
    };
    expect(d.writes()).toBe(seen[0]); // reading writes nothing
    d.all('SELECT count(*) FROM entries');
    expect(d.writes()).toBe(seen[0]);
    d.run("INSERT INTO meta (key, value) VALUES ('a', '1')");
    grew();
    expect(() => d.transaction(() => {
      d.run("INSERT INTO meta (key, value) VALUES ('b', '1')");
      throw new Error('rolled back');
    })).toThrow('rolled back');
    grew();
    d.exportBytes();
    expect(d.writes()).toBe(seen.at(-1)); // an export (an image) changes no row
    d.run("UPDATE meta SET value = '2' WHERE key = 'a'"); // one change: the reopened handle's count starts again
    grew();
    d.exec('CREATE TABLE t (x)');
    grew();
  });

  it('a digest after a commit, a page applied or an image differs exactly when the rows do', async () => {
    const { s, a, ids, loc } = await ownerWithHistory();
    const first = await must(s.call('digest', {}));
    expect(await must(s.call('digest', {}))).toEqual(first);
    await must(s.call('commit', { changes: [a.owned('entry', ids(), entryData(loc, 'new.txt'))], hlc: null }));
    const second = await must(s.call('digest', {}));
    expect(second['entries']).not.toBe(first['entries']);
    await must(s.call('snapshot', {}));
    expect(await must(s.call('digest', {}))).toEqual(second); // an image changes no row
    await must(s.call('commit', { changes: [a.owned('entry', ids(), entryData(loc, 'newer.txt'))], hlc: null }));
    expect((await must(s.call('digest', {})))['entries']).not.toBe(second['entries']);
    // a device holding the same rows (from pages) agrees
    const b = await open(new IDBFactory(), B);
    for (const p of (await pagesOf(s, A, 0)).pages) await must(b.call('applyPage', { bytes: p.bytes }));
    const [da, db] = [await must(s.call('digest', {})), await must(b.call('digest', {}))];
    expect(db['entries']).toBe(da['entries']);
  });
});

describe('applying pages', () => {
  async function pair(pageRows = 4) {
    const owner = await ownerWithHistory(pageRows);
    const b = await open(owner.idb, B);
    const served = await pagesOf(owner.s, A, 0);
    return { ...owner, b, pages: served.pages };
  }
  const entriesOf = (s: StorageClient) => rows(s, 'SELECT uuid, name, _seq FROM entries ORDER BY uuid');

  it('applies a page that continues what is held, and raises the watermark with it', async () => {
    const { s, b, pages } = await pair();
    const r = await must(b.call('applyPage', { bytes: pages[0]!.bytes }));
    expect(r).toMatchObject({ owner: A, from: 0, to: pages[0]!.to, stream: { owner: A, watermark: pages[0]!.to, gap: false }, unknownFields: [] });
    expect(r.applied).toBe(r.rows);
    expect(r.rejected).toBe(0);
    expect(await must(b.call('marks', {}))).toEqual({ [A]: pages[0]!.to });
    for (const p of pages.slice(1)) await must(b.call('applyPage', { bytes: p.bytes }));
    expect(await must(b.call('marks', {}))).toEqual({ [A]: 18 });
    expect(await entriesOf(b)).toEqual(await entriesOf(s));
    expect(await seqsOf(b, A)).toEqual(await seqsOf(s, A));
    const [da, db] = [await must(s.call('digest', {})), await must(b.call('digest', {}))];
    for (const t of ['volumes', 'locations', 'entries']) expect(db[t], t).toBe(da[t]);
    // B can now serve A's rows itself (any peer ahead serves, P2)
    const again = await pagesOf(b, A, 0);
    expect(again.held).toBe(18);
    expect(again.pages.at(-1)!.to).toBe(18);
  });

  it('refuses a page after a gap (nothing applied, the watermark stays), and a repeat is a no-op', async () => {
    const { b, pages } = await pair();
    expect(pages.length).toBeGreaterThanOrEqual(3);
    await must(b.call('applyPage', { bytes: pages[0]!.bytes }));
    const before = await entriesOf(b);
    const gap = await must(b.call('applyPage', { bytes: pages[2]!.bytes }));
    expect(gap.stream).toEqual({ owner: A, watermark: pages[0]!.to, gap: true });
    expect(gap.applied).toBe(0);
    expect(await entriesOf(b)).toEqual(before);
    const repeat = await must(b.call('applyPage', { bytes: pages[0]!.bytes }));
    expect(repeat.stream).toEqual({ owner: A, watermark: pages[0]!.to, gap: false });
    expect(repeat.applied).toBe(0);
    expect(await entriesOf(b)).toEqual(before);
    expect(await must(b.call('marks', {}))).toEqual({ [A]: pages[0]!.to });
    // the page that fills the gap, then the refused one, apply
    await must(b.call('applyPage', { bytes: pages[1]!.bytes }));
    const filled = await must(b.call('applyPage', { bytes: pages[2]!.bytes }));
    expect(filled.stream).toEqual({ owner: A, watermark: pages[2]!.to, gap: false });
    expect(filled.applied).toBeGreaterThan(0);
  });

  it('a page of its own rows from a peer changes nothing', async () => {
    const { s, pages } = await pair();
    const r = await must(s.call('applyPage', { bytes: pages[0]!.bytes }));
    expect(r.applied).toBe(0);
    expect(r.stream?.gap).toBe(false);
    expect(await must(s.call('marks', {}))).toEqual({ [A]: 18 });
  });

  it('garbage, corrupted, structurally bad and oversized pages are InvalidRequest and apply nothing', async () => {
    const { b, pages } = await pair();
    const whole = pages[0]!.bytes;
    const deflate = (text: string | Uint8Array) => deflateBytes(typeof text === 'string' ? new TextEncoder().encode(text) : text);
    const bad: [string, Uint8Array][] = [
      ['empty', new Uint8Array(0)],
      ['random bytes', new Uint8Array(200).map((_, i) => (i * 73 + 11) % 256)],
      ['truncated', whole.slice(0, Math.floor(whole.byteLength / 2))],
      ['not JSON', await deflate('{"v": 1, "owner"')],
      ['another format', await deflate(JSON.stringify({ v: 99, owner: A, from: 0, to: 1, models: {}, deleted: [] }))],
      ['a shared model', await deflate(JSON.stringify({ v: 1, owner: A, from: 0, to: 1, models: { tag: { fields: [], rows: [] } }, deleted: [] }))],
      ['a bomb', await deflate(new Uint8Array(MAX_PAGE_INFLATED + 1024).fill(32))],
    ];
    for (const [name, bytes] of bad) {
      const r = await b.call('applyPage', { bytes });
      expect(r.ok, name).toBe(false);
      if (!r.ok) expect(r.error.type, name).toBe('InvalidRequest');
    }
    expect(await must(b.call('marks', {}))).toEqual({});
    expect(await count(b, 'SELECT count(*) FROM entries')).toBe(0);
    expect(await count(b, 'SELECT count(*) FROM locations')).toBe(0);
    // and the storage still takes the real page
    const r = await must(b.call('applyPage', { bytes: whole }));
    expect(r.stream).toEqual({ owner: A, watermark: pages[0]!.to, gap: false });
  });

  it('rows a page cannot hold are rejected one by one and counted; the range still commits', async () => {
    const { b, a, ids, loc } = await pair();
    // the entry's location comes with it (an entry whose location is unknown waits: core I3)
    const place = { ...a.owned('location', loc, locationData(A, 'Here')), seq: 1 } as SeqChange;
    const inRange = { ...a.owned('entry', ids(), entryData(loc, 'in.txt')), seq: 2 } as SeqChange;
    const wire = encodePage(A, 0, 3, [place, inRange]);
    // a delete outside (0, 3], and an entry row with a field too few
    const json = {
      ...wire,
      deleted: [['entry', ids(), 5, inRange.hlc.slice(0, 19)]],
      models: { ...wire.models, entry: { ...wire.models['entry']!, rows: [...wire.models['entry']!.rows, [ids(), 3, inRange.hlc.slice(0, 19)]] } },
    };
    const r = await must(b.call('applyPage', { bytes: await deflateJson(json) }));
    expect(r.applied).toBe(2);
    expect(r.rejected).toBe(2);
    expect(r.rejections.map((x) => x.type)).toEqual(['invalid', 'invalid']);
    expect(r.stream).toEqual({ owner: A, watermark: 3, gap: false });
    expect(await rows(b, 'SELECT name, _seq FROM entries')).toEqual([{ name: 'in.txt', _seq: 2 }]);
  });
});

async function deflateBytes(input: Uint8Array): Promise<Uint8Array> {
  const out = await new Response(new Blob([input as Uint8Array<ArrayBuffer>]).stream().pipeThrough(new CompressionStream('deflate-raw'))).arrayBuffer();
  return new Uint8Array(out);
}
const deflateJson = (x: unknown): Promise<Uint8Array> => deflateBytes(new TextEncoder().encode(JSON.stringify(x)));

describe('restart', () => {
  it('pages survive a restart: the watermark and the rows come back, and the next page continues', async () => {
    const { idb, s, loc, pages } = await (async () => {
      const owner = await ownerWithHistory(4);
      return { ...owner, pages: (await pagesOf(owner.s, A, 0)).pages };
    })();
    const b = await open(idb, B);
    for (const p of pages.slice(0, 2)) await must(b.call('applyPage', { bytes: p.bytes }));
    const held = await rows(b, 'SELECT uuid, _seq FROM entries ORDER BY uuid');
    const mark = pages[1]!.to;
    expect(await must(b.call('marks', {}))).toEqual({ [A]: mark });
    await must(b.call('flush', {}));
    // crash: drop the engine without an image; the journal replays
    const b2 = await open(idb, B);
    expect(await must(b2.call('marks', {}))).toEqual({ [A]: mark });
    expect(await rows(b2, 'SELECT uuid, _seq FROM entries ORDER BY uuid')).toEqual(held);
    const next = await must(b2.call('applyPage', { bytes: pages[2]!.bytes }));
    expect(next.stream).toEqual({ owner: A, watermark: pages[2]!.to, gap: false });
    // with an image too
    await must(b2.call('snapshot', {}));
    const b3 = await open(idb, B);
    expect(await must(b3.call('marks', {}))).toEqual({ [A]: pages[2]!.to });
    // and the owner, restarted, continues its own numbering (a seq is never used twice, P1)
    await must(s.call('flush', {}));
    const s2 = await open(idb, A);
    expect(await must(s2.call('marks', {}))).toEqual({ [A]: 18 });
    const a2 = testDevice(A, time.now);
    const late: Change[] = [a2.owned('entry', uuidFactory('after-restart')(), entryData(loc, 'late.txt'))];
    const more = await must(s2.call('commit', { changes: late, hlc: null }));
    expect(more.pages).toMatchObject([{ from: 18, to: 19 }]);
    expect(await rows(s2, 'SELECT _seq FROM entries WHERE name = ?', ['late.txt'])).toEqual([{ _seq: 19 }]);
  });
});

describe('the journal keeps received pages as their bytes (journal J2)', () => {
  /** A owns a location of `n` files; B has applied all of A's pages (default page size). */
  async function backfilled(n: number) {
    const idb = new IDBFactory();
    const s = await open(idb, A);
    const a = testDevice(A, time.now);
    const ids = uuidFactory(`j2-${n}`);
    const loc = ids();
    const names = Array.from({ length: n }, (_, i) => (i % 3 === 0 ? `holiday ${i}.jpg` : `report ${i}.pdf`));
    await must(s.call('commit', { changes: [a.owned('location', loc, locationData(A, 'Photos')), ...names.map((name) => a.owned('entry', ids(), entryData(loc, name)))], hlc: null }));
    const b = await open(idb, B);
    const served = await pagesOf(s, A, 0);
    for (const p of served.pages) await must(b.call('applyPage', { bytes: p.bytes }));
    await must(b.call('flush', {}));
    return { idb, b, served, names };
  }
  const search = (s: StorageClient, q: string) => rows(s, 'SELECT e.name FROM entries_fts f JOIN entries e ON e.rowid = f.docid WHERE entries_fts MATCH ? ORDER BY e.name', [q]);
  const journalOf = async (idb: IDBFactory, device: string) => {
    const j = await openJournal(idb, `device-${device}`);
    if (!j.ok) throw new Error(j.error.message);
    return j.value;
  };

  it('a received page is journaled as its bytes (format 2), replays to the same rows, and a bulk apply is searchable', async () => {
    const { idb, b, served, names } = await backfilled(600);
    const j = await journalOf(idb, B);
    const read = await must(j.framesAfter(0));
    j.close();
    const withPages = read.frames.filter((f) => f.pages?.length);
    expect(withPages).toHaveLength(1);
    expect(withPages[0]).toMatchObject({ format: FRAME_FORMAT, changes: [] });
    expect(withPages[0]!.pages![0]).toEqual(served.pages[0]!.bytes);
    // the search index was filled for the bulk insert (no row by row trigger): every file found
    const holidays = names.filter((x) => x.startsWith('holiday')).sort();
    expect((await search(b, 'holiday')).map((r) => r['name'])).toEqual(holidays);
    expect(await count(b, "SELECT count(*) FROM entries_fts WHERE entries_fts MATCH 'report'")).toBe(names.length - holidays.length);
    // the insert trigger is back as the migrations made it: a later local insert is indexed
    expect(await count(b, "SELECT count(*) FROM sqlite_master WHERE type = 'trigger' AND name = 'entries_fts_ai'")).toBe(1);
    const before = await rows(b, 'SELECT uuid, name, _seq, _owner FROM entries ORDER BY uuid');
    // crash without an image: the journal's page frame replays
    const b2 = await open(idb, B);
    expect(await rows(b2, 'SELECT uuid, name, _seq, _owner FROM entries ORDER BY uuid')).toEqual(before);
    expect(await must(b2.call('marks', {}))).toMatchObject({ [A]: served.held });
    expect((await search(b2, 'holiday')).map((r) => r['name'])).toEqual(holidays);
    // and a later insert of one row goes through the trigger again
    const bDev = testDevice(B, time.now);
    const bIds = uuidFactory('j2-own');
    const own = bIds();
    await must(b2.call('commit', { changes: [bDev.owned('location', own, locationData(B, 'Mine')), bDev.owned('entry', bIds(), entryData(own, 'zebra crossing.png'))], hlc: null }));
    expect((await search(b2, 'zebra')).map((r) => r['name'])).toEqual(['zebra crossing.png']);
  });

  it('a frame of a newer format is not skipped: the journal is refused and kept for the build that wrote it', async () => {
    const { idb } = await backfilled(10);
    const j = await journalOf(idb, B);
    const frames = await must(j.framesAfter(0));
    const next = frames.lastSeq + 1;
    await must(j.append({ seq: next, changes: [], hlc: null, yUpdates: [], pages: [new Uint8Array([1, 2, 3])], format: FRAME_FORMAT + 1 }));
    j.close();
    const engine = createStorageEngine({ sql: SQL, idb, now: time.now, imageDebounceMs: 3_600_000, imageMaxDelayMs: 3_600_000 });
    const boot = await engine.open({ dbName: `device-${B}`, deviceUuid: B });
    if (!boot.ok) throw new Error(boot.error.message);
    expect(boot.value.health.mode).toBe('memory-only');
    expect(boot.value.recovered).toMatch(/newer version of tabdrive \(frame format 3/);
    await engine.close();
    const again = await journalOf(idb, B);
    expect(await again.framesAfter(0)).toMatchObject({ ok: false, error: { type: 'NewerFormat' } });
    expect(await again.frameCount()).toBe(frames.frames.length + 1);
    again.close();
  });

  it('a page frame whose page does not unpack (its checksum matching) is skipped and said, as a damaged frame is', async () => {
    const { idb } = await backfilled(10);
    const j = await journalOf(idb, B);
    const frames = await must(j.framesAfter(0));
    await must(j.append({ seq: frames.lastSeq + 1, changes: [], hlc: null, yUpdates: [], pages: [new Uint8Array([1, 2, 3])], format: FRAME_FORMAT, marks: { [A]: 999 } }));
    j.close();
    const engine = createStorageEngine({ sql: SQL, idb, now: time.now, imageDebounceMs: 3_600_000, imageMaxDelayMs: 3_600_000 });
    const boot = await engine.open({ dbName: `device-${B}`, deviceUuid: B });
    if (!boot.ok) throw new Error(boot.error.message);
    expect(boot.value).toMatchObject({ skippedFrames: 1, health: { mode: 'durable' } });
    expect(boot.value.recovered).toMatch(/a page in it does not unpack/);
    // the frame's watermark did not come with it: B pulls those rows again
    expect(boot.value.marks[A]).toBeLessThan(999);
    await engine.close();
  });
});
