/**
 * Hybrid logical clock (DESIGN §5.1).
 *
 * Encoding: `${wall: 12 hex}-${counter: 6 hex}-${device uuid}`, all lowercase and fixed
 * width, so comparing two encoded stamps as strings gives the HLC order
 * (wall ms, then counter, then device).
 *
 * Invariants:
 *  - `next()` returns a stamp strictly greater than every stamp this clock issued or adopted,
 *    even when the wall clock goes backwards or after a future stamp was adopted
 *    (upstream Spacedrive's `generate` goes backwards there; we keep (last.wall, counter+1)).
 *  - `receive(remote)` adopts max(local, remote, now) — unless `remote` is more than
 *    `maxDriftMs` ahead of our wall clock: then the clock does not move at all (the caller
 *    still applies the change, so devices converge; one device with a bad clock cannot drag
 *    every device into the future).
 *  - counter overflow advances the wall part by 1 ms instead of wrapping. `next()` keeps its
 *    counter below AHEAD_COUNTER (0x800000 stamps in one ms: never in practice), so the upper
 *    half of the counter belongs to the *ahead lane* below and the two lanes never issue the
 *    same stamp.
 *  - `nextAbove(floor)` (DESIGN §5.1: a person's edit made after seeing a far-ahead change
 *    must win over it): when `floor` — the stamp a record's fields carry now — is above what
 *    `next()` gives (a far-ahead stamp this clock did not adopt), the edit is stamped just
 *    above it, at (floor's wall, counter+1 in the upper half, this device), WITHOUT moving
 *    the clock: `next()` goes on from wall time as before (and stays strictly increasing).
 *    Ahead-lane stamps are strictly increasing among themselves (each is above the previous
 *    one and above its floor); `restoreAhead` / `lastAhead` seed the lane after a restart
 *    from its persisted lease (sync engine E3).
 */
import type { Hlc } from './change.ts';
import { err, ok, type Result, type Typed } from './result.ts';

export interface HlcParts {
  readonly wall: number;
  readonly counter: number;
  readonly device: string;
}

export interface HlcDecodeError extends Typed<'InvalidHlc'> {
  readonly value: string;
}

export type ReceiveOutcome =
  | { readonly adopted: true }
  /** More than maxDrift ahead of our wall clock: apply the change, keep the clock. */
  | { readonly adopted: false; readonly reason: 'drift'; readonly aheadMs: number };

export interface HlcClock {
  next(): Hlc;
  /** A stamp above `floor` too (see the header): `next()` when that is already above it,
   *  else the ahead lane. Never moves the clock past maxDrift. */
  nextAbove(floor: Hlc | null): Hlc;
  /** After a restart: the highest ahead-lane stamp this device issued before (ignored if it
   *  is not one). */
  restoreAhead(issued: Hlc): void;
  receive(remote: Hlc): ReceiveOutcome;
  current(): Hlc | null;
}

export interface HlcDeps {
  readonly device: string;
  readonly now: () => number;
  readonly maxDriftMs?: number;
  readonly last?: Hlc | null;
  /** the ahead lane's persisted lease (`restoreAhead`) */
  readonly lastAhead?: Hlc | null;
}

export const MAX_WALL = 0xffffffffffff;
export const MAX_COUNTER = 0xffffff;
/** First counter of the ahead lane (`nextAbove`); `next()` stays below it. */
export const AHEAD_COUNTER = 0x800000;
export const DEFAULT_MAX_DRIFT_MS = 5 * 60_000;

const HLC_RE = /^([0-9a-f]{12})-([0-9a-f]{6})-([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})$/;

export function encodeHlc(p: HlcParts): Hlc {
  if (!Number.isSafeInteger(p.wall) || p.wall < 0 || p.wall > MAX_WALL) throw new Error(`bad HLC wall ${p.wall}`);
  if (!Number.isSafeInteger(p.counter) || p.counter < 0 || p.counter > MAX_COUNTER)
    throw new Error(`bad HLC counter ${p.counter}`);
  return `${p.wall.toString(16).padStart(12, '0')}-${p.counter.toString(16).padStart(6, '0')}-${p.device}`;
}

export function decodeHlc(value: unknown): Result<HlcParts, HlcDecodeError> {
  if (typeof value !== 'string') return err({ type: 'InvalidHlc', value: String(value).slice(0, 80) });
  const m = HLC_RE.exec(value);
  if (!m) return err({ type: 'InvalidHlc', value: value.slice(0, 80) });
  return ok({ wall: parseInt(m[1]!, 16), counter: parseInt(m[2]!, 16), device: m[3]! });
}

