/**
 * Changes: the one shape in which every write travels — from a local intent, from the sync
 * document, from the journal on replay — to the apply functions (DESIGN §2 "one path").
 * Plain, structured-cloneable data so it crosses the worker boundary and IndexedDB as is.
 *
 * - OwnedChange: the whole current state of a device-owned record (or its tombstone),
 *   written only by `owner`. Later states of the same record carry higher HLCs.
 * - SharedChange: one HLC-stamped change to a shared record; `fields` holds only the fields
 *   it sets (insert: all, update: the changed ones, delete: none).
 *
 * `Hlc` is the fixed-width string form from core/hlc.ts; string order = HLC order.
 */
import type { OwnedModelName, SharedModelName } from './models.ts';

export type Hlc = string;
export type Uuid = string;
export type FieldValue = string | number | boolean | null;
export type Fields = Readonly<Record<string, FieldValue>>;

export interface OwnedState {
  readonly kind: 'owned';
  readonly model: OwnedModelName;
  readonly owner: Uuid;
  readonly uuid: Uuid;
  readonly hlc: Hlc;
  /** the owner's sequence number (core/stream.ts P1): streamed models only, set by the
   *  owner's storage when it commits the change */
  readonly seq?: number;
  readonly data: Fields;
}

export interface OwnedTombstone {
  readonly kind: 'owned';
  readonly model: OwnedModelName;
  readonly owner: Uuid;
  readonly uuid: Uuid;
  readonly hlc: Hlc;
  readonly seq?: number;
  readonly deleted: true;
}

export type OwnedChange = OwnedState | OwnedTombstone;

export type SharedOp = 'insert' | 'update' | 'delete';

export interface SharedChange {
  readonly kind: 'shared';
  readonly model: SharedModelName;
  readonly uuid: Uuid;
  readonly hlc: Hlc;
  readonly op: SharedOp;
  readonly fields: Fields;
}

export type Change = OwnedChange | SharedChange;

export const isOwnedTombstone = (c: OwnedChange): c is OwnedTombstone => 'deleted' in c;
