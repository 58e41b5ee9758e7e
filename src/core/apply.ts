/**
 * Apply rules (DESIGN §5). STUB SIGNATURES — implemented by the core work.
 */
import type { ApplyStore } from './apply-store.ts';
import type { Change } from './change.ts';
import type { Typed } from './result.ts';

export type RejectionReason =
  | 'invalid' // failed validation (unknown model, missing/wrong field, oversized)
  | 'ownership' // an owned record not written by its owner
  | 'tombstoned'; // the record is deleted; deletes are sticky

export interface Rejection extends Typed<RejectionReason> {
  readonly model: string;
  readonly uuid: string;
  readonly hlc: string;
  readonly detail: string;
}

export interface ApplyReport {
  /** changes that altered at least one row */
  readonly applied: number;
  /** changes that were valid but changed nothing (duplicates, older states) */
  readonly unchanged: number;
  readonly rejected: readonly Rejection[];
  /** tables touched (for UI invalidation) */
  readonly tables: readonly string[];
}

/**
 * Apply a batch: validate each change, order by model dependency then HLC, and write it
 * through the store. Idempotent: applying the same batch twice changes nothing the second
 * time. Never throws for bad input; a thrown error is a bug (or a store failure).
 */
export declare function applyChanges(store: ApplyStore, changes: readonly unknown[]): ApplyReport;

/** `owned:<X>` records are accepted only if written by X (DESIGN §5.6). */
export declare function checkOwner(change: Change, mapOwner: string): boolean;
