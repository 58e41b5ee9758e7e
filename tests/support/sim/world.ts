/**
 * The convergence simulator's world: N devices, each running the REAL parts — core (HLC,
 * validation, apply), the Yjs sync document and engine, and the storage engine on sql.js
 * with its own (fake) IndexedDB that survives kills — connected by the seeded in-memory
 * network. A kill drops a device on the floor (no flush, no image); a restart boots it from
 * whatever its IndexedDB holds, exactly as a relaunched tab does.
 *
 * Everything is seeded so a seed replays exactly: Yjs client ids come from the world's PRNG
 * (not Math.random), and the engines' throttled ack writes run on the world's timers, which
 * fire at deterministic points (`idle()`, in simulated time) instead of on the wall clock.
 */
import { IDBFactory } from 'fake-indexeddb';
import { createHash } from 'node:crypto';
import { deflateRawSync, inflateRawSync } from 'node:zlib';
import type { Sha256 } from '../../../src/storage/journal.ts';
import type { PageCodec } from '../../../src/storage/stream-store.ts';
import type { SqlJsStatic } from 'sql.js';
import * as Y from 'yjs';
import type { Change, Fields, OwnedChange, SharedChange } from '../../../src/core/change.ts';
import { createHlcClock, isAheadStamp, type HlcClock } from '../../../src/core/hlc.ts';
import { MODELS, MODEL_NAMES, type OwnedModelName, type SharedModelName } from '../../../src/core/models.ts';
import { createPrng, type Prng } from '../../../src/core/prng.ts';
import { createInProcessStorage, type StorageClient } from '../../../src/storage/client.ts';
import { createStorageEngine } from '../../../src/storage/engine.ts';
import { SCHEMA_VERSION } from '../../../src/storage/migrations.ts';
import { createSyncEngine, type SyncEngine } from '../../../src/sync/engine.ts';
import { forEachEntry } from '../../../src/sync/doc.ts';
import { stampAboveSeen } from '../../../src/sync/intents.ts';
import { createMemoryNetwork, type MemoryNetwork, type NetFaults } from '../../../src/transport/memory.ts';
import { createMemoryHub } from '../../../src/transport/stream-net.ts';
import { createStream, type Stream } from '../../../src/sync/stream.ts';

export const MAX_DRIFT = 5 * 60_000;

/** Page compression that finishes at once (a seed must replay exactly; native streams finish
 *  whenever their thread pool gets to them). */
const syncCodec: PageCodec = {
  deflate: (b) => Promise.resolve(new Uint8Array(deflateRawSync(b))),
  inflate: (b, max) => Promise.resolve(new Uint8Array(inflateRawSync(b, { maxOutputLength: max }))),
};

/** SHA-256 that finishes at once, for the same reason (the browser's runs on a thread of its
 *  own: a commit's end raced the seed's next steps, and a replay ran 1 in 3 differently). */
const syncSha256: Sha256 = (b) => Promise.resolve(new Uint8Array(createHash('sha256').update(b).digest()));

/** An IDBFactory whose connections stop working once `kill()`ed (a dead tab writes nothing more). */
function killableIdb(real: IDBFactory): { idb: IDBFactory; kill: () => void } {
  let dead = false;
  const idb = {
    open(name: string, version?: number) {
      if (dead) throw new DOMException('the tab was killed', 'InvalidStateError');
      const req = real.open(name, version);
      req.addEventListener('success', () => {
        const db = req.result;
        const orig = db.transaction.bind(db);
        db.transaction = ((...a: Parameters<IDBDatabase['transaction']>) => {
          if (dead) throw new DOMException('the tab was killed', 'InvalidStateError');
          return orig(...a);
        }) as IDBDatabase['transaction'];
      });
      return req;
    },
    deleteDatabase: (n: string) => real.deleteDatabase(n),
    cmp: (a: unknown, b: unknown) => real.cmp(a, b),
    databases: () => real.databases(),
  };
  return { idb, kill: () => void (dead = true) };
}

export interface Incarnation {
  readonly storage: StorageClient;
  readonly engine: SyncEngine;
  /** the owned-state stream, on the world's in-memory hub */
  readonly stream: Stream;
  readonly clock: HlcClock;
  readonly doc: Y.Doc;
  readonly kill: () => void;
  readonly issued: string[];
  /** stamps issued in the clock's ahead lane (nextAbove), in order */
  readonly issuedAhead: string[];
  /** rejections of the stream pages this incarnation applied (the app shows them the same way) */
  readonly pageRejections: { type: string; model: string; uuid: string; detail: string }[];
  readonly close: () => Promise<void>;
}

