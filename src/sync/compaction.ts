/**
 * Compaction of the sync document's shared log (DESIGN §3). The rule itself is pure and
 * lives in core (`supersededEntries`); this module applies it to a Y.Doc.
 *
 * Invariants:
 *  C1 Deterministic: the set dropped depends only on the log's valid entries, so any device
 *     compacting the same state drops the same keys (and two devices compacting concurrently
 *     just delete the same keys twice — Yjs deletes are idempotent).
 *  C2 Only entries that validate take part: an invalid entry is never applied, so letting it
 *     supersede a valid one would lose that value on devices that had not seen it yet
 *     (found by simulator seed 294). Invalid entries are left alone (a newer app version may
 *     understand them).
 *  C3 A record's highest delete entry is kept (the tombstone must reach devices that never
 *     saw the record) until C10 prunes it; every other entry of a deleted record is dropped.
 *  C4 Dropping keys changes nothing a device materializes: deletions of `shared` keys are
 *     not changes (doc.ts D3), and what remains still yields the same rows on a fresh device.
 *  C5 One transaction, with the caller's origin (LOCAL_ORIGIN for the engine), so the
 *     resulting Yjs update can be captured and journaled like any local write.
 *  C6 An entry supersedes and is superseded by the fields it carries in the document, those
 *     of a newer schema included: validation leaves those out (validate.ts `onNewer`), and an
 *     older device must not drop an entry whose newer fields no later entry sets — the newer
 *     devices that had not seen it would lose them.
 *  C7 What a forgotten device left in the document — its `owned:` records, its ack, its
 *     `schema:` and `key:` in `meta` — is dropped by whoever compacts: the forget itself
 *     (a shared `forgotten_device` record, undeletable, never superseded away) stays, so the
 *     set of forgotten devices is read from the document and every device drops the same
 *     keys (C1). Dropping them changes nothing materialized: deleted keys are not changes
 *     (doc.ts D2/D3), and every device that applies the forget removes that device's rows and
 *     refuses its records anyway (core/apply.ts I7).
 *  C8 In layout 2 (doc.ts D5) a compaction writes what it keeps — the log's entries less the
 *     dropped ones, layout 1's entries and acks moved over, the acks of devices not forgotten
 *     — into a NEW segment that replaces the current one, in the same one transaction. The
 *     residue of a replaced segment is a few merged clock ranges per device, whatever it held
 *     (decision 0017). Two devices compacting at once each write a segment and Yjs keeps one;
 *     an entry only the other held, or written into either meanwhile, is written back by the
 *     devices that saw it (doc.ts D6, `entriesToRestore`).
 *  C9 The layout follows the devices: layout 2 only while every device the document knows
 *     reads it (`canSegment`). When one that does not appears (an earlier build joining, or
 *     met only after this device wrote its first segment), the next compaction moves the
 *     segment's entries and acks back into `shared` and `acks` and removes the segment, so
 *     an earlier build never misses an entry for longer than that.
 * C10 Tombstones are pruned once every device within the horizon has seen them (decisions
 *     0020, 0022): each device's ack names the segment it had committed whole and how far it held
 *     the segment creator's items (doc.ts `Ack`); when every device the document knows (not
 *     forgotten) reads layout 4 and each one whose last ack is younger than the horizon acked
 *     the current segment, the delete entries held there by the creator's items below the
 *     lowest of those states — seen by all of them — are dropped with the rest of their
 *     records. The new segment's note names them (doc.ts D7). A device left out (unseen past
 *     the horizon, or never met) that writes such a record again is answered by the devices
 *     that hold its tombstone: they write the delete again (engine.ts E8). Such a *kept*
 *     delete (doc.ts D8) waits for every device the document knows, the horizon not applied
 *     (`PruneGate.everyone`), and its mark goes over to the next segment with it, never alone.
 */
