// E3 (sync/engine.ts): a clock lease is a lease only when storage made it durable.
import { IDBFactory } from 'fake-indexeddb';
import initSqlJs, { type SqlJsStatic } from 'sql.js';
import * as Y from 'yjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { createHlcClock, encodeHlc, hlcWall, isAheadStamp } from '../../src/core/hlc.ts';
import { createInProcessStorage } from '../../src/storage/client.ts';
import { createStorageEngine } from '../../src/storage/engine.ts';
import { createSyncEngine } from '../../src/sync/engine.ts';
import { stampAboveSeen } from '../../src/sync/intents.ts';
import { fakeTime, tagFields } from '../support/fixtures.ts';

let SQL: SqlJsStatic;
beforeAll(async () => {
  SQL = await initSqlJs();
});

const DEV = '0ddddddd-dddd-4ddd-8ddd-dddddddddddd';
const TAG = '0eeeeeee-eeee-4eee-8eee-eeeeeeeeeeee';
const FAR = '0fffffff-ffff-4fff-8fff-ffffffffffff';

async function device(idb: IDBFactory | null, time = fakeTime()) {
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
  const clock = createHlcClock({ device: DEV, now: time.now, last: boot.value.hlc, lastAhead: boot.value.hlcAhead });
  const engine = createSyncEngine({ doc: new Y.Doc(), storage: counted, clock, device: DEV, now: time.now, schedule: () => () => undefined });
  engine.boot(boot.value.ydoc);
  const write = async (n: number) => {
    time.advance(10);
    const r = await engine.write([{ kind: 'shared', model: 'tag', uuid: TAG, hlc: clock.next(), op: n === 0 ? 'insert' : 'update', fields: n === 0 ? tagFields('T', DEV) : { display_name: `T${n}` } }]);
    if (!r.ok) throw new Error(r.error.message);
    return r.value;
  };
  /** an edit of the tag as seen (stamped above its fields' stamps) */
  const edit = async (name: string) => {
    const rows = await storage.call('query', { sql: 'SELECT * FROM tags WHERE uuid = ?', params: [TAG] });
    if (!rows.ok) throw new Error(rows.error.message);
    const c = stampAboveSeen(clock, { kind: 'shared', model: 'tag', uuid: TAG, hlc: clock.next(), op: 'update', fields: { display_name: name } }, rows.value[0] ?? null);
    const r = await engine.write([c]);
    if (!r.ok) throw new Error(r.error.message);
    return c.hlc;
  };
  /** a change from a device a day ahead, as if it had arrived (applied, not adopted) */
  const farChange = async () => {
    const far = encodeHlc({ wall: time.now() + 86_400_000, counter: 3, device: FAR });
    const r = await storage.call('commit', { changes: [{ kind: 'shared', model: 'tag', uuid: TAG, hlc: far, op: 'update', fields: { display_name: 'far' } }], hlc: clock.current() });
    if (!r.ok) throw new Error(r.error.message);
    return far;
  };
  return { write, edit, farChange, clock, leases: () => leases, boot: boot.value };
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

  it('leases an ahead-lane stamp apart from the clock: after a restart the lane resumes above it, the clock stays on wall time', async () => {
    const idb = new IDBFactory();
    const time = fakeTime();
    const d = await device(idb, time);
    await d.write(0);
    const far = await d.farChange();
    const e1 = await d.edit('mine');
    expect(isAheadStamp(e1) && e1 > far).toBe(true);
    // restart from what storage holds
    const d2 = await device(idb, time);
    expect(d2.boot.hlcAhead).toBe(e1);
    expect(hlcWall(d2.boot.hlc!)).toBeLessThan(time.now() + 60_000); // never the far-ahead lease
    expect(hlcWall(d2.clock.next())).toBeLessThan(time.now() + 60_000);
    // a fresh floor at the same far stamp (another record, or the row as before): still above e1
    expect(d2.clock.nextAbove(far) > e1).toBe(true);
  });
});
