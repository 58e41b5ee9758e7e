/**
 * The sync document (DESIGN §3): one Y.Doc per library, the replicated log every change
 * travels in. Layout:
 *
 *   owned:<device>  Y.Map  `<model>:<uuid>` → '[hlc, v1, v2, …]' | '[hlc]' (a delete)
 *                          a JSON string, the model's fields in registry order (below);
 *                          written only by <device> (root types: named, so two devices can
 *                          never create conflicting copies of one map — a nested map created
 *                          twice after a crash would lose one copy's content)
 *   log             Y.Map  'seg' → the current *segment*, a Y.Map holding the shared log:
 *                          `<hlc>` → '["<model>","<uuid>","<op>",<mask>,v…]' (any device;
 *                          keys unique; `encodeEntry`, below), `ack:<device>` → highest
 *                          HLC that device has materialized and, from layout 3, the segment
 *                          it had committed whole (D7), `ack:~seg` → the segment's note,
 *                          and `ack:~keep:<hlc>` → a kept delete's mark (D8)
 *   shared          Y.Map  the shared log before the first segment (layout 1), as above
 *   acks            Y.Map  the acks before the first segment (layout 1)
 *   meta            Y.Map  library name, schema versions, the log layouts each device reads
 *
 * Invariants:
 *  D1 Local writes happen in transactions with LOCAL_ORIGIN (one per batch of a write, D4:
 *     the engine journals a write's transactions as ONE update), write-backs with
 *     RESTORE_ORIGIN (D6); everything else is remote.
 *  D2 From a remote transaction exactly the changed keys become candidate changes; each is
 *     `unknown` until core validation accepts it. A value in `owned:X` that X did not stamp is
 *     rejected and counted (the owner rule), never applied.
 *  D3 Deleting a `shared` key (compaction) is not a change: what a device materialized stays.
 *  D4 One local transaction's Yjs update stays under MAX_BATCH_UPDATE_BYTES: the engine
 *     splits every write with `batchChanges` (measured: a sample entry — 2 uuids, a name, sizes and
 *     dates, its key and its root's name — costs ~300 B of update).
 *  D5 The shared log is read as the union of the root `shared` map and the current segment.
 *     Compaction in layout 2 (compaction.ts C8) replaces the segment with a new one holding
 *     what is live, so deleted entries become children of a deleted map: Yjs keeps them as
 *     bare clock ranges that merge, where a deleted root-map key keeps its item and key
 *     (~76 B per superseded entry). Layout 2 starts with the first compaction after every
 *     device the document knows has said it reads it (`meta` `layout:<device>`); until then
 *     the log stays in `shared`, which every earlier build reads.
 *  D6 An entry that leaves this device's view of the log without being superseded by what
 *     remains was lost, not dropped — written into a segment a concurrent compaction
 *     replaced — and the device that saw it writes it back (the engine's restore, E7).
 *     Entries are immutable and keyed by HLC, so writing one back twice is harmless.
 *  D7 A tombstone a compaction pruned (compaction.ts C10) leaves the views of the devices
 *     that saw it without being superseded: the new segment's note says which ones it pruned
 *     (the delete entries of the segment it replaced held by that segment creator's items
 *     below a clock), and those are not written back. A device that left the view of another
 *     segment writes them back — harmless, a tombstone again, pruned at a later round.
 *  D8 A delete written again (engine.ts E8: a device wrote back a record whose tombstone was
 *     pruned) carries a keep mark in the segment, written in the same transaction, and is
 *     pruned only once every device the document knows has seen it (compaction.ts C10):
 *     pruned past the horizon like any other, it met the device that wrote the record back
 *     and was pruned before that device saw it, which wrote the record back again
 *     (simulator seed 888: the record came back on three devices of five).
 *
 * Why owned records are one JSON string and not a nested object: Yjs encodes an object value
 * field by field, one UTF-8 string write per key and per string value, and decodes it the same
 * way. A fresh device's backfill of 100k entries is 100k such records: as objects the update
 * was 38.4 MB, 674 ms to encode and 1.4 s to apply (Node); as positional JSON strings it is
 * 31 MB, 328 ms and 0.6 s, plus 0.27 s of JSON.parse at extraction. Positional, because the
 * keys repeated in every record were a fifth of the bytes. The extractor still reads the
 * object form (documents written before this encoding).
 *
 * Why `owned:<device>` roots and not one root `owned` map holding a nested map per device:
 * a nested Y.Map is an item created by whoever sets it. A device killed after its first
 * write reached a peer but before the write was durable restarts without that map, and if
 * it writes before it has synced it creates a second map under the same key; Yjs keeps one
 * of the two concurrent values and every record in the other is lost for good. Root types
 * are identified by name, so they can never conflict. The cost — discovering roots of
 * devices we have not met — is one scan of `doc.share` after a remote transaction.
 */
