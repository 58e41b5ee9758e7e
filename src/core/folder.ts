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

function bucket<K, V>(map: Map<K, V>, key: K, make: () => V): V {
  let v = map.get(key);
  if (v === undefined) map.set(key, (v = make()));
  return v;
}

/** A file the last scan indexed that is gone from its path now. */
export interface Vanished {
  readonly uuid: string;
  readonly path: string;
  readonly size: number;
  /** its content identity (content uuid), null if it was never read */
  readonly content: string | null;
}

/** A file at a path the last scan did not see. */
export interface Appeared {
  readonly path: string;
  readonly size: number;
  readonly content: string | null;
}

export interface Move {
  /** the entry that keeps its identity (and with it its tags, notes, favourite and albums) */
  readonly uuid: string;
  readonly from: string;
  readonly to: string;
}

/**
 * Which vanished files reappeared elsewhere in the same location (moved or renamed): a
 * vanished and an appeared file with the same size and content identity are one file, so it
 * keeps its entry. The rules, so that every device and every re-scan decides the same way:
 *
 * - Only files with a content identity and at least one byte. An empty file has no content
 *   to recognise it by (every empty file shares one identity), so it is never carried over.
 * - A copy is not a move: its source is still at its path, so it never vanished; the copy is
 *   a new entry (tags on the *content* reach it anyway, tags on the entry stay with the source).
 * - Several vanished and several appeared files with the same content (copies moved together,
 *   or one of two copies deleted while the other moved) are paired by likeness, in passes:
 *   first the same file name (moved to another folder), then the same folder (renamed in
 *   place), then whatever is left; within a pass, in path order. A vanished file left without
 *   a partner is removed, an appeared one without a partner is new.
 * - A file that was moved *and* changed is not recognised (its content differs): it becomes a
 *   new entry, as it would on any file system scanner that identifies by content.
 */
export function matchMoves(vanished: readonly Vanished[], appeared: readonly Appeared[]): Move[] {
  const key = (size: number, content: string | null): string | null => (content !== null && size > 0 ? `${size}\u0000${content}` : null);
  const groups = new Map<string, { gone: Vanished[]; here: Appeared[] }>();
  for (const v of vanished) {
    const k = key(v.size, v.content);
    if (k !== null) bucket(groups, k, () => ({ gone: [], here: [] })).gone.push(v);
  }
  for (const a of appeared) {
    const k = key(a.size, a.content);
    const g = k === null ? undefined : groups.get(k);
    if (g) g.here.push(a);
  }
  const byPath = (x: { path: string }, y: { path: string }): number => (x.path < y.path ? -1 : x.path > y.path ? 1 : 0);
  const moves: Move[] = [];
  const passes: ((path: string) => string)[] = [baseName, parentPath, () => ''];
  for (const g of groups.values()) {
    if (!g.here.length) continue;
    let gone = [...g.gone].sort(byPath);
    let here = [...g.here].sort(byPath);
    for (const likeness of passes) {
      if (!gone.length || !here.length) break;
      const waiting = new Map<string, Vanished[]>();
      for (const v of gone) bucket(waiting, likeness(v.path), () => []).push(v);
      const paired = new Set<Vanished>();
      const left: Appeared[] = [];
      for (const a of here) {
        const v = waiting.get(likeness(a.path))?.shift();
        if (v) {
          paired.add(v);
          moves.push({ uuid: v.uuid, from: v.path, to: a.path });
        } else left.push(a);
      }
      gone = gone.filter((v) => !paired.has(v));
      here = left;
    }
  }
  return moves.sort((x, y) => (x.to < y.to ? -1 : x.to > y.to ? 1 : 0));
}
