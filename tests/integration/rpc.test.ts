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
  const handlers = { message: [] as ((ev: MessageEvent<unknown>) => void)[], error: [] as ((ev: Event) => void)[] };
  const post = (data: unknown) => {
    for (const h of handlers.message) h({ data } as MessageEvent<unknown>);
  };
  const engine = createStorageEngine({ sql: await initSqlJs(), idb: new IDBFactory(), now: () => Date.now(), onHealth: (health) => post({ event: 'health', health }) });
  let frozen = false;
  /** methods whose calls wait (in order) until `release` */
  const held = new Map<string, (() => void)[]>();
  const worker: WorkerLike & { crash(): void; freeze(): void; hold(method: string): void; release(method: string): void } = {
    postMessage(m) {
      if (frozen) return;
      const { id, method, params } = m as { id: number; method: unknown; params: unknown };
      const run = () =>
        void dispatch(engine, method, params).then((r) => post(r.ok ? { id, ok: true, value: r.value } : { id, ok: false, error: r.error }));
      const wait = held.get(String(method));
      if (wait) wait.push(run);
      else run();
    },
    hold(method) {
      held.set(method, []);
    },
    release(method) {
      const wait = held.get(method) ?? [];
      held.delete(method);
      for (const run of wait) run();
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

  it('settled() waits for the write calls made before it, not for reads, and answers the health they left', async () => {
    const w = await fakeWorker();
    const client = createStorageClient(w);
    const device = testDevice('0ddddddd-dddd-4ddd-8ddd-dddddddddddd', () => 1_750_000_000_000);
    expect((await client.call('open', { dbName: 'settled', deviceUuid: device.uuid })).ok).toBe(true);
    w.hold('commit');
    w.hold('query');
    const commit = client.call('commit', { changes: [device.owned('location', uuidFactory('settled')(), locationData(device.uuid, 'Docs'))], hlc: device.clock.current() });
    const read = client.call('query', { sql: 'SELECT count(*) AS n FROM locations' });
    let settled = false;
    const s = client.settled().then((r) => ((settled = true), r));
    await new Promise((r) => setTimeout(r, 20));
    expect(settled).toBe(false); // the commit is out
    w.release('commit');
    const health = await s;
    expect((await commit).ok).toBe(true);
    // the read is still held: settled() did not wait for it, and its health is the commit's
    expect(health).toEqual({ ok: true, value: expect.objectContaining({ mode: 'durable', journalFrames: 1, pending: 0 }) as unknown });
    expect(await client.call('health', {})).toEqual(health);
    w.release('query');
    expect(await read).toEqual({ ok: true, value: [{ n: 1 }] });
    // nothing out: it answers at once, the same health
    expect(await client.settled()).toEqual(health);
  });

  it('settled() of a client that heard no health asks the worker; of a crashed worker, says so', async () => {
    const w = await fakeWorker();
    const client = createStorageClient(w);
    expect(await client.settled()).toMatchObject({ ok: true, value: { journalFrames: 0 } });
    w.freeze();
    const out = client.call('commit', { changes: [], hlc: null });
    const s = client.settled();
    w.crash();
    expect(await out).toMatchObject({ ok: false, error: { type: 'WorkerCrashed' } });
    expect(await s).toMatchObject({ ok: false, error: { type: 'WorkerCrashed' } });
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
