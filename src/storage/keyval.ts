/**
 * The main thread's small key-value state (kept directory handles, the device-slot registry)
 * goes through idb-keyval (`get`, `set`, `update`, `del`, `entries`…): one database with one
 * object store each, out-of-line keys. The journal and images do not (see journal.ts).
 *
 * This is idb-keyval's `createStore` with two things it cannot say:
 *  - the durability of its transactions: createStore takes the browser's default, which
 *    Chromium made 'relaxed' in version 121, and the slot registry must be on disk before the
 *    device boots (ARCHITECTURE "Device slots");
 *  - the IndexedDB factory: createStore opens the global `indexedDB`; taking it as a parameter
 *    lets a Node test give each simulated browser its own fake-indexeddb.
 * Otherwise it opens the same layout createStore does — the database without a version, its
 * one store created on the first open — so either opens a database the other made. Unlike
 * createStore, the connection closes when another asks for a version change, so a later
 * layout change is not blocked by a tab left open.
 */
import { promisifyRequest, type UseStore } from 'idb-keyval';

export function keyvalStore(idb: IDBFactory, dbName: string, storeName: string, durability: IDBTransactionDurability = 'default'): UseStore {
  let connection: Promise<IDBDatabase> | undefined;
  const open = (): Promise<IDBDatabase> => {
    if (connection) return connection;
    const request = idb.open(dbName);
    request.onupgradeneeded = () => request.result.createObjectStore(storeName);
    const opened = promisifyRequest(request);
    const forget = () => {
      if (connection === opened) connection = undefined;
    };
    connection = opened;
    void opened.then(
      (db) => {
        db.onclose = forget; // the browser closed it (storage cleared): reopen on next use
        db.onversionchange = () => {
          db.close();
          forget();
        };
      },
      forget,
    );
    return opened;
  };
  return (mode, callback) => open().then((db) => callback(db.transaction(storeName, mode, { durability }).objectStore(storeName)));
}
