/**
 * Folders picked from disk, as pure data: paths relative to the folder ('' is the folder
 * itself, 'a/b.txt' a file two levels down), what a scan found, and what changed since the
 * last one. The indexer (src/indexer) walks the disk; this decides what to write.
 */

export interface ScannedItem {
  /** relative path, '/'-separated, no leading slash; never '' (the root is implicit) */
  readonly path: string;
  readonly kind: 'file' | 'dir';
  readonly size: number;
  readonly modified: number | null;
}

export interface IndexedItem extends ScannedItem {
  readonly uuid: string;
}

export interface FolderDiff {
  readonly added: readonly ScannedItem[];
  /** same path and kind, different size or modification time */
  readonly changed: readonly { readonly uuid: string; readonly item: ScannedItem }[];
  readonly removed: readonly IndexedItem[];
}

export const parentPath = (path: string): string => {
  const i = path.lastIndexOf('/');
  return i < 0 ? '' : path.slice(0, i);
};
export const baseName = (path: string): string => path.slice(path.lastIndexOf('/') + 1);

/** Lower-case extension ('tar.gz' for archives), null for none or a dotfile. */
export function extensionOf(name: string): string | null {
  const lower = name.toLowerCase();
  if (lower.endsWith('.tar.gz')) return 'tar.gz';
  const i = lower.lastIndexOf('.');
  return i <= 0 || i === lower.length - 1 ? null : lower.slice(i + 1);
}

/**
 * Every directory a list of items implies (a file input lists files only: 'a/b/c.txt'
 * implies 'a' and 'a/b'), added to the items, parents before children.
 */
export function withDirectories(items: readonly ScannedItem[]): ScannedItem[] {
  const dirs = new Map<string, ScannedItem>();
  const files: ScannedItem[] = [];
  for (const it of items) {
    if (it.kind === 'dir') dirs.set(it.path, it);
    else files.push(it);
    for (let p = parentPath(it.path); p && !dirs.has(p); p = parentPath(p)) dirs.set(p, { path: p, kind: 'dir', size: 0, modified: null });
  }
  const depth = (p: string) => p.split('/').length;
  const sortedDirs = [...dirs.values()].sort((a, b) => depth(a.path) - depth(b.path) || (a.path < b.path ? -1 : 1));
  return [...sortedDirs, ...files.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0))];
}

/** What a re-scan changes: additions, modifications and deletions, by path. */
export function diffFolder(indexed: readonly IndexedItem[], scanned: readonly ScannedItem[]): FolderDiff {
  const before = new Map(indexed.map((i) => [i.path, i]));
  const now = new Map(scanned.map((s) => [s.path, s]));
  const added: ScannedItem[] = [];
  const changed: { uuid: string; item: ScannedItem }[] = [];
  const removed: IndexedItem[] = [];
  for (const s of scanned) {
    const b = before.get(s.path);
    if (!b || b.kind !== s.kind) added.push(s);
    else if (s.kind === 'file' && (b.size !== s.size || b.modified !== s.modified)) changed.push({ uuid: b.uuid, item: s });
  }
  for (const b of indexed) {
    const s = now.get(b.path);
    if (!s || s.kind !== b.kind) removed.push(b);
  }
  return { added, changed, removed };
}
