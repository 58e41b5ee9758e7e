/**
 * Every read the UI makes, in one place (components hold no SQL). Each function takes the
 * read-only `query` of the storage client and returns typed rows.
 */
import { extensionsOf, knownExtensions, type FileKind } from '../core/kinds.ts';

export type QueryFn = (sql: string, params?: readonly (string | number | null)[]) => Promise<Record<string, string | number | null>[]>;

export interface DeviceRow {
  uuid: string; name: string; browser: string; os: string; files: number;
  locations: number;
  /** names of the device's volumes */
  volumes: string[];
}
export interface LocationRow { uuid: string; name: string; path: string; device_uuid: string; device_name: string | null; root: string | null; files: number; bytes: number; scan_state: string | null }
export interface FileRow {
  uuid: string; name: string; kind: 'file' | 'dir'; extension: string | null; size: number; modified_at: number | null;
  location_uuid: string; parent_uuid: string | null; content_uuid: string | null;
  /** the device whose file this is */
  device_name: string | null;
  /** how many other devices hold a file with the same content */
  elsewhere: number;
  /** in the Duplicates view: how many entries hold this content, and on which devices */
  copies?: number;
  holders?: string[];
}
export interface FileDetail extends FileRow {
  created_at: number | null; device_uuid: string | null; location_name: string | null; path: string;
  /** the location's `picked://…` / `sample://…` path, and the file's path inside the location */
  location_path: string | null; rel_path: string;
  /** media metadata (images): the camera's clock as UTC, pixel size as seen, camera */
  taken_at: number | null; width: number | null; height: number | null; camera_make: string | null; camera_model: string | null;
}
export interface TagRow {
  uuid: string; name: string; canonical: string; namespace: string | null; color: string | null;
  created_by: string; created_by_name: string | null; files: number;
}
export interface AlbumRow { uuid: string; name: string; description: string | null; files: number }
export interface Copy { device_name: string | null; device_uuid: string | null; location_name: string | null; name: string }
export interface FileMeta {
  favorite: boolean; notes: string;
  /** tags on this file, and whether through the file itself, its content (every copy) or both */
  tags: (TagRow & { via: 'entry' | 'content' | 'both' })[];
  albums: AlbumRow[];
  /** the same content on other devices */
  copies: Copy[];
}

/** What the file list shows: a directory of a location, a search, a tag or an album. */
export type FileSource =
  | { readonly kind: 'dir'; readonly dir: string }
  | { readonly kind: 'search'; readonly text: string }
  | { readonly kind: 'tag'; readonly tag: string }
  | { readonly kind: 'album'; readonly album: string }
  | { readonly kind: 'favorites' }
  /** files whose content is held more than once (on one device or several) */
  | { readonly kind: 'duplicates' };

/** The "Kind" filter: a kind of file (by extension), folders, files of no known kind, or all. */
export type KindFilter = 'all' | FileKind | 'folder' | 'other';
export const KIND_FILTERS: readonly { key: KindFilter; label: string }[] = [
  { key: 'all', label: 'All kinds' }, { key: 'image', label: 'Images' }, { key: 'video', label: 'Videos' },
  { key: 'audio', label: 'Audio' }, { key: 'document', label: 'Documents' }, { key: 'text', label: 'Text' },
  { key: 'code', label: 'Code' }, { key: 'archive', label: 'Archives' }, { key: 'folder', label: 'Folders' },
  { key: 'other', label: 'Other files' },
];

/** The filter as SQL over `entries e` (with its parameters), null for all. */
function kindWhere(kind: KindFilter): { where: string; params: string[] } | null {
  if (kind === 'all') return null;
  if (kind === 'folder') return { where: "e.kind = 'dir'", params: [] };
  const list = kind === 'other' ? knownExtensions() : extensionsOf(kind);
  const marks = list.map(() => '?').join(',');
  return kind === 'other'
    ? { where: `e.kind = 'file' AND (e.extension IS NULL OR e.extension NOT IN (${marks}))`, params: [...list] }
    : { where: `e.kind = 'file' AND e.extension IN (${marks})`, params: [...list] };
}

