// The explorer's filters (issue 14 item 6: Kind, Size, Date, Device, Tag) on a real sql.js
// database with the app's schema: every combination the test draws, with each source (folder,
// search, tag, album, favourites, duplicates), counts and pages as a plain reading of the rows.
import initSqlJs, { type SqlJsStatic } from 'sql.js';
import { beforeAll, describe, expect, it } from 'vitest';
import { extensionsOf } from '../../src/core/kinds.ts';
import { createPrng } from '../../src/core/prng.ts';
import { MIGRATIONS } from '../../src/storage/migrations.ts';
import { openSqlite, type Sqlite } from '../../src/storage/sqlite.ts';
import * as Q from '../../src/ui/queries.ts';

let SQL: SqlJsStatic;
beforeAll(async () => {
  SQL = await initSqlJs();
});

const NOW = Date.UTC(2026, 5, 15, 12, 0, 0); // mid-June: "this year" and "before this year" both hold files
const DAY = 86_400_000;
const MB = 1024 * 1024;
const id = (prefix: number, i: number) => `${prefix.toString(16).padStart(8, '0')}-0000-4000-8000-${i.toString(16).padStart(12, '0')}`;
const DEVICES = [id(1, 1), id(1, 2)];
const TAGS = [id(2, 1), id(2, 2)];
const ALBUM = id(3, 1);
const ROOTS = [id(4, 1), id(4, 2)];
const EXTS = ['jpg', 'png', 'mp4', 'pdf', 'txt', 'ts', 'zip', 'xyz', null];
const SIZES = [10, 500_000, 3 * MB, 50 * MB, 400 * MB, 2048 * MB];
const AGES = [0.1, 3, 20, 200, 900]; // days before NOW

interface Row {
  uuid: string; name: string; kind: 'file' | 'dir'; extension: string | null; size: number; modified_at: number | null;
  taken_at: number | null; owner: string; parent: string; content: string | null; tags: string[]; album: boolean; favorite: boolean;
}

/** 600 entries over two devices' folders; tags on entries and on contents; some shared contents. */
function build(): { db: Sqlite; rows: Row[] } {
  const db = openSqlite(SQL);
  db.migrate(MIGRATIONS, 0);
  const p = createPrng('filters');
  const rows: Row[] = [];
  DEVICES.forEach((d, i) => {
    db.run(`INSERT INTO devices (uuid, name, slug, os, browser, created_at, _owner, _hlc) VALUES (?, ?, ?, 'Linux', 'Chrome', 0, ?, '0')`, [d, `Dev${i}`, `dev${i}`, d]);
    db.run(`INSERT INTO locations (uuid, device_uuid, name, path, entry_uuid, index_mode, total_file_count, total_byte_size, _owner, _hlc) VALUES (?, ?, ?, 'sample://x', ?, 'full', 0, 0, ?, '0')`, [id(5, i), d, `Loc${i}`, ROOTS[i]!, d]);
  });
  TAGS.forEach((t, i) => db.run(`INSERT INTO tags (uuid, canonical_name, display_name) VALUES (?, ?, ?)`, [t, `t${i}`, `T${i}`]));
  db.run(`INSERT INTO albums (uuid, name) VALUES (?, 'Trip')`, [ALBUM]);
  for (let i = 0; i < 600; i++) {
    const dev = i % 2;
    const dir = p.next() < 0.08;
    const ext = dir ? null : p.pick(EXTS);
    const age = p.pick(AGES);
    const content = dir ? null : id(6, Math.floor(p.next() * 400)); // ~1/3 share a content
    const r: Row = {
      uuid: id(7, i), name: `${p.pick(['beach', 'notes', 'track'])} ${i}${ext ? `.${ext}` : ''}`, kind: dir ? 'dir' : 'file', extension: ext,
      size: dir ? 0 : p.pick(SIZES), modified_at: p.next() < 0.05 ? null : NOW - age * DAY,
      taken_at: !dir && ext === 'jpg' && p.next() < 0.7 ? NOW - p.pick(AGES) * DAY : null,
      owner: DEVICES[dev]!, parent: ROOTS[dev]!, content, tags: [], album: p.next() < 0.3, favorite: p.next() < 0.2,
    };
    rows.push(r);
    db.run(
      `INSERT INTO entries (uuid, location_uuid, parent_uuid, name, kind, extension, size, modified_at, taken_at, content_uuid, _owner, _hlc)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, '0')`,
      [r.uuid, id(5, dev), r.parent, r.name, r.kind, ext, r.size, r.modified_at, r.taken_at, content, r.owner],
    );
    if (r.album) db.run(`INSERT INTO album_entries (uuid, album_uuid, entry_uuid, active) VALUES (?, ?, ?, 1)`, [id(8, i), ALBUM, r.uuid]);
    if (r.favorite) db.run(`INSERT INTO user_metadata (uuid, entry_uuid, favorite) VALUES (?, ?, 1)`, [id(9, i), r.uuid]);
    if (p.next() < 0.25) db.run(`INSERT INTO tag_links (uuid, tag_uuid, target_uuid, target_kind, active) VALUES (?, ?, ?, 'entry', 1)`, [id(10, i), TAGS[0]!, r.uuid]);
  }
  // tags on contents (every copy has them), and one link switched off
  const contents = [...new Set(rows.map((r) => r.content).filter((c): c is string => c !== null))];
  contents.slice(0, 60).forEach((c, i) => db.run(`INSERT INTO tag_links (uuid, tag_uuid, target_uuid, target_kind, active) VALUES (?, ?, ?, 'content', ?)`, [id(11, i), TAGS[1]!, c, i === 0 ? 0 : 1]));
  const active = db.all(`SELECT tag_uuid, target_uuid FROM tag_links WHERE active = 1`);
  for (const r of rows) r.tags = active.filter((l) => l['target_uuid'] === r.uuid || l['target_uuid'] === r.content).map((l) => String(l['tag_uuid']));
  return { db, rows };
}

