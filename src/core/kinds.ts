/**
 * What kind of file an extension names: content identities derived from entries carry it, and
 * the explorer's "Kind" filter selects files by it. Derived from the extension alone, so it
 * is the same for a file on every device, indexed or generated, read or not.
 */
export const FILE_KINDS = ['image', 'video', 'audio', 'document', 'text', 'code', 'archive'] as const;
export type FileKind = (typeof FILE_KINDS)[number];

const EXTENSIONS: Record<FileKind, readonly string[]> = {
  image: ['jpg', 'jpeg', 'png', 'gif', 'webp', 'heic', 'heif', 'avif', 'bmp', 'tif', 'tiff', 'svg', 'raw', 'cr2', 'nef', 'dng'],
  video: ['mp4', 'mov', 'mkv', 'webm', 'avi', 'm4v', 'wmv', 'mpg', 'mpeg'],
  audio: ['mp3', 'flac', 'wav', 'm4a', 'aac', 'ogg', 'opus', 'aiff'],
  document: ['pdf', 'doc', 'docx', 'xls', 'xlsx', 'ppt', 'pptx', 'odt', 'ods', 'odp', 'rtf', 'epub'],
  text: ['txt', 'md', 'csv', 'log'],
  code: ['ts', 'js', 'rs', 'py', 'json', 'svelte', 'html', 'css', 'c', 'h', 'cpp', 'go', 'java', 'sh', 'toml', 'yaml', 'yml'],
  archive: ['zip', 'tar.gz', '7z', 'tar', 'gz', 'rar', 'bz2', 'xz'],
};

const BY_EXTENSION = new Map<string, FileKind>(FILE_KINDS.flatMap((k) => EXTENSIONS[k].map((e) => [e, k] as const)));

/** The kind of a lower-case extension (as core/folder `extensionOf` gives it), null if unknown. */
export const kindOfExtension = (ext: string): FileKind | null => BY_EXTENSION.get(ext) ?? null;

/** The extensions of a kind (lower case). */
export const extensionsOf = (kind: FileKind): readonly string[] => EXTENSIONS[kind];

/** Every extension some kind names (what "other" files are not). */
export const knownExtensions = (): readonly string[] => [...BY_EXTENSION.keys()];
