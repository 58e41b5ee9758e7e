/**
 * Service worker registration (vite-plugin-pwa, prompt mode): the app opens offline from the
 * precache, and when a new version has been downloaded the user is asked before it takes over
 * (a tab in the middle of a sync should not reload on its own).
 */
import { registerSW } from 'virtual:pwa-register';

export interface PwaHooks {
  onUpdateReady(apply: () => Promise<void>): void;
  onOfflineReady?(): void;
}

export function registerServiceWorker(hooks: PwaHooks): void {
  if (!('serviceWorker' in navigator)) return;
  const update = registerSW({
    immediate: true,
    onNeedRefresh: () => hooks.onUpdateReady(() => update(true)),
    onOfflineReady: () => hooks.onOfflineReady?.(),
  });
}

/** Asks the server for a newer build now (it then arrives through `onUpdateReady`). */
export async function checkForUpdate(): Promise<boolean> {
  const registration = await navigator.serviceWorker?.getRegistration();
  if (!registration) return false;
  await registration.update();
  return true;
}
