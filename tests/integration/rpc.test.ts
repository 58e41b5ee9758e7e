// The storage RPC answers every call with data — including unknown methods, bad params and a
// crashed worker — and never leaves a promise hanging.
import initSqlJs from 'sql.js';
import { describe, expect, it } from 'vitest';
import { createStorageClient, createInProcessStorage, type WorkerLike } from '../../src/storage/client.ts';
import { dispatch } from '../../src/storage/dispatch.ts';
import { createStorageEngine } from '../../src/storage/engine.ts';
import { entryData, locationData, testDevice, uuidFactory } from '../support/fixtures.ts';

/** A worker double: runs dispatch() on the engine, like db.worker.ts, with controllable failure. */
async function fakeWorker() {
  const engine = createStorageEngine({ sql: await initSqlJs(), idb: new IDBFactory(), now: () => Date.now() });
  const handlers = { message: [] as ((ev: MessageEvent<unknown>) => void)[], error: [] as ((ev: Event) => void)[] };
  let frozen = false;
  const worker: WorkerLike & { crash(): void; freeze(): void } = {
    postMessage(m) {
      if (frozen) return;
      const { id, method, params } = m as { id: number; method: unknown; params: unknown };
      void dispatch(engine, method, params).then((r) => {
        const data = r.ok ? { id, ok: true, value: r.value } : { id, ok: false, error: r.error };
        for (const h of handlers.message) h({ data } as MessageEvent<unknown>);
      });
    },
    addEventListener(type: 'message' | 'error', fn: never) {
      handlers[type].push(fn);
    },
    crash() {
      for (const h of handlers.error) h(Object.assign(new Event('error'), { message: 'Uncaught RangeError: out of memory' }));
    },
    freeze() {
      frozen = true;
    },
  };
  return worker;
}

describe('storage RPC', () => {
  it('answers unknown methods and bad params with typed errors', async () => {
    const client = createStorageClient(await fakeWorker());
    expect(await client.call('nope' as 'health', {})).toMatchObject({ ok: false, error: { type: 'InvalidRequest' } });
    expect(await client.call('open', { dbName: 3 } as never)).toMatchObject({ ok: false, error: { type: 'InvalidRequest' } });
    expect(await client.call('query', { sql: 'SELECT 1' })).toMatchObject({ ok: false, error: { type: 'NotOpen' } });
    await client.call('open', { dbName: 'x', deviceUuid: 'y' });
    expect(await client.call('query', { sql: 'SELECT ?', params: [{}] as never })).toMatchObject({ ok: false, error: { type: 'InvalidRequest' } });
    expect(await client.call('query', { sql: 'DELETE FROM meta' })).toMatchObject({ ok: false, error: { type: 'ReadOnlyViolation' } });
    expect(await client.call('query', { sql: 'SELEC nonsense' })).toMatchObject({ ok: false, error: { type: 'SqlError' } });
    expect(await client.call('open', { dbName: 'x', deviceUuid: 'y' })).toMatchObject({ ok: false, error: { type: 'AlreadyOpen' } });
  });

  it('a crashed worker answers every pending and later call with WorkerCrashed', async () => {
    const w = await fakeWorker();
    const client = createStorageClient(w);
    w.freeze(); // requests now go nowhere, as in a worker that died mid-call
    const pending = [client.call('health', {}), client.call('digest', {})];
    w.crash();
    for (const r of await Promise.all(pending)) expect(r).toMatchObject({ ok: false, error: { type: 'WorkerCrashed', message: expect.stringContaining('out of memory') as string } });
    expect(await client.call('health', {})).toMatchObject({ ok: false, error: { type: 'WorkerCrashed' } });
  });

  it('the in-process double answers like the worker', async () => {
    const engine = createStorageEngine({ sql: await initSqlJs(), idb: new IDBFactory(), now: () => Date.now() });
    const client = createInProcessStorage(engine);
    expect(await client.call('nope' as 'health', {})).toMatchObject({ ok: false, error: { type: 'InvalidRequest' } });
    expect((await client.call('open', { dbName: 'x', deviceUuid: 'y' })).ok).toBe(true);
    expect(await client.call('query', { sql: 'SELECT 2 AS two' })).toEqual({ ok: true, value: [{ two: 2 }] });
  });

  it('a staged batch is applied by the commit that names it, before that commit\'s own changes, once', async () => {
    const engine = createStorageEngine({ sql: await initSqlJs(), idb: new IDBFactory(), now: () => Date.now() });
    const client = createInProcessStorage(engine);
    const ids = uuidFactory('rpc-stage');
    const dev = testDevice('0aaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa', () => 1_750_000_000_000);
    await client.call('open', { dbName: 'stage', deviceUuid: dev.uuid });
    const e = ids();
    const loc = ids();
    // the entries' location first: an entry whose location is unknown waits for it (core apply I3)
    expect(await client.call('commit', { changes: [dev.owned('location', loc, locationData(dev.uuid, 'Here'))], hlc: null })).toMatchObject({ ok: true, value: { applied: 1 } });
    const first = dev.owned('entry', e, entryData(loc, 'first name'));
    const second = dev.owned('entry', e, entryData(loc, 'second name')); // newer stamp: must win
    expect(await client.call('stage', { ticket: 7, changes: [first] })).toEqual({ ok: true, value: null });
    expect(await client.call('query', { sql: 'SELECT count(*) AS n FROM entries' })).toEqual({ ok: true, value: [{ n: 0 }] });
    expect(await client.call('commit', { changes: [second], staged: [7], hlc: null })).toMatchObject({ ok: true, value: { applied: 2 } });
    expect(await client.call('query', { sql: 'SELECT name FROM entries' })).toEqual({ ok: true, value: [{ name: 'second name' }] });
    // claimed once: naming it again is refused and applies nothing
    expect(await client.call('commit', { changes: [], staged: [7], hlc: null })).toMatchObject({ ok: false, error: { type: 'InvalidRequest' } });
    expect(await client.call('stage', { ticket: 'x', changes: [] } as never)).toMatchObject({ ok: false, error: { type: 'InvalidRequest' } });
    expect(await client.call('commit', { changes: [], staged: 'all', hlc: null } as never)).toMatchObject({ ok: false, error: { type: 'InvalidRequest' } });
  });
});