export const isHlc = (value: unknown): value is Hlc => typeof value === 'string' && HLC_RE.test(value);

export const compareHlc = (a: Hlc, b: Hlc): -1 | 0 | 1 => (a < b ? -1 : a > b ? 1 : 0);

/** Device part of an encoded stamp (the last 36 characters). */
export const hlcDevice = (h: Hlc): string => h.slice(20);
/** Wall-clock part in ms. */
export const hlcWall = (h: Hlc): number => parseInt(h.slice(0, 12), 16);
/** Whether a stamp was issued by `nextAbove`'s ahead lane (upper half of the counter). */
export const isAheadStamp = (h: Hlc): boolean => parseInt(h.slice(13, 19), 16) >= AHEAD_COUNTER;

/** ms by which a stamp's wall is past the drift bound at `now` (> 0: a clock must not adopt it). */
export const pastDrift = (wallMs: number, now: number, maxDriftMs = DEFAULT_MAX_DRIFT_MS): number => wallMs - now - maxDriftMs;

export function createHlcClock(deps: HlcDeps): HlcClock {
  const maxDrift = deps.maxDriftMs ?? DEFAULT_MAX_DRIFT_MS;
  let wall = 0;
  let counter = -1; // so a fresh clock's first stamp at the same ms gets counter 0
  let seen = false;
  if (deps.last) {
    const d = decodeHlc(deps.last);
    if (d.ok) {
      wall = d.value.wall;
      counter = d.value.counter;
      seen = true;
    }
  }
  /** the ahead lane's last stamp (wall, counter ≥ AHEAD_COUNTER), or null */
  let ahead: { wall: number; counter: number } | null = null;
  const bump = (): void => {
    counter += 1;
    if (counter >= AHEAD_COUNTER) {
      wall += 1;
      counter = 0;
    }
  };
  const above = (a: { wall: number; counter: number }, b: { wall: number; counter: number }): boolean =>
    a.wall > b.wall || (a.wall === b.wall && a.counter > b.counter);
  const next = (): Hlc => {
    const now = Math.floor(deps.now());
    if (now > wall) {
      wall = now;
      counter = 0;
    } else bump();
    seen = true;
    return encodeHlc({ wall, counter, device: deps.device });
  };
  const restoreAhead = (issued: Hlc): void => {
    const d = decodeHlc(issued);
    if (!d.ok || d.value.device !== deps.device || d.value.counter < AHEAD_COUNTER) return;
    const h = { wall: d.value.wall, counter: d.value.counter };
    if (!ahead || above(h, ahead)) ahead = h;
  };
  if (deps.lastAhead) restoreAhead(deps.lastAhead);
  return {
    next,
    restoreAhead,
    receive(remote) {
      const d = decodeHlc(remote);
      if (!d.ok) throw new Error(`receive() of an invalid HLC: ${remote}`); // callers validate first
      const now = Math.floor(deps.now());
      const r = d.value;
      if (pastDrift(r.wall, now, maxDrift) > 0) return { adopted: false, reason: 'drift', aheadMs: r.wall - now };
      if (now > wall && now > r.wall) {
        wall = now;
        counter = 0;
      } else if (r.wall > wall) {
        wall = r.wall;
        counter = r.counter;
      } else if (r.wall === wall) {
        counter = Math.max(counter, r.counter);
      }
      seen = true;
      return { adopted: true };
    },
    nextAbove(floor) {
      const n = next();
      if (floor === null || n > floor) return n;
      const f = decodeHlc(floor);
      if (!f.ok) return n; // callers pass stored stamps; an invalid one bounds nothing
      let base = { wall: f.value.wall, counter: f.value.counter };
      if (ahead && above(ahead, base)) base = ahead;
      let w = base.wall;
      let c = Math.max(base.counter + 1, AHEAD_COUNTER);
      if (c > MAX_COUNTER) {
        w += 1;
        c = AHEAD_COUNTER;
      }
      ahead = { wall: w, counter: c };
      return encodeHlc({ wall: w, counter: c, device: deps.device });
    },
    current() {
      return seen ? encodeHlc({ wall, counter: Math.max(counter, 0), device: deps.device }) : null;
    },
  };
}
