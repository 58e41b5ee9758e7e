/**
 * Thumbnails of files this device cannot read, asked on demand from devices that keep them
 * (the file's holders first, then any connected peer), over the files channel
 * (files-wire.ts), and kept in this browser's thumbnail store like its own.
 *
 * Invariants:
 *  R1 Bounded rate: at most PER_PEER asks in flight per peer, the rest wait in a queue of at
 *     most MAX_QUEUE contents (the oldest dropped: the grid has scrolled past them); a peer
 *     that answered "none" (or did not answer within ASK_MS) is not asked for that content
 *     again for NONE_MS.
 *  R2 A reply is kept only if this device asked that peer for that content and it is within
 *     bounds (a raster type, ≤ MAX_BYTES, ≤ THUMB_SIZE a side) and decodes as an image of
 *     the size it claims; anything else is counted (`stats.rejected`/`unasked`) and dropped.
 *  R3 Serving: at most PER_PEER asks of one peer are answered at a time (more are dropped
 *     and counted); a thumbnail this device does not keep is answered "none".
 */
import type { StreamNet } from '../transport/stream-net.ts';
import { decode, encode, T, type FilesMessage } from './files-wire.ts';
import { THUMB_SIZE, type Thumb, type ThumbStore } from './thumbnails.ts';

export const PER_PEER = 4;
export const MAX_QUEUE = 500;
export const MAX_BYTES = 64 * 1024;
export const ASK_MS = 10_000;
export const NONE_MS = 5 * 60_000;
const TYPES = ['image/webp', 'image/jpeg', 'image/png'];

export interface RemoteThumbDeps {
  readonly self: string;
  readonly net: StreamNet;
  readonly store: ThumbStore;
  /** keep a received thumbnail (the store, and tell whoever shows it) */
  readonly keep: (content: string, thumb: Thumb) => Promise<void>;
  /** the decoded size of an image, or null when it does not decode (createImageBitmap) */
  readonly decodes: (bytes: Uint8Array, type: string) => Promise<{ width: number; height: number } | null>;
  /** devices holding files of this content, or null: do not ask (this device holds one, or it is no image) */
  readonly holders: (content: string) => Promise<readonly string[] | null>;
  /** devices connected now */
  readonly online: () => readonly string[];
  readonly now: () => number;
  readonly schedule?: (fn: () => void, ms: number) => () => void;
  /** test hook: the replies a hostile peer sends instead of the kept thumbnail (null: none) */
  readonly hostileReply?: (content: string, kept: Thumb | undefined) => Promise<FilesMessage[] | null>;
}

export interface RemoteThumbStats {
  asked: number;
  received: number;
  none: number;
  served: number;
  rejected: number;
  unasked: number;
  dropped: number;
}

export interface RemoteThumbs {
  /** the UI shows this content and no thumbnail is kept: ask for it (once) */
  want(content: string): void;
  /** peers changed: asks that waited for one may go */
  poke(): void;
  readonly stats: RemoteThumbStats;
  destroy(): void;
}

interface Waiting {
  readonly content: string;
  readonly holders: readonly string[];
}