/** Simulated timers: fire in simulated time, at deterministic points. */
export class SimTimers {
  private seq = 0;
  private readonly timers = new Map<number, { at: number; fn: () => void }>();
  constructor(private readonly time: () => number) {}
  schedule = (fn: () => void, ms: number): (() => void) => {
    const id = ++this.seq;
    this.timers.set(id, { at: this.time() + ms, fn });
    return () => void this.timers.delete(id);
  };
  /** Runs the timers due at the current simulated time (all of them with `all`), in order. */
  fire(all = false): number {
    const due = [...this.timers.entries()].filter(([, t]) => all || t.at <= this.time()).sort((a, b) => a[1].at - b[1].at || a[0] - b[0]);
    for (const [id, t] of due) {
      this.timers.delete(id);
      t.fn();
    }
    return due.length;
  }
  pending(): number {
    return this.timers.size;
  }
}

export class SimDevice {
  readonly id: string;
  readonly idb = new IDBFactory();
  skew: number;
  live: Incarnation | null = null;
  /** stamps issued per incarnation, for the monotonic-clock invariant */
  readonly history: string[][] = [];
  /** the highest clock value persisted when each incarnation booted */
  readonly bootClocks: (string | null)[] = [];
  /** per incarnation: the highest stamp of this device that had entered its document (and so
   *  may have reached the network) when it was killed */
  readonly escaped: (string | null)[] = [];
  /** the same for the clock's ahead lane (core/hlc nextAbove), per incarnation */
  readonly historyAhead: string[][] = [];
  readonly escapedAhead: (string | null)[] = [];

  constructor(id: string, skew: number, private readonly world: World) {
    this.id = id;
    this.skew = skew;
  }

  now = (): number => this.world.time + this.skew;

  async start(): Promise<void> {
    const { idb, kill } = killableIdb(this.idb);
    const storageEngine = createStorageEngine({ sql: this.world.SQL, idb, now: this.now, imageDebounceMs: 10_000_000, imageMaxDelayMs: 10_000_000, imageEveryFrames: 25, pageRows: this.world.pageRows, pageCodec: syncCodec, sha256: syncSha256, schedule: this.world.timers.schedule });
    const storage = createInProcessStorage(storageEngine);
    const boot = await storage.call('open', { dbName: 'device', deviceUuid: this.id });
    if (!boot.ok) throw new Error(`boot failed: ${boot.error.message}`);
    const inner = createHlcClock({ device: this.id, now: this.now, maxDriftMs: MAX_DRIFT, last: boot.value.hlc, lastAhead: boot.value.hlcAhead });
    const issued: string[] = [];
    const issuedAhead: string[] = [];
    const clock: HlcClock = {
      ...inner,
      next: () => { const h = inner.next(); issued.push(h); return h; },
      nextAbove: (floor) => { const h = inner.nextAbove(floor); (isAheadStamp(h) ? issuedAhead : issued).push(h); return h; },
    };
    const doc = new Y.Doc();
    doc.clientID = this.world.prng.int(1, 0x7fffffff); // a new client id per incarnation, seeded
    let stream: Stream | null = null;
    const pageRejections: Incarnation['pageRejections'] = [];
    const engine = createSyncEngine({ doc, storage, clock, device: this.id, now: this.now, schedule: this.world.timers.schedule,
      autoCompactEvery: this.world.autoCompact.every, autoCompactDelayMs: this.world.autoCompact.delayMs,
      onCommit: (r, origin) => {
        if (origin === 'local') stream?.committed(r);
        if (r.tables.includes('forgotten_devices')) void noteForgotten();
      } });
    // as main.ts does: the stream stops pulling, serving and applying forgotten owners' rows
    const noteForgotten = async (): Promise<void> => {
      const r = await storage.call('query', { sql: 'SELECT uuid FROM forgotten_devices', params: [] });
      if (r.ok) stream?.forget(r.value.map((x) => String(x['uuid'])));
    };
    engine.boot(boot.value.ydoc);
    const net = this.world.hub.join(this.id);
    stream = createStream({
      self: this.id,
      storage,
      net,
      // presence, instantly: the marks of the live devices this one is linked to
      peers: () => this.world.live().filter((d) => d !== this && this.world.hub.linked(this.id, d.id)).map((d) => ({ device: d.id, marks: d.live!.stream.marks() })),
      announce: () => undefined,
      initial: boot.value.marks,
      repairOwn: boot.value.repairOwn,
      now: this.now,
      schedule: (fn) => {
        fn();
        return () => undefined;
      },
      tickMs: null,
      onApplied: (r) => void pageRejections.push(...r.rejections),
    });
    await noteForgotten();
    this.history.push(issued);
    this.historyAhead.push(issuedAhead);
    this.bootClocks.push(boot.value.hlc);
    this.live = { storage, engine, stream, clock, doc, kill, issued, issuedAhead, pageRejections, close: () => storageEngine.close() };
    this.world.net.join(this.id, doc);
  }

