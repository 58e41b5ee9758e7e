/**
 * Where a picked folder's files come from: the `<input type=file webkitdirectory>` list (every
 * browser; files only, so empty folders are not seen) or a File System Access directory
 * handle (Chromium; walks every folder, and can be read again later for a re-scan).
 */
import type { ScannedItem } from '../core/folder.ts';

export interface PickedFile extends ScannedItem {
  readonly kind: 'file';
  readonly file: File;
}

export interface PickedFolder {
  readonly name: string;
  /** files, and folders seen explicitly (a directory walk sees empty ones) */
  readonly items: readonly (PickedFile | ScannedItem)[];
}

/** From a webkitdirectory file list: `webkitRelativePath` is "<folder>/<path inside>". */
export function fromFileList(list: ArrayLike<File>): PickedFolder | null {
  let name: string | null = null;
  const items: PickedFile[] = [];
  for (let i = 0; i < list.length; i++) {
    const file = list[i]!;
    const rel = file.webkitRelativePath || file.name;
    const slash = rel.indexOf('/');
    name ??= slash > 0 ? rel.slice(0, slash) : 'Folder';
    const path = slash > 0 ? rel.slice(slash + 1) : rel;
    if (!path) continue;
    items.push({ path, kind: 'file', size: file.size, modified: file.lastModified, file });
  }
  return name === null ? null : { name, items };
}

interface DirHandle {
  readonly kind: 'directory';
  readonly name: string;
  values(): AsyncIterable<DirHandle | FileHandle>;
}
interface FileHandle {
  readonly kind: 'file';
  readonly name: string;
  getFile(): Promise<File>;
}

/** Walks a directory handle (depth first). Unreadable files are reported, not fatal. */
export async function fromDirectoryHandle(root: FileSystemDirectoryHandle, signal: AbortSignal, onSeen?: (n: number) => void): Promise<{ folder: PickedFolder; unreadable: string[] }> {
  const items: (PickedFile | ScannedItem)[] = [];
  const unreadable: string[] = [];
  const walk = async (dir: DirHandle, prefix: string): Promise<void> => {
    for await (const h of dir.values()) {
      if (signal.aborted) return;
      const path = prefix ? `${prefix}/${h.name}` : h.name;
      if (h.kind === 'directory') {
        items.push({ path, kind: 'dir', size: 0, modified: null });
        await walk(h, path);
      } else {
        try {
          const file = await h.getFile();
          items.push({ path, kind: 'file', size: file.size, modified: file.lastModified, file });
        } catch {
          unreadable.push(path);
        }
      }
      if (items.length % 500 === 0) onSeen?.(items.length);
    }
  };
  await walk(root, '');
  return { folder: { name: root.name, items }, unreadable };
}

export const isPickedFile = (x: PickedFile | ScannedItem): x is PickedFile => x.kind === 'file' && 'file' in x;