import * as Y from 'yjs';
import { supersededEntries, type LogEntry } from '../core/compaction.ts';
import { validateChange } from '../core/validate.ts';
import type { SharedChange } from '../core/change.ts';
import {
  acksMap, allAcks, currentSegment, encodeEntry, encodeNote, entryObject, forEachEntry, hasEntry, isAckKey, isOwnSegmentKey, itemId, keepKey, KEPT, LAYOUT_KEY, LOG_LAYOUT, logRoot, metaMap, ownedMapName, parseAck,
  prunedBy, readSharedLog, readSharedModel, segmentAckKey, segmentNote, SEGMENT_LAYOUT, sharedMap, type SegmentNote, type Vanished,
} from './doc.ts';
import { isUuid } from '../core/uuid.ts';

export interface CompactionPlan {
  /** shared-log keys (HLCs) to drop, sorted (the pruned tombstones included) */
  readonly drop: readonly string[];
  /** tombstones among `drop` (C10) */
  readonly pruned: readonly string[];
  /** valid entries considered */
  readonly entries: number;
  /** entries left alone because they do not validate */
  readonly invalid: number;
}

/** What compaction would drop from this document right now (C1, C2; C10 if `gate` allows). */
export function planCompaction(doc: Y.Doc, gate?: PruneGate): CompactionPlan {
  const log = readSharedLog(doc);
  const raw = new Map<string, unknown>();
  forEachEntry(doc, (v, k) => raw.set(k, v));
  const entries: LogEntry[] = [];
  for (const c of log.changes) if (c.kind === 'shared') entries.push(asLogEntry(c, raw.get(c.hlc)));
  const drop = supersededEntries(entries);
  // C2: only what validates here (a newer build's model is left alone)
  const valid = new Set(entries.map((e) => e.hlc));
  const pruned = gate ? tombstonesFor(doc, gate, new Set(drop)).now.filter((k) => valid.has(k)) : [];
  return { drop: pruned.length ? [...drop, ...pruned].sort() : drop, pruned, entries: entries.length, invalid: log.rejections.length };
}

/**
 * C10: whether the current segment's tombstones may be pruned, and who holds it back. Every
 * device the document knows (a `schema:` or an ack, not forgotten) must read layout 4 — an
 * earlier build would write back what a pruning dropped — and each one seen within the
 * horizon must have acked this very segment: it materialized all the segment held when it
 * arrived, so every tombstone at or below the floor (the segment's first content). A device
 * whose last ack is older than the horizon, or that never acked, does not hold pruning back:
 * it is *pruned past*, and learns the deletes it missed from the segment (D7, `entriesToRestore`).
 */
export interface PruneGate {
  readonly ok: boolean;
  /** the segment the gate was read for */
  readonly segment: string | null;
  /** the lowest state of the segment's creator the acks name: its items below are seen by all */
  readonly state: number;
  /** devices within the horizon that have not acked this segment yet, or read an earlier layout */
  readonly waiting: readonly string[];
  /** devices left out: last ack older than the horizon, or none in a segment */
  readonly past: readonly string[];
  /** the gate of kept deletes (doc.ts D8): every device known and not forgotten, the horizon
   *  not applied — `past` ones included — has acked this segment, up to `state` */
  readonly everyone: { readonly ok: boolean; readonly state: number };
}