import * as Y from 'yjs';
import type { Change, OwnedChange } from '../core/change.ts';
import { decodeHlc, hlcDevice } from '../core/hlc.ts';
import { isOwnedModel, MODELS, type OwnedModelName } from '../core/models.ts';
import { isUuid } from '../core/uuid.ts';
import { isStreamModel } from '../core/stream.ts';
import { NEWER_NAME, validateChange } from '../core/validate.ts';

export const LOCAL_ORIGIN = 'tabdrive:local';
export const BOOT_ORIGIN = 'tabdrive:boot';
/** A write-back (D6, engine.ts E7): local, but journaled with the remote update that caused it. */
export const RESTORE_ORIGIN = 'tabdrive:restore';
/** Whether a transaction's origin is this device's own write (what the relay uploads, RS1). */
export const isOwnOrigin = (origin: unknown): boolean => origin === LOCAL_ORIGIN || origin === RESTORE_ORIGIN;
const OWNED_PREFIX = 'owned:';

/** Upper bound for the Yjs update of one local batch (D4). */
export const MAX_BATCH_UPDATE_BYTES = 200 * 1024;

export interface DocRejection {
  readonly reason: 'invalid' | 'ownership';
  readonly where: string;
  readonly detail: string;
}

export interface Extracted {
  readonly changes: Change[];
  readonly rejections: DocRejection[];
  /** what a newer schema wrote that this one does not know (`model.field` or `model`):
   *  left out, not rejected — the device is behind, and says so (update available) */
  readonly newer: string[];
}

const isRecord = (x: unknown): x is Record<string, unknown> => typeof x === 'object' && x !== null && !Array.isArray(x);

export const ownedMapName = (device: string): string => `${OWNED_PREFIX}${device}`;
export const sharedMap = (doc: Y.Doc): Y.Map<unknown> => doc.getMap('shared');
export const acksMap = (doc: Y.Doc): Y.Map<unknown> => doc.getMap('acks');
export const metaMap = (doc: Y.Doc): Y.Map<unknown> => doc.getMap('meta');
export const logRoot = (doc: Y.Doc): Y.Map<unknown> => doc.getMap('log');

/** The log layout this build announces (D5, D7): 2 = segments under `log`; 3 = segments,
 *  and this device handles being pruned past (D7), so compactions may prune tombstones;
 *  4 = and it keeps a delete written again until every device has seen it (D8). */
export const LOG_LAYOUT = 4;
/** The layout a device must announce for the log to live in segments (compaction.ts C9). */
export const SEGMENT_LAYOUT = 2;
/** `meta` key prefix of the log layout each device's build reads (D5). */
export const LAYOUT_KEY = 'layout:';
const SEGMENT = 'seg';
const ACK_PREFIX = 'ack:';
/** The segment's note (D7). In the ack namespace so that builds knowing only entries and
 *  acks carry it over as an ack, never count it as an invalid entry. */
const NOTE_KEY = `${ACK_PREFIX}~seg`;
/** D8: a delete written again (engine.ts E8) is marked by `ack:~keep:<its HLC>`. */
const KEEP_PREFIX = `${ACK_PREFIX}~keep:`;
/** Acks are named by device; names starting with this are the segment's own keys (D7, D8). */
const OWN_KEYS = `${ACK_PREFIX}~`;
/** Whether a segment key is an ack, the note or a keep mark (the others are the log's entries). */
export const isAckKey = (k: string): boolean => k.startsWith(ACK_PREFIX);
const isEntryKey = (k: string): boolean => !isAckKey(k);

/** The current segment (D5), or null in layout 1 (or if a peer put something else there). */
export function currentSegment(doc: Y.Doc): Y.Map<unknown> | null {
  const s = logRoot(doc).get(SEGMENT);
  return s instanceof Y.Map ? (s as Y.Map<unknown>) : null;
}

/** Every entry of the shared log (D5), each key once. */
export function forEachEntry(doc: Y.Doc, fn: (value: unknown, key: string) => void): void {
  const seg = currentSegment(doc);
  sharedMap(doc).forEach((v, k) => {
    if (!seg?.has(k)) fn(v, k);
  });
  seg?.forEach((v, k) => {
    if (isEntryKey(k)) fn(v, k);
  });
}