export function createRemoteThumbs(deps: RemoteThumbDeps): RemoteThumbs {
  const { net, self } = deps;
  const schedule = deps.schedule ?? ((fn: () => void, ms: number) => {
    const t = setTimeout(fn, ms);
    return () => clearTimeout(t);
  });
  const stats: RemoteThumbStats = { asked: 0, received: 0, none: 0, served: 0, rejected: 0, unasked: 0, dropped: 0 };
  const wanted = new Set<string>(); // asked for in this session (queued, in flight or done)
  const queue: Waiting[] = [];
  const inflight = new Map<string, { peer: string; content: string; holders: readonly string[]; cancel: () => void }>(); // `${peer}|${content}`
  const noneUntil = new Map<string, number>(); // `${peer}|${content}`
  const serving = new Map<string, number>();
  let destroyed = false;

  const perPeer = (peer: string): number => {
    let n = 0;
    for (const f of inflight.values()) if (f.peer === peer) n++;
    return n;
  };
  const said = (peer: string, content: string): boolean => (noneUntil.get(`${peer}|${content}`) ?? 0) > deps.now();

  function pump(): void {
    if (destroyed) return;
    const online = deps.online().filter((d) => d !== self);
    for (let i = 0; i < queue.length; ) {
      const w = queue[i]!;
      const candidates = [...w.holders.filter((h) => online.includes(h)), ...online.filter((d) => !w.holders.includes(d))].filter((d) => !said(d, w.content));
      if (candidates.length === 0 && online.length > 0 && online.every((d) => said(d, w.content))) {
        queue.splice(i, 1); // nobody connected keeps it: asked again when shown again after NONE_MS
        wanted.delete(w.content);
        continue;
      }
      const peer = candidates.find((d) => perPeer(d) < PER_PEER);
      if (!peer) {
        i++;
        continue;
      }
      queue.splice(i, 1);
      const key = `${peer}|${w.content}`;
      const cancel = schedule(() => {
        if (inflight.delete(key)) noneFrom(peer, w.content, w.holders);
      }, ASK_MS);
      inflight.set(key, { peer, content: w.content, holders: w.holders, cancel });
      stats.asked++;
      net.send(peer, encode({ type: T.THUMB_ASK, content: w.content }));
    }
  }

  function noneFrom(peer: string, content: string, holders: readonly string[]): void {
    noneUntil.set(`${peer}|${content}`, deps.now() + NONE_MS);
    enqueue({ content, holders });
    pump();
  }

  function enqueue(w: Waiting): void {
    queue.push(w);
    while (queue.length > MAX_QUEUE) {
      const old = queue.shift()!;
      wanted.delete(old.content);
      stats.dropped++;
    }
  }

  async function accept(from: string, m: Extract<ReturnType<typeof decode>, { type: typeof T.THUMB }>): Promise<void> {
    const key = `${from}|${m.content}`;
    const f = inflight.get(key);
    if (!f) return void stats.unasked++;
    inflight.delete(key);
    f.cancel();
    const bounded = TYPES.includes(m.mime) && m.bytes.byteLength > 0 && m.bytes.byteLength <= MAX_BYTES && m.width > 0 && m.height > 0 && m.width <= THUMB_SIZE && m.height <= THUMB_SIZE;
    const size = bounded ? await deps.decodes(m.bytes, m.mime).catch(() => null) : null;
    if (!size || size.width !== m.width || size.height !== m.height) {
      stats.rejected++;
      return noneFrom(from, m.content, f.holders);
    }
    stats.received++;
    await deps.keep(m.content, { type: m.mime, bytes: m.bytes.slice().buffer, width: m.width, height: m.height });
    pump();
  }

  async function serve(from: string, content: string): Promise<void> {
    const n = serving.get(from) ?? 0;
    if (n >= PER_PEER) return void stats.dropped++;
    serving.set(from, n + 1);
    try {
      const t = await deps.store.get(content).catch(() => undefined);
      if (destroyed) return;
      const hostile = await deps.hostileReply?.(content, t);
      if (hostile) return hostile.forEach((m) => net.send(from, encode(m)));
      if (!t || t.bytes.byteLength > MAX_BYTES) return net.send(from, encode({ type: T.THUMB_NONE, content }));
      stats.served++;
      net.send(from, encode({ type: T.THUMB, content, width: t.width, height: t.height, mime: t.type, bytes: new Uint8Array(t.bytes) }));
    } finally {
      serving.set(from, (serving.get(from) ?? 1) - 1);
    }
  }

  const off = net.onReceive((from, bytes) => {
    if (destroyed) return;
    const m = decode(bytes);
    if (!m) return; // the transfer module counts what is malformed: one count per message
    if (m.type === T.THUMB_ASK) return void serve(from, m.content);
    if (m.type === T.THUMB) return void accept(from, m);
    if (m.type === T.THUMB_NONE) {
      const f = inflight.get(`${from}|${m.content}`);
      if (!f) return void stats.unasked++;
      inflight.delete(`${from}|${m.content}`);
      f.cancel();
      stats.none++;
      noneFrom(from, m.content, f.holders);
    }
  });

  return {
    stats,
    want(content) {
      if (destroyed || wanted.has(content)) return;
      wanted.add(content);
      void deps.holders(content).then(
        (holders) => {
          if (!holders) return; // asked again only if this device's own thumbnail never comes (next session)
          enqueue({ content, holders });
          pump();
        },
        () => wanted.delete(content),
      );
    },
    poke: pump,
    destroy() {
      destroyed = true;
      off();
      for (const f of inflight.values()) f.cancel();
      inflight.clear();
    },
  };
}
