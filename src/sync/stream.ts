/**
 * The owned-state stream's coordinator (main thread; core/stream.ts has the rules): it routes
 * bytes only. Pages are read, packed, unpacked, validated and applied by the storage worker;
 * here they are message payloads handed over (transferred) as they are.
 *
 *  - Announce: this device's watermark vector goes to its peers (presence), throttled.
 *  - Pull: for each owner some connected peer is ahead on, ask the peer furthest ahead
 *    (`planPulls`) for pages after this device's watermark; one pull per owner at a time,
 *    answered with up to BATCH pages; the next batch is asked for as soon as the last page of
 *    this one is in and at most one batch waits in the worker (flow control). A pull that
 *    goes quiet (the peer left) is dropped after STALL_MS and planned again, from any peer —
 *    watermarks commit with each page, so the backfill resumes where it stopped.
 *  - Serve: a peer's pull is answered from this device's database (any owner it holds), one
 *    pull per peer at a time; pages beyond what it holds are never promised.
 *  - Push: a local commit of this device's rows is pushed as one live page to every peer; a
 *    peer whose watermark does not reach the page's start pulls instead (the worker refuses a
 *    gap).
 *  - Forgotten owners (`forget`, core/apply.ts I7): never pulled, served, announced or applied
 *    here, whatever a peer announces or sends; a forgotten device does not push its own.
 *
 * Message (inside a net's payload): version u8 · type u8 · body
 *   PULL  JSON { o: owner, a: after, n: pages }
 *   PAGE  to f64 · flags u8 (1 last of a reply, 2 live push) · owner (36 ASCII) · page bytes
 *   NONE  JSON { o: owner, h: held }   (nothing to serve after `a`)
 */
import type { CommitResult, PageResult, StorageError } from '../storage/rpc.ts';
import type { StorageClient } from '../storage/client.ts';
import type { Result } from '../core/result.ts';
import { isMarks, planPulls, type Marks } from '../core/stream.ts';
import { isUuid } from '../core/uuid.ts';
import type { StreamNet } from '../transport/stream-net.ts';

const VERSION = 1;
const PULL = 1;
const PAGE = 2;
const NONE = 3;
const LAST = 1;
const LIVE = 2;
/** pages per pull */
export const BATCH = 4;
const STALL_MS = 10_000;
const SERVE_WINDOW_MS = 60_000;
const DISTRUST_MS = 60_000;
const SERVE_SLACK = 2_000;
const ANNOUNCE_MS = 200;
const ascii = new TextEncoder();
const text = new TextDecoder();

export interface StreamDeps {
  readonly self: string;
  readonly storage: Pick<StorageClient, 'call'>;
  readonly net: StreamNet;
  /** the watermark vectors the connected peers announced */
  readonly peers: () => readonly { readonly device: string; readonly marks: Marks }[];
  readonly announce: (marks: Marks) => void;
  /** a page was committed here (UI refresh, counters) */
  readonly onApplied?: (r: PageResult) => void;
  readonly initial: Marks;
  /** this device lost frames at boot: pull its own rows back from a peer once (engine `repairOwn`) */
  readonly repairOwn?: boolean;
  readonly now: () => number;
  /** timers: the simulator passes its own so a seed replays exactly */
  readonly schedule?: (fn: () => void, ms: number) => () => void;
  /** how often stalled pulls are looked for and pulls planned (null: only when poked) */
  readonly tickMs?: number | null;
}

export interface StreamStats {
  pulls: number;
  pagesIn: number;
  pagesOut: number;
  rowsIn: number;
  bytesIn: number;
  bytesOut: number;
  livePushed: number;
  gaps: number;
  stalls: number;
  refused: number;
  rejected: number;
  lastError: string | null;
}

