/**
 * Indexes a picked folder into a location of this device, through the intents (one path for
 * every change): folders and files as entries, each file with the uuid of its sampled content
 * hash (`content_uuid`, from which every device derives the content identity). A re-scan
 * diffs the folder against what is indexed and writes only additions, changes and deletions.
 *
 * Runs on the main thread in small batches (hashing reads ≤ 48 KiB per file, off-thread in
 * the browser's file reader; each batch yields to the UI), so the app stays responsive and
 * "Cancel" takes effect within one batch. Whatever was written before a cancel or an error
 * stays, and the location's totals say what is there.
 */
import { contentHash } from '../core/content-hash.ts';
import type { Fields } from '../core/change.ts';
import { baseName, diffFolder, extensionOf, matchMoves, parentPath, withDirectories, type Appeared, type IndexedItem, type ScannedItem, type Vanished } from '../core/folder.ts';
import { ok, type Result } from '../core/result.ts';
import { contentUuid } from '../core/uuid.ts';
import type { IntentError, Intents } from '../sync/intents.ts';
import { isPickedFile, type PickedFile, type PickedFolder } from './source.ts';
import { hasExif, thumbnailKind } from '../media/kinds.ts';
import { HEADER_BYTES, NO_MEDIA, readMedia, type MediaFields } from '../media/metadata.ts';

export interface IndexProgress {
  readonly done: number;
  readonly total: number;
}

export interface IndexDeps {
  readonly intents: Intents;
  readonly query: (sql: string, params?: readonly (string | number | null)[]) => Promise<Record<string, string | number | null>[]>;
  readonly digest: (bytes: Uint8Array) => Promise<Uint8Array>;
  readonly randomUuid: () => string;
  readonly onProgress?: (p: IndexProgress) => void;
  readonly yieldToUi?: () => Promise<void>;
  readonly signal?: AbortSignal;
  /** images of a batch, once its entries are written (thumbnails are made from them) */
  readonly onImagesWritten?: (items: readonly { readonly content: string; readonly file: File; readonly kind: 'image' | 'video' }[]) => void;
}

export interface IndexReport {
  readonly location: string;
  readonly added: number;
  /** files found at another path with the same content: same entry, so tags etc. stay */
  readonly moved: number;
  readonly changed: number;
  readonly removed: number;
  readonly files: number;
  readonly bytes: number;
  readonly cancelled: boolean;
  /** files that could not be read (indexed without a content identity) */
  readonly unreadable: readonly string[];
  /** images whose header held no readable metadata (indexed without it) */
  readonly mediaFailed: number;
}

type ExifParse = Parameters<typeof readMedia>[1];
/** exifr (≈ 70 KB) is loaded by the first scan that meets an image. */
let exifr: Promise<ExifParse> | null = null;
const loadExifr = (): Promise<ExifParse> =>
  (exifr ??= import('exifr').then((m) => (data, options) => m.default.parse(data, options) as Promise<Record<string, unknown> | undefined>));

/** Date taken, size and camera of an image from its first bytes; never throws. */
async function mediaOf(file: File): Promise<{ fields: MediaFields; failed: boolean }> {
  try {
    const header = new Uint8Array(await file.slice(0, HEADER_BYTES).arrayBuffer());
    return await readMedia(header, await loadExifr());
  } catch {
    return { fields: NO_MEDIA, failed: true };
  }
}

/** Files per commit: each batch is one storage commit and one live page, and yields to the UI. */
const BATCH = 200;


/** Indexes a newly picked folder as a new location. */
export async function indexNewFolder(folder: PickedFolder, deps: IndexDeps): Promise<Result<IndexReport, IntentError>> {
  const created = await deps.intents.createFolderLocation(folder.name);
  if (!created.ok) return created;
  return sync(created.value.location, created.value.root, [], folder, deps);
}

/** Re-scans a location from the folder as it is now. */
export async function rescanFolder(location: string, folder: PickedFolder, deps: IndexDeps): Promise<Result<IndexReport, IntentError>> {
  const [loc] = await deps.query('SELECT entry_uuid FROM locations WHERE uuid = ?', [location]);
  const root = loc?.['entry_uuid'];
  if (typeof root !== 'string') return { ok: false, error: { type: 'InvalidInput', message: 'That location is gone.' } };
  return sync(location, root, await indexedItems(location, root, deps), folder, deps);
}

