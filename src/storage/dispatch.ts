/**
 * Validates an inbound RPC request (unknown until checked) and routes it to the engine.
 * Shared by the worker and the in-process double so both answer identically.
 */
import { isHlc } from '../core/hlc.ts';
import { isModelName } from '../core/models.ts';
import { err, type Result } from '../core/result.ts';
import { isUuid } from '../core/uuid.ts';
import type { StorageEngine } from './engine.ts';
import { MAX_TOMBSTONE_ASK, type Method, type StorageError } from './rpc.ts';

/** `benchNaiveWrite` (the bench's baseline) exists in the test build only (vite.config.ts). */
const METHODS: readonly Method[] = ['open', 'commit', 'stage', 'marks', 'servePages', 'applyPage', 'query', 'tombstoned', 'digest', 'flush', 'snapshot', 'health', 'close', 'holdings'];
/** Batches staged per engine, by ticket, until a commit claims them. A caller that stages and
 *  never commits (a bug) cannot grow this without bound: the oldest are dropped, and a commit
 *  naming one is refused as an InvalidRequest (the sync engine then sends the changes along). */
const STAGED_MAX = 64;
const stagedBy = new WeakMap<StorageEngine, Map<number, unknown[]>>();
const isRecord = (x: unknown): x is Record<string, unknown> => typeof x === 'object' && x !== null && !Array.isArray(x);
const invalid = (message: string): Result<never, StorageError> => err({ type: 'InvalidRequest', message });

export async function dispatch(engine: StorageEngine, method: unknown, params: unknown): Promise<Result<unknown, StorageError>> {
  const p = isRecord(params) ? params : {};
  // Compiled out of the production build (the condition is a constant there).
  if (import.meta.env.MODE === 'test' && method === 'benchNaiveWrite' && engine.benchNaiveWrite) {
    if (!Array.isArray(p['changes'])) return invalid('the naive write needs changes[]');
    return engine.benchNaiveWrite({ changes: p['changes'] as never }).catch((e: unknown) => err({ type: 'Unknown', message: e instanceof Error ? e.message : String(e) }));
  }
  if (typeof method !== 'string' || !(METHODS as readonly string[]).includes(method))
    return invalid(`unknown method ${String(method).slice(0, 40)}`);
  try {
    switch (method as Method) {
      case 'open': {
        const seedFrom = p['seedFrom'] ?? [];
        if (typeof p['dbName'] !== 'string' || typeof p['deviceUuid'] !== 'string') return invalid('open needs dbName and deviceUuid');
        if (!Array.isArray(seedFrom) || seedFrom.length > 64 || !seedFrom.every((x) => typeof x === 'string'))
          return invalid('open: seedFrom must be a list of database names');
        return await engine.open({ dbName: p['dbName'], deviceUuid: p['deviceUuid'], seedFrom });
      }
      case 'commit': {
        if (!Array.isArray(p['changes'])) return invalid('commit needs changes[]');
        const tickets = p['staged'] ?? [];
        if (!Array.isArray(tickets)) return invalid('commit: staged must be a list of tickets');
        const staged = stagedBy.get(engine);
        const batches: unknown[][] = [];
        for (const t of tickets) {
          const batch = staged?.get(t as number);
          if (!batch) return invalid(`commit: no staged batch ${String(t).slice(0, 20)}`);
          batches.push(batch);
        }
        for (const t of tickets) staged?.delete(t as number);
        return await engine.commit({
          changes: (batches.length ? [...batches.flat(), ...(p['changes'] as unknown[])] : p['changes']) as never, // validated change by change by core apply
          hlc: typeof p['hlc'] === 'string' ? p['hlc'] : null,
          yUpdate: p['yUpdate'] instanceof Uint8Array ? p['yUpdate'] : null,
          aheadHlc: isHlc(p['aheadHlc']) ? p['aheadHlc'] : null,
        });
      }
      case 'stage': {
        if (typeof p['ticket'] !== 'number' || !Array.isArray(p['changes'])) return invalid('stage needs a ticket and changes[]');
        let staged = stagedBy.get(engine);
        if (!staged) stagedBy.set(engine, (staged = new Map<number, unknown[]>()));
        staged.set(p['ticket'], p['changes']);
        for (const t of staged.keys()) if (staged.size > STAGED_MAX) staged.delete(t);
        return { ok: true, value: null };
      }
      case 'marks':
        return engine.marks();
      case 'servePages': {
        const { owner, after, count } = p;
        if (!isUuid(owner) || typeof after !== 'number' || !Number.isSafeInteger(after) || after < 0 || typeof count !== 'number' || !Number.isSafeInteger(count) || count < 1)
          return invalid('servePages needs an owner uuid, after ≥ 0 and count ≥ 1');
        return await engine.servePages({ owner, after, count });
      }
      case 'applyPage':
        if (!(p['bytes'] instanceof Uint8Array)) return invalid('applyPage needs bytes');
        return await engine.applyPage({ bytes: p['bytes'], repair: p['repair'] === true });
      case 'query': {
        if (typeof p['sql'] !== 'string') return invalid('query needs sql');
        const params = p['params'] ?? [];
        if (!Array.isArray(params) || !params.every((v) => v === null || typeof v === 'string' || typeof v === 'number'))
          return invalid('query params must be strings, numbers or null');
        return engine.query({ sql: p['sql'], params: params as (string | number | null)[] });
      }
      case 'tombstoned': {
        const uuids = p['uuids'];
        if (!isModelName(p['model']) || !Array.isArray(uuids) || uuids.length > MAX_TOMBSTONE_ASK || !uuids.every(isUuid))
          return invalid(`tombstoned needs a model and at most ${MAX_TOMBSTONE_ASK} uuids`);
        return engine.tombstoned({ model: p['model'], uuids });
      }
      case 'digest':
        return engine.digest();
      case 'flush':
        return await engine.flush();
      case 'snapshot':
        return await engine.snapshot();
      case 'health':
        return { ok: true, value: engine.health() };
      case 'holdings':
        if (typeof p['dbName'] !== 'string' || !p['dbName'].startsWith('tabdrive:')) return invalid('holdings needs a tabdrive database name');
        return await engine.holdings({ dbName: p['dbName'] });
      case 'close':
        await engine.close();
        return { ok: true, value: null };
      default:
        return invalid(`unknown method ${method.slice(0, 40)}`);
    }
  } catch (e) {
    return err({ type: 'Unknown', message: e instanceof Error ? e.message : String(e) });
  }
}