export interface StreamProgress {
  /** rows (seqs) this device still lacks, summed over owners */
  readonly behind: number;
  /** 0..1 of the current catch-up */
  readonly fraction: number;
  readonly bytes: number;
  readonly owners: readonly { readonly owner: string; readonly held: number; readonly target: number }[];
}

export interface Stream {
  /** a local commit's result: push its page, take its watermarks */
  committed(r: CommitResult): void;
  /** peers' watermarks changed (presence): plan again */
  poke(): void;
  /** devices the library forgot: their rows are not pulled, served, announced or applied */
  forget(owners: readonly string[]): void;
  marks(): Marks;
  progress(): StreamProgress | null;
  readonly stats: StreamStats;
  /** a pull is being served or a page applied right now (work in progress, not waiting) */
  busy(): boolean;
  /** a peer pulled from this device within STALL_MS: a backfill being served, between pulls
   *  (anti-entropy waits: the puller is busy and compares no digest, and a digest is a pass
   *  over every row in the worker the pulls wait for) */
  serving(): boolean;
  setPaused(paused: boolean): void;
  destroy(): void;
}

interface Inflight {
  readonly peer: string;
  lastTo: number;
  batchDone: boolean;
  queued: number;
  at: number;
  none: boolean;
}

function frame(type: number, body: Uint8Array): Uint8Array {
  const m = new Uint8Array(2 + body.byteLength);
  m[0] = VERSION;
  m[1] = type;
  m.set(body, 2);
  return m;
}
const json = (type: number, v: unknown): Uint8Array => frame(type, ascii.encode(JSON.stringify(v)));
function pageMessage(owner: string, to: number, flags: number, bytes: Uint8Array): Uint8Array {
  const body = new Uint8Array(9 + 36 + bytes.byteLength);
  new DataView(body.buffer).setFloat64(0, to);
  body[8] = flags;
  body.set(ascii.encode(owner), 9);
  body.set(bytes, 45);
  return frame(PAGE, body);
}

/**
 * The stream's messages for a source that answers pulls without being a device (the relay,
 * sync/relay-sync.ts): it reads a PULL addressed to it and answers with PAGE (the last one
 * flagged) or NONE, exactly as a peer's `serve` does.
 */
export const streamMessages = {
  /** a PULL's owner, after and page count, or null for any other message */
  pull(m: Uint8Array): { owner: string; after: number; count: number } | null {
    if (m.byteLength < 2 || m[0] !== VERSION || m[1] !== PULL) return null;
    try {
      const v = JSON.parse(text.decode(m.subarray(2))) as Record<string, unknown>;
      const { o, a, n } = v;
      if (!isUuid(o) || typeof a !== 'number' || !Number.isSafeInteger(a) || a < 0 || typeof n !== 'number' || !Number.isSafeInteger(n) || n < 1) return null;
      return { owner: o, after: a, count: n };
    } catch {
      return null;
    }
  },
  page: (owner: string, to: number, last: boolean, bytes: Uint8Array): Uint8Array => pageMessage(owner, to, last ? LAST : 0, bytes),
  /** a page pushed as it was written (as a device's live push: applied if it continues this device's rows, else a pull) */
  live: (owner: string, to: number, bytes: Uint8Array): Uint8Array => pageMessage(owner, to, LIVE, bytes),
  none: (owner: string, held: number): Uint8Array => json(NONE, { o: owner, h: held }),
};

