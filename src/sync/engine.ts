/**
 * The sync engine (main thread): local changes → sync document → storage; remote document
 * updates → changes → storage. One path: the storage worker applies both through core apply.
 *
 * Invariants:
 *  E1 A commit carries the changes AND the document update(s) they came from, so the
 *     database and the document are persisted together (ARCHITECTURE "Persistence").
 *  E2 Commits are serialized in the order the document saw them; queued remote updates are
 *     merged into one commit.
 *  E3 No HLC is ever issued twice, even across a crash: before a local change can leave this
 *     device (y-webrtc sends document updates at once), a clock *lease* covering its stamp is
 *     durable; a restarted device resumes above the lease. A lease the storage answers
 *     `durable: false` (a memory-only device) is not a lease: it is asked for again at the
 *     next write (the write still goes ahead — a memory-only device keeps working, and loses
 *     its clock with everything else when the tab closes; nothing durable can be promised).
 *     Ahead-lane stamps (core/hlc `nextAbove`) have a lease of their own, exact (they are
 *     rare: edits of records stamped far ahead), stored apart from the clock (`aheadHlc`;
 *     storage keeps it as `hlc-ahead`) — in the clock's lease it would be adopted at the next
 *     boot and drag the clock a day ahead. The clock is created with it (`lastAhead`), and
 *     `boot` also resumes above this device's ahead-lane keys in the document.
 *  E4 Every remote stamp is offered to the clock; one more than maxDrift ahead is applied but
 *     not adopted, counted, and listed with the record it touches.
 *  E5 A large remote transaction's changes are handed to storage (`stage`) as soon as they are
 *     extracted, before Yjs encodes the transaction's update for the 'update' event: copying
 *     100k changes to the worker then overlaps with that encoding (~0.5 s each on a first
 *     sync). Staging applies nothing; the batch's one commit (E1, E2) names the tickets and
 *     storage applies the staged changes first, in order, then the rest.
 *  E6 Compaction runs by itself (decision 0013): once the shared changes committed since the
 *     last one (local and remote) reach max(autoCompactEvery, a tenth of the entries it kept),
 *     a compaction is scheduled (autoCompactDelayMs later, on the serial chain like any write).
 *     The tenth keeps its cost amortized (each run reads the whole log; a library of 100k tag
 *     links must not re-read them every 64 changes) and the garbage below a tenth of the live
 *     log. Compaction is deterministic (compaction.ts C1, C7), so devices compacting at once
 *     drop the same keys; nothing waits for acks because dropping a superseded entry is safe
 *     whoever has or has not seen it (C3, C4).
 *  E7 An entry that left the document's shared log without being superseded (doc.ts D6: a
 *     concurrent compaction replaced the segment it was in) is written back by this device,
 *     as a write of the document only (it is materialized already), in a transaction that
 *     runs right after the remote one: its update joins that batch's one commit, so a kill
 *     cannot leave the replacement journaled and the write-back lost (decision 0020).
 *  E8 A remote change of a shared record this device holds a tombstone for is refused
 *     (core/apply I4); if the log holds no delete of that record any more (pruned, C10, and
 *     written again by a device that never saw the delete) this device writes the delete
 *     again, with a new stamp, so the record is deleted everywhere, on devices that never
 *     held it too. Also looked for at boot (the refusal is durable, the timer was not).
 *     That delete is written *kept* (doc.ts D8, its mark in the same commit), and a
 *     write-back of a kept delete (E7) writes its mark back with it.
 */
import * as Y from 'yjs';
import type { Change, Hlc, SharedChange, Uuid } from '../core/change.ts';
import { isSharedModel, type SharedModelName } from '../core/models.ts';
import { isUuid } from '../core/uuid.ts';
import { encodeHlc, hlcDevice, hlcWall, isAheadStamp, type HlcClock } from '../core/hlc.ts';
import { err, type Result } from '../core/result.ts';
import type { StorageClient } from '../storage/client.ts';
import { MAX_TOMBSTONE_ASK, type CommitResult, type StorageError } from '../storage/rpc.ts';
import { canSegment, compactDoc, entriesToRestore, forgottenInDoc, pruneForgotten, pruneGate, tombstonesFor, type PruneGate } from './compaction.ts';
import {
  allAcks, batchChanges, BOOT_ORIGIN, createExtractor, currentSegment, entryObject, forEachEntry, hasEntry, keepKey, KEPT, LAYOUT_KEY, LOCAL_ORIGIN, LOG_LAYOUT, logTarget, RESTORE_ORIGIN, MAX_BATCH_UPDATE_BYTES, metaMap, parseAck,
  readAck, segmentNote, sharedMap, writeAck, writeChanges, type DocRejection, type Vanished,
} from './doc.ts';