/** Whether the shared log holds `key` (D5). */
export const hasEntry = (doc: Y.Doc, key: string): boolean => sharedMap(doc).has(key) || (currentSegment(doc)?.has(key) ?? false);

/** How many entries the shared log holds. */
export function sharedLogSize(doc: Y.Doc): number {
  let n = 0;
  forEachEntry(doc, () => n++);
  return n;
}

/** Where new entries go: the current segment, or `shared` in layout 1. The engine writes
 *  into `shared` while a device that reads only layout 1 is known, segment or not (C9). */
export const logTarget = (doc: Y.Doc): Y.Map<unknown> => currentSegment(doc) ?? sharedMap(doc);

/** A device's ack (the segment's, or layout 1's `acks`). */
export function readAck(doc: Y.Doc, device: string): unknown {
  const seg = currentSegment(doc);
  return seg ? seg.get(`${ACK_PREFIX}${device}`) : acksMap(doc).get(device);
}

/**
 * An ack: the highest HLC the device has materialized and, in a segment (D7), the segment it
 * had committed whole when it wrote the ack, its wall clock then, and how far it had the
 * segment's creator's items (`Y.getState`): every item of that client below `state` in the
 * segment was in its view. Layout 1 and earlier builds write the HLC alone.
 */
export interface Ack {
  readonly top: string;
  readonly seg: string | null;
  readonly at: number | null;
  readonly state: number | null;
}

export function parseAck(v: unknown): Ack | null {
  if (typeof v !== 'string') return null;
  const [top, seg, at, state] = v.split(' ');
  if (!top || !decodeHlc(top).ok) return null;
  const wall = Number(at);
  const st = Number(state);
  return seg && Number.isSafeInteger(wall) && Number.isSafeInteger(st) && st >= 0 ? { top, seg, at: wall, state: st } : { top, seg: null, at: null, state: null };
}

/** Writes this device's ack where the layout keeps it; inside the caller's transaction. In a
 *  segment it names the segment this device has committed whole (D7). */
export function writeAck(doc: Y.Doc, device: string, top: string, seg?: { readonly id: string; readonly at: number; readonly state: number }): void {
  const s = currentSegment(doc);
  if (s) s.set(`${ACK_PREFIX}${device}`, seg ? `${top} ${seg.id} ${Math.round(seg.at)} ${seg.state}` : top);
  else acksMap(doc).set(device, top);
}

/** Every ack in the document: device → value (the segment's win over layout 1's). The
 *  segment's own keys (note, keep marks) are not acks, nor are they in layout 1's `acks`. */
export function allAcks(doc: Y.Doc): Map<string, unknown> {
  const out = new Map<string, unknown>();
  acksMap(doc).forEach((v, k) => {
    if (!k.startsWith('~')) out.set(k, v);
  });
  currentSegment(doc)?.forEach((v, k) => {
    if (isAckKey(k) && !k.startsWith(OWN_KEYS)) out.set(k.slice(ACK_PREFIX.length), v);
  });
  return out;
}

/** Whether a segment key is one of the segment's own (the note, a keep mark: D7, D8). */
export const isOwnSegmentKey = (k: string): boolean => k.startsWith(OWN_KEYS);

/**
 * D8: a delete written again because a device wrote back a record whose tombstone was pruned
 * (engine.ts E8) is *kept*: its mark, in the same segment, says so, and compaction.ts C10
 * prunes it only once every device the document knows has seen it — the horizon does not
 * apply, since the device that wrote the record back is evidently not gone. The key is the
 * mark; its value is `KEPT`.
 */
export const keepKey = (hlc: string): string => `${KEEP_PREFIX}${hlc}`;
export const KEPT = 1;

/** The kept deletes of the current segment (D8): their HLCs. */
export function keptDeletes(doc: Y.Doc): Set<string> {
  const out = new Set<string>();
  currentSegment(doc)?.forEach((_v, k) => {
    if (k.startsWith(KEEP_PREFIX)) out.add(k.slice(KEEP_PREFIX.length));
  });
  return out;
}

/** The key an ack has in a segment. */
export const segmentAckKey = (device: string): string => `${ACK_PREFIX}${device}`;

/** A Yjs item's id: the client that wrote it and its clock. */
export interface ItemId {
  readonly client: number;
  readonly clock: number;
}

/** The item holding `key` in `map` — who wrote the value, at which clock (D7). `_map` is in
 *  Yjs' public typings; no public call returns a map key's item. */
export function itemId(map: Y.Map<unknown>, key: string): ItemId | null {
  const it = map._map.get(key);
  return it ? { client: it.id.client, clock: it.id.clock } : null;
}

