/**
 * Makes thumbnails off the main thread: decode (createImageBitmap, EXIF orientation applied),
 * scale so the long side is at most `max`, encode as WebP on an OffscreenCanvas.
 */
/// <reference lib="webworker" />
import type { ThumbJob, ThumbResult } from './thumbnails.ts';

self.onmessage = async (e: MessageEvent<ThumbJob>) => {
  const { id, file, max } = e.data;
  let result: ThumbResult;
  try {
    const bitmap = await createImageBitmap(file);
    if (file instanceof ImageBitmap) file.close();
    const scale = Math.min(1, max / Math.max(bitmap.width, bitmap.height));
    const width = Math.max(1, Math.round(bitmap.width * scale));
    const height = Math.max(1, Math.round(bitmap.height * scale));
    const canvas = new OffscreenCanvas(width, height);
    const g = canvas.getContext('2d');
    if (!g) throw new Error('no 2d context');
    g.imageSmoothingQuality = 'high';
    g.drawImage(bitmap, 0, 0, width, height);
    bitmap.close();
    const blob = await canvas.convertToBlob({ type: 'image/webp', quality: 0.75 });
    const bytes = await blob.arrayBuffer();
    result = { id, ok: true, thumb: { type: blob.type, bytes, width, height } };
    (self as unknown as Worker).postMessage(result, [bytes]);
    return;
  } catch (err) {
    result = { id, ok: false, error: err instanceof Error ? err.message : String(err) };
  }
  (self as unknown as Worker).postMessage(result);
};
