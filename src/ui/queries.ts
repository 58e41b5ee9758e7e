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

/** "Size": files in a range of bytes (a size filter leaves folders out). */
export type SizeFilter = 'any' | 'lt1m' | '1m-10m' | '10m-100m' | '100m-1g' | 'gt1g';
const MB = 1024 * 1024;
const SIZE_RANGES: Record<Exclude<SizeFilter, 'any'>, [number, number | null]> = {
  lt1m: [0, MB], '1m-10m': [MB, 10 * MB], '10m-100m': [10 * MB, 100 * MB], '100m-1g': [100 * MB, 1024 * MB], gt1g: [1024 * MB, null],
};
export const SIZE_FILTERS: readonly { key: SizeFilter; label: string }[] = [
  { key: 'any', label: 'Any size' }, { key: 'lt1m', label: '< 1 MB' }, { key: '1m-10m', label: '1–10 MB' },
  { key: '10m-100m', label: '10–100 MB' }, { key: '100m-1g', label: '100 MB–1 GB' }, { key: 'gt1g', label: '> 1 GB' },
];

/** "Date": a range relative to now, of the modified date or the date taken (media metadata). */
export type DateFilter = 'any' | 'today' | '7d' | '30d' | 'year' | 'older';
export type DateField = 'modified' | 'taken';
export const DATE_FILTERS: readonly { key: DateFilter; label: string }[] = [
  { key: 'any', label: 'Any date' }, { key: 'today', label: 'Today' }, { key: '7d', label: 'Last 7 days' },
  { key: '30d', label: 'Last 30 days' }, { key: 'year', label: 'This year' }, { key: 'older', label: 'Before this year' },
];
export const DATE_FIELDS: readonly { key: DateField; label: string }[] = [
  { key: 'modified', label: 'Modified' }, { key: 'taken', label: 'Date taken' },
];
const DAY = 86_400_000;

/** [from, to) in ms for a date filter. A date taken is the camera's wall clock kept as UTC
 *  (src/media/metadata.ts), so its bounds are this device's local wall clock read as UTC. */
export function dateRange(date: Exclude<DateFilter, 'any'>, field: DateField, now: number): [number | null, number | null] {
  const d = new Date(now);
  const wall = (y: number, m: number, day: number) => (field === 'taken' ? Date.UTC(y, m, day) : new Date(y, m, day).getTime());
  const clock = field === 'taken' ? now - d.getTimezoneOffset() * 60_000 : now;
  const midnight = wall(d.getFullYear(), d.getMonth(), d.getDate());
  const jan1 = wall(d.getFullYear(), 0, 1);
  switch (date) {
    case 'today': return [midnight, null];
    case '7d': return [clock - 7 * DAY, null];
    case '30d': return [clock - 30 * DAY, null];
    case 'year': return [jan1, null];
    case 'older': return [null, jan1];
  }
}

/** Every filter of the explorer; each narrows whatever the list shows (folder, search, collection). */
export interface Filters {
  readonly kind: KindFilter;
  readonly size: SizeFilter;
  readonly date: DateFilter;
  readonly dateField: DateField;
  /** the device whose files (the entries' owner), null for all */
  readonly device: string | null;
  /** files with this tag (on the file or its content), null for all */
  readonly tag: string | null;
  /** entries left out while their removal waits for "Undo" */
  readonly hide?: readonly string[];
  /** "now" for the date ranges (default: the clock) */
  readonly now?: number;
}
export const NO_FILTERS: Filters = { kind: 'all', size: 'any', date: 'any', dateField: 'modified', device: null, tag: null };
export const anyFilter = (f: Filters): boolean =>
  f.kind !== 'all' || f.size !== 'any' || f.date !== 'any' || f.device !== null || f.tag !== null;

type Where = { where: string; params: (string | number | null)[] };

/** Files with a tag, on the file itself or on its content. As a tag's view it is driven from
 *  the (small) link table, so a tag of 10 files does not scan 100k entries; as a filter (`+`:
 *  no index) it only narrows what the source's own index found. */
const tagWhere = (tag: string, drive = true): Where => {
  const col = drive ? 'e.' : '+e.';
  return {
    where: `(${col}uuid IN (SELECT target_uuid FROM tag_links WHERE tag_uuid = ? AND active = 1 AND target_kind = 'entry')
      OR ${col}content_uuid IN (SELECT target_uuid FROM tag_links WHERE tag_uuid = ? AND active = 1 AND target_kind = 'content'))`,
    params: [tag, tag],
  };
};

/** All the filters as one SQL condition over `entries e`, null for none. Columns are written
 *  `+e.x` where an index exists, so SQLite never drives the query from a filter: the source's
 *  index (parent, text index, link table) finds few rows, and e.g. `_owner` would find half
 *  the library — with a search, each of those rows would run the full-text query again. */