/** The filters, read plainly over the rows (the reference). */
function matches(r: Row, f: Q.Filters): boolean {
  if (f.kind === 'folder' && r.kind !== 'dir') return false;
  if (f.kind === 'other' && (r.kind !== 'file' || EXTS.slice(0, 7).includes(r.extension))) return false;
  if (!['all', 'folder', 'other'].includes(f.kind) && (r.kind !== 'file' || !extensionsOf(f.kind as never).includes(r.extension ?? ''))) return false;
  if (f.size !== 'any') {
    const [lo, hi] = { lt1m: [0, MB], '1m-10m': [MB, 10 * MB], '10m-100m': [10 * MB, 100 * MB], '100m-1g': [100 * MB, 1024 * MB], gt1g: [1024 * MB, Infinity] }[f.size];
    if (r.kind !== 'file' || r.size < lo! || r.size >= hi!) return false;
  }
  if (f.date !== 'any') {
    const v = f.dateField === 'taken' ? r.taken_at : r.modified_at;
    const [from, to] = Q.dateRange(f.date, f.dateField, NOW);
    if (v === null || (from !== null && v < from) || (to !== null && v >= to)) return false;
  }
  if (f.device && r.owner !== f.device) return false;
  if (f.tag && !r.tags.includes(f.tag)) return false;
  return true;
}

describe('explorer filters', () => {
  it('Kind, Size, Date (modified or taken), Device and Tag combine with each other and with every source', async () => {
    const { db, rows } = build();
    const query: Q.QueryFn = (sql, params = []) => Promise.resolve(db.all(sql, [...params]) as Record<string, string | number | null>[]);
    const dupContents = new Set(rows.filter((r) => r.content && rows.filter((o) => o.content === r.content).length > 1).map((r) => r.content));
    const sources: [Q.FileSource, (r: Row) => boolean][] = [
      [{ kind: 'dir', dir: ROOTS[0]! }, (r) => r.parent === ROOTS[0]],
      [{ kind: 'search', text: 'beach' }, (r) => r.name.startsWith('beach')],
      [{ kind: 'tag', tag: TAGS[1]! }, (r) => r.tags.includes(TAGS[1]!)],
      [{ kind: 'album', album: ALBUM }, (r) => r.album],
      [{ kind: 'favorites' }, (r) => r.favorite],
      [{ kind: 'duplicates' }, (r) => r.kind === 'file' && dupContents.has(r.content)],
    ];
    const p = createPrng('filters-draw');
    let nonEmpty = 0;
    for (let i = 0; i < 120; i++) {
      const f: Q.Filters = {
        kind: p.pick(['all', 'all', 'image', 'video', 'document', 'folder', 'other'] as const),
        size: p.pick(Q.SIZE_FILTERS.map((x) => x.key)),
        date: p.pick(Q.DATE_FILTERS.map((x) => x.key)),
        dateField: p.pick(['modified', 'taken'] as const),
        device: p.pick([null, ...DEVICES]),
        tag: p.pick([null, null, ...TAGS]),
        now: NOW,
      };
      for (const [src, inSource] of sources) {
        const want = rows.filter((r) => inSource(r) && matches(r, f)).map((r) => r.uuid).sort();
        const count = await Q.sourceCount(query, src, f);
        expect(count, JSON.stringify({ src, f })).toBe(want.length);
        // paged as the list pages: two windows make the whole, no row twice
        const half = Math.ceil(count / 2);
        const got = [...(await Q.sourceRows(query, src, 0, half, 'name', f)), ...(await Q.sourceRows(query, src, half, count, 'name', f))].map((r) => r.uuid);
        expect(got.slice().sort()).toEqual(want);
        expect(await Q.sourceUuids(query, src, 0, count, 'name', f)).toEqual(got);
        if (count) nonEmpty++;
      }
    }
    expect(nonEmpty).toBeGreaterThan(150); // the draws reach rows, not only empty lists
  });

  it('by date taken leaves out files without one; "Before this year" and "This year" split the dated files', async () => {
    const { db, rows } = build();
    const query: Q.QueryFn = (sql, params = []) => Promise.resolve(db.all(sql, [...params]) as Record<string, string | number | null>[]);
    const src: Q.FileSource = { kind: 'dir', dir: ROOTS[1]! };
    const mine = rows.filter((r) => r.parent === ROOTS[1]);
    const count = (f: Partial<Q.Filters>) => Q.sourceCount(query, src, { ...f, now: NOW });
    const year = await count({ date: 'year', dateField: 'taken' });
    const older = await count({ date: 'older', dateField: 'taken' });
    expect(year + older).toBe(mine.filter((r) => r.taken_at !== null).length);
    expect(year).toBeGreaterThan(0);
    expect(older).toBeGreaterThan(0);
    expect(await count({ date: 'year' }) + (await count({ date: 'older' }))).toBe(mine.filter((r) => r.modified_at !== null).length);
    // a size filter leaves folders out; the sizes partition the files
    let sum = 0;
    for (const s of Q.SIZE_FILTERS.slice(1)) sum += await count({ size: s.key });
    expect(sum).toBe(mine.filter((r) => r.kind === 'file').length);
    expect(Q.anyFilter(Q.NO_FILTERS)).toBe(false);
    expect(Q.anyFilter({ ...Q.NO_FILTERS, device: DEVICES[0]! })).toBe(true);
  });
});
