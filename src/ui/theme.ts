/**
 * Light and dark themes: the user's choice (remembered by this browser) or, by default, the
 * system's setting, followed live. The choice is a view preference, not library data, so it
 * is not synced.
 */
export type ThemeChoice = 'system' | 'light' | 'dark';

const KEY = 'tabdrive:theme';
const isChoice = (x: unknown): x is ThemeChoice => x === 'system' || x === 'light' || x === 'dark';

export function savedTheme(): ThemeChoice {
  try {
    const v = localStorage.getItem(KEY);
    return isChoice(v) ? v : 'system';
  } catch {
    return 'system'; // storage blocked: the system setting it is
  }
}

let unwatch: (() => void) | null = null;

/** Applies a choice to the document (and remembers it); 'system' follows the OS live. */
export function applyTheme(choice: ThemeChoice): void {
  try {
    localStorage.setItem(KEY, choice);
  } catch {
    // not remembered; still applied
  }
  unwatch?.();
  unwatch = null;
  const root = document.documentElement;
  if (choice !== 'system') {
    root.dataset['theme'] = choice;
    return;
  }
  const mq = matchMedia('(prefers-color-scheme: dark)');
  const set = () => (root.dataset['theme'] = mq.matches ? 'dark' : 'light');
  set();
  mq.addEventListener('change', set);
  unwatch = () => mq.removeEventListener('change', set);
}
