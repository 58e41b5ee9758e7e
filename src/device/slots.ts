/**
 * Which device this tab is (DESIGN §6). A slot = one device of a library, recorded in
 * the slot registry with its last-used time. A tab holds the Web Lock `tabdrive:device:<uuid>`
 * for as long as it is open, so two tabs can never be the same device.
 *
 *  1. sessionStorage names a device whose lock we can take → keep it (a reload).
 *  2. Its lock is held → a duplicated tab (it copied sessionStorage): behave as a new tab.
 *  3. A new tab adopts the most recently used slot whose lock it can take (close a tab, open
 *     the app again: same device, same data, nothing to download).
 *  4. Otherwise — or with `forceNew` ("New device") — create a new device.
 *
 * Everything the browser provides comes in as deps, so this runs in Node tests with fakes.
 */

export interface StorageLike {
  getItem(key: string): string | null;
  setItem(key: string, value: string): void;
}

export interface LocksLike {
  request(name: string, options: { ifAvailable: true }, cb: (lock: unknown) => Promise<unknown>): Promise<unknown>;
}

/** Where slots are recorded: IndexedDB in the browser (registry.ts), a Map in tests. */
export interface SlotRegistry {
  /** The library this browser opens; the first caller's candidate wins (atomic). */
  library(candidate: string): Promise<string>;
  /** The library's invite secret; the first caller's candidate wins (atomic). */
  secret(library: string, candidate: string): Promise<string>;
  /**
   * Make an invited library the one this browser opens. Its secret is stored if the browser
   * has none for it; a stored secret is replaced only with `replaceSecret` (the user said so:
   * a link's different secret would move this browser's devices into another room).
   */
  join(library: string, secret: string, replaceSecret?: boolean): Promise<void>;
  /** The secret stored for a library, if this browser holds it (stores nothing). */
  knownSecret(library: string): Promise<string | null>;
  /** Every library this browser holds (it opens one at a time). */
  libraries(): Promise<string[]>;
  /** Open another library this browser already holds. */
  open(library: string): Promise<void>;
  slots(library: string): Promise<Slot[]>;
  /** One slot, if the registry still has it (a claim checks again once it holds the lock). */
  slot(device: string): Promise<Slot | null>;
  put(slot: Slot): Promise<void>;
  /**
   * Retires a slot: no tab adopts that device again (a device the library forgot, or one
   * device/cleanup.ts found stale). In ONE transaction the slot goes and a grave naming its
   * database is written, so its databases are deleted later even after a crash here.
   */
  drop(device: string): Promise<void>;
  /** Retired slots whose databases may still exist. */
  graves(): Promise<Grave[]>;
  /** Its databases are deleted: the grave goes. */
  bury(device: string): Promise<void>;
  /**
   * "Rotate invite": replaces the library's secret `from` with `to` — only while `from` is
   * still the stored one (another tab of this browser may have moved it already, or to
   * another secret). Returns the secret stored afterwards.
   */
  rotate(library: string, from: string, to: string): Promise<string>;
  /** The device's key pair (made by `make` the first time; the first caller's wins). */
  deviceKeys<K>(device: string, make: () => Promise<K>, valid: (v: unknown) => v is K): Promise<K>;
}

/** A retired slot: its databases are deleted by whichever tab of this browser gets to it. */
export interface Grave {
  readonly device: string;
  readonly library: string;
}

export function createMemorySlotRegistry(): SlotRegistry {
  let lib: string | null = null;
  const all = new Map<string, Slot>();
  const secrets = new Map<string, string>();
  const graves = new Map<string, Grave>();
  const keys = new Map<string, unknown>();
  return {
    library: (candidate) => Promise.resolve((lib ??= candidate)),
    secret: (library, candidate) => Promise.resolve(secrets.get(library) ?? (secrets.set(library, candidate), candidate)),
    join: (library, secret, replaceSecret = false) => {
      lib = library;
      if (replaceSecret || !secrets.has(library)) secrets.set(library, secret);
      return Promise.resolve();
    },
    knownSecret: (library) => Promise.resolve(secrets.get(library) ?? null),
    libraries: () => Promise.resolve([...secrets.keys()]),
    open: (library) => {
      lib = library;
      return Promise.resolve();
    },
    slots: (l) => Promise.resolve([...all.values()].filter((s) => s.library === l)),
    slot: (device) => Promise.resolve(all.get(device) ?? null),
    put: (slot) => Promise.resolve(void all.set(slot.device, slot)),
    drop: (device) => {
      const slot = all.get(device);
      if (slot) graves.set(device, { device, library: slot.library });
      all.delete(device);
      return Promise.resolve();
    },
    graves: () => Promise.resolve([...graves.values()]),
    bury: (device) => Promise.resolve(void graves.delete(device)),
    rotate: (library, from, to) => {
      if (secrets.get(library) === from) secrets.set(library, to);
      return Promise.resolve(secrets.get(library) ?? to);
    },
    deviceKeys: async <K>(device: string, make: () => Promise<K>, valid: (v: unknown) => v is K): Promise<K> => {
      const kept = keys.get(device);
      if (valid(kept)) return kept;
      const made = await make();
      const again = keys.get(device);
      if (valid(again)) return again;
      keys.set(device, made);
      return made;
    },
  };
}

