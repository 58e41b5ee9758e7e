/**
 * Content identity of a file from sampled content (after Spacedrive's cas_id): files up to
 * 100 KiB are hashed whole; larger ones by their size, the first and last 8 KiB and four
 * 10 KiB samples at fixed fractions of the file. The same bytes on two devices give the same
 * hash — so the same content uuid (`contentUuid`) — without reading a 4 GB video in full.
 * Two files that differ only outside every sample share an identity: the price of speed,
 * as upstream.
 *
 * Pure: reading and digesting come in as parameters (the browser passes File slices and
 * WebCrypto SHA-256; tests pass bytes in memory).
 */

export const WHOLE_FILE_MAX = 100 * 1024;
const HEADER = 8 * 1024;
const FOOTER = 8 * 1024;
const SAMPLE = 10 * 1024;
const SAMPLES = 4;

/** The byte ranges [offset, length] a file of `size` bytes is hashed from, in order. */
export function sampleRanges(size: number): [number, number][] {
  if (!Number.isSafeInteger(size) || size < 0) throw new Error(`bad file size ${size}`);
  if (size <= WHOLE_FILE_MAX) return size === 0 ? [] : [[0, size]];
  const out: [number, number][] = [[0, HEADER]];
  const span = size - HEADER - FOOTER - SAMPLE;
  for (let i = 1; i <= SAMPLES; i++) out.push([HEADER + Math.floor((span * i) / (SAMPLES + 1)), SAMPLE]);
  out.push([size - FOOTER, FOOTER]);
  return out;
}

export interface HashDeps {
  /** bytes [offset, offset + length) of the file */
  readonly read: (offset: number, length: number) => Promise<Uint8Array>;
  /** a cryptographic digest of the bytes (SHA-256 in the app) */
  readonly digest: (bytes: Uint8Array) => Promise<Uint8Array>;
}

const hex = (b: Uint8Array): string => Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');

/** `v1:<size>:<hex digest of size ‖ samples>` — the version lets the scheme change later. */
export async function contentHash(size: number, deps: HashDeps): Promise<string> {
  const ranges = sampleRanges(size);
  const parts: Uint8Array[] = [];
  let total = 8;
  for (const [off, len] of ranges) {
    const b = await deps.read(off, len);
    if (b.byteLength !== len) throw new Error(`short read at ${off}: ${b.byteLength} of ${len} bytes (the file changed?)`);
    parts.push(b);
    total += len;
  }
  const msg = new Uint8Array(total);
  new DataView(msg.buffer).setBigUint64(0, BigInt(size));
  let at = 8;
  for (const p of parts) {
    msg.set(p, at);
    at += p.byteLength;
  }
  return `v1:${size}:${hex(await deps.digest(msg))}`;
}
