/**
 * Intents: one function per user act (every model: devices, volumes, locations and entries
 * of this device; tags, albums, memberships, tag links, favourites, notes, content). Each builds Changes stamped with this device's HLC and
 * hands them to the Writer — today straight to the storage worker, with the sync issue
 * through the sync document (DESIGN §2: one path for every change). An intent resolves only
 * once its changes are acknowledged (durable, or memory-only and said so).
 */
import type { Change, Fields, OwnedChange, SharedChange } from '../core/change.ts';
import type { HlcClock } from '../core/hlc.ts';
import { MODELS } from '../core/models.ts';
import { err, ok, type Result } from '../core/result.ts';
import { streamSampleLocation } from '../core/sample.ts';
import { albumEntryUuid, contentUuid, isUuid, tagLinkUuid, userMetadataUuid } from '../core/uuid.ts';
import { validateChange } from '../core/validate.ts';
import type { CommitResult, StorageError } from '../storage/rpc.ts';

export interface Writer {
  write(changes: readonly Change[]): Promise<Result<CommitResult, StorageError>>;
}

export interface IntentDeps {
  readonly writer: Writer;
  readonly clock: HlcClock;
  readonly device: string;
  readonly now: () => number;
  readonly randomUuid: () => string;
  readonly deviceInfo: { readonly os: string; readonly browser: string };
  /** reads a row by uuid: the current state of an owned record, or of a shared one with its
   *  field stamps (`_hlcs`) */
  readonly readOwned: (table: string, uuid: string) => Promise<Fields | null>;
  /** many rows by uuid at once (the bulk acts read every record they write); without it,
   *  `readOwned` one by one */
  readonly readMany?: (table: string, uuids: readonly string[]) => Promise<ReadonlyMap<string, Fields>>;
  /** which of `uuids` (at most MAX_BULK_FILES) this device holds a tombstone of `model` for
   *  (core/apply.ts I4; storage rpc `tombstoned`, one query) */
  readonly tombstoned: (model: SharedChange['model'], uuids: readonly string[]) => Promise<ReadonlySet<string>>;
  /** lets the UI breathe between bulk batches */
  readonly yieldToUi?: () => Promise<void>;
}

export interface Progress {
  readonly done: number;
  readonly total: number;
}

export type IntentError = StorageError | { readonly type: 'InvalidInput'; readonly message: string };

/** How an error names a shared record (`… was deleted`). */
const RECORD_LABEL: Readonly<Record<SharedChange['model'], string>> = {
  library: 'library', tag: 'tag', album: 'album', tag_link: 'tag link', album_entry: 'album entry',
  user_metadata: 'file metadata', content_identity: 'content identity', forgotten_device: 'forgotten device',
};

/** Changes per commit for bulk writes: small frames keep the UI and the sync document fluid. */
export const BULK_BATCH = 2000;
/** The most files one bulk act (tag, album, favourite) writes: its commit holds one change per
 *  file, and a commit — one frame, one document update — must stay one that peers accept. */
export const MAX_BULK_FILES = 50_000;
/** The largest sample location (DESIGN §10: libraries of a million files). */
export const MAX_SAMPLE_FILES = 1_000_000;

/**
 * DESIGN §5.1: an edit made after seeing a record wins over what the record holds now, even
 * when a device with a clock far ahead wrote it (our clock does not adopt that stamp, so
 * `next()` would stamp below it and the edit would be undone everywhere). `row` is the record
 * as this device holds it, with its field stamps (`_hlcs`); the change is re-stamped above the
 * highest stamp of the fields it writes (core/hlc `nextAbove`: the clock itself does not
 * move). A delete needs no floor (deletes win whatever their stamp); a row without stamps, or
 * stamps below `c.hlc`, leave the change as it is.
 */
