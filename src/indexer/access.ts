/**
 * Reading a file of the library on this device: from the files picked with the "Folder" input
 * (kept in memory for this tab's life — the browser gives no way to read them again later) or
 * from the location's kept directory handle (walked by path, after asking for permission when
 * the browser requires it). Everything else — sample locations, other devices' files, a
 * handle whose permission is gone — is a reason in plain words, never an exception.
 */
import type { HandleStore } from './handles.ts';
import { canRead } from './handles.ts';

export interface FileRef {
  readonly location: string;
  /** `picked://…` or `sample://…` */
  readonly locationPath: string | null;
  /** the device that holds the file, and its name */
  readonly device: string | null;
  readonly deviceName: string | null;
  /** path inside the location, `/`-separated, without the location's own folder */
  readonly path: string;
}

export type FileLookup =
  | { readonly ok: true; readonly file: File }
  | { readonly ok: false; readonly reason: 'other-device' | 'sample' | 'not-kept' | 'permission' | 'missing'; readonly message: string };

interface DirLike {
  getDirectoryHandle(name: string): Promise<DirLike>;
  getFileHandle(name: string): Promise<{ getFile(): Promise<File> }>;
}

export class FileAccess {
  /** location → path inside it → the picked File */
  readonly #picked = new Map<string, Map<string, File>>();

  constructor(private readonly handles: HandleStore | null) {}

  /** Files picked with the input for a location (replaces what was kept for it). */
  remember(location: string, files: Iterable<{ readonly path: string; readonly file: File }>): void {
    const m = new Map<string, File>();
    for (const f of files) m.set(f.path, f.file);
    this.#picked.set(location, m);
  }

  forget(location: string): void {
    this.#picked.delete(location);
  }

  /** The file, or why this device cannot read it. `self`: this device's uuid. Call from a user
   *  gesture (permission prompt), or with `ask: false` (serving a peer: no prompt, no gesture). */
  async open(ref: FileRef, self: string, o: { readonly ask?: boolean } = {}): Promise<FileLookup> {
    if (ref.device !== self) {
      return { ok: false, reason: 'other-device', message: `This file is on ${ref.deviceName ?? 'another device'}; only that device can read it.` };
    }
    if (ref.locationPath?.startsWith('sample://')) {
      return { ok: false, reason: 'sample', message: 'This is a sample file: it has a name and a size, but no content to show.' };
    }
    const picked = this.#picked.get(ref.location)?.get(ref.path);
    if (picked) return readable(picked);
    const handle = await this.handles?.load(ref.location).catch(() => null);
    if (!handle) {
      return { ok: false, reason: 'not-kept', message: 'This device cannot read this folder any more: pick it again with “Rescan” to preview its files.' };
    }
    if (!(await canRead(handle, o.ask ?? true).catch(() => false))) {
      return { ok: false, reason: 'permission', message: 'Permission to read this folder was not given, so its files cannot be shown.' };
    }
    try {
      const parts = ref.path.split('/').filter(Boolean);
      const name = parts.pop();
      if (!name) throw new DOMException('empty path', 'NotFoundError');
      let dir = handle as unknown as DirLike;
      for (const p of parts) dir = await dir.getDirectoryHandle(p);
      return readable(await (await dir.getFileHandle(name)).getFile());
    } catch (e) {
      const denied = e instanceof DOMException && (e.name === 'NotAllowedError' || e.name === 'SecurityError');
      return denied
        ? { ok: false, reason: 'permission', message: 'Permission to read this folder was not given, so its files cannot be shown.' }
        : { ok: false, reason: 'missing', message: 'The file is no longer where it was indexed (moved, renamed or deleted): rescan the folder.' };
    }
  }
}

/** A File snapshot that changed on disk afterwards fails on read: find out now, not in the viewer. */
async function readable(file: File): Promise<FileLookup> {
  try {
    await file.slice(0, 1).arrayBuffer();
    return { ok: true, file };
  } catch {
    return { ok: false, reason: 'missing', message: 'The file changed or vanished on disk since it was picked: rescan the folder.' };
  }
}
