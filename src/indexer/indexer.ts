/**
 * Indexes a picked folder into a location of this device, through the intents (one path for
 * every change): folders and files as entries, and per file a content identity from its
 * sampled content hash. A re-scan diffs the folder against what is indexed and writes only
 * additions, changes and deletions.
 *
 * Runs on the main thread in small batches (hashing reads ≤ 48 KiB per file, off-thread in
 * the browser's file reader; each batch yields to the UI), so the app stays responsive and
 * "Cancel" takes effect within one batch. Whatever was written before a cancel or an error
 * stays, and the location's totals say what is there.
 */
import { contentHash } from '../core/content-hash.ts';
import type { Fields } from '../core/change.ts';
import { baseName, diffFolder, extensionOf, parentPath, withDirectories, type IndexedItem, type ScannedItem } from '../core/folder.ts';
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

/** Files (with their content identities) per commit: keeps each Yjs update ~150 KB. */
const BATCH = 200;

const KINDS: Record<string, string> = {
  jpg: 'image', jpeg: 'image', png: 'image', gif: 'image', webp: 'image', heic: 'image', svg: 'image',
  mp4: 'video', mov: 'video', mkv: 'video', webm: 'video', mp3: 'audio', flac: 'audio', wav: 'audio', m4a: 'audio',
  pdf: 'document', md: 'text', txt: 'text', doc: 'document', docx: 'document', xlsx: 'document',
  zip: 'archive', 'tar.gz': 'archive', '7z': 'archive',
};

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

/** What is indexed for a location, with paths rebuilt from the parent links. */
async function indexedItems(location: string, root: string, deps: IndexDeps): Promise<IndexedItem[]> {
  const rows = await deps.query('SELECT uuid, parent_uuid, name, kind, size, modified_at FROM entries WHERE location_uuid = ?', [location]);
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
  const out: IndexedItem[] = [];
  for (const r of rows) {
    const uuid = String(r['uuid']);
    if (uuid === root) continue;
    const path = pathOf(uuid);
    if (path === null) continue;
    out.push({ uuid, path, kind: r['kind'] === 'dir' ? 'dir' : 'file', size: Number(r['size'] ?? 0), modified: r['modified_at'] === null ? null : Number(r['modified_at']) });
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

async function sync(location: string, root: string, indexed: IndexedItem[], folder: PickedFolder, deps: IndexDeps): Promise<Result<IndexReport, IntentError>> {
  const scanned = withDirectories(folder.items);
  const files = new Map<string, PickedFile>();
  for (const it of folder.items) if (isPickedFile(it)) files.set(it.path, it);
  const diff = diffFolder(indexed, scanned);
  const dirUuid = new Map<string, string>([['', root]]);
  for (const i of indexed) if (i.kind === 'dir') dirUuid.set(i.path, i.uuid);
  // New folders get their ids first, so children in any batch find their parent.
  const work: { uuid: string; item: ScannedItem }[] = [];
  for (const it of diff.added) {
    const uuid = deps.randomUuid();
    if (it.kind === 'dir') dirUuid.set(it.path, uuid);
    work.push({ uuid, item: it });
  }
  work.push(...diff.changed);
  const total = work.length;
  const unreadable: string[] = [];
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
    const contents: { hash: string; size: number; kind: string | null }[] = [];
    const images: { content: string; file: File; kind: 'image' | 'video' }[] = [];
    for (const { uuid, item } of work.slice(i, i + BATCH)) {
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
        try {
          const hash = await contentHash(f.size, { read: async (o, n) => new Uint8Array(await f.file.slice(o, o + n).arrayBuffer()), digest: deps.digest });
          content = contentUuid(hash);
          contents.push({ hash, size: f.size, kind: (ext && KINDS[ext]) ?? null });
          const thumb = thumbnailKind(ext);
          if (thumb) images.push({ content, file: f.file, kind: thumb });
        } catch {
          unreadable.push(item.path);
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
    const w = await deps.intents.writeFolderEntries(entries, contents);
    if (!w.ok) return w;
    if (images.length) deps.onImagesWritten?.(images);
    done += entries.length;
    deps.onProgress?.({ done, total });
    await deps.yieldToUi?.();
  }
  let removed = 0;
  if (!cancelled) {
    const r = await deps.intents.removeEntries(diff.removed.map((x) => x.uuid));
    if (!r.ok) return r;
    removed = diff.removed.length;
  }
  if (!cancelled && deps.onImagesWritten) thumbnailsOfUnchanged(location, indexed, files, deps);
  const [t] = await deps.query("SELECT count(*) AS files, coalesce(sum(size), 0) AS bytes FROM entries WHERE location_uuid = ? AND kind = 'file'", [location]);
  const totals = { files: Number(t?.['files'] ?? 0), bytes: Number(t?.['bytes'] ?? 0) };
  const fin = await deps.intents.finishFolderLocation(location, totals);
  if (!fin.ok) return fin;
  const added = Math.min(done, diff.added.length);
  return ok({ location, added, changed: Math.max(0, done - diff.added.length), removed, ...totals, cancelled, unreadable, mediaFailed });
}