export interface SyncEngineDeps {
  readonly doc: Y.Doc;
  readonly storage: Pick<StorageClient, 'call'>;
  readonly clock: HlcClock;
  readonly device: string;
  readonly now: () => number;
  /** every commit's outcome (UI refresh, counters) */
  readonly onCommit?: (r: CommitResult, origin: 'local' | 'remote') => void;
  readonly leaseMs?: number;
  /** Timer for the throttled ack write; defaults to setTimeout. The simulator passes its own
   *  so that a seed replays exactly. Returns a cancel function. */
  readonly schedule?: (fn: () => void, ms: number) => () => void;
  readonly ackDelayMs?: number;
  /** E6: shared changes between automatic compactions (at least; 0 turns them off) */
  readonly autoCompactEvery?: number;
  /** E6: delay from the threshold to the compaction (a burst of renames is compacted once) */
  readonly autoCompactDelayMs?: number;
  /** a newer schema's data was met (the distinct `model.field`s so far): this device is behind */
  readonly onNewer?: (what: readonly string[]) => void;
}

export interface DriftRecord {
  readonly hlc: Hlc;
  readonly model: string;
  readonly uuid: string;
  readonly aheadMs: number;
}

export interface SyncStats {
  applied: number;
  rejected: number;
  received: number;
  pending: number;
  drifted: number;
  compacted: number;
  /** rejections by reason: invalid, ownership (doc) and invalid, ownership, tombstoned (apply) */
  readonly rejectedBy: Record<string, number>;
  /** bytes of the largest local update so far, and how many exceeded MAX_BATCH_UPDATE_BYTES */
  largestLocalUpdate: number;
  oversizeLocalUpdates: number;
  /** commits the storage refused (the document then holds more than the database) */
  commitFailures: number;
  /** large remote batches handed to storage ahead of their commit (E5) */
  staged: number;
  readonly lastRejections: (DocRejection | { reason: string; where: string; detail: string })[];
  readonly lastDrifted: DriftRecord[];
  /** fields and models a newer schema wrote that this one left out (doc.ts `newer`), distinct */
  readonly newer: string[];
  /** compactions run by themselves (E6) */
  autoCompactions: number;
  /** shared-log entries written back after a concurrent compaction lost them (E7) */
  restored: number;
  /** tombstones this device's compactions pruned (compaction.ts C10) */
  pruned: number;
  /** deletes written again: a change of a record this device deleted arrived and the log no
   *  longer held the delete (E8) */
  reasserted: number;
  /** what held tombstone pruning back at the last compaction (compaction.ts C10), or null */
  lastGate: PruneGate | null;
  /** the last compaction, automatic or asked: when (device ms), superseded entries dropped,
   *  keys of forgotten devices dropped (compaction.ts C7), shared-log entries kept */
  lastCompaction: { readonly at: number; readonly auto: boolean; readonly dropped: number; readonly forgotten: number; readonly kept: number } | null;
}

export interface SyncEngine {
  /** Rebuild the document from persisted updates (not re-materialized: SQLite has them). */
  boot(updates: readonly Uint8Array[]): void;
  write(changes: readonly Change[]): Promise<Result<CommitResult, StorageError>>;
  /** Resolves when every queued commit is done. */
  idle(): Promise<void>;
  compact(): Promise<number>;
  stats(): SyncStats;
  /**
   * Records this device's schema version in the document (`meta`, key `schema:<device>`,
   * written by that device only), so a device that is behind learns it even when the newer
   * one is offline. No write when the document already says so.
   */
  announceSchema(version: number): Promise<void>;
  /**
   * Sets one `meta` key (a device's own key, e.g. `key:<device>`, or a unique one such as
   * `rotation:<hlc>`) in a LOCAL transaction, journalled like every local write. No write
   * when the document already holds that value.
   */
  setMeta(key: string, value: string | number): Promise<void>;
  /** The highest schema version any device of the library recorded in the document. */
  newestSchema(): number;
  /** C10: how long a device may go unseen before pruning leaves it out (`meta` `horizon`,
   *  days, library-wide, last writer wins). */
  horizonDays(): number;
  /** Re-applies the document's shared log and device records to SQLite: after a migration
   *  added fields, what older code left out of the rows is still in the document. */
  rematerialize(): Promise<Result<CommitResult, StorageError>>;
  /** A page of the owned-state stream was committed (sync/stream.ts): count what it applied
   *  and refused with everything else, so the inspector explains page rejections too. */
  noteStream(r: CommitResult & { readonly unknownFields?: readonly string[] }): void;
  destroy(): void;
}

