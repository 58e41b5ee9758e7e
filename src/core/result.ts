/**
 * Result: typed, plain-object errors across boundaries (worker RPC, validation, storage).
 * Throw only for bugs; everything a peer, a disk or a user can cause is a value.
 */
export type Ok<T> = { readonly ok: true; readonly value: T };
export type Err<E> = { readonly ok: false; readonly error: E };
export type Result<T, E> = Ok<T> | Err<E>;

export const ok = <T>(value: T): Ok<T> => ({ ok: true, value });
export const err = <E>(error: E): Err<E> => ({ ok: false, error });

/** A plain, structured-cloneable error with a discriminating `type`. */
export interface Typed<T extends string> {
  readonly type: T;
}

/** For exhaustive switches: reaching this is a bug. */
export function unexpected(value: never, what = 'value'): never {
  throw new Error(`unexpected ${what}: ${JSON.stringify(value)}`);
}
