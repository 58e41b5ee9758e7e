// Many files at once (issue 14 item 6) on the real parts: AppState over the simulator's
// devices (core, Yjs document + engine, storage on sql.js). Multi-select, bulk acts as ONE
// write, the Kind filter with search, and the Duplicates view.
import initSqlJs, { type SqlJsStatic } from 'sql.js';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { MODELS, MODEL_NAMES } from '../../src/core/models.ts';
import { createPrng } from '../../src/core/prng.ts';
import { AppState } from '../../src/ui/state/app.svelte.ts';
import { type SimDevice, World } from '../support/sim/world.ts';
import { simApp } from '../support/app.ts';

let SQL: SqlJsStatic;
beforeAll(async () => {
  SQL = await initSqlJs();
});

const ALL_TABLES = MODEL_NAMES.map((m) => MODELS[m].table);
const A = '0aaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa';
const B = '0bbbbbbb-bbbb-4bbb-8bbb-bbbbbbbbbbbb';
let world: World | null = null;
afterEach(async () => {
  await world?.dispose();
  world = null;
});

const appFor = (d: SimDevice) => simApp(d, { label: 'many' });

async function setup() {
  const w = new World(SQL, createPrng('files-many'), { drop: 0, duplicate: 0, reorder: 0 });
  world = w;
  const [da, db] = [await w.addDevice(A, 0), await w.addDevice(B, 0)];
  const [a, b] = [appFor(da), appFor(db)];
  await a.app.deps.intents.ensureDevice('Alpha');
  await b.app.deps.intents.ensureDevice('Beta');
  await Promise.all([a.app.start(), b.app.start()]);
  return { w, a, b };
}
async function sync(w: World, ...apps: AppState[]): Promise<void> {
  await w.heal();
  await Promise.all(apps.map((x) => x.tablesChanged(ALL_TABLES)));
}
const rowsOf = (app: AppState) => app.fileRows.map((r) => r.name);