export type SortKey = 'name' | 'name-desc' | 'size' | 'size-asc' | 'date' | 'date-asc' | 'taken' | 'taken-asc';
export const SORTS: readonly { key: SortKey; label: string }[] = [
  { key: 'name', label: 'Name (A–Z)' }, { key: 'name-desc', label: 'Name (Z–A)' },
  { key: 'size', label: 'Largest first' }, { key: 'size-asc', label: 'Smallest first' },
  { key: 'date', label: 'Newest first' }, { key: 'date-asc', label: 'Oldest first' },
  { key: 'taken', label: 'Date taken (newest first)' }, { key: 'taken-asc', label: 'Date taken (oldest first)' },
];
/** Folders first, then the chosen order; uuid last so equal keys page stably. */
const ORDER: Record<SortKey, string> = {
  name: 'e.name COLLATE NOCASE, e.uuid',
  'name-desc': 'e.name COLLATE NOCASE DESC, e.uuid',
  size: 'e.size DESC, e.name COLLATE NOCASE, e.uuid',
  'size-asc': 'e.size, e.name COLLATE NOCASE, e.uuid',
  date: 'e.modified_at DESC, e.name COLLATE NOCASE, e.uuid',
  'date-asc': 'e.modified_at, e.name COLLATE NOCASE, e.uuid',
  // files without a date taken come last either way
  taken: 'e.taken_at IS NULL, e.taken_at DESC, e.name COLLATE NOCASE, e.uuid',
  'taken-asc': 'e.taken_at IS NULL, e.taken_at, e.name COLLATE NOCASE, e.uuid',
};
export interface Crumb { uuid: string; name: string }

const s = (v: unknown): string => (typeof v === 'string' ? v : typeof v === 'number' ? String(v) : '');
const n = (v: unknown): number => (typeof v === 'number' ? v : Number(v ?? 0));
const sn = (v: unknown): string | null => (v === null || v === undefined ? null : s(v));
const nn = (v: unknown): number | null => (v === null || v === undefined ? null : Number(v));

const toFile = (r: Record<string, unknown>): FileRow => ({
  uuid: s(r['uuid']), name: s(r['name']), kind: r['kind'] === 'dir' ? 'dir' : 'file', extension: sn(r['extension']),
  size: n(r['size']), modified_at: nn(r['modified_at']), location_uuid: s(r['location_uuid']), parent_uuid: sn(r['parent_uuid']),
  content_uuid: sn(r['content_uuid']), device_name: sn(r['device_name']), elsewhere: n(r['elsewhere']),
});
/** Columns of a file row; needs `entries e`. The device and the copies elsewhere are looked up
 *  per row of the (small) page, through the primary keys and the content_uuid index. */
const FILE_COLS = `e.uuid, e.name, e.kind, e.extension, e.size, e.modified_at, e.location_uuid, e.parent_uuid, e.content_uuid,
  (SELECT d.name FROM locations l JOIN devices d ON d.uuid = l.device_uuid WHERE l.uuid = e.location_uuid) AS device_name,
  CASE WHEN e.content_uuid IS NULL THEN 0 ELSE (
    SELECT count(DISTINCT o._owner) FROM entries o WHERE o.content_uuid = e.content_uuid AND o._owner <> e._owner) END AS elsewhere`;


export async function devices(q: QueryFn): Promise<DeviceRow[]> {
  const rows = await q(
    `SELECT d.uuid, d.name, d.browser, d.os,
       (SELECT coalesce(sum(l.total_file_count), 0) FROM locations l WHERE l.device_uuid = d.uuid) AS files,
       (SELECT count(*) FROM locations l WHERE l.device_uuid = d.uuid) AS locations,
       (SELECT json_group_array(v.name) FROM (SELECT name FROM volumes WHERE device_uuid = d.uuid ORDER BY name) v) AS volumes
     FROM devices d ORDER BY d.created_at, d.uuid`,
  );
  return rows.map((r) => ({
    uuid: s(r['uuid']), name: s(r['name']), browser: s(r['browser']), os: s(r['os']), files: n(r['files']),
    locations: n(r['locations']), volumes: (JSON.parse(s(r['volumes']) || '[]') as unknown[]).map(s),
  }));
}

