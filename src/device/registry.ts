/**
 * The slot registry in IndexedDB, through idb-keyval: which library this browser opens, each
 * library's invite secret, and this browser's devices. Database `tabdrive:registry`, one store
 * `meta`, out-of-line keys:
 *
 *   'library'           → the library this browser opens (string)
 *   'secret:<library>'  → that library's invite secret (string)
 *   'slot:<device>'     → Slot { device, library, lastUsed, name }
 *   'gone:<device>'     → Grave { device, library }: a retired slot whose databases are to be
 *                         deleted (device/cleanup.ts); written in the transaction that removes
 *                         the slot, removed once they are
 *   'keys:<device>'     → { privateKey: CryptoKey (non-extractable), publicKey } ("Rotate invite")
 *
 * Every write is 'strict': on disk before the device boots (ARCHITECTURE "Device slots").
 *
 * Upgrade from the first layout, which kept slots in a second store `slots` (keyPath
 * 'device') of the same database: at open, the slots still there move into `meta` in ONE
 * transaction (copy, then clear), so a browser keeps its devices; a slot `meta` already has
 * wins (it was written since). The emptied store stays: dropping it takes a version change,
 * and a tab of the previous version keeps its connection for its whole life without a
 * `versionchange` handler, so a new tab opened beside it would wait at boot until it closes.
 */
import { del, entries, get, keys, promisifyRequest, set, update, type UseStore } from 'idb-keyval';
import { keyvalStore } from '../storage/keyval.ts';
import type { Grave, Slot, SlotRegistry } from './slots.ts';

const DB = 'tabdrive:registry';
const STORE = 'meta';
/** the first layout's slot store (see the header) */
const LEGACY_SLOTS = 'slots';
const LIBRARY = 'library';
const secretKey = (library: string): string => `secret:${library}`;
const slotKey = (device: string): string => `slot:${device}`;
const graveKey = (device: string): string => `gone:${device}`;

/** The Web Locks the registry needs: exclusive, waiting (navigator.locks). */
export interface RegistryLocks {
  request<T>(name: string, cb: () => Promise<T>): Promise<T>;
}
export const REGISTRY_LOCK = 'tabdrive:registry';

export interface IdbSlotRegistry extends SlotRegistry {
  /** slots moved from the first layout at this open; malformed records skipped since (per read) */
  stats(): { readonly migrated: number; readonly invalid: number };
}

const isSlot = (v: unknown): v is Slot => {
  if (typeof v !== 'object' || v === null) return false;
  const s = v as Record<string, unknown>;
  return typeof s['device'] === 'string' && typeof s['library'] === 'string' && typeof s['name'] === 'string'
    && typeof s['lastUsed'] === 'number' && Number.isFinite(s['lastUsed']);
};

/**
 * Moves the first layout's slots into `meta` (see the header). One transaction over both
 * stores, so a kill leaves either both layouts as they were or the move done, and two tabs
 * opening at once move each slot once (IndexedDB orders the two). Returns how many moved,
 * and how many were dropped for having no device id.
 */
async function migrateLegacySlots(store: UseStore): Promise<{ moved: number; dropped: number }> {
  const db = await store('readonly', (s) => s.transaction.db);
  if (!db.objectStoreNames.contains(LEGACY_SLOTS)) return { moved: 0, dropped: 0 };
  const tx = db.transaction([STORE, LEGACY_SLOTS], 'readwrite', { durability: 'strict' });
  const legacy = tx.objectStore(LEGACY_SLOTS);
  const meta = tx.objectStore(STORE);
  // the requests' promises settle while the transaction is active, so the puts below join it
  const [devices, slots, present] = await Promise.all([
    promisifyRequest(legacy.getAllKeys()),
    promisifyRequest(legacy.getAll()),
    promisifyRequest(meta.getAllKeys()),
  ]);
  const have = new Set(present);
  let moved = 0;
  let dropped = 0;
  devices.forEach((device, i) => {
    if (typeof device !== 'string') return void dropped++; // no device id: never a usable slot
    const key = slotKey(device);
    if (have.has(key)) return;
    meta.put(slots[i], key); // as it was: a malformed record is skipped (and counted) when read
    moved++;
  });
  legacy.clear();
  await promisifyRequest(tx);
  return { moved, dropped };
}

