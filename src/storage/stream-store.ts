/**
 * The storage side of the owned-state stream (core/stream.ts): watermarks, reading an owner's
 * rows as pages, packing pages for the wire (deflated JSON) and unpacking them with bounds,
 * and the one-time layout upgrade of a library persisted before the stream existed.
 * Runs in the storage worker (and in Node tests), inside the engine's transactions.
 */
import * as Y from 'yjs';
import type { Hlc } from '../core/change.ts';
import { MODELS } from '../core/models.ts';
import { err, type Result } from '../core/result.ts';
import { decodePage, encodePage, fieldNames, PAGE_VERSION, isStreamModel, MAX_AHEAD_ROWS, MAX_PAGE_ROWS, STREAM_MODELS, type DecodedPage, type Marks, type SeqChange, type StreamModelName } from '../core/stream.ts';
import { deflate, inflate } from '../transport/deflate.ts';
import type { Sqlite } from './sqlite.ts';

/** A page never inflates past this (a row is capped by validation at a few KB; 2,000 rows). */
export const MAX_PAGE_INFLATED = 16 * 1024 * 1024;
/** The most pages one pull is answered with (flow control: the puller asks again). */
export const MAX_PAGES_PER_PULL = 8;

export function loadMarks(d: Sqlite): Map<string, number> {
  return new Map(d.all('SELECT owner, seq FROM watermarks').map((r) => [String(r['owner']), Number(r['seq'])]));
}

/** Raises watermarks (never lowers them), inside the caller's transaction. */
export function raiseMarks(d: Sqlite, marks: Marks): void {
  for (const [owner, seq] of Object.entries(marks))
    d.run('INSERT INTO watermarks (owner, seq) VALUES (?, ?) ON CONFLICT(owner) DO UPDATE SET seq = max(seq, excluded.seq)', [owner, seq]);
}

const TABLE = (m: StreamModelName): string => MODELS[m].table;

/**
 * The owner's rows with after < seq ≤ held, at most MAX_PAGE_ROWS, as one page range: `to` is
 * where the page ends (every row of the owner up to `to` is in it, P2). Reads each source (three
 * tables and the tombstones) in seq order through the (owner, seq) indexes.
 */
export function readPage(d: Sqlite, owner: string, after: number, held: number, limit = MAX_PAGE_ROWS): { changes: SeqChange[]; to: number; ahead: SeqChange[] } {
  const rows: SeqChange[] = [];
  let to = held;
  const take = (list: SeqChange[]): void => {
    if (list.length === limit) to = Math.min(to, list[list.length - 1]!.seq);
    rows.push(...list);
  };
  for (const model of STREAM_MODELS) {
    const fields = fieldNames(model);
    const list: SeqChange[] = [];
    d.each(
      `SELECT uuid, _seq, _hlc, ${fields.join(', ')} FROM ${TABLE(model)} WHERE _owner = ? AND _seq > ? AND _seq <= ? ORDER BY _seq LIMIT ${limit}`,
      [owner, after, held],
      (v) => {
        const data: Record<string, string | number | null> = {};
        for (let i = 0; i < fields.length; i++) data[fields[i]!] = v[i + 3] as string | number | null;
        list.push({ kind: 'owned', model, owner, uuid: String(v[0]), seq: Number(v[1]), hlc: String(v[2]), data });
      },
    );
    take(list);
  }
  const tombs: SeqChange[] = [];
  d.each(
    `SELECT model, uuid, seq, hlc FROM tombstones WHERE owner = ? AND seq > ? AND seq <= ? ORDER BY seq LIMIT ${limit}`,
    [owner, after, held],
    (v) => {
      if (isStreamModel(v[0])) tombs.push({ kind: 'owned', model: v[0], owner, uuid: String(v[1]), seq: Number(v[2]), hlc: String(v[3]), deleted: true });
    },
  );
  take(tombs);
  // Entries waiting for their location (core/apply.ts I3) are held too (P2): a peer pulling
  // from this device must get them, or it would pass their seq without ever seeing them.
  const waiting: SeqChange[] = [];
  d.each(
    `SELECT change FROM pending_owned WHERE owner = ? AND seq > ? AND seq <= ? ORDER BY seq LIMIT ${limit}`,
    [owner, after, held],
    (v) => {
      const c = parseHeld(v[0], owner);
      if (c) waiting.push(c);
    },
  );
  take(waiting);
  let inPage = rows.filter((c) => c.seq <= to).sort((a, b) => a.seq - b.seq);
  // Several sources may each have filled up: keep the page within its bound.
  if (inPage.length > limit) {
    to = inPage[limit - 1]!.seq;
    inPage = inPage.slice(0, limit);
  }
  return { changes: inPage, to, ahead: locationsAhead(d, owner, to, inPage) };
}

