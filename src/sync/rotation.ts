/**
 * "Rotate invite" (issue 13 item 4; ARCHITECTURE "A library over months"; decision 0011).
 *
 * Everything a device says to other devices and to the relay is keyed by the invite secret:
 * the room, the BroadcastChannel password, the relay handle, token and blob key. Rotating it
 * means moving every member to a new secret without ever telling it to someone who holds only
 * the old one. The sync document carries, in `meta`:
 *
 *   key:<device>        → `p256:<base64url>` that device's public key (written by it)
 *   rotation:<hlc>      → JSON { v, from, to, by, epk, env: [{ d, n, c }] }
 *
 * `from` / `to` are fingerprints of the old and new secret (`fingerprint`); `env` holds the new
 * secret sealed (transport/seal.ts) to each member device's public key as the rotator knew
 * them: every device record it held that was not forgotten and had published a key.
 *
 * Invariants:
 *  R1 The new secret never enters the document, the old room or the relay in a form the old
 *     secret opens: only in envelopes sealed to device keys.
 *  R2 One winner per old secret: among the valid records rotating from the secret a device
 *     holds, the highest HLC wins (string order = HLC order), whoever looks; a device that
 *     followed a loser (its own concurrent rotation, say) follows the winner once it sees it,
 *     and so does a device coming back later, through a chain of rotations.
 *  R3 A record counts only if it parses and its author (`by`, which must also be its stamp's
 *     device) is a known, non-forgotten device; otherwise it is counted and ignored. An
 *     envelope for this device that does not open (or opens to a secret whose fingerprint is
 *     not `to`) is counted and that record is skipped — this device cannot follow it.
 *  R4 A device the winner has no envelope for is *stranded*: it keeps its old secret (nothing
 *     it could do with it reaches the members any more) and says so in words.
 */
import type * as Y from 'yjs';
import { decodeHlc, hlcDevice } from '../core/hlc.ts';
import { isUuid } from '../core/uuid.ts';
import { isPublicKey, open, seal, type DeviceKeys, type Envelope } from '../transport/seal.ts';
import { metaMap } from './doc.ts';

export const ROTATION_VERSION = 1;
export const KEY_PREFIX = 'key:';
export const ROTATION_PREFIX = 'rotation:';

export interface RotationRecord {
  /** the meta key's HLC */
  readonly hlc: string;
  readonly from: string;
  readonly to: string;
  readonly by: string;
  readonly epk: string;
  readonly env: readonly Envelope[];
}

export interface RotationStats {
  /** records that do not parse, or whose stamp is not their author's */
  invalid: number;
  /** records whose author is unknown or forgotten (looked at again when devices change) */
  notMember: number;
  /** envelopes for this device that did not open to the promised secret */
  badEnvelope: number;
  /** moves made (to another secret) */
  moved: number;
  /** members left out of this device's rotations: their published key is no P-256 point */
  badKey: number;
}

const te = new TextEncoder();
const hex = (b: ArrayBuffer): string => Array.from(new Uint8Array(b), (x) => x.toString(16).padStart(2, '0')).join('');

/** 16 bytes of SHA-256 over (library, secret): names a secret without revealing it. */
export async function fingerprint(library: string, secret: string): Promise<string> {
  return hex(await crypto.subtle.digest('SHA-256', te.encode(`tabdrive:rotation:v${ROTATION_VERSION}:${library}:${secret}`))).slice(0, 32);
}

/** What is bound into every envelope of a record (its key in `meta` included). */
export const sealContext = (library: string, hlc: string, from: string, to: string): string => `tabdrive rotation v${ROTATION_VERSION}|${library}|${hlc}|${from}|${to}`;

const FP_RE = /^[0-9a-f]{32}$/;
const B64_RE = /^[A-Za-z0-9_-]{1,512}$/;