export function stampAboveSeen(clock: Pick<HlcClock, 'nextAbove'>, c: SharedChange, row: Fields | null): SharedChange {
  const raw = row?.['_hlcs'];
  if (c.op === 'delete' || typeof raw !== 'string') return c;
  let stamps: unknown;
  try {
    stamps = JSON.parse(raw);
  } catch {
    return c;
  }
  if (typeof stamps !== 'object' || stamps === null) return c;
  let floor: string | null = null;
  for (const f of Object.keys(c.fields)) {
    const at = (stamps as Record<string, unknown>)[f];
    if (typeof at === 'string' && (!floor || at > floor)) floor = at;
  }
  return floor && floor >= c.hlc ? { ...c, hlc: clock.nextAbove(floor) } : c;
}

export function createIntents(deps: IntentDeps) {
  const { writer, clock, device } = deps;
  const owned = (model: OwnedChange['model'], uuid: string, data: Fields): OwnedChange => ({
    kind: 'owned', model, owner: device, uuid, hlc: clock.next(), data,
  });
  const fail = (message: string): Result<never, IntentError> => err({ type: 'InvalidInput', message });
  const write = async (changes: Change[]): Promise<Result<CommitResult, IntentError>> => writer.write(changes);

  const shared = (model: SharedChange['model'], uuid: string, op: SharedChange['op'], fields: Fields): SharedChange => ({
    kind: 'shared', model, uuid, hlc: clock.next(), op, fields,
  });
  /** DESIGN §5.1: a shared edit is stamped above what the record holds (`stampAboveSeen`). */
  const aboveSeen = async (c: SharedChange): Promise<SharedChange> =>
    c.op === 'delete' ? c : stampAboveSeen(clock, c, await deps.readOwned(MODELS[c.model].table, c.uuid));
  /**
   * An edit of a record this device holds a tombstone for is refused before anything is
   * written (a tab showing it from before the delete). Local apply would drop it (I4), but the
   * sync document would keep it — and once compaction prunes the delete from the document, a
   * device that never saw the record would materialize the edit as a partial record, back from
   * the dead. `records`: the records written, and those they hang on (a link's tag or album);
   * each model's uuids in one ask.
   */
  const refuseDeleted = async (records: readonly { readonly model: SharedChange['model']; readonly uuids: readonly string[] }[]): Promise<Result<null, IntentError>> => {
    const asks = records.flatMap(({ model, uuids }) => {
      const parts: { model: SharedChange['model']; uuids: readonly string[] }[] = [];
      for (let i = 0; i < uuids.length; i += MAX_BULK_FILES) parts.push({ model, uuids: uuids.slice(i, i + MAX_BULK_FILES) });
      return parts;
    });
    const answers = await Promise.all(asks.map((a) => deps.tombstoned(a.model, a.uuids)));
    for (let i = 0; i < asks.length; i++) {
      const gone = answers[i]!;
      if (!gone.size) continue;
      const { model, uuids } = asks[i]!;
      const first = uuids.find((u) => gone.has(u)) ?? [...gone][0]!;
      const more = gone.size > 1 ? ` (and ${(gone.size - 1).toLocaleString('en')} more)` : '';
      return fail(`The ${RECORD_LABEL[model]} ${first} was deleted${more}.`);
    }
    return ok(null);
  };
  /** Shared writes are validated here so a bad argument is a clear error, not a silent
   *  rejection; an edit (not a delete) of a deleted record, or of one hanging on a deleted
   *  `parent`, is refused (`refuseDeleted`). */
  const writeShared = async (c: SharedChange, parent?: { readonly model: SharedChange['model']; readonly uuid: string }): Promise<Result<CommitResult, IntentError>> => {
    if (!isUuid(c.uuid) || (parent && !isUuid(parent.uuid))) return fail('Not a valid id.');
    const v = validateChange(c);
    if (!v.ok) return fail(v.error.detail);
    if (c.op === 'delete') return write([c]);
    const [gone, stamped] = await Promise.all([
      refuseDeleted([{ model: c.model, uuids: [c.uuid] }, ...(parent ? [{ model: parent.model, uuids: [parent.uuid] }] : [])]),
      aboveSeen(c),
    ]);
    return gone.ok ? write([stamped]) : gone;
  };
  /** A record under a uuid made for it a moment ago: nothing can hold a tombstone or a
   *  stamp for it yet, so neither is asked for (two trips to the worker fewer per create). */
  const writeNew = (c: SharedChange): Promise<Result<CommitResult, IntentError>> => {
    const v = validateChange(c);
    return v.ok ? write([c]) : Promise.resolve(fail(v.error.detail));
  };
  /** The file's metadata record, one field at a time: an update that sets only what the
   *  user changed (and the scope), never an insert with defaults — a default sent from a
   *  device that had not yet seen another device's note would overwrite that note. */
  const metadataChange = (entry: string, fields: Fields): SharedChange =>
    shared('user_metadata', userMetadataUuid(entry), 'update', { entry_uuid: entry, ...fields });

  /**
   * One act on many files: the changes for every entry in ONE write (one storage commit, one
   * document transaction), each stamped above what its record holds (DESIGN §5.1). The
   * records are read in one go, not one round trip to the worker per file.
   */
  const writeMany = async (entries: readonly string[], build: (entry: string) => SharedChange, parent?: { readonly model: SharedChange['model']; readonly uuid: string }): Promise<Result<CommitResult, IntentError>> => {
    const unique = [...new Set(entries)];
    if (!unique.length) return fail('Select at least one file.');
    if (unique.length > MAX_BULK_FILES) return fail(`At most ${MAX_BULK_FILES.toLocaleString('en')} files at once.`);
    if (!unique.every(isUuid)) return fail('Not a valid id.');
    const changes = unique.map(build);
    for (const c of changes) {
      const v = validateChange(c);
      if (!v.ok) return fail(v.error.detail);
    }
    const model = changes[0]!.model;
    const table = MODELS[model].table;
    const uuids = changes.map((c) => c.uuid);
    const [gone, seen] = await Promise.all([
      refuseDeleted([{ model, uuids }, ...(parent ? [{ model: parent.model, uuids: [parent.uuid] }] : [])]),
      deps.readMany
        ? deps.readMany(table, uuids)
        : Promise.all(uuids.map(async (u) => [u, await deps.readOwned(table, u)] as const)).then((rows) => new Map(rows.filter((x): x is [string, Fields] => x[1] !== null))),
    ]);
    if (!gone.ok) return gone;
    return write(changes.map((c) => stampAboveSeen(clock, c, seen.get(c.uuid) ?? null)));
  };

  const deviceRecord = (name: string, created_at: number): Fields => ({
    name,
    slug: name.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '') || 'device',
    os: deps.deviceInfo.os,
    browser: deps.deviceInfo.browser,
    created_at,
  });

  /** One volume of each kind per device, with a stable id derived from the device (the
   *  suffix tells the kinds apart), written on first use. */
  async function deviceVolume(suffix: string, name: string, kind: 'sample' | 'picked'): Promise<string> {
    const uuid = `${device.slice(0, 24)}${suffix}`;
    if (!(await deps.readOwned('volumes', uuid))) {
      await write([owned('volume', uuid, { device_uuid: device, name, kind, total_capacity: null, available_capacity: null })]);
    }
    return uuid;
  }
  const sampleVolume = () => deviceVolume('5a3f1e0c7b9d', 'Sample data', 'sample');
  const pickedVolume = () => deviceVolume('9f1c0d7e2b4a', 'Picked folders', 'picked');

  return tracked({
    // ── folders picked from disk (src/indexer drives these) ──────────────────────────

    /** A picked folder becomes a location of this device at once (0 files) with its root
     *  entry, so it shows while it is being indexed. */
    async createFolderLocation(name: string): Promise<Result<{ location: string; root: string }, IntentError>> {
      const clean = name.trim().slice(0, 200);
      if (!clean) return fail('A folder needs a name.');
      const volume = await pickedVolume();
      const location = deps.randomUuid();
      const root = deps.randomUuid();
      const r = await write([
        owned('entry', root, { location_uuid: location, parent_uuid: null, name: clean, kind: 'dir', extension: null, size: 0, created_at: null, modified_at: null, content_uuid: null }),
        owned('location', location, {
          device_uuid: device, volume_uuid: volume, entry_uuid: root, name: clean, path: `picked://${clean}`, index_mode: 'content',
          total_file_count: 0, total_byte_size: 0, last_scan_at: null,
        }),
      ]);
      return r.ok ? ok({ location, root }) : r;
    },

    /** One batch of a folder's entries, in ONE commit. Their content identities are not
     *  written: every device derives them from the entries' content_uuid (migration 8). */
    async writeFolderEntries(entries: readonly { readonly uuid: string; readonly data: Fields }[]): Promise<Result<CommitResult, IntentError>> {
      const changes: Change[] = entries.map((e) => owned('entry', e.uuid, e.data));
      for (const c of changes) {
        const v = validateChange(c);
        if (!v.ok) return fail(`${c.model}: ${v.error.detail}`);
      }
      return write(changes);
    },

    /** Removes entries of this device (a re-scan found them gone). */
    async removeEntries(uuids: readonly string[]): Promise<Result<CommitResult | null, IntentError>> {
      if (!uuids.length) return ok(null);
      return write(uuids.map((uuid): OwnedChange => ({ kind: 'owned', model: 'entry', owner: device, uuid, hlc: clock.next(), deleted: true })));
    },

    /** A location's totals after a scan (or a cancelled one: what was indexed so far). */
    async finishFolderLocation(location: string, totals: { files: number; bytes: number }): Promise<Result<CommitResult, IntentError>> {
      const row = await deps.readOwned('locations', location);
      if (!row || row['_owner'] !== device) return fail('That location is not on this device.');
      const keep = ['device_uuid', 'volume_uuid', 'entry_uuid', 'name', 'path', 'index_mode'];
      const data: Fields = Object.fromEntries(keep.map((k) => [k, row[k] as Fields[string]]));
      return write([owned('location', location, { ...data, total_file_count: totals.files, total_byte_size: totals.bytes, last_scan_at: deps.now() })]);
    },

    /** Writes this device's own record if it is missing or stale. */
    async ensureDevice(defaultName: string): Promise<Result<string, IntentError>> {
      const row = await deps.readOwned('devices', device);
      if (row && row['os'] === deps.deviceInfo.os && row['browser'] === deps.deviceInfo.browser) return ok(String(row['name']));
      const name = typeof row?.['name'] === 'string' ? row['name'] : defaultName;
      const created = typeof row?.['created_at'] === 'number' ? row['created_at'] : deps.now();
      const r = await write([owned('device', device, deviceRecord(name, created))]);
      return r.ok ? ok(name) : r;
    },

    /**
     * Forgets another device of the library (issue 13): a shared record every device applies
     * by removing that device and all it owns, and by refusing what it owns from then on
     * (core/apply.ts I7). This device cannot forget itself (it would lock itself out).
     */
    async forgetDevice(other: string): Promise<Result<CommitResult, IntentError>> {
      if (other === device) return fail('This device cannot forget itself.');
      if (!isUuid(other) || !(await deps.readOwned('devices', other))) return fail('There is no such device in this library.');
      return writeShared(shared('forgotten_device', other, 'insert', { forgotten_by: device, forgotten_at: deps.now() }));
    },

    async renameDevice(name: string): Promise<Result<CommitResult, IntentError>> {
      const clean = name.trim();
      if (!clean) return fail('A device needs a name.');
      if (clean.length > 200) return fail('That name is too long (200 characters at most).');
      const row = await deps.readOwned('devices', device);
      const created = typeof row?.['created_at'] === 'number' ? row['created_at'] : deps.now();
      return write([owned('device', device, deviceRecord(clean, created))]);
    },

    /**
     * A generated location of up to MAX_SAMPLE_FILES files. Small ones go in ONE commit (wholly
     * there or wholly absent after a crash). Large ones are written as a real folder is: the
     * location and its root first (so peers receive the location before its entries, in seq
     * order), then the entries in batches — generated as they go, never held whole — and the
     * totals last. `shouldStop` between batches cancels: what was written stays, and the totals
     * say what is there.
     */
    async addSampleLocation(
      name: string,
      count: number,
      onProgress?: (p: Progress) => void,
      shouldStop?: () => boolean,
    ): Promise<Result<{ location: string; files: number; cancelled: boolean }, IntentError>> {
      const clean = name.trim();
      if (!clean) return fail('A location needs a name.');
      if (clean.length > 200) return fail('That name is too long (200 characters at most).');
      if (!Number.isSafeInteger(count) || count < 0 || count > MAX_SAMPLE_FILES) return fail(`Number of files must be between 0 and ${MAX_SAMPLE_FILES.toLocaleString('en')}.`);
      const volume = await sampleVolume();
      const location = deps.randomUuid();
      const gen = streamSampleLocation({ seed: clean, count, owner: device, locationUuid: location, volumeUuid: volume, name: clean, now: deps.now() });
      const take = (n: number): { entries: OwnedChange[]; done: Fields | null } => {
        const entries: OwnedChange[] = [];
        while (entries.length < n) {
          const r = gen.next();
          if (r.done) return { entries, done: r.value };
          entries.push(owned('entry', r.value.uuid, r.value.data));
        }
        return { entries, done: null };
      };
      const first = take(BULK_BATCH);
      if (first.done) {
        const r = await write([...first.entries, owned('location', location, first.done)]);
        if (!r.ok) return r;
        onProgress?.({ done: count, total: count });
        return ok({ location, files: count, cancelled: false });
      }
      const root = first.entries[0]!;
      const head = (files: number, bytes: number, scanned: number | null): Fields => ({
        device_uuid: device, volume_uuid: volume, entry_uuid: root.uuid, name: clean, path: `sample://${clean}/${clean}`, index_mode: 'deep',
        total_file_count: files, total_byte_size: bytes, last_scan_at: scanned,
      });
      let files = 0;
      let bytes = 0;
      const count1 = (batch: readonly OwnedChange[]): void => {
        for (const c of batch) {
          if ('data' in c && c.data['kind'] === 'file') {
            files++;
            bytes += Number(c.data['size']);
          }
        }
      };
      let r = await write([owned('location', location, head(0, 0, null)), ...first.entries]);
      if (!r.ok) return r;
      count1(first.entries);
      onProgress?.({ done: files, total: count });
      let done: Fields | null = null;
      let cancelled = false;
      while (!done) {
        await deps.yieldToUi?.();
        if (shouldStop?.()) {
          cancelled = true;
          break;
        }
        const next = take(BULK_BATCH);
        done = next.done;
        if (next.entries.length) {
          r = await write(next.entries);
          if (!r.ok) return r;
          count1(next.entries);
        }
        onProgress?.({ done: files, total: count });
      }
      r = await write([owned('location', location, head(files, bytes, deps.now()))]);
      return r.ok ? ok({ location, files, cancelled }) : r;
    },

    // ── shared records: the library, tags, albums, links, metadata, content identities ──

    /** The library's name: one field, last writer wins on every device (stamped above what
     *  this device has seen, DESIGN §5.1). */
    renameLibrary(library: string, name: string): Promise<Result<CommitResult, IntentError>> {
      const clean = name.trim();
      if (!clean) return Promise.resolve(fail('A library needs a name.'));
      if (clean.length > 200) return Promise.resolve(fail('That name is too long (200 characters at most).'));
      return writeShared(shared('library', library, 'update', { name: clean }));
    },

    async createTag(input: { name: string; namespace?: string | null; color?: string | null }): Promise<Result<{ uuid: string }, IntentError>> {
      const name = input.name.trim();
      if (!name) return fail('A tag needs a name.');
      const uuid = deps.randomUuid();
      const r = await writeNew(shared('tag', uuid, 'insert', {
        canonical_name: name.toLowerCase(), display_name: name, namespace: input.namespace?.trim() || null, tag_type: 'standard',
        color: input.color ?? '#3b5bdb', privacy_level: 'normal', search_weight: 100, created_by_device: device,
      }));
      return r.ok ? ok({ uuid }) : r;
    },
    updateTag(uuid: string, fields: { name?: string; namespace?: string | null; color?: string | null }): Promise<Result<CommitResult, IntentError>> {
      const f: Record<string, string | null> = {};
      if (fields.name !== undefined) {
        const n = fields.name.trim();
        if (!n) return Promise.resolve(fail('A tag needs a name.'));
        f['display_name'] = n;
        f['canonical_name'] = n.toLowerCase();
      }
      if (fields.namespace !== undefined) f['namespace'] = fields.namespace?.trim() || null;
      if (fields.color !== undefined) f['color'] = fields.color;
      return writeShared(shared('tag', uuid, 'update', f));
    },
    deleteTag: (uuid: string) => writeShared(shared('tag', uuid, 'delete', {})),

    /**
     * Merges tags into `keep` in ONE commit: every active link of a dropped tag is added to
     * `keep` (same deterministic link uuid on every device, so two devices merging at once
     * make one link) and switched off on the dropped tag, which is then deleted (sticky).
     */
    async mergeTags(keep: string, drop: readonly { readonly uuid: string; readonly links: readonly { readonly target: string; readonly kind: 'entry' | 'content' }[] }[]): Promise<Result<CommitResult, IntentError>> {
      if (drop.some((d) => d.uuid === keep)) return fail('A tag cannot be merged into itself.');
      if (!drop.length) return fail('Choose at least one tag to merge.');
      const changes: SharedChange[] = [];
      for (const d of drop) {
        for (const l of d.links) {
          changes.push(
            shared('tag_link', tagLinkUuid(keep, l.target), 'insert', { tag_uuid: keep, target_uuid: l.target, target_kind: l.kind, source: 'user', applied_by_device: device, active: true }),
            shared('tag_link', tagLinkUuid(d.uuid, l.target), 'update', { active: false }),
          );
        }
        changes.push(shared('tag', d.uuid, 'delete', {}));
      }
      for (const c of changes) {
        const v = validateChange(c);
        if (!v.ok) return fail(v.error.detail);
      }
      // a tag deleted meanwhile (kept or dropped): the merge was chosen from a stale view
      const gone = await refuseDeleted([
        { model: 'tag', uuids: [keep, ...drop.map((d) => d.uuid)] },
        { model: 'tag_link', uuids: changes.filter((c) => c.model === 'tag_link').map((c) => c.uuid) },
      ]);
      if (!gone.ok) return gone;
      const stamped: SharedChange[] = [];
      for (const c of changes) stamped.push(await aboveSeen(c));
      return write(stamped);
    },

    async createAlbum(name: string, description: string | null = null): Promise<Result<{ uuid: string }, IntentError>> {
      const clean = name.trim();
      if (!clean) return fail('An album needs a name.');
      const uuid = deps.randomUuid();
      const r = await writeNew(shared('album', uuid, 'insert', { name: clean, description, created_by_device: device }));
      return r.ok ? ok({ uuid }) : r;
    },
    renameAlbum: (uuid: string, name: string) =>
      name.trim() ? writeShared(shared('album', uuid, 'update', { name: name.trim() })) : Promise.resolve(fail('An album needs a name.')),
    deleteAlbum: (uuid: string) => writeShared(shared('album', uuid, 'delete', {})),

    /** Same file added on two devices = one membership (deterministic uuid); re-adding works. */
    addToAlbum: (album: string, entry: string) =>
      writeShared(shared('album_entry', albumEntryUuid(album, entry), 'insert', { album_uuid: album, entry_uuid: entry, added_at: deps.now(), active: true }), { model: 'album', uuid: album }),
    removeFromAlbum: (album: string, entry: string) => writeShared(shared('album_entry', albumEntryUuid(album, entry), 'update', { active: false }), { model: 'album', uuid: album }),

    tagEntry: (tag: string, entry: string) =>
      writeShared(shared('tag_link', tagLinkUuid(tag, entry), 'insert', { tag_uuid: tag, target_uuid: entry, target_kind: 'entry', source: 'user', applied_by_device: device, active: true }), { model: 'tag', uuid: tag }),
    /** The same tag on many files, in one commit. */
    tagEntries: (tag: string, entries: readonly string[]) =>
      isUuid(tag)
        ? writeMany(entries, (entry) => shared('tag_link', tagLinkUuid(tag, entry), 'insert', { tag_uuid: tag, target_uuid: entry, target_kind: 'entry', source: 'user', applied_by_device: device, active: true }), { model: 'tag', uuid: tag })
        : Promise.resolve(fail('Not a valid tag.')),
    /** Many files into an album, in one commit. */
    addEntriesToAlbum: (album: string, entries: readonly string[]) =>
      isUuid(album)
        ? writeMany(entries, (entry) => shared('album_entry', albumEntryUuid(album, entry), 'insert', { album_uuid: album, entry_uuid: entry, added_at: deps.now(), active: true }), { model: 'album', uuid: album })
        : Promise.resolve(fail('Not a valid album.')),
    /** Many files out of an album, in one commit (Delete in an album's view). */
    removeEntriesFromAlbum: (album: string, entries: readonly string[]) =>
      isUuid(album)
        ? writeMany(entries, (entry) => shared('album_entry', albumEntryUuid(album, entry), 'update', { active: false }), { model: 'album', uuid: album })
        : Promise.resolve(fail('Not a valid album.')),
    /** Many files' favourite at once, in one commit. */
    setFavorites: (entries: readonly string[], favorite: boolean) => writeMany(entries, (entry) => metadataChange(entry, { favorite })),

    untagEntry: (tag: string, entry: string) => writeShared(shared('tag_link', tagLinkUuid(tag, entry), 'update', { active: false }), { model: 'tag', uuid: tag }),
    /** A tag off many targets (files or contents) at once, in one commit (Delete in a tag's view). */
    untagTargets: (tag: string, targets: readonly string[]) =>
      isUuid(tag)
        ? writeMany(targets, (target) => shared('tag_link', tagLinkUuid(tag, target), 'update', { active: false }), { model: 'tag', uuid: tag })
        : Promise.resolve(fail('Not a valid tag.')),

    /** Favourite and notes are separate fields of the file's metadata: edits on two devices both survive. */
    setFavorite: (entry: string, favorite: boolean) => writeShared(metadataChange(entry, { favorite })),
    setNotes: (entry: string, notes: string) => writeShared(metadataChange(entry, { notes: notes.length ? notes : null })),

    /** A content identity every device derives the same uuid for (v5 of the hash). */
    addContentIdentity: (hash: string, info: { mime_type: string | null; kind: string | null; total_size: number }) =>
      writeShared(shared('content_identity', contentUuid(hash), 'insert', { content_hash: hash, ...info })),

    async deleteEntry(uuid: string): Promise<Result<CommitResult, IntentError>> {
      const row = await deps.readOwned('entries', uuid);
      if (!row || row['_owner'] !== device) return fail('That file is not on this device.');
      return write([{ kind: 'owned', model: 'entry', owner: device, uuid, hlc: clock.next(), deleted: true }]);
    },

    async deleteLocation(uuid: string): Promise<Result<CommitResult, IntentError>> {
      const row = await deps.readOwned('locations', uuid);
      if (!row) return fail('That location does not exist on this device.');
      return write([{ kind: 'owned', model: 'location', owner: device, uuid, hlc: clock.next(), deleted: true }]);
    },
  });
}

/**
 * The intents, each call remembered while it runs, and `settled()`: a promise for every call
 * begun before it — what `durable()` waits for (DESIGN §8: every write made so far), even
 * for one still reading what it needs before it writes.
 */
function tracked<T extends object>(intents: T): T & { settled(): Promise<void> } {
  const running = new Set<Promise<unknown>>();
  const out: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(intents) as [string, unknown][]) {
    if (typeof value !== 'function') {
      out[name] = value;
      continue;
    }
    const fn = value as (...args: unknown[]) => unknown;
    out[name] = (...args: unknown[]): unknown => {
      const r = fn.apply(intents, args);
      if (r instanceof Promise) {
        running.add(r);
        const done = () => void running.delete(r);
        r.then(done, done);
      }
      return r;
    };
  }
  return Object.assign(out as T, { settled: () => Promise.allSettled([...running]).then(() => undefined) });
}

export type Intents = ReturnType<typeof createIntents>;