export function createStream(deps: StreamDeps): Stream {
  const { self, storage, net } = deps;
  const schedule = deps.schedule ?? ((fn: () => void, ms: number) => {
    const t = setTimeout(fn, ms);
    return () => clearTimeout(t);
  });
  const local = new Map<string, number>(Object.entries(deps.initial));
  const forgotten = new Set<string>();
  const inflight = new Map<string, Inflight>();
  const serving = new Set<string>(); // peers whose pull is being answered
  let servedAt = -Infinity; // when the last pull was answered
  let applying = 0;
  let paused = false;
  let destroyed = false;
  let announceTimer: (() => void) | null = null;
  let tick: (() => void) | null = null;
  let episode: { start: number } | null = null;
  const stats: StreamStats = { pulls: 0, pagesIn: 0, pagesOut: 0, rowsIn: 0, bytesIn: 0, bytesOut: 0, livePushed: 0, gaps: 0, stalls: 0, refused: 0, rejected: 0, lastError: null };

  const marks = (): Marks => Object.fromEntries(local);
  const raise = (m: Readonly<Record<string, number>> | undefined): void => {
    if (!m) return;
    let moved = false;
    for (const [o, v] of Object.entries(m)) {
      if (forgotten.has(o)) continue;
      if (v > (local.get(o) ?? 0)) {
        local.set(o, v);
        moved = true;
      }
    }
    if (moved) announceSoon();
  };
  function announceSoon(): void {
    if (announceTimer || destroyed) return;
    announceTimer = schedule(() => {
      announceTimer = null;
      if (!destroyed) deps.announce(marks());
    }, ANNOUNCE_MS);
  }

  const send = (to: string | null, m: Uint8Array): void => {
    if (paused || destroyed) return;
    stats.bytesOut += m.byteLength;
    net.send(to, m);
  };

  /** A pull whose peer said it has nothing (its announcement ran ahead) is retried after a
   *  moment; one that went quiet (the peer left, a message was lost) after STALL_MS. */
  function expire(): void {
    const now = deps.now();
    for (const [owner, f] of inflight) {
      if ((f.none && now - f.at > 2000) || (!f.none && f.queued === 0 && now - f.at > STALL_MS)) {
        if (!f.none) stats.stalls++;
        inflight.delete(owner);
      }
    }
  }

  /** the peers' announced marks without the owners this device knows were forgotten */
  const livePeers = (): { readonly device: string; readonly marks: Marks }[] =>
    deps.peers().map((p) => (forgotten.size === 0 || !isMarks(p.marks) ? p : { ...p, marks: Object.fromEntries(Object.entries(p.marks).filter(([o]) => !forgotten.has(o))) }));

  let repairing = deps.repairOwn === true;
  /** peers that sent an undecodable page, until when they are not pulled from */
  const distrusted = new Map<string, number>();
  function plan(): void {
    if (paused || destroyed) return;
    expire();
    if (repairing && !inflight.has(self)) {
      // its own rows, from whoever holds the most of them, from the start (the seq rule keeps
      // what this device has that is newer)
      const holder = deps.peers().filter((p) => (p.marks[self] ?? 0) > 0).sort((a, b) => (b.marks[self] ?? 0) - (a.marks[self] ?? 0))[0];
      if (holder) {
        inflight.set(self, { peer: holder.device, lastTo: 0, batchDone: false, queued: 0, at: deps.now(), none: false });
        stats.pulls++;
        send(holder.device, json(PULL, { o: self, a: 0, n: BATCH }));
      }
    }
    const busy = new Set(inflight.keys());
    const now = deps.now();
    const trusted = livePeers().filter((p) => (distrusted.get(p.device) ?? 0) <= now);
    for (const p of planPulls(self, marks(), trusted, busy)) {
      inflight.set(p.owner, { peer: p.peer, lastTo: p.after, batchDone: false, queued: 0, at: deps.now(), none: false });
      stats.pulls++;
      send(p.peer, json(PULL, { o: p.owner, a: p.after, n: BATCH }));
    }
  }

  /** After a page of a reply is in or applied: ask for the next batch, or finish. */
  function advance(owner: string): void {
    const f = inflight.get(owner);
    if (!f || !f.batchDone || f.none) return;
    const theirs = deps.peers().find((p) => p.device === f.peer)?.marks[owner] ?? 0;
    if (f.lastTo < theirs) {
      if (f.queued > BATCH) return; // one batch at most waits in the worker (flow control)
      f.batchDone = false;
      f.at = deps.now();
      stats.pulls++;
      send(f.peer, json(PULL, { o: owner, a: f.lastTo, n: BATCH }));
      return;
    }
    if (f.queued === 0) {
      inflight.delete(owner);
      if (owner === self) repairing = false; // its own rows are back (what any peer held)
      plan();
    }
  }

  async function apply(from: string, owner: string, bytes: Uint8Array, live: boolean): Promise<void> {
    applying++;
    let r: Result<PageResult, StorageError>;
    try {
      r = await storage.call('applyPage', { bytes, repair: owner === self }, [bytes.buffer]); // handed over: the worker decodes it
    } finally {
      applying--;
    }
    const f = inflight.get(owner);
    if (!live && f && f.peer === from) f.queued = Math.max(0, f.queued - 1);
    if (!r.ok) {
      stats.rejected++;
      stats.lastError = `${r.error.type}: ${r.error.message}`;
      // a page that does not even decode: pull from others for a while (a broken or hostile
      // peer that announces itself furthest ahead must not be asked again and again)
      if (r.error.type === 'InvalidRequest') distrusted.set(from, deps.now() + DISTRUST_MS);
      if (!live && f && f.peer === from) inflight.delete(owner);
      plan();
      return;
    }
    stats.rowsIn += r.value.rows;
    raise(r.value.marks);
    if (r.value.stream?.gap) {
      stats.gaps++;
      if (!live && f && f.peer === from) inflight.delete(owner);
      plan();
    } else if (r.value.tables.length || r.value.applied || r.value.rejected) deps.onApplied?.(r.value);
    if (!live) advance(owner);
    else plan();
  }

  /**
   * What one peer may take: within SERVE_WINDOW_MS, about twice what this device holds (a new
   * device's whole backfill, and one retry) plus some slack. A peer asking for everything again
   * and again (a bug, or a member making this device resend the library without end) is
   * refused until the window passes; an honest puller waits and asks again (its pull stalls).
   */
  const budget = new Map<string, { since: number; seqs: number }>();
  function overBudget(peer: string): boolean {
    const now = deps.now();
    let b = budget.get(peer);
    if (!b || now - b.since > SERVE_WINDOW_MS) budget.set(peer, (b = { since: now, seqs: 0 }));
    let held = 0;
    for (const v of local.values()) held += v;
    return b.seqs > 2 * held + SERVE_SLACK;
  }

  async function serve(from: string, owner: string, after: number, count: number): Promise<void> {
    if (forgotten.has(owner)) {
      send(from, json(NONE, { o: owner, h: 0 }));
      return;
    }
    if (serving.has(from) || overBudget(from)) {
      stats.refused++;
      return; // one pull per peer at a time (it asks again when the first is answered), within its budget
    }
    serving.add(from);
    try {
      const r = await storage.call('servePages', { owner, after, count: Math.min(count, BATCH * 2) });
      if (!r.ok) {
        stats.lastError = `${r.error.type}: ${r.error.message}`;
        return;
      }
      const { pages, held } = r.value;
      if (!pages.length) {
        send(from, json(NONE, { o: owner, h: held }));
        return;
      }
      const b = budget.get(from);
      pages.forEach((p, i) => {
        send(from, pageMessage(owner, p.to, i === pages.length - 1 ? LAST : 0, p.bytes));
        stats.pagesOut++;
        if (b) b.seqs += p.to - p.from;
      });
    } finally {
      serving.delete(from);
      servedAt = deps.now();
    }
  }

  function receive(from: string, m: Uint8Array): void {
    if (paused || destroyed) return;
    if (m.byteLength < 2 || m[0] !== VERSION) {
      stats.rejected++;
      return;
    }
    const body = m.subarray(2);
    if (m[1] === PAGE) {
      if (body.byteLength < 45) return void stats.rejected++;
      const to = new DataView(body.buffer, body.byteOffset, 8).getFloat64(0);
      const flags = body[8]!;
      const owner = text.decode(body.subarray(9, 45));
      if (!isUuid(owner) || !Number.isSafeInteger(to)) return void stats.rejected++;
      if (forgotten.has(owner)) return void stats.refused++; // the worker would refuse every row (I7)
      const bytes = body.slice(45);
      stats.pagesIn++;
      stats.bytesIn += m.byteLength;
      const live = (flags & LIVE) !== 0;
      const f = inflight.get(owner);
      if (!live && f && f.peer === from) {
        f.lastTo = Math.max(f.lastTo, to);
        f.queued++;
        f.at = deps.now();
        if (flags & LAST) f.batchDone = true;
      }
      void apply(from, owner, bytes, live);
      if (!live) advance(owner);
      return;
    }
    let v: unknown;
    try {
      v = JSON.parse(text.decode(body));
    } catch {
      return void stats.rejected++;
    }
    const o = typeof v === 'object' && v !== null ? (v as Record<string, unknown>) : {};
    if (m[1] === PULL) {
      const { o: owner, a: after, n } = o;
      if (!isUuid(owner) || typeof after !== 'number' || !Number.isSafeInteger(after) || after < 0 || typeof n !== 'number' || !Number.isSafeInteger(n) || n < 1)
        return void stats.rejected++;
      void serve(from, owner, after, n);
      return;
    }
    if (m[1] === NONE) {
      const f = typeof o['o'] === 'string' ? inflight.get(o['o']) : undefined;
      if (f && f.peer === from) {
        f.none = true; // its announcement was ahead of what it holds: wait a moment, then plan again
        f.at = deps.now();
      }
      return;
    }
    stats.rejected++;
  }

  const offReceive = net.onReceive(receive);
  const tickMs = deps.tickMs === undefined ? 1000 : deps.tickMs;
  const loop = (): void => {
    if (tickMs === null) return;
    tick = schedule(() => {
      if (destroyed) return;
      plan();
      loop();
    }, tickMs);
  };
  loop();
  announceSoon();

  return {
    committed(r) {
      raise(r.marks);
      if (paused || forgotten.has(self)) return;
      for (const p of r.pages ?? []) {
        stats.livePushed++;
        send(null, pageMessage(self, p.to, LIVE, p.bytes));
      }
    },
    poke: plan,
    forget(owners) {
      for (const o of owners) {
        if (forgotten.has(o)) continue;
        forgotten.add(o);
        local.delete(o);
        inflight.delete(o);
      }
      announceSoon();
    },
    marks,
    progress() {
      const owners: { owner: string; held: number; target: number }[] = [];
      let behind = 0;
      for (const p of livePeers()) {
        if (!isMarks(p.marks)) continue;
        for (const [owner, seq] of Object.entries(p.marks)) {
          if (owner === self) continue;
          const held = local.get(owner) ?? 0;
          const known = owners.find((x) => x.owner === owner);
          if (known) {
            if (seq > known.target) known.target = seq;
          } else owners.push({ owner, held, target: seq });
        }
      }
      for (const o of owners) behind += Math.max(0, o.target - o.held);
      if (behind === 0) {
        episode = null;
        return null;
      }
      if (!episode || behind > episode.start) episode = { start: behind };
      return { behind, fraction: 1 - behind / episode.start, bytes: stats.bytesIn, owners: owners.filter((o) => o.target > o.held) };
    },
    stats,
    busy: () => serving.size > 0 || applying > 0,
    serving: () => serving.size > 0 || deps.now() - servedAt < STALL_MS,
    setPaused(p) {
      paused = p;
      net.setPaused(p);
      if (p) inflight.clear();
      else {
        announceSoon();
        plan();
      }
    },
    destroy() {
      destroyed = true;
      offReceive();
      tick?.();
      announceTimer?.();
      inflight.clear();
    },
  };
}