/** Reads one `rotation:<hlc>` entry; null when it is not a well-formed record (R3). */
export function parseRotation(key: string, value: unknown): RotationRecord | null {
  if (!key.startsWith(ROTATION_PREFIX) || typeof value !== 'string' || value.length > 256 * 1024) return null;
  const hlc = key.slice(ROTATION_PREFIX.length);
  if (!decodeHlc(hlc).ok) return null;
  let v: unknown;
  try {
    v = JSON.parse(value);
  } catch {
    return null;
  }
  if (typeof v !== 'object' || v === null) return null;
  const r = v as Record<string, unknown>;
  if (r['v'] !== ROTATION_VERSION || typeof r['from'] !== 'string' || !FP_RE.test(r['from']) || typeof r['to'] !== 'string' || !FP_RE.test(r['to'])) return null;
  if (r['from'] === r['to'] || typeof r['by'] !== 'string' || !isUuid(r['by']) || hlcDevice(hlc) !== r['by'] || !isPublicKey(r['epk'])) return null;
  if (!Array.isArray(r['env']) || r['env'].length > 4096) return null;
  const env: Envelope[] = [];
  for (const e of r['env'] as unknown[]) {
    if (typeof e !== 'object' || e === null) return null;
    const { d, n, c } = e as Record<string, unknown>;
    if (typeof d !== 'string' || !isUuid(d) || typeof n !== 'string' || !B64_RE.test(n) || typeof c !== 'string' || !B64_RE.test(c)) return null;
    env.push({ d, n, c });
  }
  return { hlc, from: r['from'], to: r['to'], by: r['by'], epk: r['epk'], env };
}

/** Every well-formed record in the document, and how many entries were not. */
export function readRotations(doc: Y.Doc): { records: RotationRecord[]; invalid: number } {
  const records: RotationRecord[] = [];
  let invalid = 0;
  metaMap(doc).forEach((v, k) => {
    if (!k.startsWith(ROTATION_PREFIX)) return;
    const r = parseRotation(k, v);
    if (r) records.push(r);
    else invalid++;
  });
  return { records, invalid };
}

/** Published public keys by device (malformed ones left out). */
export function publishedKeys(doc: Y.Doc): Map<string, string> {
  const out = new Map<string, string>();
  metaMap(doc).forEach((v, k) => {
    if (k.startsWith(KEY_PREFIX) && isPublicKey(v)) out.set(k.slice(KEY_PREFIX.length), v);
  });
  return out;
}

/** R2/R3: the records rotating away from `from` by a member, best first. */
export function candidates(records: readonly RotationRecord[], from: string, isMember: (device: string) => boolean): RotationRecord[] {
  return records.filter((r) => r.from === from && isMember(r.by)).sort((a, b) => (a.hlc < b.hlc ? 1 : a.hlc > b.hlc ? -1 : 0));
}

export interface Members {
  /** device records this device holds */
  readonly known: ReadonlySet<string>;
  readonly forgotten: ReadonlySet<string>;
}

export interface RotationDeps {
  readonly doc: Y.Doc;
  readonly library: string;
  readonly self: string;
  readonly keys: DeviceKeys;
  /** the secret this device runs on */
  readonly secret: string;
  readonly members: () => Promise<Members>;
  readonly setMeta: (key: string, value: string) => Promise<void>;
  /** a fresh HLC stamp of this device */
  readonly stamp: () => string;
  readonly newSecret: () => string;
  /** store the new secret and start over on it (the composition root reloads) */
  readonly move: (secret: string) => Promise<void>;
  /** R4: the winner left this device out (true), or no longer does (false) */
  readonly stranded: (stranded: boolean) => void;
}

export type CheckResult = { readonly kind: 'stay' } | { readonly kind: 'moved'; readonly record: RotationRecord } | { readonly kind: 'stranded'; readonly record: RotationRecord };

export interface Rotation {
  /** publishes this device's public key (once) */
  publishKey(): Promise<void>;
  /** looks for a rotation away from this device's secret and follows it (R2–R4) */
  check(): Promise<CheckResult>;
  /**
   * Writes a rotation record sealed to every current member (this device included) and
   * returns it; the caller lets it travel, then `check()`s, which moves (R2: to this record,
   * or to a concurrent one that won).
   */
  rotate(): Promise<RotationRecord>;
  readonly stats: Readonly<RotationStats>;
  /** the envelope recipients of the last rotation this device made */
  readonly lastSealedTo: readonly string[];
}

