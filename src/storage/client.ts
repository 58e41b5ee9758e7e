/**
 * Main-thread side of the storage RPC. `call` never rejects: every outcome, including a
 * crashed worker, is a Result. `createInProcessStorage` is the in-memory double with the
 * same interface (Node tests, the simulator).
 */
import { err, ok, type Result } from '../core/result.ts';
import { dispatch } from './dispatch.ts';
import type { StorageEngine } from './engine.ts';
import type { Method, Requests, ResponseMessage, StorageError, StorageHealth, WorkerEvent } from './rpc.ts';

export interface StorageClient {
  /** `transfer`: buffers handed over, not copied (a stream page); the caller must not use them after */
  call<M extends Method>(method: M, params: Requests[M]['req'], transfer?: Transferable[]): Promise<Result<Requests[M]['res'], StorageError>>;
  onHealth(cb: (h: StorageHealth) => void): () => void;
  /**
   * Every write call made before this one has answered (its frame is durable, or it failed),
   * and the storage's health as of then — what the `flush` method answers, without a trip to
   * the worker queued behind reads (DESIGN §8 `durable()`).
   */
  settled(): Promise<Result<StorageHealth, StorageError>>;
  terminate(): void;
}

/** The calls that write frames: `settled()` waits for these, not for reads. */
const WRITES: ReadonlySet<Method> = new Set<Method>(['open', 'commit', 'stage', 'applyPage']);

/** The write calls still out (one set per client): what `settled()` waits for. */
function writesInFlight() {
  const out = new Set<Promise<unknown>>();
  return {
    add<T>(method: Method, p: Promise<T>): Promise<T> {
      if (!WRITES.has(method)) return p;
      out.add(p);
      const done = () => void out.delete(p);
      p.then(done, done);
      return p;
    },
    settled: () => Promise.allSettled([...out]),
  };
}

export interface WorkerLike {
  postMessage(message: unknown, transfer?: Transferable[]): void;
  addEventListener(type: 'message', fn: (ev: MessageEvent<unknown>) => void): void;
  addEventListener(type: 'error', fn: (ev: Event) => void): void;
  terminate?(): void;
}

export function createStorageClient(worker: WorkerLike): StorageClient {
  let nextId = 1;
  let dead: StorageError | null = null;
  const pending = new Map<number, (r: Result<unknown, StorageError>) => void>();
  const listeners = new Set<(h: StorageHealth) => void>();
  const writes = writesInFlight();
  // health events are posted before the answer of the commit that changed it
  let health: StorageHealth | null = null;
  worker.addEventListener('message', (ev) => {
    const m = ev.data as Partial<ResponseMessage & WorkerEvent> | null;
    if (m && 'event' in m && m.event === 'health' && m.health) {
      health = m.health;
      for (const l of listeners) l(m.health);
      return;
    }
    if (!m || typeof m.id !== 'number') return;
    const done = pending.get(m.id);
    if (!done) return;
    pending.delete(m.id);
    done(m.ok ? { ok: true, value: (m as { value: unknown }).value } : { ok: false, error: (m as { error: StorageError }).error });
  });
  worker.addEventListener('error', (ev) => {
    const message = 'message' in ev && typeof ev.message === 'string' ? ev.message : 'the storage worker stopped';
    dead = { type: 'WorkerCrashed', message };
    for (const done of pending.values()) done(err(dead));
    pending.clear();
  });
  const client: StorageClient = {
    call(method, params, transfer = []) {
      if (dead) return Promise.resolve(err(dead));
      const id = nextId++;
      return writes.add(method, new Promise((resolve) => {
        pending.set(id, resolve as (r: Result<unknown, StorageError>) => void);
        try {
          worker.postMessage({ id, method, params }, transfer);
        } catch (e) {
          pending.delete(id);
          resolve(err({ type: 'InvalidRequest', message: e instanceof Error ? e.message : String(e) }));
        }
      }));
    },
    onHealth(cb) {
      listeners.add(cb);
      return () => listeners.delete(cb);
    },
    async settled() {
      await writes.settled();
      if (dead) return err(dead);
      return health ? ok(health) : client.call('flush', {}); // nothing heard yet: ask
    },
    terminate() {
      worker.terminate?.();
      dead = { type: 'WorkerCrashed', message: 'the storage worker was terminated' };
      for (const done of pending.values()) done(err(dead));
      pending.clear();
    },
  };
  return client;
}

/** The same interface over an engine in this thread (tests, simulator). */
export function createInProcessStorage(engine: StorageEngine): StorageClient {
  const writes = writesInFlight();
  return {
    call: (method, params) => writes.add(method, dispatch(engine, method, params) as never),
    onHealth: () => () => undefined,
    async settled() {
      await writes.settled();
      return ok(engine.health());
    },
    terminate: () => void engine.close(),
  };
}