/**
 * D7: what a segment says of itself, written once by the compaction that made it:
 *  - `id`: `<client>.<clock>` of the compactor's first item of that transaction (acks name
 *    it; `creator` is its client);
 *  - `pruned`: when that compaction pruned tombstones (compaction.ts C10), which: the delete
 *    entries of segment `seg` held by items of `creator` below clock `state`. A device that
 *    sees one of those leave its view knows it was dropped on purpose, not lost (D6).
 */
export interface SegmentNote {
  readonly id: string;
  readonly creator: number | null;
  readonly pruned: { readonly seg: string; readonly creator: number; readonly state: number } | null;
}

const parseCreator = (id: string): number | null => {
  const c = parseInt(id.split('.')[0] ?? '', 36);
  return Number.isSafeInteger(c) ? c : null;
};

export function segmentNote(doc: Y.Doc): SegmentNote | null {
  const v = currentSegment(doc)?.get(NOTE_KEY);
  if (typeof v !== 'string') return null;
  try {
    const row: unknown = JSON.parse(v);
    if (!Array.isArray(row) || typeof row[0] !== 'string') return null;
    const p: unknown = row[1];
    const pruned = Array.isArray(p) && typeof p[0] === 'string' && Number.isSafeInteger(p[1]) && Number.isSafeInteger(p[2])
      ? { seg: p[0], creator: p[1] as number, state: p[2] as number }
      : null;
    return { id: row[0], creator: parseCreator(row[0]), pruned };
  } catch {
    return null;
  }
}

/** The note's key and value, for the compaction that writes it into its new segment. */
export const encodeNote = (n: SegmentNote): [string, string] =>
  [NOTE_KEY, JSON.stringify(n.pruned ? [n.id, [n.pruned.seg, n.pruned.creator, n.pruned.state]] : [n.id])];

/** Whether a delete entry that left the view with `item`, from segment `from`, is one of
 *  the tombstones `note`'s compaction pruned (D7; the caller checks it is a delete). */
export const prunedBy = (note: SegmentNote | null, from: string | null, item: ItemId | null): boolean =>
  !!note?.pruned && item !== null && from === note.pruned.seg && item.client === note.pruned.creator && item.clock < note.pruned.state;

const FIELD_NAMES = new Map<string, readonly string[]>(Object.values(MODELS).map((m) => [m.name, Object.keys(m.fields)]));
const fieldNames = (model: OwnedModelName): readonly string[] => FIELD_NAMES.get(model)!;

/** An owned record as stored in the document: '[hlc, …fields in registry order]', '[hlc]' if deleted. */
export function encodeOwnedValue(c: OwnedChange): string {
  if ('deleted' in c) return JSON.stringify([c.hlc]);
  const row: unknown[] = [c.hlc];
  for (const name of fieldNames(c.model)) row.push(c.data[name] ?? null);
  return JSON.stringify(row);
}

/** The value a change is stored as in layout 1's `shared` (and so, roughly, what it costs). */
const docValue = (c: Change): unknown =>
  c.kind === 'owned' ? encodeOwnedValue(c) : { model: c.model, uuid: c.uuid, op: c.op, fields: c.fields };

/**
 * A shared entry as a segment stores it (D5): one JSON string, the fields it sets as a bit
 * mask over the model's registry order and their values in that order. Yjs writes an object
 * value key by key with a type tag each; tag and album acts are live entries a compaction
 * never drops, so their bytes are the document's size (10,000 acts: 2.7 MB as objects).
 * Fields are only appended to a model (migrations are additive), so an older device reads a
 * newer one's extra bits as `field_<i>` (newer, left out) and a newer one reads an older
 * one's mask as it is. A model or field this build does not know is stored as an object.
 */
export function encodeEntry(value: { model: string; uuid: string; op: string; fields: Record<string, unknown> }): unknown {
  const names = FIELD_NAMES.get(value.model);
  if (!names) return value;
  let mask = 0;
  const values: unknown[] = [];
  const given = Object.keys(value.fields);
  for (let i = 0; i < names.length; i++) {
    const n = names[i]!;
    if (!(n in value.fields)) continue;
    mask += 2 ** i;
    values.push(value.fields[n]);
  }
  if (values.length !== given.length || names.length > 52) return value;
  return JSON.stringify([value.model, value.uuid, value.op, mask, ...values]);
}