export interface SlotDeps {
  readonly session: StorageLike;
  readonly registry: SlotRegistry;
  readonly locks: LocksLike | null;
  readonly randomUuid: () => string;
  readonly now: () => number;
  readonly forceNew: boolean;
}

export interface Slot {
  readonly device: string;
  readonly library: string;
  readonly lastUsed: number;
  readonly name: string;
}

export interface Claim {
  readonly library: string;
  readonly device: string;
  readonly name: string;
  readonly how: 'reloaded' | 'adopted' | 'created';
  /** IndexedDB database of this device */
  readonly dbName: string;
  /** the IndexedDB databases of this library's other devices here, most recently used first */
  readonly siblings: readonly string[];
  /** releases the Web Lock (tests; a closing tab releases it by itself) */
  readonly release: () => void;
}

const SESSION_KEY = 'tabdrive:device';
export const lockName = (device: string): string => `tabdrive:device:${device}`;
export const dbNameOf = (library: string, device: string): string => `tabdrive:${library}:${device}`;

export function defaultDeviceName(browser: string, device: string): string {
  return `${browser} ${device.slice(0, 4)}`;
}

/** Holds the lock until released; resolves false at once if someone else holds it. */
async function tryLock(locks: LocksLike | null, device: string): Promise<(() => void) | null> {
  if (!locks) return () => undefined; // no Web Locks: best effort (sessionStorage only)
  let release!: () => void;
  const held = new Promise<void>((r) => (release = r));
  return new Promise((resolve) => {
    void locks.request(lockName(device), { ifAvailable: true }, (lock) => {
      if (!lock) {
        resolve(null);
        return Promise.resolve();
      }
      resolve(release);
      return held;
    });
  });
}

export async function claimDeviceSlot(deps: SlotDeps, browser: string): Promise<Claim> {
  const lib = await deps.registry.library(deps.randomUuid());
  const slots = await deps.registry.slots(lib);
  const finish = async (device: string, how: Claim['how'], release: () => void): Promise<Claim> => {
    const name = slots.find((s) => s.device === device)?.name ?? defaultDeviceName(browser, device);
    await deps.registry.put({ device, library: lib, lastUsed: deps.now(), name });
    deps.session.setItem(SESSION_KEY, device);
    const siblings = [...slots].filter((s) => s.device !== device).sort((a, b) => b.lastUsed - a.lastUsed).map((s) => dbNameOf(lib, s.device));
    return { library: lib, device, name, how, dbName: dbNameOf(lib, device), siblings, release };
  };
  if (!deps.forceNew) {
    const mine = deps.session.getItem(SESSION_KEY);
    if (mine && slots.some((s) => s.device === mine)) {
      const release = await tryLock(deps.locks, mine);
      // retired while the page reloaded (its lock was free): a new device, as below
      if (release && (await deps.registry.slot(mine))) return finish(mine, 'reloaded', release);
      release?.();
    }
    for (const s of [...slots].sort((a, b) => b.lastUsed - a.lastUsed)) {
      if (s.device === mine) continue;
      const release = await tryLock(deps.locks, s.device);
      if (!release) continue;
      // Cleanup (device/cleanup.ts) retires a slot only while it holds the slot's lock: now
      // that we hold it, a slot still in the registry is not being retired and never will be
      // under us; one that is gone was retired after our list was read — its databases are
      // being deleted, so adopting it would start that device over from nothing.
      if (await deps.registry.slot(s.device)) return finish(s.device, 'adopted', release);
      release();
    }
  }
  for (;;) {
    const device = deps.randomUuid();
    const release = await tryLock(deps.locks, device);
    if (release) return finish(device, 'created', release);
  }
}