export async function locations(q: QueryFn): Promise<LocationRow[]> {
  const rows = await q(
    `SELECT l.uuid, l.name, l.path, l.device_uuid, d.name AS device_name, l.entry_uuid AS root, l.total_file_count AS files,
            l.total_byte_size AS bytes, l.scan_state
     FROM locations l LEFT JOIN devices d ON d.uuid = l.device_uuid ORDER BY d.created_at, l.name`,
  );
  return rows.map((r) => ({
    uuid: s(r['uuid']), name: s(r['name']), path: s(r['path']), device_uuid: s(r['device_uuid']), device_name: sn(r['device_name']),
    root: sn(r['root']), files: n(r['files']), bytes: n(r['bytes']), scan_state: sn(r['scan_state']),
  }));
}

/** "beach 20" → `beach* 20*`: every word must match as a prefix (FTS4 MATCH syntax). */
export function ftsQuery(text: string): string | null {
  const words = text.toLowerCase().split(/[^\p{L}\p{N}]+/u).filter(Boolean).slice(0, 8);
  return words.length ? words.map((w) => `${w}*`).join(' ') : null;
}

export async function searchCount(q: QueryFn, text: string, kind: KindFilter = 'all'): Promise<number> {
  const m = ftsQuery(text);
  if (!m) return 0;
  const k = kindWhere(kind);
  if (!k) return n((await q('SELECT count(*) AS c FROM entries_fts WHERE entries_fts MATCH ?', [m]))[0]?.['c']);
  return n((await q(`SELECT count(*) AS c FROM entries_fts f JOIN entries e ON e.rowid = f.docid WHERE entries_fts MATCH ? AND ${k.where}`, [m, ...k.params]))[0]?.['c']);
}

export async function search(q: QueryFn, text: string, offset: number, limit: number, sort: SortKey = 'name', kind: KindFilter = 'all'): Promise<FileRow[]> {
  const m = ftsQuery(text);
  if (!m) return [];
  const k = kindWhere(kind);
  const rows = await q(
    `SELECT ${FILE_COLS} FROM entries_fts f JOIN entries e ON e.rowid = f.docid
     WHERE entries_fts MATCH ?${k ? ` AND ${k.where}` : ''} ORDER BY e.kind = 'file', ${ORDER[sort]} LIMIT ? OFFSET ?`,
    [m, ...(k?.params ?? []), limit, offset],
  );
  return rows.map(toFile);
}

/** Entries a source selects: `FROM entries e WHERE <where>` with its parameters. */
function sourceWhere(src: FileSource): { where: string; params: (string | number | null)[] } | null {
  switch (src.kind) {
    case 'dir':
      return { where: 'e.parent_uuid = ?', params: [src.dir] };
    // Driven from the (small) link tables, so a tag of 10 files does not scan 100k entries.
    case 'tag':
      return {
        where: `(e.uuid IN (SELECT target_uuid FROM tag_links WHERE tag_uuid = ? AND active = 1 AND target_kind = 'entry')
          OR e.content_uuid IN (SELECT target_uuid FROM tag_links WHERE tag_uuid = ? AND active = 1 AND target_kind = 'content'))`,
        params: [src.tag, src.tag],
      };
    case 'album':
      return { where: 'e.uuid IN (SELECT entry_uuid FROM album_entries WHERE album_uuid = ? AND active = 1)', params: [src.album] };
    case 'favorites':
      return {
        where: `(e.uuid IN (SELECT entry_uuid FROM user_metadata WHERE favorite = 1)
          OR e.content_uuid IN (SELECT content_uuid FROM user_metadata WHERE favorite = 1))`,
        params: [],
      };
    case 'duplicates':
      return {
        where: `e.kind = 'file' AND e.content_uuid IN (
          SELECT content_uuid FROM entries WHERE content_uuid IS NOT NULL GROUP BY content_uuid HAVING count(*) > 1)`,
        params: [],
      };
    case 'search':
      return null;
  }
}

/** A source and the Kind filter together (null: a search, which goes through the text index). */
function filteredWhere(src: FileSource, kind: KindFilter): { where: string; params: (string | number | null)[] } | null {
  const w = sourceWhere(src);
  const k = kindWhere(kind);
  return w && k ? { where: `${w.where} AND ${k.where}`, params: [...w.params, ...k.params] } : w;
}