/** `encodeEntry`'s string as the object form, or why it is not an entry. */
function decodeEntry(value: string): Record<string, unknown> | string {
  let row: unknown;
  try {
    row = JSON.parse(value);
  } catch {
    return 'value is not JSON';
  }
  if (!Array.isArray(row) || row.length < 4 || typeof row[0] !== 'string' || !Number.isSafeInteger(row[3]) || (row[3] as number) < 0) return 'value is not an entry';
  const names = FIELD_NAMES.get(row[0]) ?? [];
  const fields: Record<string, unknown> = {};
  let at = 4;
  for (let i = 0, mask = row[3] as number; mask > 0; i++, mask = Math.floor(mask / 2)) {
    if (mask % 2 === 0) continue;
    if (at >= row.length) return 'mask names more fields than the entry holds';
    fields[names[i] ?? `field_${i}`] = row[at++];
  }
  if (at !== row.length) return 'the entry holds more values than its mask names';
  return { model: row[0], uuid: row[1], op: row[2], fields };
}

/** A shared-log value in object form (layout 1's objects, segments' strings), or null. */
export function entryObject(value: unknown): Record<string, unknown> | null {
  if (typeof value === 'string') {
    const r = decodeEntry(value);
    return typeof r === 'string' ? null : r;
  }
  return isRecord(value) ? value : null;
}

/**
 * An upper estimate of the bytes a change adds to a Yjs update: its JSON, its key, its
 * parent map's name and the item header (checked per kind in tests/integration/sync-doc). Yjs' binary encoding of a plain value
 * is smaller than its JSON, so batches cut by this estimate stay under the budget.
 */
export function estimateChangeBytes(c: Change): number {
  // key + parent root name (each new map key is an item that names its parent)
  const where = c.kind === 'owned' ? c.model.length + 1 + c.uuid.length + ownedMapName(c.owner).length : c.hlc.length + 6;
  const v = docValue(c);
  return utf8Length(typeof v === 'string' ? v : JSON.stringify(v)) + where + 24;
}

/** UTF-8 byte length (Yjs writes strings as UTF-8; JSON.stringify leaves non-ASCII as is). */
function utf8Length(s: string): number {
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    const u = s.charCodeAt(i);
    n += u < 0x80 ? 1 : u < 0x800 ? 2 : u >= 0xd800 && u <= 0xdbff ? (i++, 4) : 3;
  }
  return n;
}

/**
 * Splits a bulk write into batches whose Yjs update stays under `budget` bytes (D4), in
 * order. A single change larger than the budget travels alone (validation caps field
 * sizes, so that is at most a long note).
 */
export function batchChanges<C extends Change>(changes: readonly C[], budget = MAX_BATCH_UPDATE_BYTES): C[][] {
  const out: C[][] = [];
  let batch: C[] = [];
  let bytes = 64; // update header and delete set
  for (const c of changes) {
    const b = estimateChangeBytes(c);
    if (batch.length && bytes + b > budget) {
      out.push(batch);
      batch = [];
      bytes = 64;
    }
    batch.push(c);
    bytes += b;
  }
  if (batch.length) out.push(batch);
  return out;
}

/** Writes local changes into the document in ONE transaction (D1; the engine keeps it ≤ D4).
 *  `keep`: deletes written again (D8), each with its mark in the same transaction — apart,
 *  a peer could carry the delete into its segment before the mark arrived, and lose it. */
/** Checked before the transaction: a throw inside one would leave half the batch written. */
export function writeChanges(doc: Y.Doc, device: string, changes: readonly Change[], into: (doc: Y.Doc) => Y.Map<unknown> = logTarget, keep = false): void {
  for (const c of changes) {
    if (c.kind === 'owned' && c.owner !== device) throw new Error(`device ${device} cannot write ${c.owner}'s records`);
  }
  const inDoc = changes.filter(travelsInDoc);
  if (!inDoc.length) return;
  doc.transact(() => {
    const owned = doc.getMap<unknown>(ownedMapName(device));
    const shared = into(doc);
    const compact = shared !== sharedMap(doc);
    for (const c of inDoc) {
      if (c.kind === 'owned') owned.set(`${c.model}:${c.uuid}`, docValue(c));
      else shared.set(c.hlc, compact ? encodeEntry({ model: c.model, uuid: c.uuid, op: c.op, fields: c.fields }) : docValue(c));
      // layout 1 prunes nothing (compaction.ts C10): no mark there
      if (keep && compact && c.kind === 'shared') shared.set(keepKey(c.hlc), KEPT);
    }
  }, LOCAL_ORIGIN);
}

/** Shared changes and device records travel in the document; volumes, locations and entries
 *  in the owned-state stream (core/stream.ts), so the document does not grow with files. */