export function pruneGate(doc: Y.Doc, o: { readonly self: string; readonly selfCommitted: boolean; readonly now: number; readonly horizonMs: number; readonly forgotten: ReadonlySet<string> }): PruneGate {
  const note = segmentNote(doc);
  if (!note || note.creator === null) return { ok: false, segment: null, state: 0, waiting: [], past: [], everyone: { ok: false, state: 0 } };
  const meta = metaMap(doc);
  const acks = allAcks(doc);
  const known = new Set<string>();
  for (const k of meta.keys()) if (k.startsWith('schema:')) known.add(k.slice('schema:'.length));
  for (const d of acks.keys()) known.add(d);
  const waiting: string[] = [];
  const past: string[] = [];
  // this device has every item of the creator it holds in view, once its batches are committed
  let state = o.selfCommitted ? Y.getState(doc.store, note.creator) : 0;
  let everyone = state;
  let pastHere = 0; // past devices that acked this segment all the same (D8)
  for (const d of [...known].sort()) {
    if (o.forgotten.has(d) || !isUuid(d)) continue;
    const layout = meta.get(`${LAYOUT_KEY}${d}`);
    if (typeof layout !== 'number' || layout < LOG_LAYOUT) {
      waiting.push(d);
      continue;
    }
    if (d === o.self) {
      if (!o.selfCommitted) waiting.push(d);
      continue;
    }
    const ack = parseAck(acks.get(d));
    const here = ack?.seg === note.id && ack.state !== null;
    if (here) everyone = Math.min(everyone, ack.state);
    if (!ack || ack.at === null || ack.state === null || ack.at < o.now - o.horizonMs) {
      past.push(d);
      if (here) pastHere++;
    } else if (!here) waiting.push(d);
    else state = Math.min(state, ack.state);
  }
  const ok = waiting.length === 0;
  return { ok, segment: note.id, state, waiting, past, everyone: { ok: ok && pastHere === past.length, state: everyone } };
}

/** D7: the new segment's note — a fresh id, and which tombstones this compaction pruned. */
function nextNote(doc: Y.Doc, plan: CompactionPlan, gate: PruneGate | undefined): SegmentNote {
  const creator = segmentNote(doc)?.creator ?? null;
  // unique: no two transactions of one client start at the same clock
  const id = `${doc.clientID.toString(36)}.${Y.getState(doc.store, doc.clientID).toString(36)}`;
  const pruned = plan.pruned.length && gate?.segment && creator !== null ? { seg: gate.segment, creator, state: gate.state } : null;
  return { id, creator: doc.clientID, pruned };
}

/**
 * C10: the current segment's tombstones (kept delete entries) as the gate sees them: `now`,
 * those every device within the horizon had in view (items of the segment's creator below
 * the lowest state its acks name: its first content, and what it wrote since), and `later`,
 * those held by other devices' items (written into the segment after it was made), which a
 * compaction must first carry into a segment of its own.
 */
export function tombstonesFor(doc: Y.Doc, gate: PruneGate, dropped: ReadonlySet<string> = new Set()): { now: string[]; later: number } {
  const note = segmentNote(doc);
  const seg = currentSegment(doc);
  const out = { now: [] as string[], later: 0 };
  if (!gate.ok || !note || !seg || gate.segment !== note.id || note.creator === null) return out;
  seg.forEach((v, k) => {
    // checkPrune runs this at remote transactions: a segment string that cannot be a delete
    // is skipped without being parsed
    if (dropped.has(k) || (typeof v === 'string' && !v.includes('"delete"')) || entryObject(v)?.['op'] !== 'delete') return;
    const id = itemId(seg, k);
    if (id?.client !== note.creator) out.later++;
    else if (!seg.has(keepKey(k)) ? id.clock < gate.state : gate.everyone.ok && id.clock < gate.everyone.state) out.now.push(k);
  });
  out.now.sort();
  return out;
}

const isFieldsRecord = (x: unknown): x is Record<string, unknown> => typeof x === 'object' && x !== null && !Array.isArray(x);

/** C6: an entry takes part with the field names as written (only the names matter). */
function asLogEntry(c: SharedChange, value: unknown): LogEntry {
  const raw = entryObject(value)?.['fields'];
  const names = raw && typeof raw === 'object' ? Object.keys(raw) : Object.keys(c.fields);
  return { hlc: c.hlc, model: c.model, uuid: c.uuid, op: c.op, fields: Object.fromEntries(names.map((n) => [n, null])) };
}

/** Whether this document may move its log into segments (C8): every device it knows — each
 *  one that recorded a schema version and is not forgotten — has said it reads layout 2. */
