/**
 * Directory handles of picked folders, kept per location in IndexedDB (handles are
 * structured-cloneable), so "Rescan" can read the folder again without asking the user to
 * find it — after asking for permission again when the browser requires it.
 */
const DB = 'tabdrive:folder-handles';
const STORE = 'handles';

function open(idb: IDBFactory): Promise<IDBDatabase> {
  return new Promise((resolve, reject) => {
    const req = idb.open(DB, 1);
    req.onupgradeneeded = () => req.result.createObjectStore(STORE);
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(req.error ?? new Error('IndexedDB unavailable'));
  });
}

async function tx<T>(idb: IDBFactory, mode: IDBTransactionMode, fn: (s: IDBObjectStore) => IDBRequest): Promise<T> {
  const db = await open(idb);
  try {
    return await new Promise<T>((resolve, reject) => {
      const req = fn(db.transaction(STORE, mode).objectStore(STORE));
      req.onsuccess = () => resolve(req.result as T);
      req.onerror = () => reject(req.error ?? new Error('IndexedDB request failed'));
    });
  } finally {
    db.close();
  }
}

export interface HandleStore {
  save(location: string, handle: FileSystemDirectoryHandle): Promise<void>;
  load(location: string): Promise<FileSystemDirectoryHandle | null>;
  forget(location: string): Promise<void>;
}

export function createHandleStore(idb: IDBFactory): HandleStore {
  return {
    save: (location, handle) => tx<unknown>(idb, 'readwrite', (s) => s.put(handle, location)).then(() => undefined),
    load: async (location) => ((await tx<FileSystemDirectoryHandle | undefined>(idb, 'readonly', (s) => s.get(location))) ?? null),
    forget: (location) => tx<unknown>(idb, 'readwrite', (s) => s.delete(location)).then(() => undefined),
  };
}

/** Read permission for a stored handle, asking the user if needed (call from a click). */
export async function canRead(handle: FileSystemDirectoryHandle): Promise<boolean> {
  const h = handle as FileSystemDirectoryHandle & {
    queryPermission?: (d: { mode: 'read' }) => Promise<PermissionState>;
    requestPermission?: (d: { mode: 'read' }) => Promise<PermissionState>;
  };
  if (!h.queryPermission) return true;
  if ((await h.queryPermission({ mode: 'read' })) === 'granted') return true;
  return (await h.requestPermission?.({ mode: 'read' })) === 'granted';
}
