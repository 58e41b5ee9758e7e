import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { createDigest, rowHash } from '../../../src/core/digest.ts';
import type { Row } from '../../../src/core/apply-store.ts';

const row = (i: number, extra: Row = {}): Row => ({
  uuid: `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`, canonical_name: `t${i}`, display_name: `T${i}`, namespace: null,
  tag_type: 'standard', color: '#fff', privacy_level: 'normal', search_weight: i, created_by_device: 'd', ...extra,
});
const digestOf = (rows: Row[]) => {
  const d = createDigest();
  for (const r of rows) d.add('tag', r);
  return d.value();
};

describe('digest', () => {
  it('does not depend on row order', () => {
    const rows = Array.from({ length: 30 }, (_, i) => row(i));
    fc.assert(fc.property(fc.shuffledSubarray(rows, { minLength: 30, maxLength: 30 }), (shuffled) => {
      expect(digestOf(shuffled)).toBe(digestOf(rows));
    }));
  });

  it('changes when any synced field changes, or a row is missing', () => {
    const rows = Array.from({ length: 5 }, (_, i) => row(i));
    const base = digestOf(rows);
    for (const [k, v] of [['display_name', 'X'], ['namespace', 'ns'], ['search_weight', 999], ['color', null]] as const) {
      expect(digestOf([...rows.slice(0, 4), { ...rows[4]!, [k]: v }])).not.toBe(base);
    }
    expect(digestOf(rows.slice(0, 4))).not.toBe(base);
    expect(digestOf([...rows.slice(0, 4), { ...rows[4]!, namespace: '' }])).not.toBe(base); // '' ≠ null
  });

  it('ignores bookkeeping and local-only columns', () => {
    const rows = Array.from({ length: 5 }, (_, i) => row(i));
    expect(digestOf(rows.map((r) => ({ ...r, _hlcs: '{"x":"y"}', _owner: 'z' })))).toBe(digestOf(rows));
  });
});

describe('columns added later (migration 6 media metadata)', () => {
  it('null there hashes as before the column existed; a value changes the hash', () => {
    const base = { uuid: 'e1', location_uuid: 'l', parent_uuid: null, name: 'a.jpg', kind: 'file', extension: 'jpg', size: 1, created_at: null, modified_at: 2, content_uuid: null };
    const withNulls = { ...base, taken_at: null, width: null, height: null, camera_make: null, camera_model: null };
    expect(rowHash('entry', withNulls)).toEqual(rowHash('entry', base));
    expect(rowHash('entry', { ...withNulls, width: 640 })).not.toEqual(rowHash('entry', base));
  });
});
