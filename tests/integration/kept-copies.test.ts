// This device's kept copies of files received with "Get from device" (media/parts.ts C1–C3,
// media/transfer.ts F5) on fake-indexeddb: the budget and who is evicted first, old parts
// swept, a get answered from the copy with no transfer, a full store said in words with what
// was kept left whole.
import { IDBFactory } from 'fake-indexeddb';
import { webcrypto } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { contentHash } from '../../src/core/content-hash.ts';
import { createPrng } from '../../src/core/prng.ts';
import { contentUuid } from '../../src/core/uuid.ts';
import { createIdbParts, evictions, NoRoom, PART_IDLE_MS, PART_MAX_AGE_MS } from '../../src/media/parts.ts';
import { CHUNK, createTransfers, type PartStore, type TransferView } from '../../src/media/transfer.ts';
import { memoryParts } from '../support/memory-parts.ts';
import { createMemoryHub } from '../../src/transport/stream-net.ts';

const A = 'aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa';
const B = 'bbbbbbbb-bbbb-4bbb-8bbb-bbbbbbbbbbbb';
const MB = 1024 * 1024;
const digest = async (b: Uint8Array) => new Uint8Array(await webcrypto.subtle.digest('SHA-256', b));
const id = (n: number): string => `00000000-0000-4000-8000-${String(n).padStart(12, '0')}`;

/** a part of `mb` MB written and (when `keep`) verified at time `at` */
async function put(parts: PartStore, clock: { now: number }, content: string, mb: number, at: number, keep = true): Promise<void> {
  clock.now = at;
  const p = await parts.open(content, mb * MB);
  for (let i = 0; i < mb; i++) await p.append(new Uint8Array(MB));
  if (keep) await p.keep();
  else await p.blob(); // flushes what waits in memory, as a segment
}

describe('kept copies: the budget (C1)', () => {
  it('evicts the least recently used copies first, then idle parts, never protected ones; null when it cannot fit', () => {
    const r = (content: string, size: number, used: number, kept = true) => ({ content, size, used, kept });
    const records = [r('old', 4, 10), r('new', 4, 30), r('mid', 4, 20), r('part', 4, 0, false), r('busy', 4, 0, false)];
    const now = PART_IDLE_MS + 1;
    expect(evictions(records, 'x', 4, 24, new Set(), now)).toEqual([]);
    expect(evictions(records, 'x', 8, 24, new Set(), now)).toEqual(['old']);
    expect(evictions(records, 'x', 12, 24, new Set(['old']), now)).toEqual(['mid', 'new']);
    // copies before parts; a part written within PART_IDLE_MS may be another tab's, being received
    expect(evictions(records, 'x', 20, 24, new Set(), now)).toEqual(['old', 'mid', 'new', 'part']);
    expect(evictions(records.map((x) => (x.content === 'busy' ? { ...x, used: now - 1 } : x)), 'x', 24, 24, new Set(), now)).toBeNull();
    expect(evictions(records, 'x', 25, 24, new Set(), now)).toBeNull();
    // the content's own part is counted once, as the whole file
    expect(evictions([...records, r('x', 3, 0, false)], 'x', 4, 24, new Set(), now)).toEqual([]);
  });

  it('in IndexedDB: room is made from the oldest copy; too large a file is refused in words, nothing removed', async () => {
    const clock = { now: 0 };
    const parts = createIdbParts(new IDBFactory(), { budget: () => Promise.resolve(10 * MB), now: () => clock.now });
    await put(parts, clock, id(1), 4, 1_000);
    await put(parts, clock, id(2), 4, 2_000);
    // id(1) used again (a Preview of it): id(2) is now the oldest
    clock.now = 3_000;
    await (await parts.open(id(1), 4 * MB)).keep();
    expect(await parts.room(id(3), 4 * MB, new Set())).toEqual([id(2)]);
    expect((await parts.list()).map((c) => c.content)).toEqual([id(1)]);
    await expect(parts.room(id(3), 11 * MB, new Set())).rejects.toThrow(new NoRoom('This file (11.0 MB) is larger than what this browser keeps of files from other devices (10.0 MB).'));
    await expect(parts.room(id(3), 8 * MB, new Set([id(1)]))).rejects.toBeInstanceOf(NoRoom);
    expect((await parts.list()).map((c) => c.content)).toEqual([id(1)]);
    // a removed copy leaves nothing behind: neither record nor segments
    await parts.remove(id(1));
    expect(await parts.list()).toEqual([]);
    const reopened = await parts.open(id(1), 4 * MB);
    expect([reopened.size, reopened.kept]).toEqual([0, false]);
  });

  it('parts not written for PART_MAX_AGE_MS are swept at boot; copies and fresh parts stay (C2)', async () => {
    const clock = { now: 0 };
    const parts = createIdbParts(new IDBFactory(), { budget: () => Promise.resolve(100 * MB), now: () => clock.now });
    await put(parts, clock, id(1), 4, 0, false);
    await put(parts, clock, id(2), 4, 0, true);
    await put(parts, clock, id(3), 4, PART_MAX_AGE_MS, false);
    clock.now = PART_MAX_AGE_MS + 1;
    expect(await parts.sweep()).toBe(1);
    expect((await parts.list()).map((c) => c.content).sort()).toEqual([id(2), id(3)]);
  });
});

