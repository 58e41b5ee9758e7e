/**
 * Which device this tab is (DESIGN §6). A slot = one device of a library, recorded in
 * localStorage with its last-used time. A tab holds the Web Lock `tabdrive:device:<uuid>`
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

export interface SlotDeps {
  readonly session: StorageLike;
  readonly local: StorageLike;
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
  /** releases the Web Lock (tests; a closing tab releases it by itself) */
  readonly release: () => void;
}

const LIBRARY_KEY = 'tabdrive:library';
const SESSION_KEY = 'tabdrive:device';
const slotsKey = (library: string): string => `tabdrive:slots:${library}`;
export const lockName = (device: string): string => `tabdrive:device:${device}`;
export const dbNameOf = (library: string, device: string): string => `tabdrive:${library}:${device}`;

export function readSlots(local: StorageLike, library: string): Slot[] {
  try {
    const v: unknown = JSON.parse(local.getItem(slotsKey(library)) ?? '[]');
    return Array.isArray(v) ? (v as Slot[]).filter((s) => typeof s?.device === 'string') : [];
  } catch {
    return [];
  }
}

function writeSlot(local: StorageLike, slot: Slot): void {
  const others = readSlots(local, slot.library).filter((s) => s.device !== slot.device);
  local.setItem(slotsKey(slot.library), JSON.stringify([...others, slot]));
}

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
  let library = deps.local.getItem(LIBRARY_KEY);
  if (!library) {
    library = deps.randomUuid();
    deps.local.setItem(LIBRARY_KEY, library);
  }
  const slots = readSlots(deps.local, library);
  const finish = (device: string, how: Claim['how'], release: () => void): Claim => {
    const name = slots.find((s) => s.device === device)?.name ?? defaultDeviceName(browser, device);
    writeSlot(deps.local, { device, library, lastUsed: deps.now(), name });
    deps.session.setItem(SESSION_KEY, device);
    return { library, device, name, how, dbName: dbNameOf(library, device), release };
  };
  if (!deps.forceNew) {
    const mine = deps.session.getItem(SESSION_KEY);
    if (mine && slots.some((s) => s.device === mine)) {
      const release = await tryLock(deps.locks, mine);
      if (release) return finish(mine, 'reloaded', release);
    }
    for (const s of [...slots].sort((a, b) => b.lastUsed - a.lastUsed)) {
      if (s.device === mine) continue;
      const release = await tryLock(deps.locks, s.device);
      if (release) return finish(s.device, 'adopted', release);
    }
  }
  for (;;) {
    const device = deps.randomUuid();
    const release = await tryLock(deps.locks, device);
    if (release) return finish(device, 'created', release);
  }
}

/** Keep the slot's display name in step with the device record (rename). */
export function rememberName(local: StorageLike, library: string, device: string, name: string): void {
  const s = readSlots(local, library).find((x) => x.device === device);
  if (s) writeSlot(local, { ...s, name });
}

/** Touch the slot so "most recently used" reflects the last tab that used it. */
export function touchSlot(local: StorageLike, library: string, device: string, now: number): void {
  const s = readSlots(local, library).find((x) => x.device === device);
  if (s) writeSlot(local, { ...s, lastUsed: now });
}
