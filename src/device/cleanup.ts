/**
 * Closed tabs' slots that are never used again are removed from this browser (issue 13 item
 * 3; ARCHITECTURE "Device slots"). Every tab is a device with its own database, so six tabs
 * opened once would keep six replicas of the library on disk for ever.
 *
 * A slot of this library is removed — its registry record, its database and its relay outbox —
 * when ALL of these hold, checked in this order:
 *  1. it was not used for longer than the horizon (`lastUsed`; an open tab refreshes its own);
 *  2. this tab holds its Web Lock `tabdrive:device:<uuid>` (no tab runs it), and the registry
 *     still has it, unchanged, once the lock is held (see the race below);
 *  3. nothing is lost (invariant 19): every owner's rows it holds (its watermark vector) are
 *     held as far by this device or announced as far by a connected peer other than itself (a
 *     closed tab's presence lingers for a while) or the relay, and
 *     every document change it holds (its state vector) is in this device's document — or
 *     the library forgot it, so nothing of it is wanted. A database that cannot be read is
 *     kept (what it holds is not known). Before deleting, this device's own commits are made
 *     durable (`settle`), so what it was counted on to hold is on disk.
 *
 * The race with a new tab: a claim (slots.ts) adopts a slot only once it holds that slot's lock
 * AND the registry still has the slot; cleanup retires a slot only while it holds the same lock,
 * and writes the record's removal (with a grave naming its databases) before deleting them. So
 * either the claim got the lock first (cleanup cannot take it: skipped) or cleanup did (the
 * claim's lock waits are `ifAvailable`: it moves on; once cleanup releases, the record is gone
 * and the claim moves on too). A slot adopted between cleanup's list and its lock has a fresh
 * `lastUsed`, which step 2's re-read sees. Two cleaning tabs are kept apart by the lock
 * `tabdrive:slot-cleanup` (the second skips its run) and by the per-device locks anyway.
 *
 * Graves (registry `gone:<device>`: a retired slot whose databases may exist — a crash between
 * removal and deletion, a forgotten device that rejoined as a new one) are deleted here too,
 * under the device's lock (a forgotten tab still open keeps its database until it goes).
 *
 * The library's view does not change: the removed device stays in Devices, offline (other
 * members may hold its rows and serve them). Cleanup writes no "Forget device": forgetting
 * removes the device's rows from every member, a decision about the library, not about this
 * browser's disk.
 */
import type { Holdings } from '../storage/rpc.ts';
import { dbNameOf, lockName, type Slot, type SlotRegistry } from './slots.ts';

export const CLEANUP_LOCK = 'tabdrive:slot-cleanup';
export const DAY_MS = 86_400_000;
/** the default horizon: a month unused */
export const DEFAULT_HORIZON_DAYS = 30;
/** the relay client's outbox of a device (sync/relay-sync.ts, named in main.ts) */
export const relayOutboxOf = (dbName: string): string => `tabdrive-relay:${dbName}`;

/** Web Locks as cleanup needs them: `ifAvailable` (never wait for a tab that runs). */
export interface CleanupLocks {
  request(name: string, options: { ifAvailable: true }, cb: (lock: unknown) => Promise<unknown>): Promise<unknown>;
}

/** What this device can vouch is held elsewhere than in the slot being removed. */
export interface HeldHere {
  /** per owner, the highest watermark of this device, its connected peers and the relay */
  readonly marks: Readonly<Record<string, number>>;
  /** this device's document state vector (Yjs client → clock) */
  readonly sv: ReadonlyMap<number, number>;
}

export interface CleanupDeps {
  readonly registry: SlotRegistry;
  /** null: no Web Locks here — nothing is removed (a running tab could not be told apart) */
  readonly locks: CleanupLocks | null;
  readonly library: string;
  /** this tab's device (never removed; its `lastUsed` is refreshed) */
  readonly self: string;
  readonly now: () => number;
  /** how long unused before a slot may go; null: never */
  readonly horizonMs: number | null;
  readonly holdings: (dbName: string) => Promise<Holdings>;
  /** what is held here and by peers, leaving out `device`'s own announcements (a closed tab's
   *  presence lingers a while: it must not vouch for itself) */
  readonly held: (device: string) => Promise<HeldHere>;
  /** devices the library forgot (nothing of theirs is wanted) */
  readonly forgotten: () => Promise<ReadonlySet<string>>;
  /** resolves once this device's commits so far are durable */
  readonly settle: () => Promise<void>;
  /** deletes one IndexedDB database; false when it did not finish in time (kept for later) */
  readonly deleteDatabase: (name: string) => Promise<boolean>;
  /** what kept slots held at earlier runs of this tab: a slot nobody used since (same
   *  `lastUsed`) cannot have changed, so its image is not loaded again every hour */
  readonly memo?: Map<string, { readonly lastUsed: number; readonly holdings: Holdings }>;
}

export interface KeptSlot {
  readonly device: string;
  readonly name: string;
  readonly lastUsed: number;
  readonly why: string;
}

