// The intents refuse to edit a shared record this device holds a tombstone for (core/apply.ts
// I4), before anything is written: a tab showing a tag, album or link from before its delete
// gets a clear error, and the sync document gains no entry — an entry there would outlive the
// delete once compaction prunes it, and come back on a device that never saw the record.
// Two devices of the simulator world: real storage engines (sql.js), documents and engines.
import initSqlJs, { type SqlJsStatic } from 'sql.js';
import * as Y from 'yjs';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Change, SharedChange } from '../../src/core/change.ts';
import { createPrng } from '../../src/core/prng.ts';
import { tagLinkUuid, userMetadataUuid } from '../../src/core/uuid.ts';
import { readSharedLog, sharedLogSize } from '../../src/sync/doc.ts';
import type { Intents } from '../../src/sync/intents.ts';
import { simApp } from '../support/app.ts';
import { type SimDevice, World } from '../support/sim/world.ts';

let SQL: SqlJsStatic;
beforeAll(async () => {
  SQL = await initSqlJs();
});

const A = '0aaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa';
const B = '0bbbbbbb-bbbb-4bbb-8bbb-bbbbbbbbbbbb';
let world: World | null = null;
afterEach(async () => {
  await world?.dispose();
  world = null;
});

interface Side {
  readonly d: SimDevice;
  readonly intents: Intents;
  readonly writes: Change[][];
}

async function setup(seed: string): Promise<{ w: World; a: Side; b: Side; files: string[] }> {
  const w = new World(SQL, createPrng(seed), { drop: 0, duplicate: 0, reorder: 0 });
  world = w;
  const sides = await Promise.all([A, B].map(async (id) => {
    const d = await w.addDevice(id, 0);
    const { app, writes } = simApp(d, { label: seed });
    return { d, intents: app.deps.intents, writes };
  }));
  const [a, b] = sides as [Side, Side];
  const made = await a.intents.addSampleLocation('Trip', 30);
  if (!made.ok) throw new Error(made.error.message);
  await w.heal();
  const files = (await a.d.rows("SELECT uuid FROM entries WHERE kind = 'file' ORDER BY name")).map((r) => String(r['uuid']));
  return { w, a, b, files };
}

/** What a device's sync document holds: its shared log's length and its state vector. */
const docOf = (s: Side) => ({ log: sharedLogSize(s.d.live!.doc), sv: Y.encodeStateVector(s.d.live!.doc).join(',') });

function must<T>(r: { ok: true; value: T } | { ok: false; error: { message: string } }): T {
  if (!r.ok) throw new Error(r.error.message);
  return r.value;
}

/** `act` on `s` is refused as an edit of a deleted record, naming it, and writes nothing. */
async function refused(s: Side, act: () => Promise<{ ok: boolean; error?: { type: string; message: string } }>, names: string): Promise<void> {
  const before = docOf(s);
  const writes = s.writes.length;
  const r = await act();
  expect(r.ok).toBe(false);
  expect(r.error?.type).toBe('InvalidInput');
  expect(r.error?.message).toMatch(new RegExp(`${names}.* was deleted`));
  expect(s.writes.length).toBe(writes);
  await s.d.live!.engine.idle();
  expect(docOf(s)).toEqual(before);
}

