/**
 * Apply rules (DESIGN §5): how a batch of changes — local, remote or replayed — becomes rows.
 *
 * Invariants (each checked in tests/unit/core/apply.test.ts and by the simulator):
 *  I1 Every change is validated first; an invalid change writes nothing (rejected 'invalid').
 *  I2 Idempotence: applying a change twice, or an older state after a newer one, changes
 *     nothing. Owned rows keep the HLC of their state (`_hlc`); shared rows keep one HLC per
 *     field (`_hlcs`).
 *  I3 Ownership: a device-owned row is written only by its owner (`_owner`): the device row
 *     is the device itself, volumes/locations carry `device_uuid` = owner, an entry's location
 *     belongs to the owner; the owner of a row never changes (rejected 'ownership').
 *     The decision does not depend on arrival order (DESIGN §5.6): an entry whose location
 *     is not known waits, durably, in the store's pending records (counted `pending`, neither
 *     applied nor rejected) and goes through these rules when its location is applied; a
 *     location tombstone rejects what waits for it. Only the newest version per (uuid, owner)
 *     waits, and only one newer than the row held (a later version supersedes it).
 *  I4 Deletes are sticky: a tombstone (model, uuid, hlc) outlives the row; any later change to
 *     that uuid is dropped whatever its HLC or arrival order (rejected 'tombstoned'). Deleting a
 *     location, directory or device removes what hangs below it; entries of a deleted location
 *     arriving later are dropped too.
 *  I5 Shared records merge field by field: each field keeps the value with the highest HLC,
 *     so concurrent edits of different fields both survive, and the result does not depend on
 *     arrival order. A row may be partial until its insert arrives.
 *  I6 Batches apply in model-dependency order, then HLC order: deterministic on every device.
 *  I7 A forgotten device stays gone: applying a `forgotten_device` record tombstones the device
 *     and removes every row it owns (device record, volumes, locations, entries, what waits);
 *     from then on any owned change of that owner is dropped (rejected 'tombstoned') whoever
 *     relays it and whatever its stamp or seq — so neither the device coming back nor a peer
 *     that had not heard of the forget can bring its rows back. Order-free: rows that arrive
 *     before the forget are removed by it, rows after it are refused.
 *
 * Shared deletes do not cascade: a tag link to a deleted tag dangles identically on every
 * device (so digests still agree) and the UI ignores it — cascading would need tombstones
 * for rows this device may never have seen.
 */
import type { ApplyStore, PendingVersion, Row } from './apply-store.ts';
import { isOwnedTombstone, type Change, type OwnedChange, type OwnedState, type SharedChange } from './change.ts';
import { hlcDevice } from './hlc.ts';
import { MODELS, MODELS_IN_DEPENDENCY_ORDER, type ModelName } from './models.ts';
import { isStreamModel } from './stream.ts';
import type { Typed } from './result.ts';
import { validateChange } from './validate.ts';

export type RejectionReason = 'invalid' | 'ownership' | 'tombstoned';

export interface Rejection extends Typed<RejectionReason> {
  readonly model: string;
  readonly uuid: string;
  readonly hlc: string;
  readonly detail: string;
}

export interface ApplyReport {
  readonly applied: number;
  readonly unchanged: number;
  /** changes of this batch now waiting for their location (I3) */
  readonly pending: number;
  readonly rejected: readonly Rejection[];
  readonly tables: readonly string[];
}

const short = (x: unknown, n: number): string => (typeof x === 'string' ? x.slice(0, n) : '?');

const ORDER = new Map<ModelName, number>(MODELS_IN_DEPENDENCY_ORDER.map((m, i) => [m, i]));

/** `owned:<X>` records are accepted only if written by X (DESIGN §5.6). */
export function checkOwner(change: Change, mapOwner: string): boolean {
  return change.kind === 'owned' && change.owner === mapOwner && hlcDevice(change.hlc) === mapOwner;
}

type Outcome =
  | { type: 'applied'; tables: string[] }
  | { type: 'unchanged' }
  | { type: 'pending' }
  | { type: RejectionReason; detail: string };

/** Counts the outcome of a change (released pending records report through it too). */
type Count = (c: Change, o: Outcome) => void;

function invalid(raw: unknown, detail: string): Rejection {
  const r = (typeof raw === 'object' && raw !== null ? raw : {}) as Record<string, unknown>;
  return { type: 'invalid', model: short(r['model'], 40), uuid: short(r['uuid'], 40), hlc: short(r['hlc'], 60), detail };
}

