import { describe, expect, it } from 'vitest';
import { generateSampleLocation } from '../../../src/core/sample.ts';
import { validateChange } from '../../../src/core/validate.ts';

const opts = { seed: 'Photos', owner: '11111111-1111-4111-8111-111111111111', locationUuid: '22222222-2222-4222-8222-222222222222', volumeUuid: null, name: 'Photos', now: 1_750_000_000_000 };
const HLC = '0197a7c3c800-000000-11111111-1111-4111-8111-111111111111';

describe('sample locations', () => {
  it('are deterministic per seed and location', () => {
    const a = generateSampleLocation({ ...opts, count: 500 });
    const b = generateSampleLocation({ ...opts, count: 500 });
    expect(a).toEqual(b);
    const c = generateSampleLocation({ ...opts, count: 500, seed: 'Other' });
    expect(c.entries[1]!.uuid).not.toBe(a.entries[1]!.uuid);
  });

  it('have exactly count files in folders, parents before children, and valid records', () => {
    const s = generateSampleLocation({ ...opts, count: 1234 });
    const files = s.entries.filter((e) => e.data['kind'] === 'file');
    expect(files).toHaveLength(1234);
    const seen = new Set<string>();
    for (const e of s.entries) {
      const parent = e.data['parent_uuid'];
      if (parent !== null) expect(seen.has(parent as string)).toBe(true);
      seen.add(e.uuid);
      expect(validateChange({ kind: 'owned', model: 'entry', owner: opts.owner, uuid: e.uuid, hlc: HLC, data: e.data }).ok).toBe(true);
    }
    expect(validateChange({ kind: 'owned', model: 'location', owner: opts.owner, uuid: opts.locationUuid, hlc: HLC, data: s.location }).ok).toBe(true);
    expect(s.location['total_file_count']).toBe(1234);
    expect(s.location['total_byte_size']).toBe(files.reduce((t, f) => t + (f.data['size'] as number), 0));
    const perDir = new Map<string, number>();
    for (const e of s.entries) if (e.data['parent_uuid']) perDir.set(e.data['parent_uuid'] as string, (perDir.get(e.data['parent_uuid'] as string) ?? 0) + 1);
    expect(Math.max(...perDir.values())).toBeLessThanOrEqual(60);
  });
});
