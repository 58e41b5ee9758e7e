// What `durable()` waits for on the intents' side (DESIGN §8: every write made so far), and the
// two trips to the storage worker a create no longer makes. The intents run on doubles here:
// a writer and reads that answer when the test says so.
import { describe, expect, it } from 'vitest';
import type { Change } from '../../../src/core/change.ts';
import { createHlcClock } from '../../../src/core/hlc.ts';
import { ok } from '../../../src/core/result.ts';
import { createIntents } from '../../../src/sync/intents.ts';
import type { CommitResult } from '../../../src/storage/rpc.ts';
import { uuidFactory } from '../../support/fixtures.ts';

const DEVICE = '0ddddddd-dddd-4ddd-8ddd-dddddddddddd';
const ALBUM = '0aaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa';
const ENTRY = '0eeeeeee-eeee-4eee-8eee-eeeeeeeeeeee';
const committed: CommitResult = { applied: 1, rejected: 0, tables: [], rejections: [], seq: 1, durable: true, marks: {} };

/** a promise and its resolver */
function later<T>() {
  let resolve!: (v: T) => void;
  const p = new Promise<T>((r) => (resolve = r));
  return { p, resolve };
}
const turns = async (n = 10) => {
  for (let i = 0; i < n; i++) await new Promise((r) => setTimeout(r, 0));
};

function intents() {
  const asked = { tombstoned: 0, readOwned: 0 };
  const writes: Change[][] = [];
  const tombstones = later<ReadonlySet<string>>();
  const commits: ((r: typeof committed) => void)[] = [];
  const api = createIntents({
    writer: {
      write: (c) => {
        writes.push([...c]);
        return new Promise((r) => commits.push((v) => r(ok(v))));
      },
    },
    clock: createHlcClock({ device: DEVICE, now: () => 1_750_000_000_000 }),
    device: DEVICE,
    now: () => 1_750_000_000_000,
    randomUuid: uuidFactory('intents-durable'),
    deviceInfo: { os: 'Linux', browser: 'Chromium' },
    readOwned: () => {
      asked.readOwned++;
      return Promise.resolve(null);
    },
    tombstoned: () => {
      asked.tombstoned++;
      return tombstones.p;
    },
  });
  return { api, asked, writes, tombstones, commits };
}

describe('intents and durable()', () => {
  it('a new tag or album is written at once: no tombstone or stamp is asked for a uuid made for it', async () => {
    const t = intents();
    const tag = t.api.createTag({ name: 'Holiday' });
    const album = t.api.createAlbum('Trip');
    await turns();
    expect(t.asked).toEqual({ tombstoned: 0, readOwned: 0 });
    expect(t.writes.map((w) => w.map((c) => (c.kind === 'shared' ? `${c.model} ${c.op}` : c.model)))).toEqual([['tag insert'], ['album insert']]);
    for (const c of t.commits) c(committed);
    expect((await tag).ok && (await album).ok).toBe(true);
    // an invalid one is still refused before anything is written
    expect(await t.api.createTag({ name: 'x', color: 'not a colour' })).toMatchObject({ ok: false, error: { type: 'InvalidInput' } });
    expect(t.writes).toHaveLength(2);
  });

  it('settled() waits for every intent begun before it, also one still reading before it writes', async () => {
    const t = intents();
    const add = t.api.addToAlbum(ALBUM, ENTRY); // asks for tombstones first (the album may be gone)
    let settled = false;
    const s = t.api.settled().then(() => (settled = true));
    await turns();
    expect(t.asked.tombstoned).toBeGreaterThan(0);
    expect(t.writes).toHaveLength(0);
    expect(settled).toBe(false);
    t.tombstones.resolve(new Set());
    await turns();
    expect(t.writes).toHaveLength(1); // written, not yet committed
    expect(settled).toBe(false);
    t.commits[0]!(committed);
    await s;
    expect((await add).ok).toBe(true);
    // an intent begun after settled() was asked is not waited for
    const tag = t.api.createTag({ name: 'After' });
    let second = false;
    const s2 = t.api.settled().then(() => (second = true));
    await turns();
    expect(second).toBe(false); // the tag (begun before this call) is still out
    t.commits[1]!(committed);
    await s2;
    expect((await tag).ok).toBe(true);
  });
});
