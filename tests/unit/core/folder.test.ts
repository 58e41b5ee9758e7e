import { webcrypto } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { contentHash, sampleRanges, WHOLE_FILE_MAX } from '../../../src/core/content-hash.ts';
import { diffFolder, extensionOf, withDirectories, type ScannedItem } from '../../../src/core/folder.ts';

const digest = async (b: Uint8Array) => new Uint8Array(await webcrypto.subtle.digest('SHA-256', b));
const hashOf = (bytes: Uint8Array) => contentHash(bytes.byteLength, { read: (o, n) => Promise.resolve(bytes.slice(o, o + n)), digest });
const bytes = (n: number, seed = 1) => Uint8Array.from({ length: n }, (_, i) => (i * 31 + seed) & 0xff);

describe('content hash', () => {
  it('hashes small files whole and large ones from fixed samples', () => {
    expect(sampleRanges(0)).toEqual([]);
    expect(sampleRanges(WHOLE_FILE_MAX)).toEqual([[0, WHOLE_FILE_MAX]]);
    const r = sampleRanges(10_000_000);
    expect(r).toHaveLength(6);
    expect(r[0]).toEqual([0, 8192]);
    expect(r[5]).toEqual([10_000_000 - 8192, 8192]);
    for (const [o, n] of r) expect(o + n).toBeLessThanOrEqual(10_000_000);
    expect(() => sampleRanges(-1)).toThrow();
  });

  it('is deterministic, depends on the size and on every sampled region, not on the rest', async () => {
    const big = bytes(500_000);
    const h = await hashOf(big);
    expect(h).toMatch(/^v1:500000:[0-9a-f]{64}$/);
    expect(await hashOf(big.slice())).toBe(h);
    for (const [o] of sampleRanges(big.byteLength)) {
      const c = big.slice();
      c[o + 1] = c[o + 1]! ^ 0xff;
      expect(await hashOf(c)).not.toBe(h);
    }
    const outside = big.slice();
    const gap = sampleRanges(big.byteLength)[1]![0] - 100; // between the header and the first sample
    outside[gap] = outside[gap]! ^ 0xff;
    expect(await hashOf(outside)).toBe(h);
    const small = bytes(1000);
    const s2 = small.slice();
    s2[999] = s2[999]! ^ 1;
    expect(await hashOf(small)).not.toBe(await hashOf(s2));
    expect(await hashOf(new Uint8Array(0))).not.toBe(await hashOf(new Uint8Array(1)));
  });

  it('says so when a file changes while it is read', async () => {
    await expect(contentHash(10, { read: () => Promise.resolve(new Uint8Array(3)), digest })).rejects.toThrow(/short read/);
  });
});

describe('folders', () => {
  const f = (path: string, size = 1, modified: number | null = 1): ScannedItem => ({ path, kind: 'file', size, modified });
  it('derives directories, parents first', () => {
    expect(withDirectories([f('a/b/c.txt'), f('z.txt'), { path: 'e', kind: 'dir', size: 0, modified: null }]).map((i) => i.path)).toEqual(['a', 'e', 'a/b', 'a/b/c.txt', 'z.txt']);
  });
  it('finds additions, changes and deletions, and a file that became a folder', () => {
    const indexed = [
      { ...f('keep.txt'), uuid: 'u1' }, { ...f('edit.txt', 1), uuid: 'u2' }, { ...f('gone.txt'), uuid: 'u3' }, { ...f('x'), uuid: 'u4' },
    ];
    const d = diffFolder(indexed, [f('keep.txt'), f('edit.txt', 2), f('new.txt'), { path: 'x', kind: 'dir', size: 0, modified: null }]);
    expect(d.added.map((i) => i.path)).toEqual(['new.txt', 'x']);
    expect(d.changed).toEqual([{ uuid: 'u2', item: f('edit.txt', 2) }]);
    expect(d.removed.map((i) => i.uuid)).toEqual(['u3', 'u4']);
  });
  it('names extensions like the sample data does', () => {
    expect([extensionOf('a.JPG'), extensionOf('x.tar.gz'), extensionOf('.bashrc'), extensionOf('README'), extensionOf('a.')]).toEqual(['jpg', 'tar.gz', null, null, null]);
  });
});