/** P6: the current rows of the locations this page's entries are in, when they were written
 *  after the page (a scan's location, rewritten with its totals last). */
function locationsAhead(d: Sqlite, owner: string, to: number, page: readonly SeqChange[]): SeqChange[] {
  const inPage = new Set(page.filter((c) => c.model === 'location').map((c) => c.uuid));
  const wanted = new Set<string>();
  for (const c of page) {
    if (c.model !== 'entry' || 'deleted' in c) continue;
    const loc = c.data['location_uuid'];
    if (typeof loc === 'string' && !inPage.has(loc)) wanted.add(loc);
  }
  if (!wanted.size) return [];
  const ids = [...wanted].slice(0, MAX_AHEAD_ROWS);
  const fields = fieldNames('location');
  const out: SeqChange[] = [];
  d.each(
    `SELECT uuid, _seq, _hlc, ${fields.join(', ')} FROM locations WHERE _owner = ? AND _seq > ? AND uuid IN (${ids.map(() => '?').join(', ')})`,
    [owner, to, ...ids],
    (v) => {
      const data: Record<string, string | number | null> = {};
      for (let i = 0; i < fields.length; i++) data[fields[i]!] = v[i + 3] as string | number | null;
      out.push({ kind: 'owned', model: 'location', owner, uuid: String(v[0]), seq: Number(v[1]), hlc: String(v[2]), data });
    },
  );
  return out;
}

const utf8 = new TextEncoder();
const STREAM_MODEL_LIST = STREAM_MODELS.map((m) => `'${m}'`).join(', ');
/** `json_array(uuid, seq, stamp, …fields)` of a row of `model` (encodePage's row layout) */
const rowJson = (model: StreamModelName): string => `json_array(uuid, _seq, substr(_hlc, 1, 19), ${fieldNames(model).join(', ')})`;

/**
 * The page of readPage, already as encodePage's JSON (UTF-8 bytes), built by SQLite: each
 * section is one `json_group_array` read as a blob, so no row becomes a JavaScript object or
 * string on the way (serving is the sender's whole job during a backfill, docs/decisions/0018).
 * The bytes parse to what `encodePage(readPage(…))` gives, key order included; a page with
 * rows waiting for their location (`pending_owned`, stored as change JSON), or one SQLite
 * cannot render as JSON, returns null and is built from objects by readPage.
 */
