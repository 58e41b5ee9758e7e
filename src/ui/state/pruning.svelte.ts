/**
 * The library's pruning horizon (sync/compaction.ts C10): a device unseen for longer than
 * this no longer holds back the pruning of deleted records' tombstones. One setting for the
 * whole library, kept in the sync document (`meta` `horizon`, days, last writer wins), so the
 * value shown follows whatever device changed it last. Not to be confused with the closed
 * tabs' cleanup (slots.svelte.ts), a setting of this browser only.
 */
import { err, ok, type Result } from '../../core/result.ts';
import type { PruneGate } from '../../sync/compaction.ts';
import type { IntentError } from '../../sync/intents.ts';

/** The shortest horizon offered: an hour (a device offline over lunch still holds pruning back). */
export const MIN_HORIZON_DAYS = 1 / 24;
/** The longest: ten years. Beyond it the setting means "never", which the library does not
 *  offer: a device gone for good would keep every tombstone forever. */
export const MAX_HORIZON_DAYS = 3650;
export type HorizonUnit = 'days' | 'hours';
export type HorizonError = { readonly type: 'InvalidInput'; readonly message: string };

const BOUNDS = 'between 1 hour and 3650 days';

/**
 * A horizon as typed (a field's text, or a number from the devtools API) in `unit`, in days;
 * or why not. Fractions are allowed (1.5 days, 12 hours).
 */
export function checkHorizon(input: unknown, unit: HorizonUnit = 'days'): Result<number, HorizonError> {
  const fail = (message: string): Result<never, HorizonError> => err({ type: 'InvalidInput', message });
  const text = typeof input === 'string' ? input.trim() : null;
  if (text === '') return fail(`Enter a number of ${unit} (${BOUNDS}).`);
  const n = typeof input === 'number' ? input : text !== null && /^[+-]?(\d+\.?\d*|\.\d+)$/.test(text) ? Number(text) : NaN;
  if (!Number.isFinite(n)) return fail(`“${String(input)}” is not a number of ${unit} (${BOUNDS}).`);
  const days = unit === 'hours' ? n / 24 : n;
  // a hair of rounding leeway: "1 hour" typed as 0.0417 days is meant as the minimum
  if (days < MIN_HORIZON_DAYS * 0.99) return fail(`The horizon must be at least 1 hour (${BOUNDS}).`);
  if (days > MAX_HORIZON_DAYS) return fail(`The horizon can be at most 3650 days, ten years (${BOUNDS}).`);
  return ok(Math.max(days, MIN_HORIZON_DAYS));
}

/** A horizon in words: "30 days", "1.5 days", "12 hours". */
export function describeHorizon(days: number): string {
  if (days < 1) {
    const h = Math.round(days * 24 * 10) / 10;
    return `${h} ${h === 1 ? 'hour' : 'hours'}`;
  }
  const d = Math.round(days * 100) / 100;
  return `${d} ${d === 1 ? 'day' : 'days'}`;
}

/** The unit and number a field shows for a horizon: hours below a day, days otherwise. */
export function horizonField(days: number): { readonly value: string; readonly unit: HorizonUnit } {
  return days < 1 ? { value: String(Math.round(days * 24 * 100) / 100), unit: 'hours' } : { value: String(Math.round(days * 100) / 100), unit: 'days' };
}

/**
 * What held pruning back at this device's last compaction, by device name (a device the
 * list does not know yet by the start of its id).
 */
export function describeGate(gate: PruneGate | null, devices: readonly { readonly uuid: string; readonly name: string }[]): { readonly waiting: string[]; readonly past: string[] } | null {
  if (!gate) return null;
  const name = (d: string): string => devices.find((x) => x.uuid === d)?.name ?? d.slice(0, 8);
  return { waiting: gate.waiting.map(name), past: gate.past.map(name) };
}

export interface PruningDeps {
  /** the horizon the library holds now (engine.horizonDays) */
  readonly horizonDays: () => number;
  /** writes it into the sync document (engine.setMeta(HORIZON_KEY, days)) */
  readonly setHorizonDays: (days: number) => Promise<void>;
  /** calls `fn` whenever the document's horizon may have changed, on any device */
  readonly onChange: (fn: () => void) => void;
}

export class PruningState {
  #days = $state(0);
  /** why the last "Set" was refused or failed (null: it was not) */
  error = $state<string | null>(null);
  #deps: PruningDeps;

  constructor(deps: PruningDeps) {
    this.#deps = deps;
    this.#days = deps.horizonDays();
    deps.onChange(() => this.#read());
  }

  get current(): { readonly horizonDays: number; readonly label: string; readonly error: string | null } {
    return { horizonDays: this.#days, label: describeHorizon(this.#days), error: this.error };
  }

  #read(): void {
    const d = this.#deps.horizonDays();
    if (d !== this.#days) this.#days = d;
  }

  /** Sets the library's horizon (`input` in `unit`); the days written, or why not (the same
   *  Result as the intents': InvalidInput for the input, a storage error for the write). */
  async setHorizon(input: unknown, unit: HorizonUnit = 'days'): Promise<Result<number, IntentError>> {
    const r = checkHorizon(input, unit);
    if (!r.ok) {
      this.error = r.error.message;
      return r;
    }
    try {
      await this.#deps.setHorizonDays(r.value);
    } catch (e) {
      this.error = `The horizon could not be saved: ${e instanceof Error ? e.message : String(e)}`;
      return err({ type: 'Unknown', message: this.error });
    }
    this.error = null;
    this.#read();
    return r;
  }
}
