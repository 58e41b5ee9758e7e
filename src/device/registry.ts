/**
 * The slot registry in IndexedDB (`tabdrive:registry`): which library this browser opens and
 * which devices it has, each write durable ('strict') before the device boots.
 */
import type { Slot, SlotRegistry } from './slots.ts';

const req = <T>(r: IDBRequest<T>): Promise<T> =>
  new Promise((res, rej) => {
    r.onsuccess = () => res(r.result);
    r.onerror = () => rej(r.error ?? new Error('IndexedDB request failed'));
  });

export async function openSlotRegistry(idb: IDBFactory): Promise<SlotRegistry> {
  const open = idb.open('tabdrive:registry', 1);
  open.onupgradeneeded = () => {
    open.result.createObjectStore('meta');
    open.result.createObjectStore('slots', { keyPath: 'device' });
  };
  const db = await req(open);
  const write = (store: string, fn: (s: IDBObjectStore) => void): Promise<void> =>
    new Promise((res, rej) => {
      const t = db.transaction(store, 'readwrite', { durability: 'strict' });
      fn(t.objectStore(store));
      t.oncomplete = () => res();
      t.onabort = () => rej(t.error ?? new Error('IndexedDB transaction aborted'));
    });
  /** get-or-put in ONE transaction: two tabs opened at once agree on the value. */
  const getOrPut = (key: string, candidate: string): Promise<string> =>
    new Promise((res, rej) => {
      const t = db.transaction('meta', 'readwrite', { durability: 'strict' });
      const store = t.objectStore('meta');
      let value = candidate;
      const g = store.get(key);
      g.onsuccess = () => {
        if (typeof g.result === 'string') value = g.result;
        else store.put(candidate, key);
      };
      t.oncomplete = () => res(value);
      t.onabort = () => rej(t.error ?? new Error('IndexedDB transaction aborted'));
    });
  return {
    library: (candidate) => getOrPut('library', candidate),
    secret: (library, candidate) => getOrPut(`secret:${library}`, candidate),
    libraries: async () =>
      (await req(db.transaction('meta').objectStore('meta').getAllKeys()))
        .map((k) => (typeof k === 'string' ? k : ''))
        .filter((k) => k.startsWith('secret:'))
        .map((k) => k.slice('secret:'.length)),
    open: (library) => write('meta', (s) => s.put(library, 'library')),
    join: (library, secret, replaceSecret = false) =>
      write('meta', (s) => {
        s.put(library, 'library');
        if (replaceSecret) s.put(secret, `secret:${library}`);
        else s.add(secret, `secret:${library}`).onerror = (e) => e.preventDefault(); // kept: ConstraintError
      }),
    knownSecret: async (library) => {
      const v: unknown = await req(db.transaction('meta').objectStore('meta').get(`secret:${library}`));
      return typeof v === 'string' ? v : null;
    },
    slots: async (library) => ((await req(db.transaction('slots').objectStore('slots').getAll())) as Slot[]).filter((s) => s.library === library),
    put: (slot) => write('slots', (s) => s.put(slot)),
  };
}
