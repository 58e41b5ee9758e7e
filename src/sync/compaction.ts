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
 *  C3 A record's highest delete entry is kept forever (the tombstone must reach devices that
 *     never saw the record); every other entry of a deleted record is dropped.
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
 */
import * as Y from 'yjs';
import { supersededEntries, type LogEntry } from '../core/compaction.ts';
import { acksMap, metaMap, ownedMapName, readSharedLog, readSharedModel, sharedMap } from './doc.ts';

export interface CompactionPlan {
  /** shared-log keys (HLCs) to drop, sorted */
  readonly drop: readonly string[];
  /** valid entries considered */
  readonly entries: number;
  /** entries left alone because they do not validate */
  readonly invalid: number;
}

/** What compaction would drop from this document right now (C1, C2). */
export function planCompaction(doc: Y.Doc): CompactionPlan {
  const log = readSharedLog(doc);
  const shared = sharedMap(doc);
  const entries: LogEntry[] = [];
  for (const c of log.changes) {
    if (c.kind !== 'shared') continue;
    // C6: the field names as written (only the names take part in superseding)
    const raw = (shared.get(c.hlc) as { fields?: unknown } | undefined)?.fields;
    const names = raw && typeof raw === 'object' ? Object.keys(raw) : Object.keys(c.fields);
    entries.push({ hlc: c.hlc, model: c.model, uuid: c.uuid, op: c.op, fields: Object.fromEntries(names.map((n) => [n, null])) });
  }
  return { drop: supersededEntries(entries), entries: entries.length, invalid: log.rejections.length };
}

/** Drops the superseded entries in ONE transaction with `origin` (C5); returns the plan. */
export function compactDoc(doc: Y.Doc, origin: unknown): CompactionPlan {
  const plan = planCompaction(doc);
  if (plan.drop.length) {
    const shared = sharedMap(doc);
    doc.transact(() => {
      for (const k of plan.drop) shared.delete(k);
    }, origin);
  }
  return plan;
}

/** The `meta` keys a device owns (rotation.ts `key:`, engine.ts `schema:`). */
const OWN_META = ['schema:', 'key:'];

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
  for (const device of forgotten) {
    if (acks.has(device)) drops.push([acks, device]);
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
      doc.getMap<unknown>(name).forEach((v, k) => to.set(k, v));
    }
  });
  const bytes = Y.encodeStateAsUpdate(fresh).byteLength;
  fresh.destroy();
  return bytes;
}