/** The order of a source: duplicates come grouped by content, the largest (the most space) first. */
const orderOf = (src: FileSource, sort: SortKey): string =>
  src.kind === 'duplicates' ? `e.size DESC, e.content_uuid, ${ORDER[sort]}` : `e.kind = 'file', ${ORDER[sort]}`;

/** In the Duplicates view: how many entries hold the content, and the devices that hold it. */
const COPY_COLS = `, (SELECT count(*) FROM entries o WHERE o.content_uuid = e.content_uuid) AS copies,
  (SELECT json_group_array(DISTINCT d.name) FROM entries o JOIN locations l ON l.uuid = o.location_uuid JOIN devices d ON d.uuid = l.device_uuid
   WHERE o.content_uuid = e.content_uuid) AS holders`;

export async function sourceCount(q: QueryFn, src: FileSource, kind: KindFilter = 'all'): Promise<number> {
  if (src.kind === 'search') return searchCount(q, src.text, kind);
  const w = filteredWhere(src, kind)!;
  return n((await q(`SELECT count(*) AS c FROM entries e WHERE ${w.where}`, w.params))[0]?.['c']);
}

export async function sourceRows(q: QueryFn, src: FileSource, offset: number, limit: number, sort: SortKey, kind: KindFilter = 'all'): Promise<FileRow[]> {
  if (src.kind === 'search') return search(q, src.text, offset, limit, sort, kind);
  const w = filteredWhere(src, kind)!;
  const dup = src.kind === 'duplicates';
  const rows = await q(
    `SELECT ${FILE_COLS}${dup ? COPY_COLS : ''} FROM entries e WHERE ${w.where} ORDER BY ${orderOf(src, sort)} LIMIT ? OFFSET ?`,
    [...w.params, limit, offset],
  );
  return rows.map((r) => {
    const f = toFile(r);
    if (!dup) return f;
    const names = JSON.parse(s(r['holders']) || '[]') as unknown[];
    return { ...f, copies: n(r['copies']), holders: names.map(s).sort() };
  });
}

/** The uuids of a source's rows [offset, offset + limit) in the list's order (what a
 *  Shift-click range or Ctrl+A selects, rows not on screen included). */
export async function sourceUuids(q: QueryFn, src: FileSource, offset: number, limit: number, sort: SortKey, kind: KindFilter = 'all'): Promise<string[]> {
  let rows: Record<string, string | number | null>[];
  if (src.kind === 'search') {
    const m = ftsQuery(src.text);
    if (!m) return [];
    const k = kindWhere(kind);
    rows = await q(
      `SELECT e.uuid FROM entries_fts f JOIN entries e ON e.rowid = f.docid WHERE entries_fts MATCH ?${k ? ` AND ${k.where}` : ''}
       ORDER BY e.kind = 'file', ${ORDER[sort]} LIMIT ? OFFSET ?`,
      [m, ...(k?.params ?? []), limit, offset],
    );
  } else {
    const w = filteredWhere(src, kind)!;
    rows = await q(`SELECT e.uuid FROM entries e WHERE ${w.where} ORDER BY ${orderOf(src, sort)} LIMIT ? OFFSET ?`, [...w.params, limit, offset]);
  }
  return rows.map((r) => s(r['uuid']));
}

/** How many of the given entries are favourites (their own favourite flag), in
 *  chunks (a selection may hold thousands). */
export async function favoriteCount(q: QueryFn, entries: readonly string[]): Promise<number> {
  let total = 0;
  for (let i = 0; i < entries.length; i += 500) {
    const part = entries.slice(i, i + 500);
    const marks = part.map(() => '?').join(',');
    total += n((await q(`SELECT count(*) AS c FROM user_metadata WHERE favorite = 1 AND entry_uuid IN (${marks})`, part))[0]?.['c']);
  }
  return total;
}