const LAST = 20;
/** `meta` key prefix of each device's schema version (announceSchema) */
const SCHEMA_KEY = 'schema:';
/** E6 defaults */
const AUTO_COMPACT_EVERY = 64;
const AUTO_COMPACT_DELAY_MS = 3000;
/** C10: the pruning horizon when the library has not set one (`meta` `horizon`, days). */
export const DEFAULT_HORIZON_DAYS = 30;
export const HORIZON_KEY = 'horizon';
const DAY_MS = 86_400_000;
/** A remote transaction with at least this many changes is staged (E5). */
const STAGE_MIN = 2000;

/** Remote changes and updates waiting for one commit (E2); `staged` come first, in order. */
interface RemoteBatch {
  readonly staged: { readonly ticket: number; readonly changes: Change[]; readonly ready: Promise<Result<null, StorageError>> }[];
  readonly changes: Change[];
  readonly updates: Uint8Array[];
}

export function createSyncEngine(deps: SyncEngineDeps): SyncEngine {
  const { doc, storage, clock, device } = deps;
  const leaseMs = deps.leaseMs ?? 2_000;
  const extractor = createExtractor(doc, device);
  const schedule = deps.schedule ?? ((fn: () => void, ms: number) => {
    const t = setTimeout(fn, ms);
    return () => clearTimeout(t);
  });
  const ackDelayMs = deps.ackDelayMs ?? 1000;
  const autoCompactEvery = deps.autoCompactEvery ?? AUTO_COMPACT_EVERY;
  const autoCompactDelayMs = deps.autoCompactDelayMs ?? AUTO_COMPACT_DELAY_MS;
  const stats: SyncStats = {
    applied: 0, rejected: 0, received: 0, pending: 0, drifted: 0, compacted: 0, rejectedBy: {},
    largestLocalUpdate: 0, oversizeLocalUpdates: 0, commitFailures: 0, staged: 0, lastRejections: [], lastDrifted: [], newer: [],
    autoCompactions: 0, restored: 0, pruned: 0, reasserted: 0, lastGate: null, lastCompaction: null,
  };
  const noteNewer = (what: readonly string[]): void => {
    for (const w of what) if (!stats.newer.includes(w) && stats.newer.length < LAST) stats.newer.push(w);
    if (what.length) deps.onNewer?.(stats.newer);
  };
  let chain: Promise<unknown> = Promise.resolve();
  let lease = 0; // wall ms up to which stamps are covered by a durable lease
  let aheadLease: Hlc | null = null; // the highest ahead-lane stamp covered by a durable lease
  let remote: RemoteBatch | null = null;
  let nextTicket = 1;
  let captured: Uint8Array[] = [];
  let ackTimer: (() => void) | null = null;
  let maxMaterialized: Hlc | null = null;
  let sinceCompaction = 0; // shared changes committed since the last compaction (E6)
  let keptAfterCompaction = 0;
  let compactTimer: (() => void) | null = null;
  let remoteInFlight = 0; // remote batches queued and not yet committed (C10: this device's own view)
  // C10: the last segment (and acked state) whose tombstones were looked at for an early compaction
  let pruneLookedAt: string | null = null;
  // E8: records whose delete may have to be written again, waiting for reassertTimer
  const toReassert = new Map<string, { model: SharedModelName; uuid: Uuid }>();
  let reassertTimer: (() => void) | null = null;
  // a forgotten device writes no ack: compaction drops a forgotten device's ack (C7), and it
  // would only write it back
  let selfForgotten = false;
  // the document's forgotten devices (compaction.ts C7), kept here: the layout check (C9)
  // runs at every write and must not read the shared log each time
  let forgotten = new Set<string>();
  const segmentsOk = (): boolean => canSegment(doc, forgotten);
  const entriesInto = (d: Y.Doc): Y.Map<unknown> => (segmentsOk() ? logTarget(d) : sharedMap(d));

  const serial = <T>(fn: () => Promise<T>): Promise<T> => {
    const run = chain.then(fn, fn);
    chain = run.catch(() => undefined);
    return run;
  };
  const remember = <T>(list: T[], item: T): void => {
    list.push(item);
    if (list.length > LAST) list.shift();
  };
  const record = (r: Result<CommitResult, StorageError>, origin: 'local' | 'remote'): void => {
    if (r.ok && r.value.tables.includes('forgotten_devices')) {
      forgotten = forgottenInDoc(doc);
      selfForgotten = forgotten.has(device);
      checkLayout();
    }
    if (!r.ok) {
      // The document holds the update but the database does not: visible, never silent.
      stats.commitFailures++;
      remember(stats.lastRejections, { reason: 'commit-failed', where: origin, detail: `${r.error.type}: ${r.error.message}` });
      return;
    }
    stats.applied += r.value.applied;
    stats.rejected += r.value.rejected;
    const by = stats.rejectedBy;
    for (const x of r.value.rejections) {
      by[x.type] = (by[x.type] ?? 0) + 1;
      remember(stats.lastRejections, { reason: x.type, where: `${x.model} ${x.uuid}`, detail: x.detail });
    }
    // storage itemizes only the last few rejections of a commit
    const rest = r.value.rejected - r.value.rejections.length;
    if (rest > 0) by['not itemized'] = (by['not itemized'] ?? 0) + rest;
    deps.onCommit?.(r.value, origin);
  };

  const newBatch = (): RemoteBatch => ({ staged: [], changes: [], updates: [] });
  const onUpdate = (update: Uint8Array, origin: unknown): void => {
    if (origin === LOCAL_ORIGIN) captured.push(update);
    // E7: in the frame of the remote update that caused it (its transaction runs right after)
    else if (origin === RESTORE_ORIGIN) (remote ??= newBatch()).updates.push(update);
    else if (origin !== BOOT_ORIGIN) {
      (remote ??= newBatch()).updates.push(update);
      queueMicrotask(flushRemote);
    }
  };
  /** E5: hands `changes` to storage now, to be claimed by the batch's commit. */
  const stage = (batch: RemoteBatch, changes: Change[]): void => {
    const ticket = nextTicket++;
    stats.staged++;
    batch.staged.push({ ticket, changes, ready: storage.call('stage', { ticket, changes }) });
  };
  const onAfterTransaction = (tr: Y.Transaction): void => {
    if (tr.origin === BOOT_ORIGIN || tr.changed.size === 0) return;
    if (tr.origin === LOCAL_ORIGIN || tr.origin === RESTORE_ORIGIN) return void extractor.observe(tr, false);
    const got = extractor.observe(tr, true);
    if (got.replaced >= 0) compactedElsewhere(got.replaced);
    for (const [type] of tr.changed) if ((type as unknown) === metaMap(doc)) checkLayout();
    noteNewer(got.newer);
    stats.received += got.changes.length;
    stats.rejected += got.rejections.length;
    for (const r of got.rejections) {
      stats.rejectedBy[r.reason] = (stats.rejectedBy[r.reason] ?? 0) + 1;
      remember(stats.lastRejections, r);
    }
    for (const c of got.changes) {
      const o = clock.receive(c.hlc);
      if (!o.adopted) {
        stats.drifted++;
        remember(stats.lastDrifted, { hlc: c.hlc, model: c.model, uuid: c.uuid, aheadMs: o.aheadMs });
      }
    }
    const batch = (remote ??= newBatch());
    if (got.changes.length >= STAGE_MIN) {
      if (batch.changes.length) stage(batch, batch.changes.splice(0)); // keeps the order (E5)
      stage(batch, got.changes);
    } else for (const c of got.changes) batch.changes.push(c);
    if (got.vanished.length) restore(got.vanished, got.from);
    if (currentSegment(doc) && (tr.changed.has(currentSegment(doc) as never) || got.replaced >= 0)) checkPrune();
    queueMicrotask(flushRemote);
  };
  doc.on('update', onUpdate);
  doc.on('afterTransaction', onAfterTransaction);

  function flushRemote(): void {
    if (!remote) return;
    const batch = remote;
    remote = null;
    stats.pending++;
    remoteInFlight++;
    void serial(async () => {
      const yUpdate = batch.updates.length === 1 ? batch.updates[0]! : Y.mergeUpdates(batch.updates);
      const staged = await Promise.all(batch.staged.map((b) => b.ready));
      const all = batch.staged.map((b) => b.changes).concat([batch.changes]);
      let r = batch.staged.length && staged.every((x) => x.ok)
        ? await storage.call('commit', { changes: batch.changes, staged: batch.staged.map((b) => b.ticket), hlc: clock.current(), yUpdate })
        : null;
      // not staged, or storage no longer holds it: the changes travel with the commit
      if (!r || (!r.ok && r.error.type === 'InvalidRequest')) r = await storage.call('commit', { changes: all.flat(), hlc: clock.current(), yUpdate });
      stats.pending--;
      remoteInFlight--;
      record(r, 'remote');
      if (r.ok && r.value.deleted?.length) reassert(r.value.deleted);
      for (const part of all) for (const c of part) if (!maxMaterialized || c.hlc > maxMaterialized) maxMaterialized = c.hlc;
      scheduleAck();
      if (r.ok) noteShared(all);
    });
  }

  /**
   * E7: writes back what left the log unsuperseded (D6), in a transaction that runs right
   * after the remote one that made it leave, so its update joins that batch's commit: the
   * journal holds both or neither, and a kill in between cannot leave this device's own entry
   * out of the document.
   */
  function restore(vanished: readonly Vanished[], from: string | null): void {
    const lost = entriesToRestore(doc, vanished, from);
    if (!lost.length) return;
    stats.restored += lost.length;
    doc.transact(() => {
      const to = entriesInto(doc);
      // layout 1 holds objects only (an earlier build reads nothing else)
      for (const [k, v] of lost) if (!hasEntry(doc, k)) to.set(k, to === sharedMap(doc) ? (entryObject(v) ?? v) : v);
      // D8: a kept delete goes back kept
      if (to !== sharedMap(doc)) for (const [k, , , kept] of lost) if (kept) to.set(keepKey(k), KEPT);
    }, RESTORE_ORIGIN);
  }

  /**
   * E8: a remote change of a record this device deleted was refused (core/apply I4). If the
   * log no longer holds a delete of it — its tombstone was pruned (compaction.ts C10) and a
   * device that never saw the delete wrote it again — this device writes the delete again, so
   * the record stays deleted everywhere, on devices that never held it too. On the timer, as
   * the ack.
   */
  function reassert(records: readonly { readonly model: string; readonly uuid: string }[]): void {
    for (const r of records) if (isSharedModel(r.model) && isUuid(r.uuid)) toReassert.set(`${r.model}:${r.uuid}`, { model: r.model, uuid: r.uuid });
    reassertTimer ??= schedule(() => {
      reassertTimer = null;
      const want = new Map(toReassert);
      toReassert.clear();
      const deleted = new Map<string, boolean>();
      forEachEntry(doc, (v) => {
        const o = entryObject(v);
        const k = o ? `${String(o['model'])}:${String(o['uuid'])}` : '';
        if (want.has(k)) deleted.set(k, (deleted.get(k) ?? false) || o?.['op'] === 'delete');
      });
      const again: SharedChange[] = [];
      for (const [k, r] of want) if (deleted.get(k) === false) again.push({ kind: 'shared', model: r.model, uuid: r.uuid, hlc: clock.next(), op: 'delete', fields: {} });
      // a forgotten device too: the delete may be one only it still knows of
      if (!again.length) return;
      stats.reasserted += again.length;
      void writeLocal(again, true);
    }, 0);
  }

  /**
   * E8 across a restart: a change refused for its tombstone is journaled with the update that
   * brought it, but the delete to write again was only on a timer. At boot, every record the
   * log holds without a delete is looked up among this device's tombstones.
   */
  async function recheckDeleted(): Promise<void> {
    const byModel = new Map<SharedModelName, Map<string, boolean>>();
    forEachEntry(doc, (v) => {
      const o = entryObject(v);
      if (!o || !isSharedModel(o['model']) || typeof o['uuid'] !== 'string' || !isUuid(o['uuid'])) return;
      const m = byModel.get(o['model']) ?? new Map<string, boolean>();
      byModel.set(o['model'], m);
      m.set(o['uuid'], (m.get(o['uuid']) ?? false) || o['op'] === 'delete');
    });
    const found: { model: string; uuid: string }[] = [];
    for (const [model, recs] of byModel) {
      const uuids = [...recs].filter(([, del]) => !del).map(([u]) => u);
      for (let i = 0; i < uuids.length; i += MAX_TOMBSTONE_ASK) {
        const r = await storage.call('tombstoned', { model, uuids: uuids.slice(i, i + MAX_TOMBSTONE_ASK) });
        if (r.ok) for (const uuid of r.value) found.push({ model, uuid });
      }
    }
    if (found.length) reassert(found);
  }

  /** E3: make a lease covering `upTo` durable before any stamp below it leaves the device. */
  async function ensureLease(upTo: Hlc | null): Promise<Result<void, StorageError>> {
    const wall = upTo ? hlcWall(upTo) : 0;
    if (wall < lease) return { ok: true, value: undefined };
    const next = Math.max(wall, deps.now()) + leaseMs;
    const r = await storage.call('commit', { changes: [], hlc: encodeHlc({ wall: next, counter: 0, device }) });
    if (!r.ok) return r;
    if (r.value.durable) lease = next; // E3: only a durable lease covers anything
    return { ok: true, value: undefined };
  }

  /** E3 for the ahead lane: the stamp itself is the lease, durable before it leaves. */
  async function ensureAheadLease(top: Hlc | null): Promise<Result<void, StorageError>> {
    if (!top || (aheadLease && top <= aheadLease)) return { ok: true, value: undefined };
    const r = await storage.call('commit', { changes: [], hlc: clock.current(), aheadHlc: top });
    if (!r.ok) return r;
    if (r.value.durable) aheadLease = top;
    return { ok: true, value: undefined };
  }

  function scheduleAck(): void {
    if (ackTimer) return;
    ackTimer = schedule(() => {
      ackTimer = null;
      // D7: the segment in view now and how far its creator's items are here: everything in
      // view now came in batches queued before the step below, so committed when it runs
      const note = segmentNote(doc);
      const state = note?.creator != null ? Y.getState(doc.store, note.creator) : 0;
      // the time too is read here, not when the step runs: when storage answers is no clock
      const at = deps.now();
      const had = parseAck(readAck(doc, device));
      // this device's own items move its state at every write, this ack's included: only
      // another creator's state is worth a new ack
      const sameState = note?.creator === doc.clientID || had?.state === (note ? state : null);
      if (!maxMaterialized || selfForgotten || (had?.top === maxMaterialized && had.seg === (note?.id ?? null) && sameState)) return;
      void serial(async () => {
        const top = maxMaterialized;
        if (!top) return;
        captured = [];
        const seg = note && note.id === segmentNote(doc)?.id ? { id: note.id, at, state } : undefined;
        doc.transact(() => writeAck(doc, device, top, seg), LOCAL_ORIGIN);
        const yUpdate = captured.length ? Y.mergeUpdates(captured) : null;
        captured = [];
        if (yUpdate) await storage.call('commit', { changes: [], hlc: clock.current(), yUpdate });
      });
    }, ackDelayMs);
  }

  /** E6: count committed shared changes; schedule a compaction at the threshold. */
  function noteShared(parts: readonly (readonly Change[])[]): void {
    if (autoCompactEvery <= 0) return;
    for (const part of parts) for (const c of part) if (c.kind === 'shared') sinceCompaction++;
    if (compactTimer || sinceCompaction < Math.max(autoCompactEvery, Math.floor(keptAfterCompaction / 10))) return;
    compactTimer = schedule(() => {
      compactTimer = null;
      void compact(true);
    }, autoCompactDelayMs);
  }

  /**
   * C9: a segment while a device that cannot read it is known: compact (back) soon. C7 too:
   * an ack of a device this one knows is forgotten — a compaction elsewhere that had not yet
   * heard of the forget carried it into its new segment — is dropped by a compaction soon.
   */
  function checkLayout(): void {
    if (compactTimer) return;
    const leftover = forgotten.size > 0 && [...allAcks(doc).keys()].some((d) => forgotten.has(d));
    if (!leftover && (!currentSegment(doc) || segmentsOk())) return;
    compactTimer = schedule(() => {
      compactTimer = null;
      void compact(true);
    }, autoCompactDelayMs);
  }

  /** E6: another device compacted (its segment arrived): the count starts again from there,
   *  so devices that reach the threshold together do not each replace the segment. */
  function compactedElsewhere(kept: number): void {
    compactTimer?.();
    compactTimer = null;
    sinceCompaction = 0;
    keptAfterCompaction = kept;
    checkLayout(); // the timer just cancelled may have been C9's
  }

  const horizonDays = (): number => {
    const v = metaMap(doc).get(HORIZON_KEY);
    return typeof v === 'number' && Number.isFinite(v) && v >= 0 ? v : DEFAULT_HORIZON_DAYS;
  };
  // its own view counts once no remote batch it holds waits for its commit (a local write's
  // entries are not in the document before its step runs)
  const gateNow = (selfCommitted = remoteInFlight === 0 && remote === null): PruneGate =>
    pruneGate(doc, { self: device, selfCommitted, now: deps.now(), horizonMs: horizonDays() * DAY_MS, forgotten });

  /**
   * C10: once every device within the horizon has acked the current segment, a compaction
   * soon prunes its tombstones, changes or not (looked at once per segment and acked state).
   */
  function checkPrune(): void {
    const note = segmentNote(doc);
    if (compactTimer || !note) return;
    // this device's own commit is not asked for here: it depends on when storage answers, and
    // the compaction reads the gate again on the serial chain
    const gate = gateNow(true);
    const looked = `${note.id}@${gate.state}@${gate.everyone.ok ? gate.everyone.state : '-'}`;
    if (!gate.ok || pruneLookedAt === looked) return;
    pruneLookedAt = looked;
    // prunable now, or to be carried into a segment of a compaction's own first
    const t = tombstonesFor(doc, gate);
    if (!t.now.length && !t.later) return;
    compactTimer = schedule(() => {
      compactTimer = null;
      void compact(true);
    }, autoCompactDelayMs);
  }

  /** Superseded entries (C1–C6), pruned tombstones (C10) and forgotten devices' keys (C7),
   *  journaled as ONE local update. */
  function compact(auto: boolean): Promise<number> {
    return serial(async () => {
      captured = [];
      const gate = gateNow();
      stats.lastGate = gate;
      const { drop, entries, pruned } = compactDoc(doc, LOCAL_ORIGIN, forgotten, gate);
      if (segmentNote(doc)?.id !== gate.segment) scheduleAck();
      // held back only by its own commits still in flight: look again once they are done
      else if (!gate.ok && gate.waiting.length === 1 && gate.waiting[0] === device) {
        pruneLookedAt = null;
        void serial(() => Promise.resolve(checkPrune()));
      }
      stats.pruned += pruned.length;
      const prunedKeys = pruneForgotten(doc, LOCAL_ORIGIN);
      const yUpdate = captured.length ? Y.mergeUpdates(captured) : null;
      captured = [];
      if (yUpdate) await storage.call('commit', { changes: [], hlc: clock.current(), yUpdate });
      sinceCompaction = 0;
      keptAfterCompaction = entries - drop.length;
      stats.compacted += drop.length;
      if (auto) stats.autoCompactions++;
      stats.lastCompaction = { at: deps.now(), auto, dropped: drop.length, forgotten: prunedKeys, kept: keptAfterCompaction };
      return drop.length;
    });
  }

  function setMeta(key: string, value: string | number): Promise<void> {
    return serial(async () => {
      if (metaMap(doc).get(key) === value) return;
      captured = [];
      doc.transact(() => metaMap(doc).set(key, value), LOCAL_ORIGIN);
      const yUpdate = captured.length ? Y.mergeUpdates(captured) : null;
      captured = [];
      if (yUpdate) await storage.call('commit', { changes: [], hlc: clock.current(), yUpdate });
    });
  }
  /** A local write; `keep`: deletes written again (E8), kept until every device saw them (D8). */
  function writeLocal(changes: readonly Change[], keep: boolean): Promise<Result<CommitResult, StorageError>> {
    stats.pending++;
    return serial(async () => {
      try {
        let top: Hlc | null = null;
        let topAhead: Hlc | null = null;
        for (const c of changes) {
          if (isAheadStamp(c.hlc)) {
            if (!topAhead || c.hlc > topAhead) topAhead = c.hlc;
          } else if (!top || c.hlc > top) top = c.hlc;
        }
        const leased = await ensureLease(top);
        if (!leased.ok) return leased;
        const aheadLeased = await ensureAheadLease(topAhead);
        if (!aheadLeased.ok) return aheadLeased;
        // checked before any transaction: a refusal after the first would leave part written
        const foreign = changes.find((c) => c.kind === 'owned' && c.owner !== device);
        if (foreign) return err<StorageError>({ type: 'InvalidRequest', message: `device ${device} cannot write ${foreign.kind === 'owned' ? foreign.owner : ''}'s records` });
        captured = [];
        // Layout 2 from the first shared write on (compaction.ts C8): every entry written
        // into `shared` first would leave its key behind when moved
        if (!currentSegment(doc) && changes.some((c) => c.kind === 'shared') && segmentsOk()) compactDoc(doc, LOCAL_ORIGIN, forgotten);
        // One storage commit, but document transactions of at most the batch budget (D4):
        // each is one message on the wire (a 50,000-file act is ~17 MB, above the relay's
        // and a data channel's message limits), and together one journaled update.
        for (const part of batchChanges(changes)) writeChanges(doc, device, part, entriesInto, keep);
        for (const u of captured) {
          stats.largestLocalUpdate = Math.max(stats.largestLocalUpdate, u.byteLength);
          if (u.byteLength > MAX_BATCH_UPDATE_BYTES) stats.oversizeLocalUpdates++;
        }
        const yUpdate = captured.length === 0 ? null : captured.length === 1 ? captured[0]! : Y.mergeUpdates(captured);
        captured = [];
        const r = await storage.call('commit', { changes, hlc: clock.current(), yUpdate });
        record(r, 'local');
        if (r.ok) noteShared([changes]);
        return r;
      } finally {
        stats.pending--;
      }
    });
  }

  const api: SyncEngine = {
    boot(updates) {
      doc.transact(() => {
        for (const u of updates) Y.applyUpdate(doc, u, BOOT_ORIGIN);
      }, BOOT_ORIGIN);
      extractor.adoptAll();
      forgotten = forgottenInDoc(doc);
      selfForgotten = forgotten.has(device);
      checkLayout();
      // E3: the ahead lane resumes above what this device issued there before
      forEachEntry(doc, (_v, k) => {
        if (hlcDevice(k) === device && isAheadStamp(k)) clock.restoreAhead(k);
      });
      const current = clock.current();
      lease = current ? hlcWall(current) : 0; // the persisted clock is at least the last lease
      void serial(recheckDeleted);
    },
    write: (changes) => writeLocal(changes, false),
    async idle() {
      flushRemote();
      for (;;) {
        const c = chain;
        await c;
        if (c === chain && !remote) return;
        flushRemote();
      }
    },
    compact: () => compact(false),
    async announceSchema(version) {
      // the layout first: a device whose schema key is seen without it holds layout 2 back
      await setMeta(`${LAYOUT_KEY}${device}`, LOG_LAYOUT);
      await setMeta(`${SCHEMA_KEY}${device}`, version);
    },
    setMeta,
    horizonDays,
    newestSchema() {
      let top = 0;
      metaMap(doc).forEach((v, k) => {
        if (k.startsWith(SCHEMA_KEY) && typeof v === 'number' && Number.isSafeInteger(v) && v > top) top = v;
      });
      return top;
    },
    rematerialize() {
      return serial(async () => {
        const got = extractor.all();
        noteNewer(got.newer);
        const r = await storage.call('commit', { changes: got.changes, hlc: clock.current(), yUpdate: null });
        // not counted as received or rejected: these changes were counted when they arrived
        // (an insert a later delete tombstoned is refused again, as it was then)
        if (r.ok) deps.onCommit?.(r.value, 'remote');
        return r;
      });
    },
    stats: () => stats,
    noteStream(r) {
      if (r.unknownFields?.length) noteNewer(r.unknownFields);
      stats.received += r.applied + r.rejected;
      record({ ok: true, value: r }, 'remote');
    },
    destroy() {
      ackTimer?.();
      ackTimer = null;
      compactTimer?.();
      compactTimer = null;
      reassertTimer?.();
      reassertTimer = null;
      doc.off('update', onUpdate);
      doc.off('afterTransaction', onAfterTransaction);
    },
  };
  return api;
}
