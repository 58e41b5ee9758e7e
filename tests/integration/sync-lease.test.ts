// E3 (sync/engine.ts): a clock lease is a lease only when storage made it durable.
import { IDBFactory } from 'fake-indexeddb';
import initSqlJs, { type SqlJsStatic } from 'sql.js';
import * as Y from 'yjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { createHlcClock } from '../../src/core/hlc.ts';
import { createInProcessStorage } from '../../src/storage/client.ts';
import { createStorageEngine } from '../../src/storage/engine.ts';
import { createSyncEngine } from '../../src/sync/engine.ts';
import { fakeTime, tagFields } from '../support/fixtures.ts';

let SQL: SqlJsStatic;
beforeAll(async () => {
  SQL = await initSqlJs();
});

const DEV = '0ddddddd-dddd-4ddd-8ddd-dddddddddddd';
const TAG = '0eeeeeee-eeee-4eee-8eee-eeeeeeeeeeee';

async function device(idb: IDBFactory | null) {
  const time = fakeTime();
  const storage = createInProcessStorage(createStorageEngine({ sql: SQL, idb, now: time.now }));
  const boot = await storage.call('open', { dbName: 'lease', deviceUuid: DEV });
  if (!boot.ok) throw new Error(boot.error.message);
  let leases = 0;
  const counted = {
    call: ((method, params) => {
      if (method === 'commit' && (params as { changes: unknown[] }).changes.length === 0) leases++;
      return storage.call(method, params);
    }) as typeof storage.call,
  };
  const clock = createHlcClock({ device: DEV, now: time.now, last: boot.value.hlc });
  const engine = createSyncEngine({ doc: new Y.Doc(), storage: counted, clock, device: DEV, now: time.now, schedule: () => () => undefined });
  engine.boot(boot.value.ydoc);
  const write = async (n: number) => {
    time.advance(10);
    const r = await engine.write([{ kind: 'shared', model: 'tag', uuid: TAG, hlc: clock.next(), op: n === 0 ? 'insert' : 'update', fields: n === 0 ? tagFields('T', DEV) : { display_name: `T${n}` } }]);
    if (!r.ok) throw new Error(r.error.message);
    return r.value;
  };
  return { write, leases: () => leases };
}

describe('sync engine: clock lease (E3)', () => {
  it('takes one durable lease for writes within its span', async () => {
    const d = await device(new IDBFactory());
    for (let i = 0; i < 3; i++) expect((await d.write(i)).durable).toBe(true);
    expect(d.leases()).toBe(1);
  });

  it('does not count a lease answered durable:false as one (memory-only): asks again, and writes still go ahead', async () => {
    const d = await device(null);
    for (let i = 0; i < 3; i++) expect((await d.write(i)).durable).toBe(false);
    expect(d.leases()).toBe(3);
  });
});