export function applyChanges(store: ApplyStore, changes: readonly unknown[]): ApplyReport {
  const rejected: Rejection[] = [];
  const valid: Change[] = [];
  for (const raw of changes) {
    const v = validateChange(raw);
    if (v.ok) valid.push(v.value);
    else rejected.push(invalid(raw, v.error.detail));
  }
  valid.sort((a, b) => ORDER.get(a.model)! - ORDER.get(b.model)! || (a.hlc < b.hlc ? -1 : a.hlc > b.hlc ? 1 : 0));
  const memo = batchMemo(store);
  const byTable = new Map<string, string[]>();
  for (const c of valid) {
    const t = MODELS[c.model].table;
    let list = byTable.get(t);
    if (!list) byTable.set(t, (list = []));
    list.push(c.uuid);
  }
  for (const [t, uuids] of byTable) if (uuids.length >= PREFETCH_MIN) memo.prefetch(t, uuids);
  let applied = 0;
  let unchanged = 0;
  let pending = 0;
  const tables = new Set<string>();
  const record: Count = (c, o) => {
    if (o.type === 'applied') {
      applied++;
      for (const t of o.tables) tables.add(t);
    } else if (o.type === 'unchanged') unchanged++;
    else if (o.type === 'pending') pending++;
    else rejected.push({ type: o.type, model: c.model, uuid: c.uuid, hlc: c.hlc, detail: o.detail });
  };
  const ctx: Ctx = { record, invalid: (raw, detail) => void rejected.push(invalid(raw, detail)) };
  for (const c of valid) record(c, c.kind === 'owned' ? applyOwned(memo, c, ctx) : applyShared(memo, c));
  memo.flush();
  return { applied, unchanged, pending, rejected, tables: [...tables] };
}

interface Ctx {
  readonly record: Count;
  readonly invalid: (raw: unknown, detail: string) => void;
}

/**
 * Per-batch lookups that bulk applies repeat for every row (100k entries of one location):
 * the location's owner, and whether a model has any tombstone at all. The memo wraps the
 * store and is invalidated by the writes that could change those answers.
 *
 * It also buffers rows known to be new (`insertNew`: no row, no tombstone) and writes them
 * with multi-row inserts. Anything that could observe the table — a read of a buffered uuid,
 * an upsert, a delete, a query — first sees the buffer or flushes it, so the result is the
 * same as writing each row at once; `flush()` ends the batch.
 *
 * And it reads ahead (`prefetch`): the rows of a large batch's uuids in a few statements, so
 * a first sync does not look up 100k absent rows one by one. A read-ahead answer is
 * forgotten as soon as the memo writes that uuid (upsert, insert, delete), so `get` always
 * returns what the store holds or will hold.
 */
interface Memo extends ApplyStore {
  ownerOfLocation(uuid: string): string | null;
  /** whether this owner's device was forgotten or deleted (I7) */
  ownerGone(owner: string): boolean;
  insertNew(table: string, row: Row): void;
  prefetch(table: string, uuids: readonly string[]): void;
  flush(): void;
}

const INSERT_BUFFER = 500;
const PREFETCH_MIN = 32;

