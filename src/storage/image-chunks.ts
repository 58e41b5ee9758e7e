/**
 * Chunked database images (ARCHITECTURE.md "Persistence", decision 0016).
 *
 * An image's SQLite file is stored as fixed-size chunks, each an IndexedDB record keyed by its
 * bank and its own SHA-256 (`chunk:<bank>-<sum>`), and the image record lists the sums in
 * order. Images alternate between two banks, and a chunk is reused only within its bank: an
 * image writes the chunks that differ from the image before the previous one (a few MiB after
 * a few commits, instead of the whole database) and is read back and checked only for what
 * it wrote, while the current and the previous image never share a stored chunk — one bad
 * chunk on disk damages one image, and the other still recovers everything (S3).
 * The image's `checksum` covers its size, the chunk size and every chunk's sum in order, so
 * it still says "these exact bytes": each chunk is checked against its sum when it is read.
 */
import { chunkId, sha256Hex, webSha256, type ImageRecord, type Journal, type Sha256 } from './journal.ts';

/** 4 MiB. A commit touches a handful of scattered pages (a table leaf, a leaf of each index,
 *  the FTS index), each in its own chunk, so what an image rewrites grows with the chunk; but
 *  each chunk is its own IndexedDB value (a blob file in Chromium), and boot reads them all:
 *  with 1 MiB chunks a 100k library's reload took 1.41× the one-value image's, with 4 MiB
 *  1.03× (same minutes, one run each, bench `--only cold`). */
export const CHUNK_BYTES = 4 << 20;
/** chunks read or written per IndexedDB transaction: bounds what is held at once */
export const CHUNKS_PER_TRANSACTION = 16;

const utf8 = new TextEncoder();

/** The whole image's checksum: SHA-256 of its size, chunk size, bank and chunk sums, in order. */
export function chunkedChecksum(size: number, chunkBytes: number, bank: number, sums: readonly string[], sha256: Sha256 = webSha256): Promise<string> {
  return sha256Hex(utf8.encode(JSON.stringify(['chunked-image', size, chunkBytes, bank, sums])), sha256);
}

/** Views (no copies) of `bytes` in chunks of `chunkBytes`. */
export function chunkViews(bytes: Uint8Array, chunkBytes = CHUNK_BYTES): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (let at = 0; at < bytes.byteLength; at += chunkBytes) out.push(bytes.subarray(at, Math.min(bytes.byteLength, at + chunkBytes)));
  return out;
}

/** SHA-256 of each chunk, a few at a time (each digest copies its input inside the browser). */
export async function chunkSums(views: readonly Uint8Array[], sha256: Sha256 = webSha256, inFlight = 8): Promise<string[]> {
  const sums: string[] = new Array<string>(views.length);
  for (let i = 0; i < views.length; i += inFlight) {
    const part = await Promise.all(views.slice(i, i + inFlight).map((v) => sha256Hex(v, sha256)));
    part.forEach((s, k) => (sums[i + k] = s));
  }
  return sums;
}

/**
 * A chunked image's SQLite file, each chunk checked against its sum and the list against the
 * image's checksum, copied into one buffer as it arrives (a batch of chunks at a time is all
 * that is held besides it). A string says what is wrong.
 */
export async function readChunkedImage(from: Journal, img: ImageRecord, sha256: Sha256 = webSha256): Promise<Uint8Array | string> {
  const sums = img.chunks ?? [];
  const bank = img.bank ?? 0;
  const size = img.size ?? -1;
  const chunkBytes = img.chunkBytes ?? -1;
  if (size < 0 || chunkBytes <= 0 || Math.ceil(size / chunkBytes) !== sums.length) return 'damaged (its list of chunks does not match its size)';
  if ((await chunkedChecksum(size, chunkBytes, bank, sums, sha256)) !== img.checksum) return 'damaged (checksum mismatch)';
  const out = new Uint8Array(size);
  const read = (i: number): Promise<(Uint8Array | undefined)[]> => from.readChunks(sums.slice(i, i + CHUNKS_PER_TRANSACTION).map((sum) => chunkId(bank, sum)));
  // the next batch is read while this one is hashed (in parallel: one digest at a time was a
  // round trip to the browser's crypto thread per chunk, and made boot 1.4× slower than one
  // digest of a one-value image)
  // (a read failing while the batch before it is hashed is not an unhandled rejection: it is
  // handled here and thrown where it is awaited)
  const ahead = (i: number): Promise<(Uint8Array | undefined)[]> => {
    const p = read(i);
    p.catch(() => undefined);
    return p;
  };
  let next = ahead(0);
  for (let i = 0; i < sums.length; i += CHUNKS_PER_TRANSACTION) {
    const chunks = await next;
    if (i + CHUNKS_PER_TRANSACTION < sums.length) next = ahead(i + CHUNKS_PER_TRANSACTION);
    const problems = await Promise.all(chunks.map(async (c, k) => {
      const n = i + k;
      if (!c) return `damaged (chunk ${n + 1} of ${sums.length} is missing)`;
      if (c.byteLength !== Math.min(chunkBytes, size - n * chunkBytes) || (await sha256Hex(c, sha256)) !== sums[n]) return `damaged (chunk ${n + 1} of ${sums.length} fails its checksum)`;
      out.set(c, n * chunkBytes);
      return null;
    }));
    const problem = problems.find((p) => p !== null);
    if (problem) {
      await next.catch(() => undefined);
      return problem;
    }
  }
  return out;
}

/** A stored image's bank and chunk ids (a one-blob image: bank 1, so the next image uses 0). */
export function imageChunks(img: ImageRecord): { bank: number; chunks: ReadonlySet<string> } {
  if (!img.chunks) return { bank: 1, chunks: new Set() };
  const bank = img.bank ?? 0;
  return { bank, chunks: new Set(img.chunks.map((sum) => chunkId(bank, sum))) };
}