export function canSegment(doc: Y.Doc, forgotten: ReadonlySet<string> = forgottenInDoc(doc)): boolean {
  const meta = metaMap(doc);
  for (const k of meta.keys()) {
    if (!k.startsWith('schema:')) continue;
    const device = k.slice('schema:'.length);
    if (forgotten.has(device)) continue;
    const layout = meta.get(`${LAYOUT_KEY}${device}`);
    if (typeof layout !== 'number' || layout < SEGMENT_LAYOUT) return false;
  }
  return true;
}

/**
 * Compacts in ONE transaction with `origin` (C5): drops the superseded entries (C1–C6) — in
 * layout 2 by writing what is kept into a new segment (C8; every ack goes over, forgotten
 * devices' too: `pruneForgotten` drops those, C7). Returns the plan.
 */
export function compactDoc(doc: Y.Doc, origin: unknown, forgotten: ReadonlySet<string> = forgottenInDoc(doc), gate?: PruneGate): CompactionPlan {
  const plan = planCompaction(doc, gate);
  const shared = sharedMap(doc);
  const legacyAcks = acksMap(doc);
  if (!canSegment(doc, forgotten)) {
    const seg = currentSegment(doc);
    const drop = new Set(plan.drop);
    if (plan.drop.length || seg) doc.transact(() => {
      for (const k of plan.drop) if (shared.has(k)) shared.delete(k);
      if (!seg) return;
      // C9: back into layout 1, for a device that reads only that
      seg.forEach((v, k) => {
        if (!isAckKey(k)) {
          // an earlier build reads objects only; a value that is neither goes as it is (it
          // is as invalid there as here)
          if (!drop.has(k) && !shared.has(k)) shared.set(k, entryObject(v) ?? v);
          // the note and keep marks stay behind: layout 1 prunes nothing (C10)
        } else if (!isOwnSegmentKey(k)) legacyAcks.set(k.slice(segmentAckKey('').length), v);
      });
      logRoot(doc).delete('seg');
    }, origin);
    return plan;
  }
  // nothing to drop, nothing left in layout 1, no tombstone to carry over for pruning (C10):
  // a new segment would only add residue
  const carry = gate ? tombstonesFor(doc, gate).later > 0 : false;
  if (!plan.drop.length && !carry && currentSegment(doc) && shared.size === 0 && legacyAcks.size === 0) return plan;
  const drop = new Set(plan.drop);
  const note = nextNote(doc, plan, gate);
  const seg = currentSegment(doc);
  doc.transact(() => {
    const next = new Y.Map<unknown>();
    next.set(...encodeNote(note));
    forEachEntry(doc, (v, k) => {
      if (drop.has(k)) return;
      // D8: a kept delete's mark goes with it, and with nothing else
      if (seg?.has(keepKey(k))) next.set(keepKey(k), KEPT);
      // layout 1's objects move over in the segment's form (D5)
      const o = typeof v === 'string' ? null : entryObject(v);
      next.set(k, o && isFieldsRecord(o['fields']) && typeof o['model'] === 'string' && typeof o['uuid'] === 'string' && typeof o['op'] === 'string'
        ? encodeEntry({ model: o['model'], uuid: o['uuid'], op: o['op'], fields: o['fields'] })
        : v);
    });
    for (const [device, v] of allAcks(doc)) next.set(segmentAckKey(device), v);
    logRoot(doc).set('seg', next);
    for (const k of [...shared.keys()]) shared.delete(k);
    for (const k of [...legacyAcks.keys()]) legacyAcks.delete(k);
  }, origin);
  return plan;
}

/**
 * D6: of the entries that left this device's view (from segment `from`, when it was
 * replaced), those to write back — every one that what the log now holds, with the others
 * that left, does not supersede (C3–C6: a dropped entry is always superseded by what its
 * compaction kept), except the tombstones the new segment's compaction pruned (D7, C10). An
 * entry that does not validate is never superseded (C2), so it is written back too.
 */
