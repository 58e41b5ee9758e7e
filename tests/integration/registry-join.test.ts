// Joining never replaces a stored secret silently (issue 11): the IndexedDB registry and the
// in-memory one agree.
import { IDBFactory } from 'fake-indexeddb';
import { describe, expect, it } from 'vitest';
import { openSlotRegistry } from '../../src/device/registry.ts';
import { createMemorySlotRegistry, type SlotRegistry } from '../../src/device/slots.ts';

const LIB = '33333333-3333-4333-8333-333333333333';
const OTHER = '44444444-4444-4444-8444-444444444444';

describe.each([
  ['IndexedDB', () => openSlotRegistry(new IDBFactory(), null)],
  ['memory', () => Promise.resolve(createMemorySlotRegistry())],
] as const)('%s registry: join', (_name, open: () => Promise<SlotRegistry>) => {
  it('stores a new library\'s secret and opens it', async () => {
    const r = await open();
    expect(await r.knownSecret(LIB)).toBeNull();
    await r.join(LIB, 'secret-a');
    expect(await r.knownSecret(LIB)).toBe('secret-a');
    expect(await r.library('unused')).toBe(LIB);
  });
  it('keeps the stored secret when an invite carries another one, unless told to replace it', async () => {
    const r = await open();
    await r.join(LIB, 'secret-a');
    await r.open(OTHER);
    await r.join(LIB, 'secret-b');
    expect(await r.knownSecret(LIB)).toBe('secret-a');
    expect(await r.library('unused')).toBe(LIB); // the library is opened all the same
    expect(await r.secret(LIB, 'candidate')).toBe('secret-a');
    await r.join(LIB, 'secret-b', true);
    expect(await r.knownSecret(LIB)).toBe('secret-b');
  });
});
