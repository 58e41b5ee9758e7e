// The library's name (issue 13 item 5): one shared record keyed by the library's uuid, renamed
// field-level last-writer-wins like any shared record, and never deletable.
import { describe, expect, it } from 'vitest';
import { createMemoryApplyStore } from '../../../src/core/apply-store.ts';
import { applyChanges } from '../../../src/core/apply.ts';
import type { Change } from '../../../src/core/change.ts';
import { validateChange } from '../../../src/core/validate.ts';
import { fakeTime, testDevice } from '../../support/fixtures.ts';

const A = 'aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa';
const B = 'bbbbbbbb-bbbb-4bbb-8bbb-bbbbbbbbbbbb';
const LIB = '49f44d4c-0000-4000-8000-000000000001';

const orders = <T>(xs: readonly T[]): T[][] =>
  xs.length <= 1 ? [[...xs]] : xs.flatMap((x, i) => orders([...xs.slice(0, i), ...xs.slice(i + 1)]).map((rest) => [x, ...rest]));

describe('the library record', () => {
  it('concurrent renames converge on the later stamp, whatever the arrival order', () => {
    const time = fakeTime();
    const a = testDevice(A, time.now);
    const b = testDevice(B, time.now);
    const first = a.shared('library', LIB, 'update', { name: 'Family' });
    time.advance(10);
    const fromA = a.shared('library', LIB, 'update', { name: 'Alpha' });
    time.advance(5);
    const fromB = b.shared('library', LIB, 'update', { name: 'Beta' });
    const names = new Set<unknown>();
    for (const order of orders<Change>([first, fromA, fromB])) {
      const store = createMemoryApplyStore();
      const r = applyChanges(store, order);
      expect(r.rejected).toEqual([]);
      names.add(store.get('libraries', LIB)?.['name']);
    }
    expect([...names]).toEqual(['Beta']);
  });

  it('one change at a time in any order ends the same as one batch', () => {
    const time = fakeTime();
    const a = testDevice(A, time.now);
    const b = testDevice(B, time.now);
    const cs = [a.shared('library', LIB, 'update', { name: 'One' }), b.shared('library', LIB, 'update', { name: 'Two' })];
    const batch = createMemoryApplyStore();
    applyChanges(batch, cs);
    const oneByOne = createMemoryApplyStore();
    for (const c of [...cs].reverse()) applyChanges(oneByOne, [c]);
    expect(oneByOne.get('libraries', LIB)?.['name']).toBe(batch.get('libraries', LIB)?.['name']);
  });

  it('a delete is invalid: counted, and every later rename still applies', () => {
    const time = fakeTime();
    const a = testDevice(A, time.now);
    const del = a.shared('library', LIB, 'delete');
    expect(validateChange(del)).toMatchObject({ ok: false, error: { detail: 'library records cannot be deleted' } });
    const store = createMemoryApplyStore();
    const r = applyChanges(store, [a.shared('library', LIB, 'update', { name: 'Mine' }), del]);
    expect(r.rejected).toMatchObject([{ type: 'invalid', model: 'library' }]);
    expect(store.tombstone('library', LIB)).toBeUndefined();
    applyChanges(store, [a.shared('library', LIB, 'update', { name: 'Ours' })]);
    expect(store.get('libraries', LIB)?.['name']).toBe('Ours');
  });

  it('a name is text of at most 200 characters', () => {
    const time = fakeTime();
    const a = testDevice(A, time.now);
    expect(validateChange(a.shared('library', LIB, 'update', { name: 'x'.repeat(201) })).ok).toBe(false);
    expect(validateChange(a.shared('library', LIB, 'update', { name: 7 })).ok).toBe(false);
    expect(validateChange(a.shared('library', LIB, 'update', { name: 'ok', 'Owner!': A })).ok).toBe(false);
  });
});