function batchMemo(store: ApplyStore): Memo {
  const owners = new Map<string, string | null>();
  const gone = new Map<string, boolean>();
  const anyTomb = new Map<ModelName, boolean>();
  let anyPending: boolean | undefined; // stays true once seen: a stale true only costs lookups
  const hasPending = (): boolean => (anyPending ??= store.hasPending());
  const hasTombstones = (m: ModelName): boolean => {
    let v = anyTomb.get(m);
    if (v === undefined) anyTomb.set(m, (v = store.hasTombstones(m)));
    return v;
  };
  // table → buffered new rows (one column set at a time), by uuid
  const buffered = new Map<string, { cols: string; rows: Map<string, Row> }>();
  const flushTable = (t: string): void => {
    const b = buffered.get(t);
    if (!b) return;
    buffered.delete(t);
    store.insertMany(t, [...b.rows.values()]);
  };
  // table → uuid → the row read ahead (null: none); dropped for a uuid once it is written
  const known = new Map<string, Map<string, Row | null>>();
  const forget = (t: string, u: string): void => void known.get(t)?.delete(u);
  const get = (t: string, u: string): Row | undefined => {
    const row = buffered.get(t)?.rows.get(u);
    if (row) return { ...row };
    const ahead = known.get(t)?.get(u);
    if (ahead !== undefined) return ahead === null ? undefined : { ...ahead };
    return store.get(t, u);
  };
  return {
    get,
    getMany: (t, uuids) => uuids.flatMap((u) => {
      const row = get(t, u);
      return row ? [row] : [];
    }),
    prefetch: (t, uuids) => {
      flushTable(t);
      let m = known.get(t);
      if (!m) known.set(t, (m = new Map<string, Row | null>()));
      const ask = [...new Set(uuids)].filter((u) => !m.has(u));
      for (const u of ask) m.set(u, null);
      for (const row of store.getMany(t, ask)) m.set(String(row['uuid']), row);
    },
    upsert: (t, row) => {
      if (t === 'locations') owners.delete(String(row['uuid']));
      forget(t, String(row['uuid']));
      flushTable(t);
      store.upsert(t, row);
    },
    insertMany: (t, rows) => {
      for (const r of rows) forget(t, String(r['uuid']));
      flushTable(t);
      store.insertMany(t, rows);
    },
    insertNew: (t, row) => {
      if (t === 'locations') owners.delete(String(row['uuid']));
      forget(t, String(row['uuid']));
      const cols = Object.keys(row).join(',');
      let b = buffered.get(t);
      if (b && (b.cols !== cols || b.rows.size >= INSERT_BUFFER)) {
        flushTable(t);
        b = undefined;
      }
      if (!b) buffered.set(t, (b = { cols, rows: new Map() }));
      b.rows.set(String(row['uuid']), row);
    },
    flush: () => {
      for (const t of [...buffered.keys()]) flushTable(t);
    },
    delete: (t, u) => {
      if (t === 'locations') owners.delete(u);
      forget(t, u);
      flushTable(t);
      store.delete(t, u);
    },
    uuidsWhere: (t, c, v) => {
      flushTable(t);
      return store.uuidsWhere(t, c, v);
    },
    hasTombstones,
    tombstone: (m, u) => (hasTombstones(m) ? store.tombstone(m, u) : undefined),
    putTombstone: (m, u, h, streamed) => {
      anyTomb.set(m, true);
      if (m === 'device') gone.delete(u);
      store.putTombstone(m, u, h, streamed);
    },
    hasPending,
    countPending: () => store.countPending(),
    pendingVersions: (m, u) => (hasPending() ? store.pendingVersions(m, u) : []),
    putPending: (p) => {
      anyPending = true;
      store.putPending(p);
    },
    dropPending: (m, u, o) => {
      if (hasPending()) store.dropPending(m, u, o);
    },
    dropPendingOf: (o) => {
      if (hasPending()) store.dropPendingOf(o);
    },
    dropTombstonesOf: (o) => {
      anyTomb.clear();
      gone.clear();
      store.dropTombstonesOf(o);
    },
    takePending: (w) => (hasPending() ? store.takePending(w) : []),
    ownerGone(owner) {
      let v = gone.get(owner);
      if (v === undefined) gone.set(owner, (v = hasTombstones('device') && store.tombstone('device', owner) !== undefined));
      return v;
    },
    ownerOfLocation(uuid) {
      if (!owners.has(uuid)) {
        const loc = get('locations', uuid);
        owners.set(uuid, loc ? String(loc['_owner']) : null);
      }
      return owners.get(uuid)!;
    },
  };
}

function ownerViolation(store: Memo, c: OwnedChange, existing: Row | undefined): string | null {
  if (hlcDevice(c.hlc) !== c.owner) return `stamped by ${hlcDevice(c.hlc)}, not by its owner ${c.owner}`;
  if (existing && existing['_owner'] !== c.owner) return `belongs to ${String(existing['_owner'])}, not ${c.owner}`;
  if (isOwnedTombstone(c)) return null;
  const d = c.data;
  switch (c.model) {
    case 'device':
      return c.uuid === c.owner ? null : `device record ${c.uuid} written by ${c.owner}`;
    case 'volume':
    case 'location':
      return d['device_uuid'] === c.owner ? null : `device_uuid ${String(d['device_uuid'])} is not its owner ${c.owner}`;
    case 'entry': {
      const owner = store.ownerOfLocation(String(d['location_uuid']));
      return owner === null || owner === c.owner ? null : `its location belongs to ${owner}`;
    }
  }
}

/**
 * `released`: a pending entry taken out because its location arrived; nothing of it waits
 * any more, so the lookup that drops superseded pending versions is skipped.
 */
