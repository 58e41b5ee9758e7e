/**
 * Media metadata of an image at indexing: date taken, dimensions, camera. Bounded: only the
 * first HEADER_BYTES of the file are read (JPEG keeps EXIF in APP1, at most 64 KiB, right
 * after the start; HEIC/PNG/WebP keep it near the start too), never the whole file. A file
 * whose header cannot be read yields `null` fields and counts as a failure, never an error.
 */
import type { Size } from './image-size.ts';
import { imageSize } from './image-size.ts';

export const HEADER_BYTES = 128 * 1024;

export interface MediaFields {
  /** the camera's clock when the picture was taken, as if it were UTC (EXIF has no zone: see takenAt) */
  readonly taken_at: number | null;
  readonly width: number | null;
  readonly height: number | null;
  readonly camera_make: string | null;
  readonly camera_model: string | null;
}

export const NO_MEDIA: MediaFields = { taken_at: null, width: null, height: null, camera_make: null, camera_model: null };

/**
 * EXIF `DateTimeOriginal` ("2021:07:04 10:30:00") is the camera's wall clock without a zone
 * (OffsetTimeOriginal is rare). It is kept as that wall clock read as UTC, and shown in UTC, so
 * "taken at 10:30" reads 10:30 on every device whatever its zone, and sorting by it is stable.
 */
export function takenAt(raw: unknown): number | null {
  if (typeof raw !== 'string') return null;
  const m = /^(\d{4})[:-](\d{2})[:-](\d{2})[ T](\d{2}):(\d{2}):(\d{2})/.exec(raw.trim());
  if (!m) return null;
  const [y, mo, d, h, mi, s] = m.slice(1).map(Number) as [number, number, number, number, number, number];
  if (y < 1826 || y > 2200 || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || s > 60) return null;
  return Date.UTC(y, mo - 1, d, h, mi, s);
}

const clean = (v: unknown): string | null => {
  if (typeof v !== 'string') return null;
  // EXIF ASCII fields are NUL-padded; control characters never belong in a name
  const t = [...v].filter((c) => c.charCodeAt(0) > 0x1f && c.charCodeAt(0) !== 0x7f).join('').trim().slice(0, 200);
  return t || null;
};
const dim = (v: unknown): number | null => (typeof v === 'number' && Number.isSafeInteger(v) && v > 0 && v <= 1_000_000 ? v : null);

type Parse = (data: Uint8Array, options: Record<string, unknown>) => Promise<Record<string, unknown> | undefined>;

/** Reads the media fields from an image header. `parse` is exifr's (injected: loaded lazily). */
export async function readMedia(header: Uint8Array, parse: Parse): Promise<{ fields: MediaFields; failed: boolean }> {
  let tags: Record<string, unknown> | undefined;
  let failed = false;
  try {
    tags = await parse(header, {
      tiff: true, ifd0: true, exif: true, gps: false, interop: false, ifd1: false, xmp: false, icc: false, iptc: false, jfif: false,
      ihdr: false, makerNote: false, userComment: false, reviveValues: false, translateValues: false, translateKeys: true,
      mergeOutput: true, silentErrors: true, chunked: false,
    });
  } catch {
    failed = true; // not an image exifr knows, or a damaged header
  }
  const size: Size | null = imageSize(header);
  const t = tags ?? {};
  let width = size?.width ?? dim(t['ExifImageWidth']) ?? dim(t['ImageWidth']);
  let height = size?.height ?? dim(t['ExifImageHeight']) ?? dim(t['ImageHeight']);
  // Orientation 5–8 turns the picture a quarter: the sides as seen are swapped
  const o = t['Orientation'];
  if (typeof o === 'number' && o >= 5 && o <= 8) [width, height] = [height, width];
  const fields: MediaFields = {
    taken_at: takenAt(t['DateTimeOriginal']) ?? takenAt(t['CreateDate']),
    width, height,
    camera_make: clean(t['Make']),
    camera_model: clean(t['Model']),
  };
  return { fields, failed: failed && size === null };
}