interface IndexedEntry extends IndexedItem {
  readonly content: string | null;
}

/** What is indexed for a location, with paths rebuilt from the parent links. */
async function indexedItems(location: string, root: string, deps: IndexDeps): Promise<IndexedEntry[]> {
  const rows = await deps.query('SELECT uuid, parent_uuid, name, kind, size, modified_at, content_uuid FROM entries WHERE location_uuid = ?', [location]);
  const byUuid = new Map(rows.map((r) => [String(r['uuid']), r]));
  const paths = new Map<string, string>([[root, '']]);
  const pathOf = (uuid: string, depth = 0): string | null => {
    const known = paths.get(uuid);
    if (known !== undefined) return known;
    const r = byUuid.get(uuid);
    const parent = r?.['parent_uuid'];
    if (!r || typeof parent !== 'string' || depth > 256) return null;
    const p = pathOf(parent, depth + 1);
    if (p === null) return null;
    const path = p ? `${p}/${String(r['name'])}` : String(r['name']);
    paths.set(uuid, path);
    return path;
  };
  const out: IndexedEntry[] = [];
  for (const r of rows) {
    const uuid = String(r['uuid']);
    if (uuid === root) continue;
    const path = pathOf(uuid);
    if (path === null) continue;
    const content = r['content_uuid'];
    out.push({
      uuid, path, kind: r['kind'] === 'dir' ? 'dir' : 'file', size: Number(r['size'] ?? 0), modified: r['modified_at'] === null ? null : Number(r['modified_at']),
      content: typeof content === 'string' ? content : null,
    });
  }
  return out;
}

/** A re-scan hands on the unchanged images too: their thumbnails may be missing (indexed
 *  before thumbnails were made, or the browser cleared them); the queue skips those it has. */
function thumbnailsOfUnchanged(location: string, indexed: readonly IndexedItem[], files: ReadonlyMap<string, PickedFile>, deps: IndexDeps): void {
  const candidates = indexed.flatMap((i) => {
    const kind = i.kind === 'file' && files.has(i.path) ? thumbnailKind(extensionOf(baseName(i.path))) : null;
    return kind ? [{ ...i, thumb: kind }] : [];
  });
  if (!candidates.length) return;
  void deps.query('SELECT uuid, content_uuid FROM entries WHERE location_uuid = ? AND content_uuid IS NOT NULL', [location]).then(
    (rows) => {
      const contentOf = new Map(rows.map((r) => [String(r['uuid']), String(r['content_uuid'])]));
      const images = candidates.flatMap((i) => {
        const content = contentOf.get(i.uuid);
        const f = files.get(i.path);
        return content && f ? [{ content, file: f.file, kind: i.thumb }] : [];
      });
      if (images.length) deps.onImagesWritten?.(images);
    },
    () => undefined, // thumbnails are a nicety: the scan's result does not depend on them
  );
}