describe('intents on deleted shared records', () => {
  it('a tag deleted on A and synced to B: every edit of it on B is refused, nothing reaches either document', async () => {
    const { w, a, b, files } = await setup('tomb-tag');
    const tag = must(await a.intents.createTag({ name: 'Vacation' })).uuid;
    const other = must(await a.intents.createTag({ name: 'Other' })).uuid;
    must(await a.intents.tagEntry(tag, files[0]!));
    await w.heal();
    must(await a.intents.deleteTag(tag));
    await w.heal();
    expect(await b.d.rows('SELECT uuid FROM tags WHERE uuid = ?', [tag])).toEqual([]);

    await refused(b, () => b.intents.updateTag(tag, { name: 'Holidays' }), `tag ${tag}`);
    await refused(b, () => b.intents.updateTag(tag, { color: '#e03131' }), `tag ${tag}`);
    await refused(b, () => b.intents.tagEntry(tag, files[1]!), `tag ${tag}`);
    await refused(b, () => b.intents.untagEntry(tag, files[0]!), `tag ${tag}`);
    await refused(b, () => b.intents.tagEntries(tag, files), `tag ${tag}`);
    await refused(b, () => b.intents.untagTargets(tag, files), `tag ${tag}`);
    // a merge chosen from a stale view: into the deleted tag, or of it
    await refused(b, () => b.intents.mergeTags(tag, [{ uuid: other, links: [] }]), `tag ${tag}`);
    await refused(b, () => b.intents.mergeTags(other, [{ uuid: tag, links: [{ target: files[0]!, kind: 'entry' }] }]), `tag ${tag}`);
    // deleting it again stays as it was (idempotent: apply leaves it unchanged)
    expect((await b.intents.deleteTag(tag)).ok).toBe(true);
    // the device that deleted it refuses the same way
    await refused(a, () => a.intents.updateTag(tag, { name: 'Again' }), `tag ${tag}`);

    await w.heal();
    // neither document holds an edit of the tag stamped after its delete — nor, once both
    // devices have seen the delete and it was pruned (compaction.ts C10), any entry of it
    for (const s of [a, b]) {
      const mine = readSharedLog(s.d.live!.doc).changes.filter((c): c is SharedChange => c.kind === 'shared' && c.uuid === tag);
      const deleted = mine.filter((c) => c.op === 'delete').map((c) => c.hlc).sort().at(-1);
      if (deleted === undefined) expect(mine).toEqual([]);
      else expect(mine.filter((c) => c.op !== 'delete' && c.hlc > deleted)).toEqual([]);
    }
    // the other tag is still editable, and B's edits of it reach A
    must(await b.intents.updateTag(other, { name: 'Other!' }));
    await w.heal();
    expect(await a.d.rows('SELECT display_name FROM tags WHERE uuid = ?', [other])).toEqual([{ display_name: 'Other!' }]);
  });

  it('an album deleted on A: renaming it and adding or removing files on B are refused', async () => {
    const { w, a, b, files } = await setup('tomb-album');
    const album = must(await b.intents.createAlbum('Summer')).uuid;
    must(await b.intents.addToAlbum(album, files[0]!));
    await w.heal();
    must(await a.intents.deleteAlbum(album));
    await w.heal();
    await refused(b, () => b.intents.renameAlbum(album, 'Summer!'), `album ${album}`);
    await refused(b, () => b.intents.addToAlbum(album, files[1]!), `album ${album}`);
    await refused(b, () => b.intents.removeFromAlbum(album, files[0]!), `album ${album}`);
    await refused(b, () => b.intents.addEntriesToAlbum(album, files), `album ${album}`);
    await refused(b, () => b.intents.removeEntriesFromAlbum(album, files), `album ${album}`);
  });

  it('links and metadata (deterministic ids): removing and re-adding works (no tombstone); a deleted one is refused by the intent as apply refuses it', async () => {
    const { w, a, b, files } = await setup('tomb-links');
    const tag = must(await a.intents.createTag({ name: 'Keep' })).uuid;
    // untag is an update (active = 0), not a delete: the same link id comes back
    must(await a.intents.tagEntry(tag, files[0]!));
    must(await a.intents.untagEntry(tag, files[0]!));
    must(await a.intents.tagEntry(tag, files[0]!));
    await w.heal();
    expect(await b.d.rows('SELECT active FROM tag_links WHERE uuid = ?', [tagLinkUuid(tag, files[0]!)])).toEqual([{ active: 1 }]);

    // no intent deletes a link or a file's metadata, but a peer may send such a delete (the
    // model allows it): apply then refuses any later change of that id (I4) …
    await a.d.write([a.d.shared('tag_link', tagLinkUuid(tag, files[0]!), 'delete'), a.d.shared('user_metadata', userMetadataUuid(files[2]!), 'delete')]);
    await w.heal();
    const rejected = await b.d.live!.engine.write([b.d.shared('tag_link', tagLinkUuid(tag, files[0]!), 'insert', { tag_uuid: tag, target_uuid: files[0]!, target_kind: 'entry', source: 'user', applied_by_device: B, active: true })]);
    expect(rejected.ok && rejected.value.rejected).toBe(1);
    // … and the intents refuse it before writing, as they do for a tag
    await refused(b, () => b.intents.tagEntry(tag, files[0]!), `tag link ${tagLinkUuid(tag, files[0]!)}`);
    await refused(b, () => b.intents.setFavorite(files[2]!, true), `file metadata ${userMetadataUuid(files[2]!)}`);
    await refused(b, () => b.intents.setNotes(files[2]!, 'x'), `file metadata ${userMetadataUuid(files[2]!)}`);
    // a bulk act with one deleted record among many is refused whole, and says how many
    await refused(b, () => b.intents.setFavorites(files, true), `file metadata ${userMetadataUuid(files[2]!)}`);
    await refused(b, () => b.intents.tagEntries(tag, files), `tag link ${tagLinkUuid(tag, files[0]!)}`);
    // the others are untouched
    must(await b.intents.setFavorite(files[3]!, true));
    must(await b.intents.tagEntry(tag, files[1]!));
  });

  it('the storage answers which of 50,000 ids are deleted in one call', async () => {
    const { a, files } = await setup('tomb-bulk');
    const ids = Array.from({ length: 50_000 }, (_, i) => tagLinkUuid('0fffffff-ffff-4fff-8fff-ffffffffffff', `${files[i % files.length]!}:${i}`));
    await a.d.write([a.d.shared('tag_link', ids[7]!, 'delete'), a.d.shared('tag_link', ids[49_999]!, 'delete'), a.d.shared('tag', ids[8]!, 'delete')]);
    const r = await a.d.live!.storage.call('tombstoned', { model: 'tag_link', uuids: ids });
    expect(r.ok && [...r.value].sort()).toEqual([ids[7]!, ids[49_999]!].sort());
    const over = await a.d.live!.storage.call('tombstoned', { model: 'tag_link', uuids: [...ids, ids[0]!] });
    expect(over.ok || over.error.type).toBe('InvalidRequest');
    const bad = await a.d.live!.storage.call('tombstoned', { model: 'tags', uuids: [ids[0]!] });
    expect(bad.ok || bad.error.type).toBe('InvalidRequest');
  });
});
