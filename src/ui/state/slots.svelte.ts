/**
 * This browser's closed tabs (device/cleanup.ts): how long one may stay unused before its
 * slot and database are removed (a setting of this browser, kept in localStorage), and what
 * the last run removed or kept. Runs are serialized here; cleanup itself keeps tabs apart.
 */
import { DAY_MS, DEFAULT_HORIZON_DAYS, type CleanupReport } from '../../device/cleanup.ts';

export const HORIZON_KEY = 'tabdrive:slot-horizon-days';
/** the choices the setting offers (days; null: never) */
export const HORIZON_CHOICES: readonly (number | null)[] = [7, 30, 90, 365, null];

export interface SlotsDeps {
  /** one cleanup run with this horizon (ms; null: never) */
  readonly run: (horizonMs: number | null) => Promise<CleanupReport | null>;
  readonly store: Pick<Storage, 'getItem' | 'setItem'> | null;
  /** a horizon in ms that overrides the setting (test build's `?slot-horizon-ms=`) */
  readonly overrideMs?: number | null;
}

export function readHorizonDays(store: Pick<Storage, 'getItem'> | null): number | null {
  const v = store?.getItem(HORIZON_KEY);
  if (v === 'never') return null;
  const n = Number(v);
  return v && Number.isInteger(n) && n > 0 ? n : DEFAULT_HORIZON_DAYS;
}

export class SlotsState {
  horizonDays = $state<number | null>(DEFAULT_HORIZON_DAYS);
  #report = $state.raw<CleanupReport | null>(null);
  /** removed by this tab's runs since it started */
  #removed = $state(0);
  #deps: SlotsDeps;
  #running: Promise<CleanupReport | null> = Promise.resolve(null);

  constructor(deps: SlotsDeps) {
    this.#deps = deps;
    this.horizonDays = readHorizonDays(deps.store);
  }

  get current(): { readonly horizonDays: number | null; readonly report: CleanupReport | null; readonly removed: number } {
    return { horizonDays: this.horizonDays, report: this.#report, removed: this.#removed };
  }

  get horizonMs(): number | null {
    if (this.#deps.overrideMs != null) return this.#deps.overrideMs;
    return this.horizonDays === null ? null : this.horizonDays * DAY_MS;
  }

  /** One run after the one in progress; its report (null: another tab was running one). */
  run(): Promise<CleanupReport | null> {
    this.#running = this.#running.catch(() => null).then(async () => {
      const report = await this.#deps.run(this.horizonMs);
      if (report) {
        this.#report = report;
        this.#removed += report.removed.length;
      }
      return report;
    });
    return this.#running;
  }

  setHorizon(days: number | null): Promise<CleanupReport | null> {
    this.horizonDays = days;
    try {
      this.#deps.store?.setItem(HORIZON_KEY, days === null ? 'never' : String(days));
    } catch {
      /* no localStorage: this tab keeps the choice */
    }
    return this.run();
  }
}
