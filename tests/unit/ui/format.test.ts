import { describe, expect, it } from 'vitest';
import { formatCount } from '../../../src/ui/format.ts';

describe('formatCount', () => {
  it('says what toLocaleString("en") says, integers without Intl', () => {
    for (const n of [0, 7, 999, 1000, 1234, 99_999, 123_456, 1_000_000, 12_345_678, -1, -1234, -1_000_000, Number.MAX_SAFE_INTEGER, 1.5, 12_345.678, 1e21, NaN])
      expect(formatCount(n)).toBe(n.toLocaleString('en'));
  });
});
