/**
 * UUIDs (RFC 4122). v4 from caller-supplied random bytes (core has no randomness of its
 * own); v5 for deterministic ids so that every device derives the same uuid for the same
 * thing: a content hash (as Spacedrive does), an album membership, a tag link, a file's
 * user metadata (DESIGN §5.4 — two devices adding the same link produce one row).
 */
import { sha1 } from './sha1.ts';

const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
export const isUuid = (x: unknown): x is string => typeof x === 'string' && UUID_RE.test(x);

const hex = (b: Uint8Array): string => Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');
const format = (h: string): string =>
  `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20, 32)}`;

export function uuidV4(random16: Uint8Array): string {
  if (random16.length < 16) throw new Error('uuidV4 needs 16 random bytes');
  const b = random16.slice(0, 16);
  b[6] = (b[6]! & 0x0f) | 0x40;
  b[8] = (b[8]! & 0x3f) | 0x80;
  return format(hex(b));
}

const utf8 = (s: string): Uint8Array => {
  const out: number[] = [];
  for (const ch of s) {
    const c = ch.codePointAt(0)!;
    if (c < 0x80) out.push(c);
    else if (c < 0x800) out.push(0xc0 | (c >> 6), 0x80 | (c & 63));
    else if (c < 0x10000) out.push(0xe0 | (c >> 12), 0x80 | ((c >> 6) & 63), 0x80 | (c & 63));
    else {
      out.push(0xf0 | (c >> 18), 0x80 | ((c >> 12) & 63), 0x80 | ((c >> 6) & 63), 0x80 | (c & 63));
    }
  }
  return Uint8Array.from(out);
};

export function uuidV5(namespace: string, name: string): string {
  if (!UUID_RE.test(namespace)) throw new Error(`bad namespace uuid ${namespace}`);
  const ns = Uint8Array.from(namespace.replace(/-/g, '').match(/../g)!.map((x) => parseInt(x, 16)));
  const nm = utf8(name);
  const input = new Uint8Array(16 + nm.length);
  input.set(ns);
  input.set(nm, 16);
  const h = sha1(input).slice(0, 16);
  h[6] = (h[6]! & 0x0f) | 0x50;
  h[8] = (h[8]! & 0x3f) | 0x80;
  return format(hex(h));
}

/** Spacedrive's namespace for content identities (NAMESPACE_OID-like constant upstream uses). */
export const CONTENT_NAMESPACE = '6ba7b810-9dad-11d1-80b4-00c04fd430c8';
/** tabdrive's namespace for relationship ids. */
export const TABDRIVE_NAMESPACE = '3f0c4c1e-7d1a-5b8e-9a43-2f6d1c0b7e55';

export const contentUuid = (contentHash: string): string => uuidV5(CONTENT_NAMESPACE, contentHash);
export const albumEntryUuid = (album: string, entry: string): string =>
  uuidV5(TABDRIVE_NAMESPACE, `album_entry:${album}:${entry}`);
export const tagLinkUuid = (tag: string, target: string): string =>
  uuidV5(TABDRIVE_NAMESPACE, `tag_link:${tag}:${target}`);
export const userMetadataUuid = (target: string): string => uuidV5(TABDRIVE_NAMESPACE, `user_metadata:${target}`);
