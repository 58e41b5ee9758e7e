/**
 * What a device tells the always-on relay, and how: everything derives from the invite
 * secret (which travels only in URL fragments), by HKDF-SHA-256 with a distinct info per
 * purpose, so knowing one output reveals nothing about another:
 *  - the **handle** names the library at the relay (the relay never sees the library id);
 *  - the **write token** proves membership (the relay keeps only its hash);
 *  - the **blob key** (AES-256-GCM) encrypts everything the relay stores;
 *  - the **owner key** (HMAC) turns a device id into the opaque owner handle its pages go under.
 * A blob is `[version 1][12-byte random nonce][ciphertext + 16-byte tag]`; the caller's
 * `context` (e.g. "update", "page:<owner>") is bound as additional data, so the relay cannot
 * move a blob to another slot without decryption failing.
 * Pure WebCrypto: the same code runs in the browser, its workers and Node.
 */

export const RELAY_KEYS_VERSION = 1;
const BLOB_VERSION = 1;
const NONCE_BYTES = 12;
const TAG_BYTES = 16;
const SALT = 'tabdrive-relay-v1';

export interface RelayKeys {
  /** 32 bytes, lowercase hex */
  handle: string;
  /** 32 bytes, lowercase hex */
  token: string;
  key: CryptoKey;
  ownerKey: CryptoKey;
}

export class RelayCryptoError extends Error {
  override name = 'RelayCryptoError';
}

const te = new TextEncoder();
const hex = (b: ArrayBuffer | Uint8Array): string => Array.from(b instanceof Uint8Array ? b : new Uint8Array(b), (x) => x.toString(16).padStart(2, '0')).join('');
const info = (purpose: string): Uint8Array<ArrayBuffer> => te.encode(`tabdrive relay ${purpose} v${RELAY_KEYS_VERSION}`);

export async function deriveRelayKeys(secret: string): Promise<RelayKeys> {
  if (typeof secret !== 'string' || secret.length < 16) throw new RelayCryptoError('an invite secret has at least 16 characters');
  const ikm = await crypto.subtle.importKey('raw', te.encode(secret), 'HKDF', false, ['deriveBits', 'deriveKey']);
  const params = (purpose: string): HkdfParams => ({ name: 'HKDF', hash: 'SHA-256', salt: te.encode(SALT), info: info(purpose) });
  const [handle, token, key, ownerKey] = await Promise.all([
    crypto.subtle.deriveBits(params('handle'), ikm, 256),
    crypto.subtle.deriveBits(params('write-token'), ikm, 256),
    crypto.subtle.deriveKey(params('blob-key'), ikm, { name: 'AES-GCM', length: 256 }, false, ['encrypt', 'decrypt']),
    crypto.subtle.deriveKey(params('owner-key'), ikm, { name: 'HMAC', hash: 'SHA-256', length: 256 }, false, ['sign']),
  ]);
  return { handle: hex(handle), token: hex(token), key, ownerKey };
}

/** The opaque name (16 bytes, hex) a device's owned-state pages go under at the relay. */
export async function ownerHandle(keys: RelayKeys, deviceUuid: string): Promise<string> {
  const mac = await crypto.subtle.sign('HMAC', keys.ownerKey, te.encode(`owner:${deviceUuid}`));
  return hex(new Uint8Array(mac).subarray(0, 16));
}

export async function encryptBlob(keys: RelayKeys, plaintext: Uint8Array, context: string): Promise<Uint8Array<ArrayBuffer>> {
  const nonce = crypto.getRandomValues(new Uint8Array(NONCE_BYTES));
  const ct = await crypto.subtle.encrypt({ name: 'AES-GCM', iv: nonce, additionalData: te.encode(context) }, keys.key, plaintext as Uint8Array<ArrayBuffer>);
  const out = new Uint8Array(1 + NONCE_BYTES + ct.byteLength);
  out[0] = BLOB_VERSION;
  out.set(nonce, 1);
  out.set(new Uint8Array(ct), 1 + NONCE_BYTES);
  return out;
}

/** Throws RelayCryptoError for anything that is not an intact blob of this key and context. */
export async function decryptBlob(keys: RelayKeys, blob: Uint8Array, context: string): Promise<Uint8Array<ArrayBuffer>> {
  if (!(blob instanceof Uint8Array) || blob.length < 1 + NONCE_BYTES + TAG_BYTES) throw new RelayCryptoError('blob too short');
  if (blob[0] !== BLOB_VERSION) throw new RelayCryptoError(`blob version ${blob[0]} is not supported (expected ${BLOB_VERSION})`);
  try {
    const pt = await crypto.subtle.decrypt(
      { name: 'AES-GCM', iv: blob.slice(1, 1 + NONCE_BYTES), additionalData: te.encode(context) },
      keys.key,
      blob.slice(1 + NONCE_BYTES),
    );
    return new Uint8Array(pt);
  } catch {
    throw new RelayCryptoError('blob does not decrypt with this library key and context (tampered, or another library)');
  }
}
