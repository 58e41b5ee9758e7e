/**
 * Directory handles of picked folders, kept per location in IndexedDB (handles are
 * structured-cloneable), so "Rescan" can read the folder again without asking the user to
 * find it — after asking for permission again when the browser requires it.
 */
import { del, get, set } from 'idb-keyval';
import { keyvalStore } from '../storage/keyval.ts';

/** The layout since the first version: database `tabdrive:folder-handles`, one store `handles`,
 * key = location uuid (out-of-line), value = the handle — what idb-keyval keeps, unchanged. */
const DB = 'tabdrive:folder-handles';
const STORE = 'handles';

export interface HandleStore {
  save(location: string, handle: FileSystemDirectoryHandle): Promise<void>;
  /** null when none is kept, or when what is kept is not a directory handle */
  load(location: string): Promise<FileSystemDirectoryHandle | null>;
  forget(location: string): Promise<void>;
}

/** A stored value is used only if it is a directory handle (kind checked, not assumed). */
const isDirectoryHandle = (v: unknown): v is FileSystemDirectoryHandle =>
  typeof v === 'object' && v !== null && (v as { kind?: unknown }).kind === 'directory';

export function createHandleStore(idb: IDBFactory): HandleStore {
  // default durability: a handle lost to a power cut costs picking the folder again
  const store = keyvalStore(idb, DB, STORE);
  return {
    save: (location, handle) => set(location, handle, store),
    load: async (location) => {
      const kept = await get<unknown>(location, store);
      return isDirectoryHandle(kept) ? kept : null;
    },
    forget: (location) => del(location, store),
  };
}

/** Read permission for a stored handle, asking the user if needed (call from a click). */
export async function canRead(handle: FileSystemDirectoryHandle, ask = true): Promise<boolean> {
  const h = handle as FileSystemDirectoryHandle & {
    queryPermission?: (d: { mode: 'read' }) => Promise<PermissionState>;
    requestPermission?: (d: { mode: 'read' }) => Promise<PermissionState>;
  };
  if (!h.queryPermission) return true;
  if ((await h.queryPermission({ mode: 'read' })) === 'granted') return true;
  if (!ask) return false;
  return (await h.requestPermission?.({ mode: 'read' })) === 'granted';
}