function applyOwned(store: Memo, c: OwnedChange, ctx: Ctx, released = false): Outcome {
  const spec = MODELS[c.model];
  const existing = store.get(spec.table, c.uuid);
  const violation = ownerViolation(store, c, existing);
  if (violation) return { type: 'ownership', detail: violation };
  if (store.ownerGone(c.owner) && !(c.model === 'device' && isOwnedTombstone(c)))
    return { type: 'tombstoned', detail: `its device ${c.owner} was forgotten` };
  const tomb = store.tombstone(c.model, c.uuid);
  if (isOwnedTombstone(c)) {
    const streamed = c.seq === undefined ? undefined : { owner: c.owner, seq: c.seq };
    if (tomb !== undefined && tomb >= c.hlc && !existing) {
      // already deleted; a streamed copy still records its seq, so this device can serve it
      if (streamed) store.putTombstone(c.model, c.uuid, tomb, streamed);
      return { type: 'unchanged' };
    }
    store.putTombstone(c.model, c.uuid, tomb !== undefined && tomb > c.hlc ? tomb : c.hlc, streamed);
    // What waits can never apply now (I4): a deleted entry's versions, a deleted device's
    // entries, and everything waiting for a deleted location (rejected, like a late arrival).
    if (c.model === 'entry') store.dropPending('entry', c.uuid);
    if (c.model === 'device') store.dropPendingOf(c.uuid);
    if (c.model === 'location')
      release(store, c.uuid, ctx, () => ({ type: 'tombstoned', detail: `its location ${c.uuid} was deleted` }));
    return { type: 'applied', tables: removeOwned(store, c.model, c.uuid) };
  }
  if (tomb !== undefined) return { type: 'tombstoned', detail: `${c.model} ${c.uuid} was deleted at ${tomb}` };
  if (c.model === 'entry') {
    const loc = c.data['location_uuid'];
    if (typeof loc === 'string' && store.tombstone('location', loc) !== undefined)
      return { type: 'tombstoned', detail: `its location ${loc} was deleted` };
    const parent = c.data['parent_uuid'];
    if (typeof parent === 'string' && store.tombstone('entry', parent) !== undefined)
      return { type: 'tombstoned', detail: `its parent ${parent} was deleted` };
    if (typeof loc === 'string' && store.ownerOfLocation(loc) === null) return hold(store, c, existing, loc);
  }
  if (existing && !newer(existing, c)) return { type: 'unchanged' };
  const row: Row = { uuid: c.uuid, ...c.data, _owner: c.owner, _hlc: c.hlc };
  if (isStreamModel(c.model)) row['_seq'] = c.seq ?? null;
  if (existing) store.upsert(spec.table, row);
  else store.insertNew(spec.table, Object.assign(row, spec.localDefaults));
  // A pending version this state supersedes would otherwise apply over it later.
  if (c.model === 'entry' && !released) {
    const held = store.pendingVersions('entry', c.uuid).find((v) => v.owner === c.owner);
    if (held && newer(asRow(held), c)) store.dropPending('entry', c.uuid, c.owner);
  }
  // A location seen for the first time: what waited for it is checked now (I3).
  if (c.model === 'location' && !existing) release(store, c.uuid, ctx, (w) => applyOwned(store, w, ctx, true));
  return { type: 'applied', tables: [spec.table] };
}

const asRow = (v: PendingVersion): Row => ({ _seq: v.seq, _hlc: v.hlc });

/** Holds an entry whose location is not known, unless the row or a held version is as new. */
function hold(store: Memo, c: OwnedState, existing: Row | undefined, location: string): Outcome {
  if (existing && !newer(existing, c)) return { type: 'unchanged' };
  const held = store.pendingVersions(c.model, c.uuid).find((v) => v.owner === c.owner);
  if (held && !newer(asRow(held), c)) return { type: 'unchanged' };
  store.putPending({ model: c.model, uuid: c.uuid, owner: c.owner, waitsFor: location, seq: c.seq ?? null, hlc: c.hlc, change: c });
  return { type: 'pending' };
}

/** Takes out what waits for `location`, validates it again (it was read back from storage)
 *  and counts each change's outcome. */
