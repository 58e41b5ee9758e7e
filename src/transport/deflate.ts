/**
 * Raw deflate for what travels: large data-channel messages (chunked-channel.ts) and the
 * owned-state stream's pages (storage/stream-store.ts). Inflation is bounded: nothing a peer
 * sends may make this device produce more than the caller's `max` bytes.
 */

/** Deflates (the browser's CompressionStream). */
export async function deflate(bytes: Uint8Array): Promise<Uint8Array> {
  const stream = new Blob([bytes as Uint8Array<ArrayBuffer>]).stream().pipeThrough(new CompressionStream('deflate-raw'));
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

/**
 * Input slice fed to the decompressor at a time. Chromium's DecompressionStream inflates a
 * whole input chunk into its output queue before a reader can say stop (deflate expands at
 * most ~1032:1), so a 255 KB chunk of deflated zeros queued 250 MiB at once. Fed 8 KiB at a
 * time, and only as fast as we read (the writable side waits for the readable to be pulled),
 * at most ~8 MiB is produced beyond what we have read.
 */
const INFLATE_SLICE = 8 * 1024;

/**
 * Inflates into a buffer bounded by `max` bytes: the output is read piece by piece and the
 * inflation is cancelled as soon as it would pass `max` (then it throws; the caller drops the
 * message and counts it). Peak memory for one message: ≤ max + one slice's output for a
 * bomb; 2 × its size for a message that fits (the pieces, then the joined copy).
 */
export async function inflate(bytes: Uint8Array, max: number): Promise<Uint8Array> {
  const ds = new DecompressionStream('deflate-raw');
  const writer = ds.writable.getWriter();
  const reader = ds.readable.getReader();
  // Queued writes are only slices (views) of `bytes`; each is decompressed when pulled.
  for (let o = 0; o < bytes.byteLength; o += INFLATE_SLICE) writer.write(bytes.subarray(o, o + INFLATE_SLICE) as Uint8Array<ArrayBuffer>).catch(() => undefined);
  writer.close().catch(() => undefined);
  const parts: Uint8Array[] = [];
  let n = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    n += value.byteLength;
    if (n > max) {
      await reader.cancel().catch(() => undefined);
      throw new Error(`a deflated message inflates past ${max} bytes`);
    }
    parts.push(value);
  }
  const out = new Uint8Array(n);
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.byteLength;
  }
  return out;
}