export const travelsInDoc = (c: Change): boolean => c.kind === 'shared' || !isStreamModel(c.model);

type Read = { change: unknown } | { newer: string } | DocRejection;

function ownedChange(owner: string, key: string, value: unknown): Read {
  const where = `${OWNED_PREFIX}${owner.slice(0, 8)}… ${key.slice(0, 60)}`;
  const sep = key.indexOf(':');
  const model = key.slice(0, sep);
  const uuid = key.slice(sep + 1);
  if (sep >= 0 && !isOwnedModel(model) && NEWER_NAME.test(model) && isUuid(uuid)) return { newer: model };
  if (sep < 0 || !isOwnedModel(model) || !isUuid(uuid)) return { reason: 'invalid', where, detail: 'malformed key' };
  if (isStreamModel(model)) return { reason: 'invalid', where, detail: `${model} records travel in the owned-state stream, not the document` };
  const record = typeof value === 'string' ? fromPositional(model, value) : value;
  if (typeof record === 'string') return { reason: 'invalid', where, detail: record };
  if (!isRecord(record)) return { reason: 'invalid', where, detail: 'value is not an object' };
  const hlc = record['hlc'];
  if (!decodeHlc(hlc).ok) return { reason: 'invalid', where, detail: 'invalid HLC' };
  if (hlcDevice(hlc as string) !== owner)
    return { reason: 'ownership', where, detail: `stamped by ${hlcDevice(hlc as string)}, planted in ${owner}'s records` };
  return record['deleted'] === true
    ? { change: { kind: 'owned', model, owner, uuid, hlc, deleted: true } }
    : { change: { kind: 'owned', model, owner, uuid, hlc, data: record['data'] } };
}

/** The positional form (encodeOwnedValue) as the object form, or why it is not a record. */
function fromPositional(model: OwnedModelName, value: string): Record<string, unknown> | string {
  let row: unknown;
  try {
    row = JSON.parse(value);
  } catch {
    return 'value is not JSON';
  }
  if (!Array.isArray(row) || row.length === 0) return 'value is not a record';
  if (row.length === 1) return { hlc: row[0], deleted: true };
  // Fields are only ever appended to a model (migrations are additive): a longer record is a
  // newer schema's (its extra values are left out), a shorter one an older schema's (the
  // fields it lacks are absent; validation defaults the nullable ones).
  const names = fieldNames(model);
  const data: Record<string, unknown> = {};
  for (let i = 0; i < names.length && i + 1 < row.length; i++) data[names[i]!] = row[i + 1];
  for (let i = names.length + 1; i < row.length; i++) data[`field_${i}`] = row[i];
  return { hlc: row[0], data };
}

function sharedChange(key: string, raw: unknown): Read {
  const where = `shared ${key.slice(0, 60)}`;
  const value = typeof raw === 'string' ? decodeEntry(raw) : raw;
  if (typeof value === 'string') return { reason: 'invalid', where, detail: value };
  if (!isRecord(value)) return { reason: 'invalid', where, detail: 'value is not an object' };
  return { change: { kind: 'shared', model: value['model'], uuid: value['uuid'], hlc: key, op: value['op'], fields: value['fields'] } };
}

function push(out: Extracted, r: Read): void {
  if ('newer' in r) return void out.newer.push(r.newer);
  if (!('change' in r)) return void out.rejections.push(r);
  const before = out.newer.length;
  const v = validateChange(r.change, (what) => out.newer.push(what));
  if (v.ok) out.changes.push(v.value);
  // refused only for what a newer schema added (its model, or an update of its fields alone):
  // behind, not invalid
  else if (out.newer.length === before) out.rejections.push({ reason: 'invalid', where: describeWhere(r.change), detail: v.error.detail });
}

const describeWhere = (c: unknown): string =>
  isRecord(c) ? `${String(c['kind'])} ${typeof c['model'] === 'string' ? c['model'] : '?'} ${typeof c['uuid'] === 'string' ? c['uuid'].slice(0, 36) : '?'}` : '?';

/** The valid entries of the shared log (compaction looks only at these). */
export function readSharedLog(doc: Y.Doc): Extracted {
  const out: Extracted = { changes: [], rejections: [], newer: [] };
  forEachEntry(doc, (v, k) => push(out, sharedChange(k, v)));
  return out;
}