export interface CleanupReport {
  readonly at: number;
  /** devices whose slot and databases were removed by this run */
  readonly removed: readonly string[];
  /** stale slots kept, and why */
  readonly kept: readonly KeptSlot[];
  /** graves whose databases were deleted by this run */
  readonly buried: readonly string[];
}

/** Runs `fn` under the named lock if nobody holds it; null if somebody does. */
async function withLockIfFree<T>(locks: CleanupLocks, name: string, fn: () => Promise<T>): Promise<T | null> {
  let out: T | null = null;
  await locks.request(name, { ifAvailable: true }, async (lock) => {
    if (lock) out = await fn();
  });
  return out;
}

/** What the slot holds that is not held elsewhere, in words; null: nothing. */
export function unreplicated(h: { readonly marks: Readonly<Record<string, number>>; readonly sv: Readonly<Record<string, number>> }, here: HeldHere, forgotten: ReadonlySet<string>): string | null {
  let rows = 0;
  for (const [owner, seq] of Object.entries(h.marks)) {
    if (forgotten.has(owner)) continue;
    rows += Math.max(0, seq - (here.marks[owner] ?? 0));
  }
  let changes = 0;
  for (const [client, clock] of Object.entries(h.sv)) changes += Math.max(0, clock - (here.sv.get(Number(client)) ?? 0));
  if (rows === 0 && changes === 0) return null;
  const parts = [
    ...(rows ? [`${rows} ${rows === 1 ? 'file change' : 'file changes'}`] : []),
    ...(changes ? [`${changes} ${changes === 1 ? 'edit' : 'edits'}`] : []),
  ];
  return `it holds ${parts.join(' and ')} no other device has yet`;
}

async function deleteAll(deps: CleanupDeps, library: string, device: string): Promise<boolean> {
  const db = dbNameOf(library, device);
  const done = await Promise.all([deps.deleteDatabase(db), deps.deleteDatabase(relayOutboxOf(db))]);
  return done.every(Boolean);
}

/** One run; null when another tab of this browser is running one. */
export async function cleanSlots(deps: CleanupDeps): Promise<CleanupReport | null> {
  const locks = deps.locks;
  if (!locks) return null;
  return withLockIfFree(locks, CLEANUP_LOCK, async () => {
    const now = deps.now();
    const removed: string[] = [];
    const kept: KeptSlot[] = [];
    const buried: string[] = [];
    // this tab's own slot is in use: an open tab must not look unused after a month open
    const own = await deps.registry.slot(deps.self);
    if (own) await deps.registry.put({ ...own, lastUsed: now });

    for (const g of await deps.registry.graves()) {
      const done = await withLockIfFree(locks, lockName(g.device), async () => {
        if (!(await deleteAll(deps, g.library, g.device))) return false;
        await deps.registry.bury(g.device);
        return true;
      });
      if (done) buried.push(g.device);
    }

    if (deps.horizonMs === null) return { at: now, removed, kept, buried };
    const horizon = deps.horizonMs;
    const stale = (s: Slot): boolean => now - s.lastUsed > horizon;
    const candidates = (await deps.registry.slots(deps.library)).filter((s) => s.device !== deps.self && stale(s));
    let forgotten: ReadonlySet<string> | null = null;
    for (const listed of candidates) {
      await withLockIfFree(locks, lockName(listed.device), async () => {
        // under the lock: adopted (fresh lastUsed) or retired since the list was read?
        const s = await deps.registry.slot(listed.device);
        if (!s || s.library !== deps.library || !stale(s)) return;
        forgotten ??= await deps.forgotten();
        if (!forgotten.has(s.device)) {
          const known = deps.memo?.get(s.device);
          const h = known?.lastUsed === s.lastUsed ? known.holdings : await deps.holdings(dbNameOf(s.library, s.device));
          deps.memo?.set(s.device, { lastUsed: s.lastUsed, holdings: h });
          if (h && 'unreadable' in h) return void kept.push({ ...s, why: `its database cannot be read (${h.unreadable})` });
          if (h) {
            const why = unreplicated(h, await deps.held(s.device), forgotten);
            if (why) return void kept.push({ ...s, why });
            await deps.settle();
          }
        }
        await deps.registry.drop(s.device); // the slot goes, its grave comes (one transaction)
        if (await deleteAll(deps, s.library, s.device)) await deps.registry.bury(s.device);
        removed.push(s.device);
      });
    }
    return { at: now, removed, kept, buried };
  });
}

/** Deletes an IndexedDB database, waiting at most `ms` (a connection left open blocks it). */
export function deleteDatabase(idb: IDBFactory, name: string, ms = 10_000): Promise<boolean> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(false), ms);
    const req = idb.deleteDatabase(name);
    req.onsuccess = () => {
      clearTimeout(timer);
      resolve(true);
    };
    req.onerror = () => {
      clearTimeout(timer);
      resolve(false);
    };
  });
}
