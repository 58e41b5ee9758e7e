/**
 * Deletes that wait (DESIGN §6 "A library over months"): deleting a tag, an album or a
 * location is held here for a few seconds with an "Undo" before its intent runs. Until then
 * nothing is written — not to SQLite, not to the sync document — so an undone delete never
 * left the device. Each pending delete has its own timer and its own undo.
 *
 * Closing or reloading the tab ends the grace period: `flush()` (on pagehide) runs every
 * pending delete at once. A page that is going away may not finish that commit, so each
 * pending delete is also kept in `localStorage` (synchronous, survives a reload or a closed
 * tab) from the click until its commit is acknowledged; `resume()` at the next start of this
 * device runs what is still there. The intents are idempotent for this purpose: deleting what
 * is already deleted changes nothing (tombstones are sticky).
 *
 * The same wait holds a removal of files from a collection (Delete in an album's or a tag's
 * view): `album-files` / `tag-files`, with the `targets` the one batch switches off (entries;
 * for a tag also contents). Switching off what is already off changes nothing either.
 */

export type DeleteKind = 'tag' | 'album' | 'location' | 'album-files' | 'tag-files';

export interface PendingDelete {
  readonly id: number;
  readonly kind: DeleteKind;
  readonly uuid: string;
  /** what the user saw, for the message */
  readonly name: string;
  /** epoch ms when the delete is written */
  readonly at: number;
  /** a removal from a collection: what it switches off, and the entries the list hides meanwhile */
  readonly targets?: readonly string[];
  readonly hide?: readonly string[];
}

export interface PendingDeletesDeps {
  /** the delete itself (an intent); false if it failed (its error is shown by the caller) */
  readonly run: (kind: DeleteKind, uuid: string, targets?: readonly string[]) => Promise<boolean>;
  /** where intents wait across a reload; null without localStorage */
  readonly storage: Pick<Storage, 'getItem' | 'setItem' | 'removeItem'> | null;
  /** this device's key in `storage` */
  readonly key: string;
  readonly now: () => number;
  readonly setTimer: (fn: () => void, ms: number) => unknown;
  readonly clearTimer: (handle: unknown) => void;
  /** called whenever the list changes (the UI re-renders it) */
  readonly onChange: (items: readonly PendingDelete[]) => void;
  /** how long a delete waits (ms) */
  readonly delayMs?: number;
}

export const UNDO_MS = 5000;

const KINDS: readonly string[] = ['tag', 'album', 'location', 'album-files', 'tag-files'];
const REMOVALS: readonly string[] = ['album-files', 'tag-files'];
const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

interface Kept {
  readonly kind: DeleteKind;
  readonly uuid: string;
  readonly targets?: readonly string[];
}

/** What `storage` holds, validated: anything else in it is ignored (never thrown). */
function readKept(raw: string | null): Kept[] {
  if (!raw) return [];
  let v: unknown;
  try {
    v = JSON.parse(raw);
  } catch {
    return [];
  }
  if (!Array.isArray(v)) return [];
  return v.flatMap((x: unknown): Kept[] => {
    if (typeof x !== 'object' || x === null) return [];
    const { kind, uuid, targets } = x as Record<string, unknown>;
    if (typeof kind !== 'string' || !KINDS.includes(kind) || typeof uuid !== 'string' || !UUID_RE.test(uuid)) return [];
    if (!REMOVALS.includes(kind)) return [{ kind: kind as DeleteKind, uuid }];
    const ok = Array.isArray(targets) && targets.length > 0 && targets.every((t) => typeof t === 'string' && UUID_RE.test(t));
    return ok ? [{ kind: kind as DeleteKind, uuid, targets: targets as string[] }] : [];
  });
}

export function createPendingDeletes(deps: PendingDeletesDeps) {
  const delay = deps.delayMs ?? UNDO_MS;
  let items: PendingDelete[] = [];
  const timers = new Map<number, unknown>();
  /** deletes whose commit runs now: kept in storage until it is acknowledged */
  const writing: Kept[] = [];
  let nextId = 1;

  const save = (): void => {
    if (!deps.storage) return;
    const kept = [...items.map(({ kind, uuid, targets }) => (targets ? { kind, uuid, targets } : { kind, uuid })), ...writing];
    try {
      if (kept.length) deps.storage.setItem(deps.key, JSON.stringify(kept));
      else deps.storage.removeItem(deps.key);
    } catch {
      // a full or blocked localStorage: the delete still waits and runs in this page
    }
  };
  const changed = (): void => {
    save();
    deps.onChange(items);
  };

  /** Runs a delete; it stays in storage (`writing`) until the intent answers. */
  async function write(k: Kept, registered = false): Promise<boolean> {
    if (!registered) {
      writing.push(k);
      save();
    }
    try {
      return await deps.run(k.kind, k.uuid, k.targets);
    } finally {
      writing.splice(writing.indexOf(k), 1);
      save();
    }
  }

  function take(id: number): PendingDelete | null {
    const p = items.find((x) => x.id === id);
    if (!p) return null;
    deps.clearTimer(timers.get(id));
    timers.delete(id);
    items = items.filter((x) => x.id !== id);
    return p;
  }

  /** Writes one pending delete now. */
  async function commit(id: number): Promise<boolean> {
    const p = take(id);
    if (!p) return false;
    deps.onChange(items);
    return write(p.targets ? { kind: p.kind, uuid: p.uuid, targets: p.targets } : { kind: p.kind, uuid: p.uuid });
  }

  return {
    get items(): readonly PendingDelete[] {
      return items;
    },
    /** Whether a record is waiting to be deleted (the lists hide it meanwhile). */
    has: (uuid: string): boolean => items.some((x) => x.uuid === uuid && !x.targets),
    /** Holds a delete for `delayMs` with an undo; a second delete of the same record is the same
     *  one (a removal from a collection is its own, each with its files). */
    schedule(kind: DeleteKind, uuid: string, name: string, files?: { targets: readonly string[]; hide: readonly string[] }): PendingDelete {
      const same = files ? undefined : items.find((x) => x.kind === kind && x.uuid === uuid);
      if (same) return same;
      const p: PendingDelete = { id: nextId++, kind, uuid, name, at: deps.now() + delay, ...(files ? { targets: [...files.targets], hide: [...files.hide] } : {}) };
      items = [...items, p];
      timers.set(p.id, deps.setTimer(() => void commit(p.id), delay));
      changed();
      return p;
    },
    /** Cancels a pending delete: nothing was written, nothing is. */
    undo(id: number): boolean {
      const p = take(id);
      if (p) changed();
      return p !== null;
    },
    commit,
    /** The page is going away: every pending delete is written now (and kept until acknowledged). */
    flush(): Promise<boolean[]> {
      return Promise.all(items.map((p) => commit(p.id)));
    },
    /** At start: deletes a previous page of this device left unwritten are written now. */
    async resume(): Promise<number> {
      let left: Kept[];
      try {
        left = readKept(deps.storage?.getItem(deps.key) ?? null);
      } catch {
        return 0; // storage that cannot be read holds nothing we can use
      }
      writing.push(...left);
      let n = 0;
      for (const k of left) if (await write(k, true)) n++;
      return n;
    },
  };
}

export type PendingDeletes = ReturnType<typeof createPendingDeletes>;
