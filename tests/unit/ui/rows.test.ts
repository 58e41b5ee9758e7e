// A list read again after a commit (src/ui/rows.ts): rows that did not change stay the objects
// the views hold, so a keyed `{#each}` re-renders only what changed; the list itself stays the
// same object when nothing changed.
import { describe, expect, it } from 'vitest';
import { keepUnchanged } from '../../../src/ui/rows.ts';

type Row = { uuid: string; name: string; files: number; color: string | null };
const row = (uuid: string, name: string, files = 0, color: string | null = null): Row => ({ uuid, name, files, color });
const key = (r: Row) => r.uuid;

describe('keepUnchanged', () => {
  it('keeps the list when every row is the same', () => {
    const prev = [row('a', 'A'), row('b', 'B', 2, '#fff')];
    expect(keepUnchanged(prev, [row('a', 'A'), row('b', 'B', 2, '#fff')], key)).toBe(prev);
  });

  it('keeps unchanged rows, takes changed and new ones, in the new order', () => {
    const prev = [row('a', 'A'), row('b', 'B'), row('c', 'C')];
    const next = [row('a', 'A'), row('ab', 'AB'), row('c', 'C', 1), row('b', 'Z')];
    const out = keepUnchanged(prev, next, key);
    expect(out).toEqual(next);
    expect(out[0]).toBe(prev[0]);
    expect(out[1]).toBe(next[1]);
    expect(out[2]).toBe(next[2]); // its count changed
    expect(out[3]).toBe(next[3]); // renamed (and moved)
  });

  it('a removed row, a reordering or a null that became a value is a new list', () => {
    const prev = [row('a', 'A'), row('b', 'B')];
    const dropped = keepUnchanged(prev, [row('b', 'B')], key);
    expect(dropped).toEqual([row('b', 'B')]);
    expect(dropped[0]).toBe(prev[1]);
    const swapped = keepUnchanged(prev, [row('b', 'B'), row('a', 'A')], key);
    expect(swapped).not.toBe(prev);
    expect(swapped).toEqual([prev[1], prev[0]]);
    expect(keepUnchanged(prev, [row('a', 'A', 0, '#000'), row('b', 'B')], key)[0]).toEqual(row('a', 'A', 0, '#000'));
  });

  it('from an empty list, the new rows as they are', () => {
    const next = [row('a', 'A')];
    expect(keepUnchanged([], next, key)).toBe(next);
    expect(keepUnchanged([row('a', 'A')], [], key)).toEqual([]);
  });
});