describe('kept copies through transfers (F5)', { timeout: 30_000 }, () => {
  async function setup(parts: PartStore, bytes: Uint8Array) {
    const hub = createMemoryHub(createPrng('copies'));
    const content = contentUuid(await contentHash(bytes.byteLength, { read: (o, n) => Promise.resolve(bytes.slice(o, o + n)), digest }));
    let n = 0;
    const make = (self: string, files: Map<string, Blob>, p: PartStore) =>
      createTransfers({
        self, net: hub.join(self), digest, parts: p, resolve: (c) => Promise.resolve(files.get(c) ?? null),
        online: () => [A, B].filter((d) => d !== self && hub.linked(self, d)), now: () => 0,
        randomUuid: () => id(++n), tickMs: null,
      });
    const a = make(A, new Map([[content, new Blob([bytes as Uint8Array<ArrayBuffer>])]]), memoryParts());
    const get = async (b: ReturnType<typeof make>): Promise<TransferView> => {
      let last = b.get({ content, size: bytes.byteLength, sources: [A] });
      b.onChange((v) => (last = v));
      for (let i = 0; i < 5_000 && !['done', 'failed'].includes(last.status); i++) {
        if (!hub.deliver(1)) await new Promise((r) => setTimeout(r, 1));
        else await new Promise((r) => setImmediate(r));
      }
      return last;
    };
    return { a, content, make: (p: PartStore = parts) => make(B, new Map(), p), get, hub };
  }

  it('a file verified once is read again from this device\'s copy: no second transfer', async () => {
    const bytes = createPrng('file').bytes(5 * CHUNK + 7);
    const parts = createIdbParts(new IDBFactory(), { budget: () => Promise.resolve(100 * MB), now: () => 0 });
    const w = await setup(parts, bytes);
    const b1 = w.make();
    expect((await w.get(b1)).status).toBe('done');
    expect(await b1.copies()).toEqual([{ content: w.content, size: bytes.byteLength, used: 0, kept: true }]);
    b1.destroy();
    w.hub.leave(B);
    const sent = w.a.stats.chunksOut;
    const b2 = w.make(); // a reload: the copy is in the store
    const again = await w.get(b2);
    expect(again.status).toBe('done');
    expect(new Uint8Array(await again.file!.arrayBuffer())).toEqual(bytes);
    expect(w.a.stats.chunksOut).toBe(sent);
    expect(b2.stats).toMatchObject({ fromCopy: 1, bytesIn: 0 });
    await b2.removeCopy(w.content);
    expect(await b2.copies()).toEqual([]);
  });

  it('a full store while receiving: words, and a later get resumes from what was kept (C3)', async () => {
    const bytes = createPrng('file2').bytes(9 * CHUNK);
    const inner = memoryParts();
    let full = true;
    let appended = 0;
    // the third write finds the disk full
    const parts: PartStore = {
      ...inner,
      open: async (c, s) => {
        const p = await inner.open(c, s);
        return Object.assign(Object.create(p) as typeof p, {
          append: (b: Uint8Array) => (full && ++appended === 3 ? Promise.reject(new DOMException('full', 'QuotaExceededError')) : p.append(b)),
        });
      },
    };
    const w = await setup(parts, bytes);
    const b1 = w.make();
    const failed = await w.get(b1);
    expect(failed.status).toBe('failed');
    expect(failed.message).toBe('This browser has no room left to keep the file (its storage is full). What was received so far is kept: remove kept copies of other files or free disk space, then Get from device again.');
    expect(inner.kept.get(w.content)?.reduce((n, c) => n + c.byteLength, 0)).toBe(2 * CHUNK);
    full = false;
    const done = await w.get(b1);
    expect(done.status).toBe('done');
    expect(new Uint8Array(await done.file!.arrayBuffer())).toEqual(bytes);
    expect(b1.stats.resumed).toBe(1);
  });
});
