/** Display helpers shared by components. */
import { TAG_COLOR } from '../core/models.ts';

/** A tag's colour as a CSS value: validation admits only `#rrggbb`; rows stored before that
 *  rule (or anything else) show the neutral swatch instead of reaching the style. */
export const tagColor = (c: string | null): string => (c !== null && TAG_COLOR.test(c) ? c : 'var(--muted)');

export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  const units = ['KB', 'MB', 'GB', 'TB'];
  let v = n / 1024;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${v >= 100 ? v.toFixed(0) : v.toFixed(1)} ${units[i]}`;
}

export const formatDate = (ms: number | null): string =>
  ms === null ? '—' : new Date(ms).toLocaleDateString(undefined, { year: 'numeric', month: 'short', day: 'numeric' });

/** A date taken: the camera's wall clock, kept as UTC (src/media/metadata.ts), shown as such. */
export const formatTaken = (ms: number): string =>
  new Date(ms).toLocaleString(undefined, { year: 'numeric', month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit', timeZone: 'UTC' });

/** "Canon" + "Canon EOS 5D" → "Canon EOS 5D" (most models repeat the make). */
export function formatCamera(make: string | null, model: string | null): string | null {
  if (!make) return model;
  if (!model) return make;
  return model.toLowerCase().startsWith(make.toLowerCase().split(' ')[0]!) ? model : `${make} ${model}`;
}

/** A count in English digits ("1,234"). Integers without Intl: the page's first
 *  `toLocaleString` loads the locale's data, 12 ms of the app's first render (profiled, the
 *  fresh tab's longest task); the rest as before. */
export const formatCount = (n: number): string => (Number.isSafeInteger(n) ? String(n).replace(/\B(?=(\d{3})+(?!\d))/g, ',') : n.toLocaleString('en'));

const ICONS: Record<string, string> = {
  jpg: '🖼', jpeg: '🖼', png: '🖼', heic: '🖼', gif: '🖼', webp: '🖼', svg: '🖼',
  mp3: '🎵', flac: '🎵', m4a: '🎵', wav: '🎵', mp4: '🎬', mov: '🎬', mkv: '🎬',
  pdf: '📕', docx: '📄', md: '📝', txt: '📝', xlsx: '📊', zip: '🗜', 'tar.gz': '🗜', '7z': '🗜',
  ts: '⌨', rs: '⌨', py: '⌨', json: '⌨', svelte: '⌨',
};
export const fileIcon = (kind: string, ext: string | null): string => (kind === 'dir' ? '📁' : ICONS[ext ?? ''] ?? '📄');
