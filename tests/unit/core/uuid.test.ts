import { describe, expect, it } from 'vitest';
import { albumEntryUuid, contentUuid, isUuid, tagLinkUuid, uuidV4, uuidV5 } from '../../../src/core/uuid.ts';
import { createPrng } from '../../../src/core/prng.ts';

describe('uuids', () => {
  it('v5 matches the RFC 4122 / Python uuid5 vectors', () => {
    expect(uuidV5('6ba7b810-9dad-11d1-80b4-00c04fd430c8', 'www.example.com')).toBe('2ed6657d-e927-568b-95e1-2665a8aea6a2');
    expect(uuidV5('6ba7b811-9dad-11d1-80b4-00c04fd430c8', 'http://python.org/')).toBe('4c565f0d-3f5a-5890-b41b-20cf47701c5e');
  });

  it('v5 handles non-ASCII names as UTF-8', () => {
    const a = uuidV5('6ba7b810-9dad-11d1-80b4-00c04fd430c8', 'café 😀');
    expect(isUuid(a)).toBe(true);
    expect(a).not.toBe(uuidV5('6ba7b810-9dad-11d1-80b4-00c04fd430c8', 'cafe 😀'));
  });

  it('v4 sets version and variant bits', () => {
    const p = createPrng(1);
    for (let i = 0; i < 100; i++) expect(uuidV4(p.bytes(16))).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  });

  it('relationship ids are deterministic and distinct per pair', () => {
    const [a, b] = ['11111111-1111-4111-8111-111111111111', '22222222-2222-4222-8222-222222222222'];
    expect(albumEntryUuid(a, b)).toBe(albumEntryUuid(a, b));
    expect(albumEntryUuid(a, b)).not.toBe(albumEntryUuid(b, a));
    expect(tagLinkUuid(a, b)).not.toBe(albumEntryUuid(a, b));
    expect(contentUuid('abc')).toBe(contentUuid('abc'));
  });
});