function release(store: Memo, location: string, ctx: Ctx, decide: (c: OwnedChange) => Outcome): void {
  const waiting: OwnedChange[] = [];
  for (const raw of store.takePending(location)) {
    const v = validateChange(raw);
    if (v.ok && v.value.kind === 'owned') waiting.push(v.value);
    else ctx.invalid(raw, v.ok ? 'a pending record that is not owned' : v.error.detail);
  }
  if (waiting.length >= PREFETCH_MIN) store.prefetch('entries', waiting.map((w) => w.uuid));
  for (const w of waiting) ctx.record(w, decide(w));
}

/**
 * Whether an owned state replaces the stored row (I2, stream P3). Streamed rows compare the
 * owner's seq; a row stored before the stream existed (no seq) is replaced unless it holds a
 * later write (its stamp is higher: the owner's seq and stamp orders agree). Device records
 * (the sync document, no seq) compare stamps.
 */
function newer(existing: Row, c: OwnedChange): boolean {
  const stored = existing['_seq'];
  const hlc = typeof existing['_hlc'] === 'string' ? existing['_hlc'] : '';
  if (c.seq === undefined) return c.hlc > hlc;
  if (typeof stored === 'number') return c.seq > stored;
  return c.hlc >= hlc;
}

/** Deletes an owned row and everything that hangs below it; returns the tables touched. */
function removeOwned(store: ApplyStore, model: ModelName, uuid: string): string[] {
  const touched = new Set<string>([MODELS[model].table]);
  store.delete(MODELS[model].table, uuid);
  const dropEntriesOf = (locationUuid: string): void => {
    for (const e of store.uuidsWhere('entries', 'location_uuid', locationUuid)) store.delete('entries', e);
    touched.add('entries');
  };
  if (model === 'location') dropEntriesOf(uuid);
  if (model === 'entry') {
    const stack = [uuid];
    while (stack.length) {
      const p = stack.pop()!;
      for (const child of store.uuidsWhere('entries', 'parent_uuid', p)) {
        store.delete('entries', child);
        stack.push(child);
      }
    }
  }
  if (model === 'device') {
    for (const v of store.uuidsWhere('volumes', '_owner', uuid)) store.delete('volumes', v);
    for (const l of store.uuidsWhere('locations', '_owner', uuid)) {
      store.delete('locations', l);
      dropEntriesOf(l);
    }
    for (const e of store.uuidsWhere('entries', '_owner', uuid)) store.delete('entries', e);
    touched.add('volumes').add('locations');
  }
  return [...touched];
}

function parseClocks(raw: unknown): Record<string, string> {
  if (typeof raw !== 'string') return {};
  try {
    const v: unknown = JSON.parse(raw);
    return typeof v === 'object' && v !== null ? (v as Record<string, string>) : {};
  } catch {
    return {};
  }
}

function applyShared(store: Memo, c: SharedChange): Outcome {
  const table = MODELS[c.model].table;
  const tomb = store.tombstone(c.model, c.uuid);
  if (c.op === 'delete') {
    const existing = store.get(table, c.uuid);
    if (tomb !== undefined && tomb >= c.hlc && !existing) return { type: 'unchanged' };
    store.putTombstone(c.model, c.uuid, tomb !== undefined && tomb > c.hlc ? tomb : c.hlc);
    store.delete(table, c.uuid);
    return { type: 'applied', tables: [table] };
  }
  if (tomb !== undefined) return { type: 'tombstoned', detail: `${c.model} ${c.uuid} was deleted at ${tomb}` };
  const existing = store.get(table, c.uuid);
  const clocks = parseClocks(existing?.['_hlcs']);
  const row: Row = { uuid: c.uuid };
  let changed = false;
  for (const [field, value] of Object.entries(c.fields)) {
    const at = clocks[field];
    if (at === undefined || c.hlc > at) {
      row[field] = value;
      clocks[field] = c.hlc;
      changed = true;
    }
  }
  if (!changed) return { type: 'unchanged' };
  row['_hlcs'] = JSON.stringify(clocks);
  store.upsert(table, row);
  if (c.model === 'forgotten_device') return { type: 'applied', tables: [table, ...forget(store, c.uuid, c.hlc)] };
  return { type: 'applied', tables: [table] };
}

/** I7: the device and everything it owns go; what it owns is refused from now on (the
 *  device tombstone, checked by `ownerGone`). Idempotent: a second forget finds nothing. */
function forget(store: Memo, device: string, hlc: string): string[] {
  store.dropTombstonesOf(device);
  store.putTombstone('device', device, hlc); // the higher stamp stays: the same on every device
  store.dropPendingOf(device);
  return removeOwned(store, 'device', device);
}
