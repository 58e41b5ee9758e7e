/**
 * Hybrid logical clock (DESIGN §5.1). STUB SIGNATURES — implemented by the core work.
 * Encoding: fixed width, lowercase, so string order = HLC order:
 *   `${wall 12 hex}-${counter 6 hex}-${device uuid}`
 */
import type { Hlc } from './change.ts';
import type { Result, Typed } from './result.ts';

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
  /** The stamp is more than maxDrift ahead of our wall clock: apply the change, but the
   *  local clock does not move to it. */
  | { readonly adopted: false; readonly reason: 'drift'; readonly aheadMs: number };

export interface HlcClock {
  /** A fresh stamp, strictly greater than every stamp issued or adopted before. */
  next(): Hlc;
  /** Merge a remote stamp into the clock (or refuse to, past maxDrift). */
  receive(remote: Hlc): ReceiveOutcome;
  /** The highest stamp issued or adopted, or null for a fresh clock. */
  current(): Hlc | null;
}

export interface HlcDeps {
  readonly device: string;
  readonly now: () => number;
  readonly maxDriftMs?: number;
  /** Restore after reload: the last persisted stamp. */
  readonly last?: Hlc | null;
}

export declare function encodeHlc(parts: HlcParts): Hlc;
export declare function decodeHlc(value: unknown): Result<HlcParts, HlcDecodeError>;
export declare function compareHlc(a: Hlc, b: Hlc): -1 | 0 | 1;
export declare function createHlcClock(deps: HlcDeps): HlcClock;
