/**
 * Sealing a short secret to devices' public keys ("Rotate invite", ARCHITECTURE "A library
 * over months"). Each device has an ECDH P-256 key pair: the private key is generated
 * non-extractable and kept in the slot registry (IndexedDB keeps CryptoKeys as they are), the
 * public key is published in the sync document. A sealed message is ECIES: one ephemeral key
 * pair per message; for each recipient ECDH(ephemeral, recipient) → HKDF-SHA-256 (info names
 * the recipient and the context) → AES-256-GCM with the context as additional data. Someone
 * who holds only the invite secret (everything else in the document and at the relay derives
 * from it) cannot open any envelope.
 * WebCrypto only (P-256 rather than X25519: no dependency, and every browser and Node has it).
 */

export const SEAL_VERSION = 1;
const CURVE = { name: 'ECDH', namedCurve: 'P-256' } as const;
const PUBLIC_PREFIX = 'p256:';
const te = new TextEncoder();
const td = new TextDecoder();

export class SealError extends Error {
  override name = 'SealError';
}

export interface DeviceKeys {
  readonly privateKey: CryptoKey;
  /** `p256:<base64url of the raw 65-byte point>` */
  readonly publicKey: string;
}

export interface Envelope {
  /** recipient device */
  readonly d: string;
  /** nonce, base64url (12 bytes) */
  readonly n: string;
  /** ciphertext + tag, base64url */
  readonly c: string;
}

export interface Sealed {
  /** the ephemeral public key (`p256:…`) */
  readonly epk: string;
  readonly env: readonly Envelope[];
  /** recipients whose published key is no P-256 point: left out, not fatal for the others */
  readonly skipped: readonly string[];
}

export const b64 = (b: Uint8Array): string => btoa(String.fromCharCode(...b)).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
export function unb64(s: string): Uint8Array<ArrayBuffer> {
  if (!/^[A-Za-z0-9_-]*$/.test(s)) throw new SealError('not base64url');
  const bin = atob(s.replace(/-/g, '+').replace(/_/g, '/'));
  return Uint8Array.from(bin, (c) => c.charCodeAt(0));
}

/** A public key as published: `p256:` + 65 bytes (uncompressed point), base64url. */
export const isPublicKey = (v: unknown): v is string => typeof v === 'string' && /^p256:[A-Za-z0-9_-]{87}$/.test(v);

async function importPublic(key: string): Promise<CryptoKey> {
  if (!isPublicKey(key)) throw new SealError('not a P-256 public key');
  try {
    return await crypto.subtle.importKey('raw', unb64(key.slice(PUBLIC_PREFIX.length)), CURVE, true, []);
  } catch {
    throw new SealError('public key is not a point on P-256');
  }
}

async function exportPublic(key: CryptoKey): Promise<string> {
  return PUBLIC_PREFIX + b64(new Uint8Array(await crypto.subtle.exportKey('raw', key)));
}

/** A device's key pair; the private key cannot be exported (not even by this app). */
export async function newDeviceKeys(): Promise<DeviceKeys> {
  const pair = await crypto.subtle.generateKey(CURVE, false, ['deriveBits']);
  return { privateKey: pair.privateKey, publicKey: await exportPublic(pair.publicKey) };
}

export const isDeviceKeys = (v: unknown): v is DeviceKeys =>
  typeof v === 'object' && v !== null && isPublicKey((v as DeviceKeys).publicKey) && (v as DeviceKeys).privateKey instanceof CryptoKey
  && (v as DeviceKeys).privateKey.algorithm.name === 'ECDH';

async function envelopeKey(priv: CryptoKey, pub: CryptoKey, device: string, context: string): Promise<CryptoKey> {
  const shared = await crypto.subtle.deriveBits({ name: 'ECDH', public: pub }, priv, 256);
  const ikm = await crypto.subtle.importKey('raw', shared, 'HKDF', false, ['deriveKey']);
  return crypto.subtle.deriveKey(
    { name: 'HKDF', hash: 'SHA-256', salt: te.encode(`tabdrive-seal-v${SEAL_VERSION}`), info: te.encode(`${device}|${context}`) },
    ikm,
    { name: 'AES-GCM', length: 256 },
    false,
    ['encrypt', 'decrypt'],
  );
}

/** Seals `plaintext` to each recipient; `context` is bound (additional data and key info). */
export async function seal(recipients: readonly { device: string; publicKey: string }[], plaintext: string, context: string): Promise<Sealed> {
  const eph = await crypto.subtle.generateKey(CURVE, true, ['deriveBits']);
  const env: Envelope[] = [];
  const skipped: string[] = [];
  for (const r of recipients) {
    let pub: CryptoKey;
    try {
      pub = await importPublic(r.publicKey);
    } catch {
      skipped.push(r.device);
      continue;
    }
    const key = await envelopeKey(eph.privateKey, pub, r.device, context);
    const nonce = crypto.getRandomValues(new Uint8Array(12));
    const ct = await crypto.subtle.encrypt({ name: 'AES-GCM', iv: nonce, additionalData: te.encode(context) }, key, te.encode(plaintext));
    env.push({ d: r.device, n: b64(nonce), c: b64(new Uint8Array(ct)) });
  }
  return { epk: await exportPublic(eph.publicKey), env, skipped };
}

/** Opens this device's envelope; throws SealError for anything that is not one sealed to it. */
export async function open(keys: DeviceKeys, device: string, sealed: { epk: string; env: Envelope }, context: string): Promise<string> {
  const key = await envelopeKey(keys.privateKey, await importPublic(sealed.epk), device, context);
  try {
    const nonce = unb64(sealed.env.n);
    if (nonce.length !== 12) throw new SealError('nonce is not 12 bytes');
    const pt = await crypto.subtle.decrypt({ name: 'AES-GCM', iv: nonce, additionalData: te.encode(context) }, key, unb64(sealed.env.c));
    return td.decode(pt);
  } catch {
    throw new SealError('envelope does not open with this device key and context');
  }
}
