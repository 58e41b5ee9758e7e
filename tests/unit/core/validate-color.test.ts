// Tag colours become a CSS value on every device: only `#rrggbb` passes validation
// (issue 11: a synced colour could inject CSS).
import { describe, expect, it } from 'vitest';
import { encodeHlc } from '../../../src/core/hlc.ts';
import { validateChange } from '../../../src/core/validate.ts';

const TAG = '11111111-1111-4111-8111-111111111111';
const DEV = '22222222-2222-4222-8222-222222222222';
const HLC = encodeHlc({ wall: 1_700_000_000_000, counter: 0, device: DEV });
const insert = (color: unknown) => ({
  kind: 'shared', model: 'tag', uuid: TAG, hlc: HLC, op: 'insert',
  fields: { canonical_name: 'x', display_name: 'X', namespace: null, tag_type: 'standard', color, privacy_level: 'normal', search_weight: 1, created_by_device: DEV },
});
const update = (color: unknown) => ({ kind: 'shared', model: 'tag', uuid: TAG, hlc: HLC, op: 'update', fields: { color } });

describe('tag colour', () => {
  it('accepts #rrggbb (either case) and null', () => {
    for (const c of ['#3b5bdb', '#E03131', null]) {
      expect(validateChange(insert(c)).ok, String(c)).toBe(true);
      expect(validateChange(update(c)).ok, String(c)).toBe(true);
    }
  });
  it('rejects anything else, inserted or updated', () => {
    for (const c of ['red;position:fixed;inset:0', 'url(https://evil.example/x)', 'red', '#fff', '#12345g', '#1234567', ' #123456', '#123456 ', 'var(--accent)']) {
      const a = validateChange(insert(c));
      const b = validateChange(update(c));
      expect(a.ok, c).toBe(false);
      expect(b.ok, c).toBe(false);
      if (!b.ok) expect(b.error.detail).toMatch(/tag\.color/);
    }
  });
});
