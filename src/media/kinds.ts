/**
 * What the browser can show of a file, by its extension: the preview's renderer, whether a
 * thumbnail can be made and whether EXIF is worth reading. The extension is all an entry of
 * another device carries, so every device decides the same way.
 */
export type PreviewKind = 'image' | 'video' | 'audio' | 'text' | 'pdf' | 'none';

const IMAGE = new Set(['jpg', 'jpeg', 'png', 'gif', 'webp', 'avif', 'bmp', 'svg', 'ico']);
const VIDEO = new Set(['mp4', 'm4v', 'webm', 'mov', 'ogv', 'mkv']);
const AUDIO = new Set(['mp3', 'm4a', 'aac', 'wav', 'flac', 'ogg', 'oga', 'opus']);
const TEXT = new Set([
  'txt', 'md', 'markdown', 'log', 'csv', 'tsv', 'json', 'jsonl', 'xml', 'yml', 'yaml', 'toml', 'ini', 'cfg', 'conf', 'env',
  'html', 'htm', 'css', 'scss', 'js', 'mjs', 'cjs', 'ts', 'tsx', 'jsx', 'svelte', 'vue', 'py', 'rb', 'go', 'rs', 'java', 'kt',
  'c', 'h', 'cc', 'cpp', 'hpp', 'cs', 'swift', 'php', 'sh', 'bash', 'zsh', 'fish', 'ps1', 'sql', 'lua', 'pl', 'r', 'tex',
  'srt', 'vtt', 'gitignore', 'dockerfile', 'makefile',
]);
/** formats whose headers exifr reads (JPEG APP1, TIFF, HEIC/AVIF meta, PNG eXIf/IHDR, WebP) */
const EXIF = new Set(['jpg', 'jpeg', 'tif', 'tiff', 'heic', 'heif', 'avif', 'png', 'webp']);
/** raster formats createImageBitmap decodes in Chromium (SVG needs a document: no thumbnail) */
const RASTER = new Set(['jpg', 'jpeg', 'png', 'gif', 'webp', 'avif', 'bmp', 'ico']);

export function previewKind(extension: string | null): PreviewKind {
  const ext = (extension ?? '').toLowerCase();
  if (ext === 'pdf') return 'pdf';
  if (IMAGE.has(ext)) return 'image';
  if (VIDEO.has(ext)) return 'video';
  if (AUDIO.has(ext)) return 'audio';
  if (TEXT.has(ext)) return 'text';
  return 'none';
}

export const hasExif = (extension: string | null): boolean => EXIF.has((extension ?? '').toLowerCase());
/** video containers Chromium plays, whose first frames make a poster */
const POSTER = new Set(['mp4', 'm4v', 'webm', 'ogv', 'mov']);

/** How a thumbnail is made: decoding the image, or a frame of the video; null: none. */
export function thumbnailKind(extension: string | null): 'image' | 'video' | null {
  const ext = (extension ?? '').toLowerCase();
  return RASTER.has(ext) ? 'image' : POSTER.has(ext) ? 'video' : null;
}
export const canThumbnail = (extension: string | null): boolean => thumbnailKind(extension) !== null;

/** Text previews show at most this much of a file (a 2 GB log must not be read whole). */
export const TEXT_PREVIEW_BYTES = 256 * 1024;

/** A decoded text prefix that holds NUL characters is binary (what `file` and git assume). */
export const looksBinary = (text: string): boolean => text.slice(0, 8192).includes('\u0000');