export function entriesToRestore(doc: Y.Doc, vanished: readonly Vanished[], from: string | null): Vanished[] {
  const note = segmentNote(doc);
  const gone = vanished.filter(([k, v, item]) => !hasEntry(doc, k) && !(entryObject(v)?.['op'] === 'delete' && prunedBy(note, from, item)));
  if (!gone.length) return [];
  const entries: LogEntry[] = [];
  const add = (k: string, v: unknown): void => {
    const r = entryObject(v);
    if (!r) return;
    const c = validateChange({ kind: 'shared', model: r['model'], uuid: r['uuid'], hlc: k, op: r['op'], fields: r['fields'] }, () => undefined);
    if (c.ok && c.value.kind === 'shared') entries.push(asLogEntry(c.value, v));
  };
  forEachEntry(doc, (v, k) => add(k, v));
  // the pruned tombstones take part too: what they superseded stays dropped
  for (const [k, v] of vanished) if (!hasEntry(doc, k)) add(k, v);
  const superseded = new Set(supersededEntries(entries));
  return gone.filter(([k]) => !superseded.has(k));
}

/** The `meta` keys a device owns (rotation.ts `key:`, engine.ts `schema:`, doc.ts `layout:`). */
const OWN_META = ['schema:', 'key:', LAYOUT_KEY];

/** Devices the document's shared log says were forgotten (C7): valid `forgotten_device` entries. */
export function forgottenInDoc(doc: Y.Doc): Set<string> {
  const out = new Set<string>();
  for (const c of readSharedModel(doc, 'forgotten_device').changes) if (c.kind === 'shared' && c.op !== 'delete') out.add(c.uuid);
  return out;
}

/** Drops what forgotten devices left in the document (C7), in ONE transaction; returns the keys dropped. */
export function pruneForgotten(doc: Y.Doc, origin: unknown, forgotten: ReadonlySet<string> = forgottenInDoc(doc)): number {
  const drops: [Y.Map<unknown>, string][] = [];
  const acks = acksMap(doc);
  const meta = metaMap(doc);
  const seg = currentSegment(doc);
  for (const device of forgotten) {
    if (acks.has(device)) drops.push([acks, device]);
    if (seg?.has(segmentAckKey(device))) drops.push([seg, segmentAckKey(device)]);
    for (const p of OWN_META) if (meta.has(`${p}${device}`)) drops.push([meta, `${p}${device}`]);
    // only a root that exists: getMap would create an empty one for a device never met
    if (doc.share.has(ownedMapName(device))) {
      const owned = doc.getMap<unknown>(ownedMapName(device));
      for (const k of owned.keys()) drops.push([owned, k]);
    }
  }
  if (drops.length) doc.transact(() => {
    for (const [m, k] of drops) m.delete(k);
  }, origin);
  return drops.length;
}

/**
 * The encoded size of a document holding only this one's live values (every root map's
 * current keys, no deleted items): what a document rebuilt from the live state would weigh.
 * The difference to `Y.encodeStateAsUpdate(doc)` is what deleted keys leave behind (the
 * "Growth" figure in ARCHITECTURE "The sync document").
 */
export function liveStateBytes(doc: Y.Doc): number {
  const fresh = new Y.Doc();
  fresh.transact(() => {
    for (const name of [...doc.share.keys()].sort()) {
      const to = fresh.getMap<unknown>(name);
      doc.getMap<unknown>(name).forEach((v, k) => {
        if (!(v instanceof Y.Map)) return void to.set(k, v);
        const copy = new Y.Map<unknown>(); // the segment (D5)
        (v as Y.Map<unknown>).forEach((x, j) => copy.set(j, x));
        to.set(k, copy);
      });
    }
  });
  const bytes = Y.encodeStateAsUpdate(fresh).byteLength;
  fresh.destroy();
  return bytes;
}
