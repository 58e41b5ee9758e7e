import exifr from 'exifr';
import { describe, expect, it } from 'vitest';
import { imageSize } from '../../../src/media/image-size.ts';
import { HEADER_BYTES, readMedia, takenAt } from '../../../src/media/metadata.ts';
import { jpegHeader, tiffBlock } from '../../support/media.ts';

const parse = (d: Uint8Array, o: Record<string, unknown>) => exifr.parse(d, o) as Promise<Record<string, unknown> | undefined>;
const u8 = (b: Buffer) => new Uint8Array(b.buffer, b.byteOffset, b.byteLength);

describe('media metadata from an image header', () => {
  it('reads date taken, camera and size from a JPEG with EXIF', async () => {
    const h = jpegHeader(640, 480, { make: 'Canon', model: 'Canon EOS 5D', taken: '2021:07:04 10:30:00' });
    const { fields, failed } = await readMedia(u8(h), parse);
    expect(failed).toBe(false);
    expect(fields).toEqual({ taken_at: Date.UTC(2021, 6, 4, 10, 30, 0), width: 640, height: 480, camera_make: 'Canon', camera_model: 'Canon EOS 5D' });
  });

  it('swaps the sides of a picture turned a quarter (orientation 6)', async () => {
    const { fields } = await readMedia(u8(jpegHeader(640, 480, { orientation: 6 })), parse);
    expect([fields.width, fields.height]).toEqual([480, 640]);
  });

  it('a JPEG without EXIF still has its size; garbage has nothing and counts as a failure', async () => {
    const plain = await readMedia(u8(jpegHeader(33, 17)), parse);
    expect([plain.fields.width, plain.fields.height, plain.fields.taken_at]).toEqual([33, 17, null]);
    const junk = await readMedia(u8(Buffer.from('this is not an image at all, sorry')), parse);
    expect(junk.failed).toBe(true);
    expect(junk.fields).toEqual({ taken_at: null, width: null, height: null, camera_make: null, camera_model: null });
  });

  it('control characters are removed from names', async () => {
    const { fields } = await readMedia(u8(jpegHeader(1, 1, { make: 'Nik\u0001on ', model: 'D750' })), parse);
    expect([fields.camera_make, fields.camera_model]).toEqual(['Nikon', 'D750']);
  });

  it('a damaged EXIF block (an offset past the end) is survived', async () => {
    const t = tiffBlock({ make: 'Nikon', model: 'D750' });
    t.writeUInt32LE(0xffff_fff0, 8 + 2 + 8); // the first entry's value offset points nowhere
    const seg = Buffer.concat([Buffer.from('Exif\0\0', 'latin1'), t]);
    const jpeg = Buffer.concat([Buffer.from([0xff, 0xd8, 0xff, 0xe1, (seg.length + 2) >> 8, (seg.length + 2) & 0xff]), seg, Buffer.from([0xff, 0xd9])]);
    const r = await readMedia(u8(jpeg), parse);
    expect([null, 'D750']).toContain(r.fields.camera_model);
    expect(r.fields.taken_at).toBeNull();
  });

  it('takenAt reads EXIF wall-clock times as UTC and refuses nonsense', () => {
    expect(takenAt('2024:02:29 23:59:59')).toBe(Date.UTC(2024, 1, 29, 23, 59, 59));
    expect(takenAt('0000:00:00 00:00:00')).toBeNull();
    expect(takenAt('2024:13:01 00:00:00')).toBeNull();
    expect(takenAt(1234)).toBeNull();
  });

  it('sizes of PNG, GIF, BMP and WebP headers', () => {
    const png = Buffer.alloc(33);
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]).copy(png);
    png.writeUInt32BE(13, 8);
    png.write('IHDR', 12, 'latin1');
    png.writeUInt32BE(1920, 16);
    png.writeUInt32BE(1080, 20);
    expect(imageSize(u8(png))).toEqual({ width: 1920, height: 1080 });
    const gif = Buffer.from('GIF89a\x0a\x00\x05\x00', 'latin1');
    expect(imageSize(u8(gif))).toEqual({ width: 10, height: 5 });
    const bmp = Buffer.alloc(26);
    bmp.write('BM', 0, 'latin1');
    bmp.writeInt32LE(7, 18);
    bmp.writeInt32LE(-9, 22);
    expect(imageSize(u8(bmp))).toEqual({ width: 7, height: 9 });
    const webp = Buffer.alloc(30);
    webp.write('RIFF', 0, 'latin1');
    webp.write('WEBPVP8X', 8, 'latin1');
    webp.writeUIntLE(299, 24, 3);
    webp.writeUIntLE(149, 27, 3);
    expect(imageSize(u8(webp))).toEqual({ width: 300, height: 150 });
    expect(imageSize(u8(Buffer.from([0xff, 0xd8, 0xff, 0xda, 0, 2])))).toBeNull();
  });

  it('reads only a bounded header', () => {
    expect(HEADER_BYTES).toBeLessThanOrEqual(256 * 1024);
  });
});