export async function openSlotRegistry(idb: IDBFactory, locks: RegistryLocks | null): Promise<IdbSlotRegistry> {
  const store = keyvalStore(idb, DB, STORE, 'strict');
  // IndexedDB already orders readwrite transactions on one store across tabs, so one `update`
  // is atomic; the Web Lock keeps each read-modify-write exclusive whatever the store does
  // underneath (fake-indexeddb in Node, a future split into get + set).
  const exclusive = <T>(fn: () => Promise<T>): Promise<T> => (locks ? locks.request(REGISTRY_LOCK, fn) : fn());
  // Opens the database here, so a browser without IndexedDB fails now (main.ts falls back).
  const { moved: migrated, dropped } = await exclusive(() => migrateLegacySlots(store));
  let invalid = dropped;
  /** get-or-put: the first caller's candidate wins, and tabs opened at once agree on it. */
  const getOrPut = (key: string, candidate: string): Promise<string> =>
    exclusive(async () => {
      const kept = await get<unknown>(key, store); // most boots: read only, no strict write
      if (typeof kept === 'string') return kept;
      let value = candidate;
      await update<unknown>(key, (old) => {
        if (typeof old === 'string') value = old;
        else if (old !== undefined) invalid++; // not a string: replaced, as if absent
        return value;
      }, store);
      return value;
    });
  return {
    library: (candidate) => getOrPut(LIBRARY, candidate),
    secret: (library, candidate) => getOrPut(secretKey(library), candidate),
    libraries: async () =>
      (await keys(store)).flatMap((k) => (typeof k === 'string' && k.startsWith('secret:') ? [k.slice('secret:'.length)] : [])),
    open: (library) => set(LIBRARY, library, store),
    join: (library, secret, replaceSecret = false) =>
      exclusive(async () => {
        await set(LIBRARY, library, store);
        // a secret this browser already keeps is replaced only when the user said so
        if (replaceSecret) await set(secretKey(library), secret, store);
        else await update<unknown>(secretKey(library), (kept) => (typeof kept === 'string' ? kept : secret), store);
      }),
    knownSecret: async (library) => {
      const v = await get<unknown>(secretKey(library), store);
      return typeof v === 'string' ? v : null;
    },
    slots: async (library) => {
      const found: Slot[] = [];
      for (const [key, value] of await entries<IDBValidKey, unknown>(store)) {
        if (typeof key !== 'string' || !key.startsWith('slot:')) continue;
        if (!isSlot(value)) invalid++;
        else if (value.library === library) found.push(value);
      }
      return found;
    },
    slot: async (device) => {
      const v = await get<unknown>(slotKey(device), store);
      return isSlot(v) ? v : null;
    },
    put: (slot) => set(slotKey(slot.device), slot, store),
    drop: (device) =>
      exclusive(() =>
        store('readwrite', async (s) => {
          const slot: unknown = await promisifyRequest(s.get(slotKey(device)));
          // one transaction: the slot goes and its grave comes, or neither
          if (isSlot(slot)) s.put({ device, library: slot.library } satisfies Grave, graveKey(device));
          s.delete(slotKey(device));
          s.delete(`keys:${device}`); // its key pair ("Rotate invite") goes with it
          await promisifyRequest(s.transaction);
        }),
      ),
    graves: async () => {
      const found: Grave[] = [];
      for (const [key, value] of await entries<IDBValidKey, unknown>(store)) {
        if (typeof key !== 'string' || !key.startsWith('gone:')) continue;
        const g = value as Partial<Grave> | null;
        if (g && typeof g.device === 'string' && typeof g.library === 'string') found.push({ device: g.device, library: g.library });
        else invalid++;
      }
      return found;
    },
    bury: (device) => del(graveKey(device), store),
    rotate: (library, from, to) =>
      exclusive(async () => {
        let now = to;
        await update<unknown>(secretKey(library), (kept) => (now = kept === from || typeof kept !== 'string' ? to : kept), store);
        return now;
      }),
    deviceKeys: <K>(device: string, make: () => Promise<K>, valid: (v: unknown) => v is K): Promise<K> =>
      exclusive(async () => {
        const kept = await get<unknown>(`keys:${device}`, store);
        if (valid(kept)) return kept;
        if (kept !== undefined) invalid++;
        const made = await make();
        await set(`keys:${device}`, made, store);
        return made;
      }),
    stats: () => ({ migrated, invalid }),
  };
}
