/**
 * Pixel dimensions from an image's first bytes (JPEG SOF, PNG IHDR, GIF, WebP, BMP) — what
 * EXIF often lacks. Pure and bounded: it reads only the bytes it is given and returns null
 * when they do not say.
 */
export interface Size {
  readonly width: number;
  readonly height: number;
}

const ok = (width: number, height: number): Size | null =>
  width > 0 && height > 0 && width <= 1_000_000 && height <= 1_000_000 ? { width, height } : null;

export function imageSize(b: Uint8Array): Size | null {
  const v = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const at = (i: number, n: number): boolean => i + n <= b.length;
  // PNG: signature, then IHDR (width, height big-endian)
  if (at(0, 24) && b[0] === 0x89 && b[1] === 0x50 && b[2] === 0x4e && b[3] === 0x47) return ok(v.getUint32(16), v.getUint32(20));
  // GIF87a / GIF89a
  if (at(0, 10) && b[0] === 0x47 && b[1] === 0x49 && b[2] === 0x46) return ok(v.getUint16(6, true), v.getUint16(8, true));
  // BMP: BITMAPINFOHEADER width, height (negative height = top-down)
  if (at(0, 26) && b[0] === 0x42 && b[1] === 0x4d) return ok(Math.abs(v.getInt32(18, true)), Math.abs(v.getInt32(22, true)));
  // WebP: RIFF....WEBP then VP8 / VP8L / VP8X
  if (at(0, 30) && v.getUint32(0) === 0x52494646 && v.getUint32(8) === 0x57454250) {
    const chunk = String.fromCharCode(b[12]!, b[13]!, b[14]!, b[15]!);
    if (chunk === 'VP8 ') return ok(v.getUint16(26, true) & 0x3fff, v.getUint16(28, true) & 0x3fff);
    if (chunk === 'VP8L') {
      const bits = v.getUint32(21, true);
      return ok((bits & 0x3fff) + 1, ((bits >>> 14) & 0x3fff) + 1);
    }
    if (chunk === 'VP8X') return ok(1 + (b[24]! | (b[25]! << 8) | (b[26]! << 16)), 1 + (b[27]! | (b[28]! << 8) | (b[29]! << 16)));
    return null;
  }
  // JPEG: walk the segments to the first frame header (SOF0–SOF15 but DHT, JPG, DAC)
  if (at(0, 4) && b[0] === 0xff && b[1] === 0xd8) {
    let i = 2;
    while (at(i, 4)) {
      if (b[i] !== 0xff) return null;
      const marker = b[i + 1]!;
      if (marker === 0xff) {
        i++; // fill byte
        continue;
      }
      if (marker === 0xd9 || marker === 0xda) return null; // end of image / start of scan: no frame header seen
      const len = v.getUint16(i + 2);
      if (len < 2) return null;
      if (marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc) {
        return at(i, 9) ? ok(v.getUint16(i + 7), v.getUint16(i + 5)) : null;
      }
      i += 2 + len;
    }
  }
  return null;
}