  async kill(): Promise<void> {
    const l = this.live;
    if (!l) return;
    let top: string | null = null;
    // each lane apart: ahead-lane stamps (nextAbove) are far ahead by design
    let topAhead: string | null = null;
    const consider = (h: unknown) => {
      if (typeof h !== 'string' || !h.endsWith(this.id)) return;
      if (isAheadStamp(h)) {
        if (!topAhead || h > topAhead) topAhead = h;
      } else if (!top || h > top) top = h;
    };
    l.doc.getMap(`owned:${this.id}`).forEach((v) => consider((v as { hlc?: unknown }).hlc));
    forEachEntry(l.doc, (_v, k) => consider(k));
    this.escaped[this.history.length - 1] = top;
    this.escapedAhead[this.history.length - 1] = topAhead;
    this.world.net.leave(this.id);
    this.world.hub.leave(this.id);
    l.stream.destroy();
    l.engine.destroy();
    l.kill();
    this.live = null;
    await new Promise((r) => setImmediate(r)); // let transactions already under way settle
    void l.close(); // free the sql.js memory of the dead tab (its storage can write nothing more)
  }

  owned(model: OwnedModelName, uuid: string, data: Fields): OwnedChange {
    return { kind: 'owned', model, owner: this.id, uuid, hlc: this.live!.clock.next(), data };
  }
  tombstone(model: OwnedModelName, uuid: string): OwnedChange {
    return { kind: 'owned', model, owner: this.id, uuid, hlc: this.live!.clock.next(), deleted: true };
  }
  shared(model: SharedModelName, uuid: string, op: SharedChange['op'], fields: Fields = {}): SharedChange {
    return { kind: 'shared', model, uuid, hlc: this.live!.clock.next(), op, fields };
  }

  /** A shared change as a person makes it after seeing the record (intents `stampAboveSeen`). */
  async sharedAbove(model: SharedModelName, uuid: string, op: SharedChange['op'], fields: Fields = {}): Promise<SharedChange> {
    const row = (await this.rows(`SELECT * FROM ${MODELS[model].table} WHERE uuid = ?`, [uuid]))[0] ?? null;
    return stampAboveSeen(this.live!.clock, this.shared(model, uuid, op, fields), row);
  }

  async write(changes: Change[]): Promise<void> {
    const r = await this.live!.engine.write(changes);
    if (!r.ok && this.live) throw new Error(`write failed on a live device: ${r.error.message}`);
  }

  async rows(sql: string, params: (string | number | null)[] = []): Promise<Record<string, string | number | null>[]> {
    const r = await this.live!.storage.call('query', { sql, params });
    if (!r.ok) throw new Error(r.error.message);
    return r.value;
  }

  async digest(): Promise<Record<string, string>> {
    const r = await this.live!.storage.call('digest', {});
    if (!r.ok) throw new Error(r.error.message);
    return r.value;
  }
}

export class World {
  time = 1_750_000_000_000;
  /** the document network and the stream hub, cut and healed together */
  readonly net: MemoryNetwork;
  readonly hub: ReturnType<typeof createMemoryHub>;
  /** rows per page (small pages make every pull span several pages and batches) */
  pageRows = 2000;
  readonly devices: SimDevice[] = [];
  readonly timers = new SimTimers(() => this.time);
  /** the engines' automatic compaction (engine.ts E6): shared changes between runs (0: off), and its delay */
  autoCompact = { every: 64, delayMs: 3000 };

