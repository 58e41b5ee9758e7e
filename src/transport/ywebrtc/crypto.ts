/**
 * Encryption of tab and signaling traffic, as y-webrtc 10.3.0 does it (src/crypto.js; MIT,
 * see LICENSE here): an AES-GCM key derived from the room password (PBKDF2, 100,000 rounds,
 * the room name as salt), messages framed as varString('AES-GCM') · varBytes(iv) ·
 * varBytes(ciphertext). Changed from upstream: opening never throws or leaves a rejected
 * promise behind — what is not such a message, or does not decrypt, is `null`.
 */
import * as decoding from 'lib0/decoding';
import * as encoding from 'lib0/encoding';

const ALGORITHM = 'AES-GCM';
const PREFIX = Array.from(new TextEncoder().encode(ALGORITHM));

export async function deriveKey(secret: string, roomName: string): Promise<CryptoKey> {
  const utf8 = new TextEncoder();
  const material = await crypto.subtle.importKey('raw', utf8.encode(secret), 'PBKDF2', false, ['deriveKey']);
  return crypto.subtle.deriveKey(
    { name: 'PBKDF2', salt: utf8.encode(roomName), iterations: 100_000, hash: 'SHA-256' },
    material,
    { name: 'AES-GCM', length: 256 },
    true,
    ['encrypt', 'decrypt'],
  );
}

/** Cheap structural check of the framing (before any crypto): the algorithm name, room for an iv. */
export function isSealed(bytes: Uint8Array): boolean {
  return bytes.byteLength >= 8 + 12 && bytes[0] === PREFIX.length && PREFIX.every((c, i) => bytes[i + 1] === c);
}

export async function seal(plain: Uint8Array, key: CryptoKey): Promise<Uint8Array> {
  const iv = crypto.getRandomValues(new Uint8Array(12));
  const cipher = new Uint8Array(await crypto.subtle.encrypt({ name: 'AES-GCM', iv }, key, plain as Uint8Array<ArrayBuffer>));
  const e = encoding.createEncoder();
  encoding.writeVarString(e, ALGORITHM);
  encoding.writeVarUint8Array(e, iv);
  encoding.writeVarUint8Array(e, cipher);
  return encoding.toUint8Array(e);
}

/** The inverse of `seal`; null if `framed` is not such a message or does not decrypt. */
export async function open(framed: Uint8Array, key: CryptoKey): Promise<Uint8Array | null> {
  if (!isSealed(framed)) return null;
  try {
    const d = decoding.createDecoder(framed);
    decoding.readVarString(d);
    const iv = decoding.readVarUint8Array(d);
    const cipher = decoding.readVarUint8Array(d);
    return new Uint8Array(await crypto.subtle.decrypt({ name: 'AES-GCM', iv: iv as Uint8Array<ArrayBuffer> }, key, cipher as Uint8Array<ArrayBuffer>));
  } catch {
    return null;
  }
}

/** A value (lib0 `writeAny`) sealed and base64-encoded: the `data` of a signaling publication. */
export async function sealJson(value: unknown, key: CryptoKey): Promise<string> {
  const inner = encoding.createEncoder();
  encoding.writeAny(inner, value as never);
  let s = '';
  for (const b of await seal(encoding.toUint8Array(inner), key)) s += String.fromCharCode(b);
  return btoa(s);
}

/** The inverse of `sealJson`: the value, or why it is not one (never throws). */
export async function openJson(data: unknown, key: CryptoKey): Promise<{ value: unknown } | { why: string }> {
  if (typeof data !== 'string') return { why: 'data is not a string' };
  let bytes: Uint8Array;
  try {
    bytes = Uint8Array.from(atob(data), (c) => c.charCodeAt(0));
  } catch {
    return { why: 'data is not base64' };
  }
  if (!isSealed(bytes)) return { why: 'not AES-GCM framed' };
  const plain = await open(bytes, key);
  if (!plain) return { why: 'does not decrypt with the room key' };
  try {
    return { value: decoding.readAny(decoding.createDecoder(plain)) };
  } catch {
    return { why: 'unreadable' };
  }
}