/** The valid entries of one model of the shared log (others are not validated: cheap). */
export function readSharedModel(doc: Y.Doc, model: string): Extracted {
  const out: Extracted = { changes: [], rejections: [], newer: [] };
  const prefix = `["${model}",`;
  forEachEntry(doc, (v, k) => {
    if ((isRecord(v) && v['model'] === model) || (typeof v === 'string' && v.startsWith(prefix))) push(out, sharedChange(k, v));
  });
  return out;
}

/** Every root map name of the document that holds a device's records. */
export function ownedRoots(doc: Y.Doc): string[] {
  return [...doc.share.keys()].filter((k) => k.startsWith(OWNED_PREFIX));
}

/** The keys of `m` a transaction changed (Yjs types the map by event kind; ours are maps). */
const changedKeys = (tr: Y.Transaction, m: Y.Map<unknown>): Set<string | null> | undefined => {
  for (const [type, keys] of tr.changed) if ((type as unknown) === m) return keys;
  return undefined;
};

/** What one transaction did to the document, as this device reads it. */
/** An entry that left the view: its key, value, the item that held it (D7) and whether it
 *  was a kept delete (D8: written back, it is written back kept). */
export type Vanished = readonly [key: string, value: unknown, item: ItemId | null, kept: boolean];

export interface Observed extends Extracted {
  /** shared-log entries that left this device's view (D6: lost or dropped; the caller tells) */
  readonly vanished: readonly Vanished[];
  /** the id of the segment they left, when it was replaced (D7) */
  readonly from: string | null;
  /** the current segment was replaced (a compaction, D5): the entries it holds, else -1 */
  readonly replaced: number;
}

/**
 * Tracks which owned roots this device has seen, so a remote transaction yields exactly the
 * changed keys (D2): known maps report their changed keys; a map seen for the first time is
 * read whole. `self`'s root is known from the start: this device creates it with its local
 * writes, and it used to be "seen for the first time" at the first remote transaction after
 * them — which re-read (and re-committed) every record this device had written, 100k records
 * of a fresh library at the moment a new device joined.
 *
 * It also mirrors the shared log's entries (root `shared` and the current segment, D5), so a
 * replaced segment yields only the entries this device had not seen, and the ones that left
 * its view (D6). The mirror holds the values Yjs decoded (no copies).
 */