  constructor(readonly SQL: SqlJsStatic, readonly prng: Prng, faults: NetFaults) {
    const docs = createMemoryNetwork(prng, faults);
    // the stream's faults from a stream of their own: how many stream messages a run sends
    // depends on how soon storage answers, and drawing them from `prng` would shift every
    // later document fault with it
    this.hub = createMemoryHub(createPrng(`hub:${prng.int(1, 0x7fffffff)}`), faults);
    const hub = this.hub;
    this.net = {
      ...docs,
      setLink(a, b, up) {
        docs.setLink(a, b, up);
        hub.setLink(a, b, up);
      },
      isolate(id, on) {
        docs.isolate(id, on);
        hub.isolate(id, on);
      },
    };
  }

  async addDevice(id: string, skew: number): Promise<SimDevice> {
    const d = new SimDevice(id, skew, this);
    this.devices.push(d);
    await d.start();
    // as main.ts does: the layout and schema this build reads, so the others know this device
    // (compaction.ts C9, C10). Once, when it joins (the keys stay in the document), and
    // drained at once: background storage work racing the seed's next steps would make a
    // run depend on the machine's load
    await d.live!.engine.announceSchema(SCHEMA_VERSION);
    await this.idle();
    return d;
  }

  /** Frees every device's sql.js database (they share one WASM heap). */
  async dispose(): Promise<void> {
    for (const d of this.devices) {
      const l = d.live;
      if (!l) continue;
      l.stream.destroy();
      l.engine.destroy();
      await l.close();
    }
  }

  live(): SimDevice[] {
    return this.devices.filter((d) => d.live);
  }

  async idle(fireAllTimers = false): Promise<void> {
    for (let i = 0; i < 5; i++) {
      this.timers.fire(fireAllTimers);
      await Promise.all(this.live().map((d) => d.live!.engine.idle()));
      await this.pumpStream();
      await new Promise((r) => setImmediate(r));
    }
  }

  /**
   * Runs the owned-state stream until nothing moves: every live device plans its pulls, the
   * hub delivers (with the run's faults), pages are served and applied. A lost message leaves
   * a pull waiting until it stalls: `heal` moves time on so it is planned again.
   */
  async pumpStream(rounds = 200): Promise<void> {
    let quiet = 0; // two quiet rounds in a row: a poke came after the last page was applied
    for (let r = 0; r < rounds && quiet < 2; r++) {
      for (const d of this.live()) d.live!.stream.poke();
      const moved = this.hub.deliver();
      // setImmediate, not setTimeout(0): storage (fake-indexeddb) completes on setImmediate,
      // and Node orders a 0 ms timer against immediates by how busy the machine is — a seed
      // replayed under load ran a different number of rounds (delayed 10 vs 11 messages)
      await new Promise((res) => setImmediate(res));
      const busy = this.live().some((d) => d.live!.stream.busy());
      quiet = !moved && !this.hub.pending() && !busy ? quiet + 1 : 0;
    }
  }

  /** Every live device holds what every other holds (missing = 0). */
  marksAgree(): boolean {
    const vecs = this.live().map((d) => d.live!.stream.marks());
    const owners = new Set(vecs.flatMap((v) => Object.keys(v)));
    return [...owners].every((o) => vecs.every((v) => (v[o] ?? 0) === (vecs[0]![o] ?? 0)));
  }

  /** Rounds the last heal took to become quiescent (-1: it never did). */
  healRounds = 0;

  /** Nothing in flight: no queued message, no timer, and every live document has the same state. */
  quiescent(): boolean {
    if (this.net.pending() || this.timers.pending() || this.hub.pending()) return false;
    if (this.live().some((d) => d.live!.stream.busy()) || !this.marksAgree()) return false;
    const svs = this.live().map((d) => Y.encodeStateVector(d.live!.doc).join(','));
    return svs.every((sv) => sv === svs[0]);
  }

  /** Heal everything, restart the dead, and exchange until every device is quiescent. */
  async heal(): Promise<void> {
    for (const a of this.devices) {
      this.net.isolate(a.id, false);
      for (const b of this.devices) this.net.setLink(a.id, b.id, true);
    }
    for (const d of this.devices) if (!d.live) await d.start();
    this.healRounds = -1;
    for (let round = 0; round < 20; round++) {
      this.time += 30_000; // pulls whose messages were lost stall and are planned again
      this.net.syncAll();
      await this.idle(true);
      this.net.deliver();
      await this.idle(true);
      if (this.quiescent()) {
        this.healRounds = round + 1;
        return;
      }
    }
  }
}

export const SYNCED_TABLES = MODEL_NAMES.map((m) => MODELS[m].table);
