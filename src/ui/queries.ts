/**
 * Every read the UI makes, in one place (components hold no SQL). Each function takes the
 * read-only `query` of the storage client and returns typed rows.
 */
export type QueryFn = (sql: string, params?: readonly (string | number | null)[]) => Promise<Record<string, string | number | null>[]>;

export interface DeviceRow { uuid: string; name: string; browser: string; os: string; files: number }
export interface LocationRow { uuid: string; name: string; device_uuid: string; device_name: string | null; root: string | null; files: number; bytes: number; scan_state: string | null }
export interface FileRow { uuid: string; name: string; kind: 'file' | 'dir'; extension: string | null; size: number; modified_at: number | null; location_uuid: string; parent_uuid: string | null }
export interface FileDetail extends FileRow { created_at: number | null; device_name: string | null; device_uuid: string | null; location_name: string | null; path: string }
export interface Crumb { uuid: string; name: string }

const s = (v: unknown): string => (typeof v === 'string' ? v : typeof v === 'number' ? String(v) : '');
const n = (v: unknown): number => (typeof v === 'number' ? v : Number(v ?? 0));
const sn = (v: unknown): string | null => (v === null || v === undefined ? null : s(v));
const nn = (v: unknown): number | null => (v === null || v === undefined ? null : Number(v));

const toFile = (r: Record<string, unknown>): FileRow => ({
  uuid: s(r['uuid']), name: s(r['name']), kind: r['kind'] === 'dir' ? 'dir' : 'file', extension: sn(r['extension']),
  size: n(r['size']), modified_at: nn(r['modified_at']), location_uuid: s(r['location_uuid']), parent_uuid: sn(r['parent_uuid']),
});
const FILE_COLS = 'e.uuid, e.name, e.kind, e.extension, e.size, e.modified_at, e.location_uuid, e.parent_uuid';

export async function devices(q: QueryFn): Promise<DeviceRow[]> {
  const rows = await q(
    `SELECT d.uuid, d.name, d.browser, d.os,
       (SELECT coalesce(sum(l.total_file_count), 0) FROM locations l WHERE l.device_uuid = d.uuid) AS files
     FROM devices d ORDER BY d.created_at, d.uuid`,
  );
  return rows.map((r) => ({ uuid: s(r['uuid']), name: s(r['name']), browser: s(r['browser']), os: s(r['os']), files: n(r['files']) }));
}

export async function locations(q: QueryFn): Promise<LocationRow[]> {
  const rows = await q(
    `SELECT l.uuid, l.name, l.device_uuid, d.name AS device_name, l.entry_uuid AS root, l.total_file_count AS files,
            l.total_byte_size AS bytes, l.scan_state
     FROM locations l LEFT JOIN devices d ON d.uuid = l.device_uuid ORDER BY d.created_at, l.name`,
  );
  return rows.map((r) => ({
    uuid: s(r['uuid']), name: s(r['name']), device_uuid: s(r['device_uuid']), device_name: sn(r['device_name']),
    root: sn(r['root']), files: n(r['files']), bytes: n(r['bytes']), scan_state: sn(r['scan_state']),
  }));
}

export async function childCount(q: QueryFn, dir: string): Promise<number> {
  return n((await q('SELECT count(*) AS c FROM entries WHERE parent_uuid = ?', [dir]))[0]?.['c']);
}

export async function children(q: QueryFn, dir: string, offset: number, limit: number): Promise<FileRow[]> {
  const rows = await q(
    `SELECT ${FILE_COLS} FROM entries e WHERE e.parent_uuid = ?
     ORDER BY e.kind = 'file', e.name COLLATE NOCASE LIMIT ? OFFSET ?`,
    [dir, limit, offset],
  );
  return rows.map(toFile);
}

/** "beach 20" → `beach* 20*`: every word must match as a prefix (FTS4 MATCH syntax). */
export function ftsQuery(text: string): string | null {
  const words = text.toLowerCase().split(/[^\p{L}\p{N}]+/u).filter(Boolean).slice(0, 8);
  return words.length ? words.map((w) => `${w}*`).join(' ') : null;
}

export async function searchCount(q: QueryFn, text: string): Promise<number> {
  const m = ftsQuery(text);
  if (!m) return 0;
  return n((await q('SELECT count(*) AS c FROM entries_fts WHERE entries_fts MATCH ?', [m]))[0]?.['c']);
}

export async function search(q: QueryFn, text: string, offset: number, limit: number): Promise<FileRow[]> {
  const m = ftsQuery(text);
  if (!m) return [];
  const rows = await q(
    `SELECT ${FILE_COLS} FROM entries_fts f JOIN entries e ON e.rowid = f.docid
     WHERE entries_fts MATCH ? ORDER BY e.kind = 'file', e.name COLLATE NOCASE LIMIT ? OFFSET ?`,
    [m, limit, offset],
  );
  return rows.map(toFile);
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
      `SELECT ${FILE_COLS}, e.created_at, l.name AS location_name, d.name AS device_name, d.uuid AS device_uuid
       FROM entries e LEFT JOIN locations l ON l.uuid = e.location_uuid LEFT JOIN devices d ON d.uuid = l.device_uuid
       WHERE e.uuid = ?`,
      [uuid],
    )
  )[0];
  if (!r) return null;
  const crumbs = await breadcrumbs(q, uuid);
  return {
    ...toFile(r), created_at: nn(r['created_at']), location_name: sn(r['location_name']),
    device_name: sn(r['device_name']), device_uuid: sn(r['device_uuid']), path: '/' + crumbs.map((c) => c.name).join('/'),
  };
}