function filterWhere(f: Filters): Where | null {
  const parts: Where[] = [];
  const k = kindWhere(f.kind);
  if (k) parts.push(k);
  if (f.size !== 'any') {
    const [lo, hi] = SIZE_RANGES[f.size];
    parts.push(hi === null ? { where: "e.kind = 'file' AND e.size >= ?", params: [lo] } : { where: "e.kind = 'file' AND e.size >= ? AND e.size < ?", params: [lo, hi] });
  }
  if (f.date !== 'any') {
    const col = f.dateField === 'taken' ? 'e.taken_at' : 'e.modified_at';
    const [from, to] = dateRange(f.date, f.dateField, f.now ?? Date.now());
    // files without the date (no date taken) are left out: NULL compares false
    parts.push(from === null ? { where: `${col} < ?`, params: [to] } : to === null ? { where: `${col} >= ?`, params: [from] } : { where: `${col} >= ? AND ${col} < ?`, params: [from, to] });
  }
  if (f.device) parts.push({ where: '+e._owner = ?', params: [f.device] });
  if (f.tag) parts.push(tagWhere(f.tag, false));
  if (f.hide?.length) parts.push({ where: '+e.uuid NOT IN (SELECT value FROM json_each(?))', params: [JSON.stringify(f.hide)] });
  return parts.length ? { where: parts.map((p) => `(${p.where})`).join(' AND '), params: parts.flatMap((p) => p.params) } : null;
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

/** The rows a source and the filters select: `FROM <from> WHERE <where>` (a search goes
 *  through the text index, a folder through its parent index, a collection through its link
 *  table; the filters only narrow those). Null: nothing (an empty search). */
function selectOf(src: FileSource, filters: Filters): { from: string; where: string; params: (string | number | null)[] } | null {
  let w: Where;
  let from = 'entries e';
  if (src.kind === 'search') {
    const m = ftsQuery(src.text);
    if (!m) return null;
    // CROSS JOIN: the text index is always the outer loop (SQLite keeps the order), so a
    // filter can never make it run the full-text query once per entry
    from = 'entries_fts f CROSS JOIN entries e ON e.rowid = f.docid';
    w = { where: 'entries_fts MATCH ?', params: [m] };
  } else w = sourceWhere(src);
  const f = filterWhere(filters);
  return f ? { from, where: `${w.where} AND ${f.where}`, params: [...w.params, ...f.params] } : { from, ...w };
}

/** Entries a source (other than a search) selects: `FROM entries e WHERE <where>` with its parameters. */
function sourceWhere(src: Exclude<FileSource, { kind: 'search' }>): Where {
  switch (src.kind) {
    case 'dir':
      return { where: 'e.parent_uuid = ?', params: [src.dir] };
    case 'tag':
      return tagWhere(src.tag);
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
  }
}

/** The order of a source: duplicates come grouped by content, the largest (the most space) first. */
const orderOf = (src: FileSource, sort: SortKey): string =>
  src.kind === 'duplicates' ? `e.size DESC, e.content_uuid, ${ORDER[sort]}` : `e.kind = 'file', ${ORDER[sort]}`;

/** In the Duplicates view: how many entries hold the content, and the devices that hold it. */
const COPY_COLS = `, (SELECT count(*) FROM entries o WHERE o.content_uuid = e.content_uuid) AS copies,
  (SELECT json_group_array(DISTINCT d.name) FROM entries o JOIN locations l ON l.uuid = o.location_uuid JOIN devices d ON d.uuid = l.device_uuid
   WHERE o.content_uuid = e.content_uuid) AS holders`;

/** A Kind alone (older callers) or every filter. */
const asFilters = (f: KindFilter | Partial<Filters>): Filters => (typeof f === 'string' ? { ...NO_FILTERS, kind: f } : { ...NO_FILTERS, ...f });

export async function sourceCount(q: QueryFn, src: FileSource, filters: KindFilter | Partial<Filters> = NO_FILTERS): Promise<number> {
  const sel = selectOf(src, asFilters(filters));
  if (!sel) return 0;
  return n((await q(`SELECT count(*) AS c FROM ${sel.from} WHERE ${sel.where}`, sel.params))[0]?.['c']);
}

export async function sourceRows(q: QueryFn, src: FileSource, offset: number, limit: number, sort: SortKey, filters: KindFilter | Partial<Filters> = NO_FILTERS): Promise<FileRow[]> {
  const sel = selectOf(src, asFilters(filters));
  if (!sel) return [];
  const dup = src.kind === 'duplicates';
  const rows = await q(
    `SELECT ${FILE_COLS}${dup ? COPY_COLS : ''} FROM ${sel.from} WHERE ${sel.where} ORDER BY ${orderOf(src, sort)} LIMIT ? OFFSET ?`,
    [...sel.params, limit, offset],
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
export async function sourceUuids(q: QueryFn, src: FileSource, offset: number, limit: number, sort: SortKey, filters: KindFilter | Partial<Filters> = NO_FILTERS): Promise<string[]> {
  const sel = selectOf(src, asFilters(filters));
  if (!sel) return [];
  const rows = await q(`SELECT e.uuid FROM ${sel.from} WHERE ${sel.where} ORDER BY ${orderOf(src, sort)} LIMIT ? OFFSET ?`, [...sel.params, limit, offset]);
  return rows.map((r) => s(r['uuid']));
}

/** Of the given entries, what a tag is on: the entries themselves and their contents (what
 *  removing the tag from those files switches off), in chunks. */
export async function tagTargets(q: QueryFn, tag: string, entries: readonly string[]): Promise<string[]> {
  const out: string[] = [];
  for (let i = 0; i < entries.length; i += 500) {
    const part = JSON.stringify(entries.slice(i, i + 500));
    const rows = await q(
      `SELECT DISTINCT target_uuid FROM tag_links WHERE tag_uuid = ? AND active = 1 AND (
         (target_kind = 'entry' AND target_uuid IN (SELECT value FROM json_each(?)))
         OR (target_kind = 'content' AND target_uuid IN (SELECT content_uuid FROM entries WHERE uuid IN (SELECT value FROM json_each(?)))))`,
      [tag, part, part],
    );
    out.push(...rows.map((r) => s(r['target_uuid'])));
  }
  return [...new Set(out)];
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