export function readPageJson(d: Sqlite, owner: string, after: number, held: number, limit = MAX_PAGE_ROWS): { json: Uint8Array; to: number } | null {
  const range = [owner, after, held];
  if (d.all('SELECT 1 FROM pending_owned WHERE owner = ? AND seq > ? AND seq <= ? LIMIT 1', range).length) return null;
  // Where the page ends, as readPage decides it: at its `limit`-th row when the sources hold
  // more (seqs are unique per owner across the tables, P1), or when one source alone fills the
  // page; else at `held`. Index-only walks of (owner, seq), each capped.
  const cap = limit + 1;
  const seqs = (table: string, col: string, src: number, extra = ''): string =>
    `SELECT * FROM (SELECT ${col} AS s, ${src} AS src FROM ${table} WHERE ${col === '_seq' ? '_owner' : 'owner'} = ?1 AND ${col} > ?2 AND ${col} <= ?3${extra} ORDER BY ${col} LIMIT ${cap})`;
  const union = [...STREAM_MODELS.map((m, i) => seqs(TABLE(m), '_seq', i)), seqs('tombstones', 'seq', STREAM_MODELS.length, ` AND model IN (${STREAM_MODEL_LIST})`)].join(' UNION ALL ');
  let to = held;
  d.each(
    `WITH u AS (SELECT s, src FROM (${union}) ORDER BY s LIMIT ${cap}) SELECT count(*), count(DISTINCT src), (SELECT s FROM u ORDER BY s LIMIT 1 OFFSET ${limit - 1}) FROM u`,
    range,
    (v) => {
      const n = Number(v[0]);
      if (n > limit || (n === limit && Number(v[1]) === 1)) to = Number(v[2]);
    },
  );
  const sections: { model: StreamModelName; first: number; rows: Uint8Array }[] = [];
  try {
    for (const model of STREAM_MODELS) {
      d.each(
        `SELECT min(_seq), CAST(json_group_array(${rowJson(model)} ORDER BY _seq) AS BLOB) FROM ${TABLE(model)} WHERE _owner = ? AND _seq > ? AND _seq <= ? HAVING count(*) > 0`,
        [owner, after, to],
        (v) => void sections.push({ model, first: Number(v[0]), rows: v[1] as Uint8Array }),
      );
    }
    let deleted: Uint8Array | null = null;
    d.each(
      `SELECT CAST(json_group_array(json_array(model, uuid, seq, substr(hlc, 1, 19)) ORDER BY seq) AS BLOB) FROM tombstones WHERE owner = ? AND seq > ? AND seq <= ? AND model IN (${STREAM_MODEL_LIST})`,
      [owner, after, to],
      (v) => void (deleted = v[0] as Uint8Array),
    );
    // P6, as locationsAhead: the current rows of this page's entries' locations written after it
    let ahead: Uint8Array | null = null;
    d.each(
      `SELECT CAST(json_group_array(${rowJson('location')}) AS BLOB) FROM (SELECT * FROM locations WHERE _owner = ?1 AND _seq > ?3 AND uuid IN (SELECT location_uuid FROM entries WHERE _owner = ?1 AND _seq > ?2 AND _seq <= ?3) LIMIT ${MAX_AHEAD_ROWS}) HAVING count(*) > 0`,
      [owner, after, to],
      (v) => void (ahead = v[0] as Uint8Array),
    );
    sections.sort((a, b) => a.first - b.first); // encodePage adds a model's section at its first row
    const parts: (string | Uint8Array)[] = [`{"v":${PAGE_VERSION},"owner":${JSON.stringify(owner)},"from":${after},"to":${to},"models":{`];
    sections.forEach((sec, i) => parts.push(`${i ? ',' : ''}"${sec.model}":{"fields":${JSON.stringify(fieldNames(sec.model))},"rows":`, sec.rows, '}'));
    parts.push('},"deleted":', deleted ?? '[]');
    if (ahead) parts.push(`,"ahead":{"location":{"fields":${JSON.stringify(fieldNames('location'))},"rows":`, ahead, '}}');
    parts.push('}');
    const bytes = parts.map((x) => (typeof x === 'string' ? utf8.encode(x) : x));
    const json = new Uint8Array(bytes.reduce((n, b) => n + b.byteLength, 0));
    let o = 0;
    for (const b of bytes) {
      json.set(b, o);
      o += b.byteLength;
    }
    return { json, to };
  } catch (e) {
    // a value JSON cannot hold (a blob): the object path encodes it as it always did
    if (/JSON cannot hold BLOB/i.test(e instanceof Error ? e.message : String(e))) return null;
    throw e;
  }
}

/** A held change as stored by the apply store (its JSON); the reader validates it again. */
function parseHeld(raw: unknown, owner: string): SeqChange | null {
  try {
    const c = JSON.parse(String(raw)) as Partial<SeqChange> | null;
    if (!c || c.kind !== 'owned' || c.owner !== owner || !isStreamModel(c.model) || typeof c.seq !== 'number') return null;
    return c as SeqChange;
  } catch {
    return null;
  }
}


/**
 * How pages are compressed (raw deflate). The browser's streams by default; the simulator
 * passes a synchronous one (node:zlib) so that a seed replays exactly — native streams finish
 * at moments the seeded schedule does not control. `inflate` must refuse output past `max`.
 */
export interface PageCodec {
  deflate(bytes: Uint8Array): Promise<Uint8Array>;
  inflate(bytes: Uint8Array, max: number): Promise<Uint8Array>;
}

