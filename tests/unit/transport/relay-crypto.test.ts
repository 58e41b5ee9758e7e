// The relay's key derivation and blob encryption (src/transport/relay-crypto.ts), with Node's
// WebCrypto (the same API the browser has).
import { describe, expect, it } from 'vitest';
import { RelayCryptoError, decryptBlob, deriveRelayKeys, encryptBlob, ownerHandle } from '../../../src/transport/relay-crypto.ts';
import { newSecret } from '../../../src/transport/room.ts';

const te = new TextEncoder();
const td = new TextDecoder();

describe('relay keys', () => {
  it('derives a stable handle and token per secret, distinct from each other and from other secrets', async () => {
    const s = newSecret();
    const a = await deriveRelayKeys(s);
    const b = await deriveRelayKeys(s);
    const other = await deriveRelayKeys(newSecret());
    expect(a.handle).toMatch(/^[0-9a-f]{64}$/);
    expect(a.token).toMatch(/^[0-9a-f]{64}$/);
    expect(b.handle).toBe(a.handle);
    expect(b.token).toBe(a.token);
    expect(a.token).not.toBe(a.handle);
    expect(other.handle).not.toBe(a.handle);
    expect(other.token).not.toBe(a.token);
    // nothing derived contains the secret
    expect(a.handle.includes(Buffer.from(s).toString('hex'))).toBe(false);
  });

  it('refuses a secret too short to be one', async () => {
    await expect(deriveRelayKeys('short')).rejects.toBeInstanceOf(RelayCryptoError);
  });

  it('owner handles are opaque, stable and per library', async () => {
    const k1 = await deriveRelayKeys(newSecret());
    const k2 = await deriveRelayKeys(newSecret());
    const dev = '0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b';
    const o = await ownerHandle(k1, dev);
    expect(o).toMatch(/^[0-9a-f]{32}$/);
    expect(await ownerHandle(k1, dev)).toBe(o);
    expect(await ownerHandle(k2, dev)).not.toBe(o);
    expect(await ownerHandle(k1, `${dev}x`)).not.toBe(o);
  });
});

describe('relay blobs', () => {
  it('round-trips with a fresh nonce each time and hides the plaintext', async () => {
    const k = await deriveRelayKeys(newSecret());
    const pt = te.encode('MARKER-holiday-photos.jpg');
    const a = await encryptBlob(k, pt, 'update');
    const b = await encryptBlob(k, pt, 'update');
    expect(a[0]).toBe(1);
    expect(a.length).toBe(1 + 12 + pt.length + 16);
    expect(Buffer.from(a).equals(Buffer.from(b))).toBe(false);
    expect(Buffer.from(a).includes(Buffer.from('MARKER'))).toBe(false);
    expect(td.decode(await decryptBlob(k, a, 'update'))).toBe('MARKER-holiday-photos.jpg');
  });

  it('refuses another key, another context, a flipped bit, a truncated blob and an unknown version', async () => {
    const k = await deriveRelayKeys(newSecret());
    const other = await deriveRelayKeys(newSecret());
    const blob = await encryptBlob(k, te.encode('x'.repeat(100)), 'page:aa');
    await expect(decryptBlob(other, blob, 'page:aa')).rejects.toBeInstanceOf(RelayCryptoError);
    await expect(decryptBlob(k, blob, 'page:bb')).rejects.toBeInstanceOf(RelayCryptoError);
    const flipped = blob.slice();
    flipped[40]! ^= 1;
    await expect(decryptBlob(k, flipped, 'page:aa')).rejects.toBeInstanceOf(RelayCryptoError);
    await expect(decryptBlob(k, blob.subarray(0, 20), 'page:aa')).rejects.toBeInstanceOf(RelayCryptoError);
    const v2 = blob.slice();
    v2[0] = 2;
    await expect(decryptBlob(k, v2, 'page:aa')).rejects.toThrow(/version 2/);
    // and the intact one still decrypts
    expect((await decryptBlob(k, blob, 'page:aa')).length).toBe(100);
  });

  it('an empty plaintext is a valid blob', async () => {
    const k = await deriveRelayKeys(newSecret());
    expect((await decryptBlob(k, await encryptBlob(k, new Uint8Array(0), 'u'), 'u')).length).toBe(0);
  });
});