const toTag = (r: Record<string, unknown>): TagRow => ({
  uuid: s(r['uuid']), name: s(r['display_name']), canonical: s(r['canonical_name']), namespace: sn(r['namespace']),
  color: sn(r['color']), created_by: s(r['created_by_device']), created_by_name: sn(r['created_by_name']), files: n(r['files']),
});
const TAG_COLS = `g.uuid, g.display_name, g.canonical_name, g.namespace, g.color, g.created_by_device,
  (SELECT d.name FROM devices d WHERE d.uuid = g.created_by_device) AS created_by_name`;

/** Every tag (a shared row exists once its insert arrived: display_name is set), with how
 *  many links are active. Same-name tags sort together. */
export async function tags(q: QueryFn): Promise<TagRow[]> {
  const rows = await q(
    `SELECT ${TAG_COLS}, (SELECT count(*) FROM tag_links t WHERE t.tag_uuid = g.uuid AND t.active = 1) AS files
     FROM tags g WHERE g.display_name IS NOT NULL ORDER BY g.canonical_name, g.namespace, g.uuid`,
  );
  return rows.map(toTag);
}

export async function albums(q: QueryFn): Promise<AlbumRow[]> {
  const rows = await q(
    `SELECT a.uuid, a.name, a.description,
       (SELECT count(*) FROM album_entries x WHERE x.album_uuid = a.uuid AND x.active = 1) AS files
     FROM albums a WHERE a.name IS NOT NULL ORDER BY a.name COLLATE NOCASE, a.uuid`,
  );
  return rows.map((r) => ({ uuid: s(r['uuid']), name: s(r['name']), description: sn(r['description']), files: n(r['files']) }));
}

/** Active links of a tag (what a merge moves). */
export async function tagLinks(q: QueryFn, tag: string): Promise<{ target: string; kind: 'entry' | 'content' }[]> {
  const rows = await q(`SELECT target_uuid, target_kind FROM tag_links WHERE tag_uuid = ? AND active = 1`, [tag]);
  return rows.map((r) => ({ target: s(r['target_uuid']), kind: r['target_kind'] === 'content' ? 'content' : 'entry' }));
}

/** Tags, albums, favourite, notes and copies of one file. */
export async function fileMeta(q: QueryFn, file: { uuid: string; content_uuid: string | null; device_uuid: string | null }): Promise<FileMeta> {
  const [meta, tagRows, albumRows, copies] = await Promise.all([
    q(`SELECT favorite, notes FROM user_metadata WHERE entry_uuid = ?`, [file.uuid]),
    q(
      `SELECT * FROM (SELECT ${TAG_COLS}, 0 AS files,
         EXISTS (SELECT 1 FROM tag_links t WHERE t.tag_uuid = g.uuid AND t.active = 1 AND t.target_kind = 'entry' AND t.target_uuid = ?) AS on_entry,
         EXISTS (SELECT 1 FROM tag_links t WHERE t.tag_uuid = g.uuid AND t.active = 1 AND t.target_kind = 'content' AND t.target_uuid = ?) AS on_content
       FROM tags g WHERE g.display_name IS NOT NULL) WHERE on_entry OR on_content ORDER BY canonical_name, uuid`,
      [file.uuid, file.content_uuid ?? ''],
    ),
    q(
      `SELECT a.uuid, a.name, a.description, 0 AS files FROM albums a JOIN album_entries x ON x.album_uuid = a.uuid
       WHERE x.entry_uuid = ? AND x.active = 1 AND a.name IS NOT NULL ORDER BY a.name COLLATE NOCASE`,
      [file.uuid],
    ),
    file.content_uuid
      ? q(
          `SELECT e.name, l.name AS location_name, d.name AS device_name, d.uuid AS device_uuid FROM entries e
           LEFT JOIN locations l ON l.uuid = e.location_uuid LEFT JOIN devices d ON d.uuid = l.device_uuid
           WHERE e.content_uuid = ? AND e.uuid <> ? ORDER BY d.name, e.name LIMIT 20`,
          [file.content_uuid, file.uuid],
        )
      : Promise.resolve([]),
  ]);
  const m = meta[0];
  return {
    favorite: m?.['favorite'] === 1,
    notes: s(m?.['notes']),
    tags: tagRows.map((r) => ({ ...toTag(r), via: r['on_entry'] === 1 ? (r['on_content'] === 1 ? 'both' : 'entry') : 'content' })),
    albums: albumRows.map((r) => ({ uuid: s(r['uuid']), name: s(r['name']), description: sn(r['description']), files: 0 })),
    copies: copies.map((r) => ({ name: s(r['name']), location_name: sn(r['location_name']), device_name: sn(r['device_name']), device_uuid: sn(r['device_uuid']) })),
  };
}

