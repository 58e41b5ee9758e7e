import { describe, expect, it } from 'vitest';
import { FileAccess, type FileRef } from '../../../src/indexer/access.ts';
import type { HandleStore } from '../../../src/indexer/handles.ts';
import { looksBinary, previewKind } from '../../../src/media/kinds.ts';

const SELF = '00000000-0000-4000-8000-000000000001';
const OTHER = '00000000-0000-4000-8000-000000000002';
const LOC = '00000000-0000-4000-8000-0000000000aa';
const ref = (path: string, over: Partial<FileRef> = {}): FileRef => ({ location: LOC, locationPath: 'picked://Trip', device: SELF, deviceName: 'Chrome a1', path, ...over });

/** A directory handle over a tree of names → text (what getDirectoryHandle/getFileHandle do). */
function dirHandle(tree: Record<string, unknown>, permission: PermissionState = 'granted'): FileSystemDirectoryHandle {
  const make = (t: Record<string, unknown>): unknown => ({
    kind: 'directory',
    queryPermission: () => Promise.resolve(permission),
    requestPermission: () => Promise.resolve(permission),
    getDirectoryHandle: (n: string) => {
      const v = t[n];
      return typeof v === 'object' && v ? Promise.resolve(make(v as Record<string, unknown>)) : Promise.reject(new DOMException('no', 'NotFoundError'));
    },
    getFileHandle: (n: string) => {
      const v = t[n];
      return typeof v === 'string' ? Promise.resolve({ getFile: () => Promise.resolve(new File([v], n)) }) : Promise.reject(new DOMException('no', 'NotFoundError'));
    },
  });
  return make(tree) as FileSystemDirectoryHandle;
}
const store = (h: FileSystemDirectoryHandle | null): HandleStore => ({
  save: () => Promise.resolve(),
  load: () => Promise.resolve(h),
  forget: () => Promise.resolve(),
});

describe('FileAccess', () => {
  it('reads picked files of this tab first, then the kept handle by path', async () => {
    const a = new FileAccess(store(dirHandle({ photos: { 'beach.jpg': 'from disk' } })));
    const viaHandle = await a.open(ref('photos/beach.jpg'), SELF);
    expect(viaHandle.ok && (await viaHandle.file.text())).toBe('from disk');
    a.remember(LOC, [{ path: 'photos/beach.jpg', file: new File(['picked'], 'beach.jpg') }]);
    const picked = await a.open(ref('photos/beach.jpg'), SELF);
    expect(picked.ok && (await picked.file.text())).toBe('picked');
  });

  it('says why a file cannot be read', async () => {
    const reason = async (a: FileAccess, r: FileRef) => {
      const x = await a.open(r, SELF);
      return x.ok ? 'ok' : x.reason;
    };
    const a = new FileAccess(store(dirHandle({ 'a.txt': 'x' })));
    expect(await reason(a, ref('a.txt', { device: OTHER }))).toBe('other-device');
    expect(await reason(a, ref('a.txt', { locationPath: 'sample://S/S' }))).toBe('sample');
    expect(await reason(a, ref('gone.txt'))).toBe('missing');
    expect(await reason(a, ref('dir/a.txt'))).toBe('missing');
    expect(await reason(new FileAccess(null), ref('a.txt'))).toBe('not-kept');
    expect(await reason(new FileAccess(store(null)), ref('a.txt'))).toBe('not-kept');
    expect(await reason(new FileAccess(store(dirHandle({ 'a.txt': 'x' }, 'denied'))), ref('a.txt'))).toBe('permission');
    a.forget(LOC);
  });
});

describe('preview kinds', () => {
  it('by extension, case-insensitive', () => {
    expect([previewKind('JPG'), previewKind('mp4'), previewKind('flac'), previewKind('ts'), previewKind('pdf'), previewKind('exe'), previewKind(null)])
      .toEqual(['image', 'video', 'audio', 'text', 'pdf', 'none', 'none']);
    expect(looksBinary('abc\u0000def')).toBe(true);
    expect(looksBinary('plain text')).toBe(false);
  });
});