export function createExtractor(doc: Y.Doc, self?: string) {
  // Define the fixed roots up front: a root first met in a remote update is a placeholder
  // type in that transaction, and its changes would not be recognised as `shared`'s.
  sharedMap(doc);
  acksMap(doc);
  metaMap(doc);
  logRoot(doc);
  const known = new Map<unknown, string>(); // owned root map → owner device
  const adopt = (name: string): Y.Map<unknown> => {
    const m = doc.getMap<unknown>(name);
    known.set(m, name.slice(OWNED_PREFIX.length));
    return m;
  };
  if (self !== undefined) adopt(ownedMapName(self));
  const inRoot = new Map<string, unknown>();
  const inSegment = new Map<string, unknown>();
  const kept = new Set<string>(); // the current segment's kept deletes (D8)
  let segment: Y.Map<unknown> | null = null;
  let segmentId: string | null = null; // its note's id, read while it is current (D7)
  const noteId = (m: Y.Map<unknown> | null): string | null => {
    const v = m?.get(NOTE_KEY);
    if (typeof v !== 'string') return null;
    try {
      const row: unknown = JSON.parse(v);
      return Array.isArray(row) && typeof row[0] === 'string' ? row[0] : null;
    } catch {
      return null;
    }
  };
  const resync = (): void => {
    inRoot.clear();
    inSegment.clear();
    kept.clear();
    sharedMap(doc).forEach((v, k) => inRoot.set(k, v));
    segment = currentSegment(doc);
    segmentId = noteId(segment);
    segment?.forEach((v, k) => {
      if (isEntryKey(k)) inSegment.set(k, v);
      else if (k.startsWith(KEEP_PREFIX)) kept.add(k.slice(KEEP_PREFIX.length));
    });
  };
  resync();
  const readKeys = (m: Y.Map<unknown>, mirror: Map<string, unknown>, keys: Set<string | null>, added: [string, unknown][], gone: Vanished[]): void => {
    for (const k of keys) {
      if (k === null || !isEntryKey(k)) continue;
      if (m.has(k)) {
        const v = m.get(k);
        mirror.set(k, v);
        added.push([k, v]);
      } else if (mirror.has(k)) {
        gone.push([k, mirror.get(k), itemId(m, k), kept.has(k)]);
        mirror.delete(k);
      }
    }
    // the marks after the entries: an entry that left with its mark left kept
    for (const k of keys) {
      if (k === null || !k.startsWith(KEEP_PREFIX)) continue;
      if (m.has(k)) kept.add(k.slice(KEEP_PREFIX.length));
      else kept.delete(k.slice(KEEP_PREFIX.length));
    }
  };
  const api = {
    /** Everything in the document (boot, re-materialization checks). */
    all(): Extracted {
      const out: Extracted = { changes: [], rejections: [], newer: [] };
      for (const name of ownedRoots(doc)) {
        const owner = name.slice(OWNED_PREFIX.length);
        const m = adopt(name);
        if (!isUuid(owner)) {
          out.rejections.push({ reason: 'invalid', where: name.slice(0, 60), detail: 'owned map of a non-uuid device' });
          continue;
        }
        m.forEach((v, k) => push(out, ownedChange(owner, k, v)));
      }
      forEachEntry(doc, (v, k) => push(out, sharedChange(k, v)));
      return out;
    },
    /**
     * What a transaction brought (`remote`: its changes, D2) and which log entries left the
     * view (D6). Local transactions only keep the mirror current (their changes are the
     * caller's own).
     */
    observe(tr: Y.Transaction, remote: boolean): Observed {
      const out = { changes: [] as Change[], rejections: [] as DocRejection[], newer: [] as string[], vanished: [] as Vanished[], replaced: -1, from: segmentId };
      const added: [string, unknown][] = [];
      const gone: Vanished[] = [];
      const now = currentSegment(doc);
      if (now !== segment) {
        // a new segment (D5): read whole; what it holds that this device had is not news
        const before = new Map(inSegment);
        const keptBefore = new Set(kept);
        // a replaced map keeps its items in `_map` (deleted, content collected): ids stay readable
        const old = segment;
        inSegment.clear();
        kept.clear();
        segment = now;
        segmentId = noteId(now);
        now?.forEach((v, k) => {
          if (k.startsWith(KEEP_PREFIX)) kept.add(k.slice(KEEP_PREFIX.length));
          if (!isEntryKey(k)) return;
          inSegment.set(k, v);
          if (!before.has(k) && !inRoot.has(k)) added.push([k, v]);
        });
        for (const [k, v] of before) if (!inSegment.has(k)) gone.push([k, v, old ? itemId(old, k) : null, keptBefore.has(k)]);
        out.replaced = inSegment.size;
      } else if (now) {
        const keys = changedKeys(tr, now);
        if (keys) readKeys(now, inSegment, keys, added, gone);
      }
      const shared = sharedMap(doc);
      const rootKeys = changedKeys(tr, shared);
      if (rootKeys) {
        const rootAdded: [string, unknown][] = [];
        readKeys(shared, inRoot, rootKeys, rootAdded, gone);
        for (const a of rootAdded) if (!inSegment.has(a[0])) added.push(a);
      }
      // moved between `shared` and the segment (layout 2's first compaction): still there.
      // Held by both and gone from both (a write-back into `shared` beside the segment, then
      // a compaction): one entry, the segment's item first (simulator seed 2640: the twin
      // superseded the other, and neither was written back)
      const seen = new Set<string>();
      for (const g of gone) {
        if (inRoot.has(g[0]) || inSegment.has(g[0]) || seen.has(g[0])) continue;
        seen.add(g[0]);
        out.vanished.push(g);
      }
      if (!remote) return out;
      for (const [k, v] of added) push(out, sharedChange(k, v));
      for (const [type, keys] of tr.changed) {
        const owner = known.get(type);
        if (owner === undefined) continue; // a new root: read whole below
        const m = type as unknown as Y.Map<unknown>;
        for (const k of keys) if (k !== null && m.has(k)) push(out, ownedChange(owner, k, m.get(k)));
      }
      for (const name of ownedRoots(doc)) {
        const existing = doc.share.get(name);
        if (existing && known.has(existing)) continue;
        const owner = name.slice(OWNED_PREFIX.length);
        const m = adopt(name);
        if (!isUuid(owner)) {
          out.rejections.push({ reason: 'invalid', where: name.slice(0, 60), detail: 'owned map of a non-uuid device' });
          continue;
        }
        m.forEach((v, k) => push(out, ownedChange(owner, k, v)));
      }
      return out;
    },
    /** The changes a (remote) transaction brought. */
    fromTransaction(tr: Y.Transaction): Extracted {
      return api.observe(tr, true);
    },
    /** Mark the current roots as known without reading them (after boot: SQLite has them). */
    adoptAll(): void {
      for (const name of ownedRoots(doc)) adopt(name);
      resync();
    },
  };
  return api;
}
