/**
 * Compaction of the shared change log (DESIGN §3): which entries are fully superseded and may
 * be dropped by any device. Deterministic — it depends only on the entries, so two devices
 * compacting the same log drop the same keys, and dropping them never changes what a device
 * materializes from the rest:
 *  - a record with a delete: keep its highest delete entry (the tombstone must keep
 *    travelling to devices that never saw the record), drop every other entry of it;
 *  - otherwise an entry is superseded when every field it sets is also set by a later entry
 *    of the same record (field-level last-writer-wins keeps only the latest value anyway).
 */
import type { Fields, Hlc, SharedOp } from './change.ts';

export interface LogEntry {
  readonly hlc: Hlc;
  readonly model: string;
  readonly uuid: string;
  readonly op: SharedOp;
  readonly fields: Fields;
}

export function supersededEntries(entries: readonly LogEntry[]): Hlc[] {
  const byRecord = new Map<string, LogEntry[]>();
  for (const e of entries) {
    const k = `${e.model}:${e.uuid}`;
    const list = byRecord.get(k);
    if (list) list.push(e);
    else byRecord.set(k, [e]);
  }
  const drop: Hlc[] = [];
  for (const list of byRecord.values()) {
    list.sort((a, b) => (a.hlc < b.hlc ? -1 : a.hlc > b.hlc ? 1 : 0));
    const deletes = list.filter((e) => e.op === 'delete');
    if (deletes.length) {
      const keep = deletes[deletes.length - 1]!.hlc;
      for (const e of list) if (e.hlc !== keep) drop.push(e.hlc);
      continue;
    }
    const later = new Set<string>();
    for (let i = list.length - 1; i >= 0; i--) {
      const e = list[i]!;
      const fields = Object.keys(e.fields);
      if (fields.length && fields.every((f) => later.has(f))) drop.push(e.hlc);
      for (const f of fields) later.add(f);
    }
  }
  return drop.sort();
}
