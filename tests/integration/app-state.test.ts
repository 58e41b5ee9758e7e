// The Svelte state modules (src/ui/state) on the real parts: two devices of the simulator
// world (core, Yjs document + engine, storage engine on sql.js + fake IndexedDB) each driven
// through an AppState, as the components drive it. Runes run here compiled by the Svelte
// plugin; no DOM is needed because the state modules hold no DOM.
import initSqlJs, { type SqlJsStatic } from 'sql.js';
import * as Y from 'yjs';
import { afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { MODELS, MODEL_NAMES } from '../../src/core/models.ts';
import { AppState } from '../../src/ui/state/app.svelte.ts';
import { compareDigests, describeUnrepaired, latencySummary, parseDigest, SyncInspectorState, type SyncReport } from '../../src/ui/state/inspector.svelte.ts';
import { createPrng } from '../../src/core/prng.ts';
import { type SimDevice, World } from '../support/sim/world.ts';
import { simApp } from '../support/app.ts';
import { checkHorizon, describeGate, describeHorizon, horizonField, MAX_HORIZON_DAYS, MIN_HORIZON_DAYS, PruningState } from '../../src/ui/state/pruning.svelte.ts';
import { DEFAULT_HORIZON_DAYS, HORIZON_KEY } from '../../src/sync/engine.ts';
import { metaMap } from '../../src/sync/doc.ts';

let SQL: SqlJsStatic;
beforeAll(async () => {
  SQL = await initSqlJs();
});

const ALL_TABLES = MODEL_NAMES.map((m) => MODELS[m].table);
const A = '0aaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa';
const B = '0bbbbbbb-bbbb-4bbb-8bbb-bbbbbbbbbbbb';
let world: World | null = null;
afterEach(async () => {
  await world?.dispose();
  world = null;
});

const appFor = (d: SimDevice) => simApp(d, { label: 'app' }).app;

async function setup(): Promise<{ w: World; a: AppState; b: AppState }> {
  const w = new World(SQL, createPrng('app-state'), { drop: 0, duplicate: 0, reorder: 0 });
  world = w;
  const [da, db] = [await w.addDevice(A, 0), await w.addDevice(B, 0)];
  const [a, b] = [appFor(da), appFor(db)];
  await a.deps.intents.ensureDevice('Alpha');
  await b.deps.intents.ensureDevice('Beta');
  await Promise.all([a.start(), b.start()]);
  return { w, a, b };
}
/** Exchange everything, then let both states refresh as a commit would make them. */
async function sync(w: World, ...apps: AppState[]): Promise<void> {
  await w.heal();
  await Promise.all(apps.map((x) => x.tablesChanged(ALL_TABLES)));
}

describe('AppState', () => {
  it('tags a file, shows the tag as a collection, and both devices agree', async () => {
    const { w, a, b } = await setup();
    expect(await a.addSampleLocation('Photos', 40)).toBe(true);
    expect(await a.createTag('Vacation', 'travel', '#e03131')).toBe(true);
    await a.tablesChanged(ALL_TABLES);
    expect(a.tags.map((t) => [t.name, t.namespace, t.color, t.files])).toEqual([['Vacation', 'travel', '#e03131', 0]]);

    const [file] = await a.deps.query("SELECT uuid FROM entries WHERE kind = 'file' ORDER BY name LIMIT 1");
    await a.showDetails(String(file!['uuid']));
    expect(await a.tagSelected(a.tags[0]!.uuid)).toBe(true);
    expect(await a.setFavorite(true)).toBe(true);
    expect(await a.saveNotes(String(file!['uuid']), 'by the sea')).toBe(true);
    await a.tablesChanged(ALL_TABLES);
    expect(a.meta).toMatchObject({ favorite: true, notes: 'by the sea', tags: [{ name: 'Vacation', via: 'entry' }] });

    await a.openCollection({ kind: 'tag', uuid: a.tags[0]!.uuid });
    expect(a.collectionTitle).toBe('Tag: Vacation');
    expect([a.fileTotal, a.fileRows.map((r) => r.uuid)]).toEqual([1, [file!['uuid']]]);

    await sync(w, a, b);
    expect(b.tags.map((t) => [t.name, t.files])).toEqual([['Vacation', 1]]);
    await b.openCollection({ kind: 'favorites' });
    expect(b.fileRows.map((r) => [r.uuid, r.device_name])).toEqual([[file!['uuid'], 'Alpha']]); // whose file it is

    // A deletes the tag: B's open tag collection closes (it no longer exists).
    await b.openCollection({ kind: 'tag', uuid: b.tags[0]!.uuid });
    a.deleteTag(a.tags[0]!.uuid);
    expect(a.pendingDeletes.map((p) => [p.kind, p.name])).toEqual([['tag', 'Vacation']]);
    expect(await a.deletes.flush()).toEqual([true]); // what the timer (or pagehide) does
    await sync(w, a, b);
    expect([b.tags, b.collection]).toEqual([[], null]);
  });

  it('same-name tags from two devices are grouped and merged with their links', async () => {
    const { w, a, b } = await setup();
    await a.addSampleLocation('Docs', 20);
    await sync(w, a, b);
    const files = (await a.deps.query("SELECT uuid FROM entries WHERE kind = 'file' ORDER BY name LIMIT 2")).map((r) => String(r['uuid']));
    // apart: each makes "Receipts" and tags a different file with it
    await a.createTag('Receipts', '', null);
    await b.createTag('receipts', '', null);
    await Promise.all([a.tablesChanged(ALL_TABLES), b.tablesChanged(ALL_TABLES)]);
    await a.showDetails(files[0]!);
    await a.tagSelected(a.tags[0]!.uuid);
    await b.showDetails(files[1]!);
    await b.tagSelected(b.tags[0]!.uuid);
    await sync(w, a, b);
    expect(a.duplicateTags.map((g) => g.length)).toEqual([2]);
    expect(b.duplicateTags.map((g) => g.length)).toEqual([2]);

    const [keep, drop] = [a.duplicateTags[0]![0]!, a.duplicateTags[0]![1]!];
    expect(await a.mergeTags(keep.uuid, [drop.uuid])).toBe(true);
    await sync(w, a, b);
    for (const x of [a, b]) {
      expect(x.tags.map((t) => [t.uuid, t.files])).toEqual([[keep.uuid, 2]]);
      expect(x.duplicateTags).toEqual([]);
    }
    expect(b.meta?.tags.map((t) => t.uuid)).toEqual([keep.uuid]); // B's selected file kept a (the kept) tag
    expect(await a.mergeTags(keep.uuid, [keep.uuid])).toBe(false);
    expect(a.error).toMatch(/itself/);
  });

  it('a burst of tag acts reads the tag list fewer times than it commits (paced by its cost); unchanged tags stay the objects shown', async () => {
    const w = new World(SQL, createPrng('app-burst'), { drop: 0, duplicate: 0, reorder: 0 });
    world = w;
    const d = await w.addDevice(A, 0);
    const a = appFor(d);
    await a.deps.intents.ensureDevice('Alpha');
    await a.start();
    // As in a browser: one storage worker answers the calls in order, and reading the whole
    // tag list — what grows with the library — takes 20 ms there, longer than a commit.
    const storage = d.live!.storage;
    const original = storage.call.bind(storage) as (m: string, p: unknown) => Promise<unknown>;
    const isTagList = (m: string, p: unknown) => m === 'query' && /FROM tags g WHERE/.test((p as { sql: string }).sql);
    let worker: Promise<unknown> = Promise.resolve();
    const call = vi.spyOn(storage, 'call').mockImplementation(((m: string, p: unknown) => {
      const run = worker.then(async () => {
        if (isTagList(m, p)) await new Promise((r) => setTimeout(r, 20));
        return original(m, p);
      });
      worker = run.catch(() => undefined);
      return run;
    }) as typeof storage.call);
    const tagLists = () => call.mock.calls.filter(([m, p]) => isTagList(m, p)).length;
    // as the page does: every commit tells the state which tables changed (main.ts `committed`)
    const N = 60;
    const made = await Promise.all(Array.from({ length: N }, async (_, i) => {
      const ok = await a.createTag(`t${String(i).padStart(2, '0')}`, '', null);
      void a.tablesChanged(['tags']);
      return ok;
    }));
    await a.tablesChanged([]);
    expect(made.every(Boolean)).toBe(true);
    expect(a.tags.map((t) => t.name)).toEqual(Array.from({ length: N }, (_, i) => `t${String(i).padStart(2, '0')}`));
    expect(tagLists()).toBeLessThan(N / 2);

    const before = a.tags;
    expect(await a.renameTag(before[7]!.uuid, 't07 renamed')).toBe(true);
    await a.tablesChanged(['tags']);
    expect(a.tags.find((t) => t.uuid === before[7]!.uuid)?.name).toBe('t07 renamed');
    expect(a.tags.filter((t) => before.includes(t))).toHaveLength(N - 1);
    const after = a.tags;
    await a.tablesChanged(['tags']); // nothing changed: the same list
    expect(a.tags).toBe(after);
  });

  it('sorts, pages and searches the file list', async () => {
    const { a } = await setup();
    await a.addSampleLocation('Music', 300);
    await a.setSearch('1');
    const total = a.fileTotal;
    expect(total).toBeGreaterThan(10);
    await a.setSort('size');
    const sizes = a.fileRows.filter((r) => r.kind === 'file').map((r) => r.size);
    expect(sizes).toEqual([...sizes].sort((x, y) => y - x));
    await a.setSort('name-desc');
    const names = a.fileRows.filter((r) => r.kind === 'file').map((r) => r.name.toLowerCase());
    expect(names).toEqual([...names].sort().reverse());
    expect(a.fileTotal).toBe(total);
  });
});

describe('AppState and the relay', () => {
  it("says 'Catching up' with the fraction while pulling from the relay, and not 'Offline' while the relay is connected", async () => {
    const { a, w } = await setup();
    await sync(w, a);
    expect(a.devices.length).toBe(2);
    let relayState: 'connected' | 'offline' = 'offline';
    let catching: { fraction: number | null } | null = null;
    let behind: { behind: number; fraction: number } | null = null;
    const status = () => ({ state: relayState }) as never;
    const r = new AppState({ ...a.deps, relay: status, relayCatchingUp: () => catching, streamProgress: () => (behind ? { ...behind, bytes: 0, owners: [] } : null) });
    r.devices = a.devices;
    r.tick();
    expect(r.syncState).toBe('Offline'); // two devices, no peer, no relay
    relayState = 'connected';
    r.tick();
    expect(r.syncState).toBe('Ready');
    expect(r.backfill).toBeNull();
    catching = { fraction: 0.25 }; // the document pull
    r.tick();
    expect(r.syncState).toBe('Catching up');
    expect(r.backfill).toBe(0.25);
    catching = { fraction: null }; // pages: the stream's fraction
    behind = { behind: 30_000, fraction: 0.6 };
    r.tick();
    expect(r.syncState).toBe('Catching up');
    expect(r.backfill).toBe(0.6);
    catching = null; // pulled from a device instead: Backfilling as before
    r.tick();
    expect(r.syncState).toBe('Backfilling');
  });
});

describe('SyncInspectorState', () => {
  const report = (over: Partial<SyncReport> = {}): SyncReport => ({
    at: 10_000, hlc: null, documentBytes: 0, sharedLog: 0,
    engine: { applied: 0, rejected: 0, received: 0, pending: 0, drifted: 0, compacted: 0, rejectedBy: {}, largestLocalUpdate: 0, oversizeLocalUpdates: 0, commitFailures: 0, staged: 0, lastRejections: [], lastDrifted: [], newer: [], autoCompactions: 0, restored: 0, pruned: 0, reasserted: 0, lastGate: null, lastCompaction: null },
    antiEntropy: { checks: 0, mismatches: 0, resyncs: 0, lastResync: null, unrepaired: [] }, tables: [], peers: [], storage: null, waiting: null, estimate: null,
    persisted: null, transport: { bytesSent: 0, bytesReceived: 0, dropped: 0, undecodable: 0, sendFailures: 0 }, backfill: null,
    latency: [], ...over,
  });

  it('reads a report when shown, summarises latency, and stops polling when closed', async () => {
    let calls = 0;
    const ins = new SyncInspectorState({
      inspect: () => (calls++, Promise.resolve(report({ latency: [5, 1, 9, 3, 7].map((ms, i) => ({ at: i, ms })) }))),
      compact: () => Promise.resolve(3),
      persist: () => Promise.resolve(true),
    });
    ins.show();
    await ins.refresh();
    expect(ins.open).toBe(true);
    expect(ins.summary).toEqual({ p50: 5, p95: 9, n: 5 });
    await ins.compact();
    expect(ins.compactedNow).toBe(3);
    ins.close();
    const seen = calls;
    await new Promise((r) => setTimeout(r, 1100));
    expect(calls).toBe(seen);
  });

  it('says why a report failed', async () => {
    const ins = new SyncInspectorState({ inspect: () => Promise.reject(new Error('storage closed')), compact: () => Promise.resolve(0), persist: () => Promise.resolve(false) });
    await ins.refresh();
    expect(ins.error).toBe('storage closed');
  });

  it('compares published digests per table', () => {
    const ours = parseDigest('entries=aa;tags=bb')!;
    expect(compareDigests(ours, parseDigest('entries=aa;tags=cc')!)).toEqual({ entries: true, tags: false });
    expect(compareDigests(ours, parseDigest('entries=aa')!)).toEqual({ entries: true, tags: false });
    expect(parseDigest(null)).toBeNull();
    expect(latencySummary([])).toBeNull();
  });

  it('says in words which tables a resync did not repair, with which peer, and when it retries', () => {
    const u = { device: 'B', tables: ['entries'], resyncs: 2, retryAt: 58_000 };
    expect(describeUnrepaired(u, 'Chrome 7c20', 10_000)).toBe('entries differ from Chrome 7c20 after 2 resyncs; retrying in 48 s');
    expect(describeUnrepaired({ ...u, tables: ['entries', 'tags', 'albums'], resyncs: 1 }, 'Firefox 01ab', 10_000)).toBe('entries, tags and albums differ from Firefox 01ab after 1 resync; retrying in 48 s');
    expect(describeUnrepaired({ ...u, tables: [], retryAt: 250_000 }, 'X', 10_000)).toBe('the tables differ from X after 2 resyncs; retrying in 4 min');
    expect(describeUnrepaired({ ...u, tables: ['tags', 'entries'] }, 'X', 60_000)).toBe('tags and entries differ from X after 2 resyncs; retrying now');
  });
});

describe('PruningState (the library-wide pruning horizon, compaction.ts C10)', () => {
  /** wired as src/main.ts wires it: the engine reads and writes, the document's `meta` tells */
  const pruningFor = (d: SimDevice): PruningState => {
    const live = d.live!;
    return new PruningState({
      horizonDays: () => live.engine.horizonDays(),
      setHorizonDays: (days) => live.engine.setMeta(HORIZON_KEY, days),
      onChange: (fn) =>
        metaMap(live.doc).observe((e) => {
          if (e.keysChanged.has(HORIZON_KEY)) fn();
        }),
    });
  };

  it('accepts 1 hour to 3650 days, fractions and hours included; refuses the rest in words', () => {
    expect(checkHorizon('30')).toEqual({ ok: true, value: 30 });
    expect(checkHorizon(' 1.5 ')).toEqual({ ok: true, value: 1.5 });
    expect(checkHorizon('12', 'hours')).toEqual({ ok: true, value: 0.5 });
    expect(checkHorizon('1', 'hours')).toEqual({ ok: true, value: MIN_HORIZON_DAYS });
    expect(checkHorizon(0.0417)).toEqual({ ok: true, value: 0.0417 });
    expect(checkHorizon(MAX_HORIZON_DAYS)).toEqual({ ok: true, value: 3650 });
    const refused = (input: unknown, unit: 'days' | 'hours' = 'days'): string => {
      const r = checkHorizon(input, unit);
      if (r.ok) throw new Error(`${String(input)} was accepted`);
      expect(r.error.type).toBe('InvalidInput');
      return r.error.message;
    };
    expect(refused('')).toBe('Enter a number of days (between 1 hour and 3650 days).');
    expect(refused('abc')).toBe('“abc” is not a number of days (between 1 hour and 3650 days).');
    expect(refused('3e2')).toBe('“3e2” is not a number of days (between 1 hour and 3650 days).');
    expect(refused('30 days')).toBe('“30 days” is not a number of days (between 1 hour and 3650 days).');
    expect(refused(Number.NaN)).toBe('“NaN” is not a number of days (between 1 hour and 3650 days).');
    expect(refused(Number.POSITIVE_INFINITY)).toBe('“Infinity” is not a number of days (between 1 hour and 3650 days).');
    expect(refused(null)).toBe('“null” is not a number of days (between 1 hour and 3650 days).');
    expect(refused('0')).toBe('The horizon must be at least 1 hour (between 1 hour and 3650 days).');
    expect(refused('-5')).toBe('The horizon must be at least 1 hour (between 1 hour and 3650 days).');
    expect(refused('0.5', 'hours')).toBe('The horizon must be at least 1 hour (between 1 hour and 3650 days).');
    expect(refused('3651')).toBe('The horizon can be at most 3650 days, ten years (between 1 hour and 3650 days).');
    expect(refused('1e9')).toBe('“1e9” is not a number of days (between 1 hour and 3650 days).');
    expect(refused(1e9)).toBe('The horizon can be at most 3650 days, ten years (between 1 hour and 3650 days).');
    expect(refused(String(24 * 3650 + 1), 'hours')).toBe('The horizon can be at most 3650 days, ten years (between 1 hour and 3650 days).');
    expect([describeHorizon(30), describeHorizon(1), describeHorizon(1.5), describeHorizon(0.5), describeHorizon(1 / 24)]).toEqual(['30 days', '1 day', '1.5 days', '12 hours', '1 hour']);
    expect([horizonField(30), horizonField(0.25)]).toEqual([{ value: '30', unit: 'days' }, { value: '6', unit: 'hours' }]);
  });

  it("shows the library's horizon, follows a change made on another device, and writes nothing for a refused one", async () => {
    const w = new World(SQL, createPrng('pruning-state'), { drop: 0, duplicate: 0, reorder: 0 });
    world = w;
    const [da, db] = [await w.addDevice(A, 0), await w.addDevice(B, 0)];
    const [pa, pb] = [pruningFor(da), pruningFor(db)];
    expect([pa.current.horizonDays, pb.current.label]).toEqual([DEFAULT_HORIZON_DAYS, '30 days']);

    const set = await pa.setHorizon('7');
    expect(set).toEqual({ ok: true, value: 7 });
    expect([pa.current, da.live!.engine.horizonDays()]).toEqual([{ horizonDays: 7, label: '7 days', error: null }, 7]);
    expect(pb.current.horizonDays).toBe(30); // not exchanged yet
    await w.heal();
    expect([pb.current.horizonDays, db.live!.engine.horizonDays()]).toEqual([7, 7]);

    // B changes it in hours; A follows (last writer wins)
    expect(await pb.setHorizon('36', 'hours')).toEqual({ ok: true, value: 1.5 });
    await w.heal();
    expect([pa.current.horizonDays, pa.current.label]).toEqual([1.5, '1.5 days']);

    // a refused value says why, and the document is left as it was on both devices
    const before = Y.encodeStateVector(da.live!.doc).join(',');
    const r = await pa.setHorizon('-1');
    expect(r.ok).toBe(false);
    expect(pa.current.error).toBe('The horizon must be at least 1 hour (between 1 hour and 3650 days).');
    expect(Y.encodeStateVector(da.live!.doc).join(',')).toBe(before);
    await w.heal();
    expect([pa.current.horizonDays, pb.current.horizonDays]).toEqual([1.5, 1.5]);
    // the next accepted value clears the error
    expect((await pa.setHorizon(2)).ok).toBe(true);
    expect(pa.current.error).toBeNull();
  });

  it('names the devices a compaction waited for and left out', () => {
    const devices = [{ uuid: A, name: 'Alpha' }, { uuid: B, name: 'Beta' }];
    expect(describeGate(null, devices)).toBeNull();
    const other = '0ccccccc-cccc-4ccc-8ccc-cccccccccccc';
    expect(describeGate({ ok: false, segment: 's', state: 3, waiting: [B, other], past: [A], everyone: { ok: false, state: 0 } }, devices)).toEqual({ waiting: ['Beta', '0ccccccc'], past: ['Alpha'] });
  });
});