async function sync(location: string, root: string, indexed: IndexedEntry[], folder: PickedFolder, deps: IndexDeps): Promise<Result<IndexReport, IntentError>> {
  const scanned = withDirectories(folder.items);
  const files = new Map<string, PickedFile>();
  for (const it of folder.items) if (isPickedFile(it)) files.set(it.path, it);
  const diff = diffFolder(indexed, scanned);
  const dirUuid = new Map<string, string>([['', root]]);
  for (const i of indexed) if (i.kind === 'dir') dirUuid.set(i.path, i.uuid);
  const hashFile = (f: PickedFile): Promise<string> =>
    contentHash(f.size, { read: async (o, n) => new Uint8Array(await f.file.slice(o, o + n).arrayBuffer()), digest: deps.digest });

  // Moved or renamed files keep their entry (core/folder `matchMoves`). Only new files of the
  // size of a vanished one can be such a file, so only those are hashed ahead (and the hash
  // is kept for the write below).
  const hashes = new Map<string, string | null>();
  const contentOf = new Map(indexed.map((i) => [i.uuid, i.content]));
  const vanished: Vanished[] = diff.removed
    .filter((r) => r.kind === 'file')
    .map((r) => ({ uuid: r.uuid, path: r.path, size: r.size, content: contentOf.get(r.uuid) ?? null }));
  const sizes = new Set(vanished.filter((v) => v.content !== null).map((v) => v.size));
  const appeared: Appeared[] = [];
  for (const it of diff.added) {
    if (deps.signal?.aborted) break; // unmatched: written as new files, if at all
    const f = it.kind === 'file' && sizes.has(it.size) ? files.get(it.path) : undefined;
    if (!f) continue;
    const hash = await hashFile(f).catch(() => null);
    hashes.set(it.path, hash);
    appeared.push({ path: it.path, size: it.size, content: hash === null ? null : contentUuid(hash) });
  }
  const moves = matchMoves(vanished, appeared);
  const movedTo = new Map(moves.map((m) => [m.to, m.uuid]));
  const moved = new Set(moves.map((m) => m.uuid));

  // New folders get their ids first, so children in any batch find their parent.
  const work: { uuid: string; item: ScannedItem; what: 'added' | 'moved' | 'changed' }[] = [];
  for (const it of diff.added) {
    const keep = it.kind === 'file' ? movedTo.get(it.path) : undefined;
    const uuid = keep ?? deps.randomUuid();
    if (it.kind === 'dir') dirUuid.set(it.path, uuid);
    work.push({ uuid, item: it, what: keep ? 'moved' : 'added' });
  }
  for (const c of diff.changed) work.push({ ...c, what: 'changed' });
  const total = work.length;
  const unreadable: string[] = [];
  const counts = { added: 0, moved: 0, changed: 0 };
  let mediaFailed = 0;
  let done = 0;
  let cancelled = false;
  deps.onProgress?.({ done, total });

  for (let i = 0; i < work.length; i += BATCH) {
    if (deps.signal?.aborted) {
      cancelled = true;
      break;
    }
    const entries: { uuid: string; data: Fields }[] = [];
    const images: { content: string; file: File; kind: 'image' | 'video' }[] = [];
    const batch = work.slice(i, i + BATCH);
    for (const { uuid, item } of batch) {
      const name = baseName(item.path);
      const ext = item.kind === 'file' ? extensionOf(name) : null;
      let content: string | null = null;
      let media: MediaFields = NO_MEDIA;
      const f = files.get(item.path);
      if (f && hasExif(ext)) {
        const m = await mediaOf(f.file);
        media = m.fields;
        if (m.failed) mediaFailed++;
      }
      if (f) {
        const hash = hashes.has(item.path) ? hashes.get(item.path)! : await hashFile(f).catch(() => null);
        if (hash === null) unreadable.push(item.path);
        else {
          content = contentUuid(hash);
          const thumb = thumbnailKind(ext);
          if (thumb) images.push({ content, file: f.file, kind: thumb });
        }
      }
      entries.push({
        uuid,
        data: {
          location_uuid: location, parent_uuid: dirUuid.get(parentPath(item.path)) ?? root, name, kind: item.kind, extension: ext,
          size: item.kind === 'file' ? item.size : 0, created_at: null, modified_at: item.modified, content_uuid: content,
          ...media,
        },
      });
    }
    const w = await deps.intents.writeFolderEntries(entries);
    if (!w.ok) return w;
    if (images.length) deps.onImagesWritten?.(images);
    done += entries.length;
    for (const w of batch) counts[w.what]++;
    deps.onProgress?.({ done, total });
    await deps.yieldToUi?.();
  }
  let removed = 0;
  if (!cancelled) {
    const gone = diff.removed.filter((x) => !moved.has(x.uuid)).map((x) => x.uuid);
    const r = await deps.intents.removeEntries(gone);
    if (!r.ok) return r;
    removed = gone.length;
  }
  if (!cancelled && deps.onImagesWritten) thumbnailsOfUnchanged(location, indexed, files, deps);
  const [t] = await deps.query("SELECT count(*) AS files, coalesce(sum(size), 0) AS bytes FROM entries WHERE location_uuid = ? AND kind = 'file'", [location]);
  const totals = { files: Number(t?.['files'] ?? 0), bytes: Number(t?.['bytes'] ?? 0) };
  const fin = await deps.intents.finishFolderLocation(location, totals);
  if (!fin.ok) return fin;
  return ok({ location, ...counts, removed, ...totals, cancelled, unreadable, mediaFailed });
}
