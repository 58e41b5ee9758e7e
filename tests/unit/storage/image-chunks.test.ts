// Reading a chunked image back (storage/image-chunks.ts): every chunk checked against its sum,
// and a read that fails while the batch before it is still being hashed is reported where it
// is awaited, never as an unhandled rejection.
import { randomBytes, webcrypto } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { chunkedChecksum, chunkSums, chunkViews, CHUNKS_PER_TRANSACTION, readChunkedImage } from '../../../src/storage/image-chunks.ts';
import { chunkId, type ImageRecord, type Journal, type Sha256 } from '../../../src/storage/journal.ts';

const sha: Sha256 = (b) => webcrypto.subtle.digest('SHA-256', b);
const CHUNK = 1024;

async function image(chunks: number): Promise<{ bytes: Uint8Array; img: ImageRecord; store: Map<string, Uint8Array> }> {
  const bytes = new Uint8Array(randomBytes(chunks * CHUNK - 100)); // distinct chunks: distinct ids
  const views = chunkViews(bytes, CHUNK);
  const sums = await chunkSums(views, sha);
  const store = new Map(views.map((v, i) => [chunkId(0, sums[i]!), v.slice()]));
  const img = { id: 'i', seq: 1, at: 0, chunks: sums, bank: 0, size: bytes.byteLength, chunkBytes: CHUNK, checksum: await chunkedChecksum(bytes.byteLength, CHUNK, 0, sums, sha) } as unknown as ImageRecord;
  return { bytes, img, store };
}
const journal = (readChunks: Journal['readChunks']): Journal => ({ readChunks }) as unknown as Journal;

describe('readChunkedImage', () => {
  it('returns the bytes, each chunk checked; a flipped bit is named by its chunk', async () => {
    const { bytes, img, store } = await image(CHUNKS_PER_TRANSACTION + 3);
    const j = journal((ids) => Promise.resolve(ids.map((id) => store.get(id))));
    expect(await readChunkedImage(j, img, sha)).toEqual(bytes);
    const id = chunkId(0, img.chunks![CHUNKS_PER_TRANSACTION + 1]!);
    store.get(id)![7]! ^= 1;
    expect(await readChunkedImage(j, img, sha)).toBe(`damaged (chunk ${CHUNKS_PER_TRANSACTION + 2} of ${CHUNKS_PER_TRANSACTION + 3} fails its checksum)`);
  });

  it('a read failing while the batch before it is hashed: thrown where awaited, no unhandled rejection', async () => {
    const { img, store } = await image(2 * CHUNKS_PER_TRANSACTION);
    let reads = 0;
    const j = journal((ids) => (++reads === 1 ? Promise.resolve(ids.map((id) => store.get(id))) : Promise.reject(new Error('the disk said no'))));
    // the first batch hashes slowly: the second read fails meanwhile
    const slow: Sha256 = async (b) => {
      await new Promise((r) => setTimeout(r, 5));
      return sha(b);
    };
    const unhandled: unknown[] = [];
    const note = (e: unknown): void => void unhandled.push(e);
    process.on('unhandledRejection', note);
    try {
      await expect(readChunkedImage(j, img, slow)).rejects.toThrow('the disk said no');
      await new Promise((r) => setTimeout(r, 20));
      expect(unhandled).toEqual([]);
    } finally {
      process.off('unhandledRejection', note);
    }
  });
});