describe('many files at once', () => {
  it('Ctrl+A selects every listed file; one "Add tag" / "Add to album" / "Favorite" is ONE write; the other device gets all', async () => {
    const { w, a, b } = await setup();
    expect(await a.app.addSampleLocation('Photos', 1000)).toBe(true);
    expect(await a.app.createTag('Holiday', '', null)).toBe(true);
    expect(await a.app.createAlbum('Summer')).toBe(true);
    await a.app.tablesChanged(ALL_TABLES);
    await a.app.setSearch('img'); // every photo of the sample (IMG_…), across its folders
    const total = a.app.fileTotal;
    expect(total).toBeGreaterThanOrEqual(300); // a holiday's photos
    await a.app.selectAll();
    expect(a.app.selection.size).toBe(total);
    expect([a.app.selected, a.app.bulk]).toEqual([null, { favorites: 0 }]);

    const before = a.writes.length;
    expect(await a.app.tagSelection(a.app.tags[0]!.uuid)).toBe(true);
    expect(a.writes.length - before).toBe(1);
    expect(a.writes.at(-1)!.length).toBe(total);
    expect(a.app.bulkMessage).toBe(`Tagged ${total} files with “Holiday”.`);
    expect(await a.app.addSelectionToAlbum(a.app.albums[0]!.uuid)).toBe(true);
    expect(await a.app.favoriteSelection(true)).toBe(true);
    expect(a.writes.length - before).toBe(3);
    expect(a.app.bulk).toEqual({ favorites: total });

    await sync(w, a.app, b.app);
    const count = async (sql: string) => Number((await b.app.deps.query(sql))[0]!['n']);
    expect(await count('SELECT count(*) AS n FROM tag_links WHERE active = 1')).toBe(total);
    expect(await count('SELECT count(*) AS n FROM album_entries WHERE active = 1')).toBe(total);
    expect(await count('SELECT count(*) AS n FROM user_metadata WHERE favorite = 1')).toBe(total);
    expect(b.app.tags.map((t) => t.files)).toEqual([total]);

    // un-favourite all in one act; a second tagging of the same files changes nothing visible
    expect(await a.app.favoriteSelection(false)).toBe(true);
    expect(a.app.bulk).toEqual({ favorites: 0 });
    expect(await a.app.tagSelection(a.app.tags[0]!.uuid)).toBe(true);
    await sync(w, a.app, b.app);
    expect(b.app.tags.map((t) => t.files)).toEqual([total]);
  });

  it('Ctrl-click toggles, Shift-click selects a range in list order, Escape (clearSelection) empties it; a new list drops it', async () => {
    const { a } = await setup();
    await a.app.addSampleLocation('Docs', 80);
    await a.app.setSearch('1');
    const rows = a.app.fileRows;
    expect(rows.length).toBeGreaterThan(8);
    await a.app.clickFile(rows[2]!, 2);
    expect([...a.app.selection]).toEqual([rows[2]!.uuid]);
    expect(a.app.selected?.uuid).toBe(rows[2]!.uuid);
    await a.app.clickFile(rows[5]!, 5, { toggle: true });
    expect(new Set(a.app.selection)).toEqual(new Set([rows[2]!.uuid, rows[5]!.uuid]));
    expect(a.app.selected).toBeNull(); // several: the Inspector acts on all
    await a.app.clickFile(rows[2]!, 2, { toggle: true });
    expect([...a.app.selection]).toEqual([rows[5]!.uuid]);
    expect(a.app.selected?.uuid).toBe(rows[5]!.uuid); // back to one: its details
    await a.app.clickFile(rows[8]!, 8, { range: true }); // from the anchor (the last click, 2) to 8
    expect([...a.app.selection]).toEqual(rows.slice(2, 9).map((r) => r.uuid));
    await a.app.clickFile(rows[0]!, 0, { range: true }); // the anchor stays: 0..2
    expect([...a.app.selection]).toEqual(rows.slice(0, 3).map((r) => r.uuid));
    a.app.clearSelection();
    expect([a.app.selection.size, a.app.selected]).toEqual([0, null]);
    await a.app.selectAll();
    expect(a.app.selection.size).toBe(a.app.fileTotal);
    await a.app.setSearch('2');
    expect(a.app.selection.size).toBe(0);
  });

  it('rejects a bulk act on nothing or on bad ids with a clear error, writing nothing', async () => {
    const { a } = await setup();
    await a.app.createTag('X', '', null);
    await a.app.tablesChanged(ALL_TABLES);
    const n = a.writes.length;
    const r1 = await a.app.deps.intents.tagEntries(a.app.tags[0]!.uuid, []);
    const r2 = await a.app.deps.intents.tagEntries(a.app.tags[0]!.uuid, ['not-a-uuid']);
    const r3 = await a.app.deps.intents.setFavorites(['0ccccccc-cccc-4ccc-8ccc-cccccccccccc'], true);
    expect([r1.ok, r2.ok, r3.ok]).toEqual([false, false, true]);
    expect(!r1.ok && r1.error.message).toMatch(/at least one/);
    expect(!r2.ok && r2.error.message).toMatch(/valid id/);
    expect(a.writes.length - n).toBe(1);
  });

  it('the Kind filter combines with search and folders; Duplicates lists content held more than once, with its devices', async () => {
    const { w, a, b } = await setup();
    await a.app.addSampleLocation('Mixed', 200);
    await a.app.setSearch('1');
    const all = a.app.fileTotal;
    const exts = async (kind: Parameters<AppState['setKind']>[0]) => {
      await a.app.setKind(kind);
      return { total: a.app.fileTotal, exts: new Set(a.app.fileRows.map((r) => (r.kind === 'dir' ? '/' : r.extension))) };
    };
    const images = await exts('image');
    expect(images.total).toBeGreaterThan(0);
    expect([...images.exts].every((e) => ['jpg', 'heic', 'png'].includes(String(e)))).toBe(true);
    const audio = await exts('audio');
    expect([...audio.exts].every((e) => ['flac', 'mp3', 'm4a'].includes(String(e)))).toBe(true);
    const folders = await exts('folder');
    expect([...folders.exts]).toEqual(folders.total ? ['/'] : []);
    const parts: number[] = [];
    for (const k of ['image', 'video', 'audio', 'document', 'text', 'code', 'archive', 'folder', 'other'] as const) {
      await a.app.setKind(k);
      parts.push(a.app.fileTotal);
    }
    expect(parts.reduce((x, y) => x + y, 0)).toBe(all); // the kinds partition the list
    await a.app.setKind('all');
    expect(a.app.fileTotal).toBe(all);

    // Duplicates: content held more than once, on one device (a copy) or on two
    await a.app.setSearch('');
    await a.app.openCollection({ kind: 'duplicates' });
    expect(a.app.fileTotal).toBe(0);
    const file = (path: string, bytes: Uint8Array<ArrayBuffer>) => Object.assign(new File([bytes], path.split('/').pop()!), { webkitRelativePath: path });
    const fill = (n: number, seed: number): Uint8Array<ArrayBuffer> => Uint8Array.from({ length: n }, (_, i) => (i * 7 + seed) & 0xff);
    await a.app.addFolderFiles([
      file('Trip/beach.jpg', fill(9_000, 1)), file('Trip/copy of beach.jpg', fill(9_000, 1)),
      file('Trip/dunes.png', fill(4_000, 2)), file('Trip/notes.txt', fill(300, 3)),
    ]);
    await b.app.addFolderFiles([file('Mine/dunes.png', fill(4_000, 2)), file('Mine/other.txt', fill(300, 4))]);
    await sync(w, a.app, b.app);
    await b.app.openCollection({ kind: 'duplicates' });
    expect(b.app.collectionTitle).toMatch(/^Duplicates/);
    expect(b.app.fileRows.map((r) => [r.name, r.copies, r.holders])).toEqual([
      ['beach.jpg', 2, ['Alpha']], ['copy of beach.jpg', 2, ['Alpha']], // the largest first, copies side by side
      ['dunes.png', 2, ['Alpha', 'Beta']], ['dunes.png', 2, ['Alpha', 'Beta']],
    ]);
    await b.app.setKind('image');
    expect(rowsOf(b.app)).toEqual(['beach.jpg', 'copy of beach.jpg', 'dunes.png', 'dunes.png']);
    await b.app.setKind('text');
    expect(rowsOf(b.app)).toEqual([]);
  });
  it('Delete in an album\'s or a tag\'s view takes the selected files out as ONE write, after an Undo window; elsewhere it does nothing', async () => {
    const { w, a, b } = await setup();
    await a.app.addSampleLocation('Trip', 60);
    await a.app.createTag('Best', '', null);
    await a.app.createAlbum('Trip');
    await a.app.tablesChanged(ALL_TABLES);
    const [tag, album] = [a.app.tags[0]!.uuid, a.app.albums[0]!.uuid];
    await a.app.setSearch('1');
    const total = a.app.fileTotal;
    await a.app.selectAll();
    expect(await a.app.tagSelection(tag)).toBe(true);
    expect(await a.app.addSelectionToAlbum(album)).toBe(true);

    // in a search (files of their devices): nothing is scheduled, nothing written
    const n0 = a.writes.length;
    expect(await a.app.deleteSelection()).toBe(false);
    expect([a.app.pendingDeletes.length, a.writes.length]).toEqual([0, n0]);

    for (const c of [{ kind: 'album', uuid: album }, { kind: 'tag', uuid: tag }] as const) {
      await a.app.openCollection(c);
      expect(a.app.fileTotal).toBe(total);
      const picked = a.app.fileRows.slice(0, 3);
      await a.app.clickFile(picked[0]!, 0);
      await a.app.clickFile(picked[2]!, 2, { range: true });
      expect(a.app.selection.size).toBe(3);
      const before = a.writes.length;
      expect(await a.app.deleteSelection()).toBe(true);
      await a.app.refreshFiles();
      expect(a.app.fileTotal).toBe(total - 3); // held out of the list while "Undo" is offered
      expect(a.app.pendingDeletes.map((p) => [p.kind, p.name, p.hide?.length])).toEqual([[`${c.kind}-files`, c.kind === 'album' ? 'Trip' : 'Best', 3]]);
      a.app.undoDelete(a.app.pendingDeletes[0]!.id);
      await a.app.refreshFiles();
      expect([a.app.fileTotal, a.app.pendingDeletes.length, a.writes.length]).toEqual([total, 0, before]); // undone: nothing written

      await a.app.clickFile(picked[0]!, 0);
      await a.app.clickFile(picked[2]!, 2, { range: true });
      expect(await a.app.deleteSelection()).toBe(true);
      expect(await a.app.deletes.commit(a.app.pendingDeletes[0]!.id)).toBe(true); // the 5 s are up
      expect(a.writes.length - before).toBe(1);
      expect(a.writes.at(-1)!.length).toBe(3);
      await a.app.tablesChanged(ALL_TABLES);
      expect(a.app.fileTotal).toBe(total - 3);
      expect(a.app.fileRows.some((r) => picked.some((p) => p.uuid === r.uuid))).toBe(false);
    }
    await sync(w, a.app, b.app);
    expect(b.app.albums.map((x) => x.files)).toEqual([total - 3]);
    expect(b.app.tags.map((x) => x.files)).toEqual([total - 3]);
  });
});