export const streamCodec: PageCodec = { deflate, inflate };

/** A page for the wire: deflated JSON. */
export async function packPage(owner: string, from: number, to: number, changes: readonly SeqChange[], codec: PageCodec = streamCodec, ahead: readonly SeqChange[] = []): Promise<Uint8Array> {
  const json = new TextEncoder().encode(JSON.stringify(encodePage(owner, from, to, changes, ahead)));
  return codec.deflate(json);
}

/** The inverse of packPage, bounded (MAX_PAGE_INFLATED): never throws. */
export async function unpackPage(bytes: Uint8Array, codec: PageCodec = streamCodec): Promise<Result<DecodedPage, string>> {
  let json: unknown;
  try {
    const plain = await codec.inflate(bytes, MAX_PAGE_INFLATED);
    json = JSON.parse(new TextDecoder().decode(plain));
  } catch (e) {
    return err(`page: ${e instanceof Error ? e.message : 'unreadable'}`);
  }
  return decodePage(json);
}

/**
 * Layout upgrade, step 1 (SQLite): number this device's own streamed rows and deletes that
 * have no seq yet, in stamp order (the order the owner wrote them), after `from`; deletes of
 * streamed models get their owner (the device part of their stamp). Returns the new own
 * watermark. Other owners' rows keep no seq: they are not held in the stream's sense until
 * their owner (or a device it served) sends them again.
 */
export function numberOwnRows(d: Sqlite, self: string, from: number): number {
  const own: { table: string; uuid: string; hlc: Hlc }[] = [];
  for (const model of STREAM_MODELS) {
    for (const r of d.all(`SELECT uuid, _hlc FROM ${TABLE(model)} WHERE _owner = ? AND _seq IS NULL`, [self]))
      own.push({ table: TABLE(model), uuid: String(r['uuid']), hlc: String(r['_hlc']) });
  }
  const models = STREAM_MODELS.map((m) => `'${m}'`).join(', ');
  d.run(`UPDATE tombstones SET owner = substr(hlc, 21) WHERE owner IS NULL AND model IN (${models})`);
  for (const r of d.all(`SELECT model, uuid, hlc FROM tombstones WHERE owner = ? AND seq IS NULL AND model IN (${models})`, [self]))
    own.push({ table: `tombstones:${String(r['model'])}`, uuid: String(r['uuid']), hlc: String(r['hlc']) });
  own.sort((a, b) => (a.hlc < b.hlc ? -1 : a.hlc > b.hlc ? 1 : 0));
  let seq = from;
  for (const o of own) {
    seq++;
    if (o.table.startsWith('tombstones:')) d.run('UPDATE tombstones SET seq = ? WHERE model = ? AND uuid = ?', [seq, o.table.slice(11), o.uuid]);
    else d.run(`UPDATE ${o.table} SET _seq = ? WHERE uuid = ?`, [seq, o.uuid]);
  }
  if (seq > from) raiseMarks(d, { [self]: seq });
  return seq;
}

/**
 * Layout upgrade, step 2 (the sync document): the document persisted before the stream holds
 * every owned record of every device. The new one keeps what the document is for now: the
 * shared log, this device's ack and record, and meta. Other devices' records come back when
 * they write them on the new layout (their rows stay in SQLite meanwhile).
 */
export function upgradeDocState(updates: readonly Uint8Array[], self: string): Uint8Array {
  const old = new Y.Doc();
  for (const u of updates) Y.applyUpdate(old, u);
  const next = new Y.Doc();
  next.transact(() => {
    old.getMap('shared').forEach((v, k) => next.getMap('shared').set(k, v));
    old.getMap('meta').forEach((v, k) => next.getMap('meta').set(k, v));
    const ack = old.getMap('acks').get(self);
    if (ack !== undefined) next.getMap('acks').set(self, ack);
    const record = old.getMap(`owned:${self}`).get(`device:${self}`);
    if (record !== undefined) next.getMap(`owned:${self}`).set(`device:${self}`, record);
  });
  const out = Y.encodeStateAsUpdate(next);
  old.destroy();
  next.destroy();
  return out;
}
