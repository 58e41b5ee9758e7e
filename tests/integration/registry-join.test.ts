// Joining never replaces a stored secret silently (issue 11): the IndexedDB registry and the
// in-memory one agree.
import { IDBFactory } from 'fake-indexeddb';
import { describe, expect, it } from 'vitest';
import { openSlotRegistry } from '../../src/device/registry.ts';
import { createMemorySlotRegistry, type SlotRegistry } from '../../src/device/slots.ts';
import { isDeviceKeys, newDeviceKeys } from '../../src/transport/seal.ts';

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
  it('rotates a secret only from the one it holds (another tab may have moved it already)', async () => {
    const r = await open();
    await r.join(LIB, 'secret-a');
    expect(await r.rotate(LIB, 'secret-a', 'secret-b')).toBe('secret-b');
    expect(await r.rotate(LIB, 'secret-a', 'secret-c')).toBe('secret-b'); // a second tab, late
    expect(await r.knownSecret(LIB)).toBe('secret-b');
  });
  it('keeps one key pair per device (made once; the private key cannot be exported)', async () => {
    const r = await open();
    const dev = '55555555-5555-4555-8555-555555555555';
    let made = 0;
    const make = () => (made++, newDeviceKeys());
    const k1 = await r.deviceKeys(dev, make, isDeviceKeys);
    const k2 = await r.deviceKeys(dev, make, isDeviceKeys);
    expect(made).toBe(1);
    expect(k2.publicKey).toBe(k1.publicKey);
    expect(k1.privateKey.extractable).toBe(false);
    await expect(crypto.subtle.exportKey('pkcs8', k2.privateKey)).rejects.toThrow();
  });
});