export async function breadcrumbs(q: QueryFn, dir: string): Promise<Crumb[]> {
  const rows = await q(
    `WITH RECURSIVE up(uuid, name, parent_uuid, depth) AS (
       SELECT uuid, name, parent_uuid, 0 FROM entries WHERE uuid = ?
       UNION ALL SELECT e.uuid, e.name, e.parent_uuid, up.depth + 1 FROM entries e JOIN up ON e.uuid = up.parent_uuid
       WHERE up.depth < 64)
     SELECT uuid, name FROM up ORDER BY depth DESC`,
    [dir],
  );
  return rows.map((r) => ({ uuid: s(r['uuid']), name: s(r['name']) }));
}

export async function fileDetail(q: QueryFn, uuid: string): Promise<FileDetail | null> {
  const r = (
    await q(
      `SELECT ${FILE_COLS}, e.created_at, l.name AS location_name, l.path AS location_path, d.uuid AS device_uuid,
         e.taken_at, e.width, e.height, e.camera_make, e.camera_model
       FROM entries e LEFT JOIN locations l ON l.uuid = e.location_uuid LEFT JOIN devices d ON d.uuid = l.device_uuid
       WHERE e.uuid = ?`,
      [uuid],
    )
  )[0];
  if (!r) return null;
  const crumbs = await breadcrumbs(q, uuid);
  return {
    ...toFile(r), created_at: nn(r['created_at']), location_name: sn(r['location_name']),
    device_uuid: sn(r['device_uuid']), path: '/' + crumbs.map((c) => c.name).join('/'),
    location_path: sn(r['location_path']), rel_path: crumbs.slice(1).map((c) => c.name).join('/'),
    taken_at: nn(r['taken_at']), width: nn(r['width']), height: nn(r['height']), camera_make: sn(r['camera_make']), camera_model: sn(r['camera_model']),
  };
}

/** The library's name, or null when none was ever set (the UI then shows its short id). */
export async function libraryName(query: QueryFn, library: string): Promise<string | null> {
  const [row] = await query('SELECT name FROM libraries WHERE uuid = ?', [library]);
  return sn(row?.['name']);
}

/** Whether a member forgot this device: by whom (their device's name while it is known) and when. */
export async function forgotten(query: QueryFn, device: string): Promise<{ by: string; at: number } | null> {
  const [row] = await query(
    `SELECT coalesce(d.name, 'another device') AS by, f.forgotten_at AS at
     FROM forgotten_devices f LEFT JOIN devices d ON d.uuid = f.forgotten_by WHERE f.uuid = ?`,
    [device],
  );
  return row ? { by: s(row['by']), at: n(row['at']) } : null;
}

/** Which devices hold files of this content, and by which extensions (Get from device, remote
 *  thumbnails); sample locations hold no bytes, so they hold nothing here. */
export async function contentHolders(q: QueryFn, content: string): Promise<{ device: string; extension: string | null }[]> {
  const rows = await q(
    `SELECT DISTINCT l.device_uuid AS device, e.extension FROM entries e JOIN locations l ON l.uuid = e.location_uuid
     WHERE e.content_uuid = ? AND e.kind = 'file' AND l.device_uuid IS NOT NULL AND coalesce(l.path, '') NOT LIKE 'sample://%' LIMIT 100`,
    [content],
  );
  return rows.map((r) => ({ device: String(r['device']), extension: sn(r['extension']) }));
}

/** This device's files of a content identity (a peer's "Get from device" is served from the first readable). */
export async function ownFilesOf(q: QueryFn, content: string, device: string): Promise<string[]> {
  const rows = await q(
    `SELECT e.uuid FROM entries e JOIN locations l ON l.uuid = e.location_uuid
     WHERE e.content_uuid = ? AND e.kind = 'file' AND l.device_uuid = ? LIMIT 20`,
    [content, device],
  );
  return rows.map((r) => String(r['uuid']));
}
