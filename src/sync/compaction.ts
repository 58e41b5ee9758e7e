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
 */
import type * as Y from 'yjs';
import { supersededEntries, type LogEntry } from '../core/compaction.ts';
import { readSharedLog, sharedMap } from './doc.ts';

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