export function createRotation(deps: RotationDeps): Rotation {
  const stats: RotationStats = { invalid: 0, notMember: 0, badEnvelope: 0, moved: 0, badKey: 0 };
  /** records already counted (a check runs after every change; count each once) */
  const counted = new Set<string>();
  const countOnce = (what: keyof RotationStats, id: string): void => {
    if (counted.has(`${what}:${id}`)) return;
    counted.add(`${what}:${id}`);
    stats[what]++;
  };
  const fromFp = fingerprint(deps.library, deps.secret);
  let lane: Promise<unknown> = Promise.resolve();
  let done: CheckResult | null = null;
  let lastSealedTo: string[] = [];
  const serial = <T>(fn: () => Promise<T>): Promise<T> => {
    const run = lane.then(fn);
    lane = run.catch(() => undefined);
    return run;
  };

  /** Follows the first of `list` this device can open; stops at `stopAt` (where it already is). */
  async function follow(list: readonly RotationRecord[], stopAt: string | null): Promise<CheckResult | null> {
    for (const r of list) {
      if (r.hlc === stopAt) return null;
      const env = r.env.find((e) => e.d === deps.self);
      if (!env) {
        deps.stranded(true);
        return (done = { kind: 'stranded', record: r });
      }
      let secret: string;
      try {
        secret = await open(deps.keys, deps.self, { epk: r.epk, env }, sealContext(deps.library, r.hlc, r.from, r.to));
        if ((await fingerprint(deps.library, secret)) !== r.to) throw new Error('fingerprint');
      } catch {
        countOnce('badEnvelope', r.hlc);
        continue; // R3: this device cannot follow it; the next best may include it
      }
      deps.stranded(false);
      await deps.move(secret); // a failure leaves this device where it was: the next check tries again
      stats.moved++;
      return (done = { kind: 'moved', record: r });
    }
    return null;
  }

  async function checkNow(): Promise<CheckResult> {
    if (done?.kind === 'moved') return done;
    const mineFp = await fromFp;
    const { records } = readRotations(deps.doc);
    metaMap(deps.doc).forEach((v, k) => {
      if (k.startsWith(ROTATION_PREFIX) && !parseRotation(k, v)) countOnce('invalid', k);
    });
    // the record that brought this device to its secret, and rotations away from it
    const relevant = records.filter((r) => r.from === mineFp || r.to === mineFp);
    if (!relevant.length) return { kind: 'stay' };
    const m = await deps.members();
    const isMember = (d: string): boolean => m.known.has(d) && !m.forgotten.has(d);
    for (const r of relevant) if (!isMember(r.by)) countOnce('notMember', r.hlc);
    // R2: a device that followed a loser (its own concurrent rotation, say) follows the winner
    const came = records.filter((r) => r.to === mineFp && isMember(r.by)).sort((a, b) => (a.hlc < b.hlc ? 1 : -1))[0];
    if (came) {
      const moved = await follow(candidates(records, came.from, isMember), came.hlc);
      if (moved) return moved;
    }
    return (await follow(candidates(records, mineFp, isMember), null)) ?? { kind: 'stay' };
  }

  return {
    publishKey: () => deps.setMeta(`${KEY_PREFIX}${deps.self}`, deps.keys.publicKey),
    check: () => serial(checkNow),
    rotate: () =>
      serial(async () => {
        const from = await fromFp;
        const secret = deps.newSecret();
        const to = await fingerprint(deps.library, secret);
        const m = await deps.members();
        const keys = publishedKeys(deps.doc);
        const recipients = [...new Set([deps.self, ...m.known])]
          .filter((d) => !m.forgotten.has(d) && keys.has(d))
          .map((device) => ({ device, publicKey: keys.get(device)! }));
        if (!recipients.some((r) => r.device === deps.self)) recipients.push({ device: deps.self, publicKey: deps.keys.publicKey });
        const hlc = deps.stamp();
        const sealed = await seal(recipients, secret, sealContext(deps.library, hlc, from, to));
        stats.badKey += sealed.skipped.length;
        if (!sealed.env.some((e) => e.d === deps.self)) throw new Error('this device could not seal the new secret to itself');
        const record: RotationRecord = { hlc, from, to, by: deps.self, epk: sealed.epk, env: sealed.env };
        await deps.setMeta(`${ROTATION_PREFIX}${hlc}`, JSON.stringify({ v: ROTATION_VERSION, from, to, by: deps.self, epk: sealed.epk, env: sealed.env }));
        lastSealedTo = sealed.env.map((e) => e.d);
        return record;
      }),
    get stats() {
      return stats;
    },
    get lastSealedTo() {
      return lastSealedTo;
    },
  };
}
