/**
 * In-memory transport: a seeded network of Y.Docs for the simulator and Node tests (the test
 * double of the y-webrtc provider). Every document update is queued to every connected peer
 * and relayed onwards by whoever applies it (as y-webrtc re-broadcasts), so data reaches a
 * device through any path. The network can drop, duplicate, reorder and delay messages, and
 * partition devices; `syncAll()` is the y-protocols step 1/2 exchange every reconnect does.
 *
 * Invariants:
 *  M1 Deterministic: every fault is drawn from the injected PRNG; the same seed and the same
 *     calls give the same deliveries.
 *  M2 Inbound updates are applied with a REMOTE origin ({ net: NET_ORIGIN, from }), never the
 *     receiver's own local origin, and are not echoed back to the peer they came from.
 *  M3 A message whose link is down when it would be delivered is lost (as on a real network);
 *     nothing is lost for good, because `syncAll()` (the handshake after every reconnect)
 *     sends each connected peer exactly what its state vector says it misses.
 */
import * as Y from 'yjs';
import type { Prng } from '../core/prng.ts';

export const NET_ORIGIN = 'tabdrive:net';

export interface NetFaults {
  drop: number;
  duplicate: number;
  /** deliver a random queued message instead of the oldest */
  reorder: number;
  /** hold a message back: it goes to the end of the queue instead of being delivered */
  delay?: number;
}

interface Message {
  readonly from: string;
  readonly to: string;
  readonly update: Uint8Array;
}

export interface MemoryNetwork {
  join(id: string, doc: Y.Doc): void;
  leave(id: string): void;
  /** Cut (or restore) the link between two devices. */
  setLink(a: string, b: string, up: boolean): void;
  isolate(id: string, isolated: boolean): void;
  /** Deliver up to n queued messages (faults applied); returns how many were delivered. */
  deliver(n?: number): number;
  pending(): number;
  /** State-vector exchange between every connected pair, until nothing new moves. */
  syncAll(): void;
  stats(): { sent: number; delivered: number; dropped: number; duplicated: number; delayed: number; bytes: number };
}

export function createMemoryNetwork(prng: Prng, faults: NetFaults = { drop: 0, duplicate: 0, reorder: 0 }): MemoryNetwork {
  const docs = new Map<string, { doc: Y.Doc; off: () => void }>();
  const cut = new Set<string>();
  const isolated = new Set<string>();
  let queue: Message[] = [];
  const s = { sent: 0, delivered: 0, dropped: 0, duplicated: 0, delayed: 0, bytes: 0 };
  const pair = (a: string, b: string): string => (a < b ? `${a}|${b}` : `${b}|${a}`);
  const connected = (a: string, b: string): boolean => a !== b && !cut.has(pair(a, b)) && !isolated.has(a) && !isolated.has(b);

  const apply = (to: string, from: string, update: Uint8Array): void => {
    const target = docs.get(to);
    if (!target) return;
    Y.applyUpdate(target.doc, update, { net: NET_ORIGIN, from });
  };

  return {
    join(id, doc) {
      const handler = (update: Uint8Array, origin: unknown): void => {
        const from = typeof origin === 'object' && origin !== null && 'from' in origin ? (origin as { from: string }).from : null;
        for (const other of docs.keys()) {
          if (other === id || other === from || !connected(id, other)) continue;
          queue.push({ from: id, to: other, update });
          s.sent++;
          s.bytes += update.byteLength;
        }
      };
      doc.on('update', handler);
      docs.set(id, { doc, off: () => doc.off('update', handler) });
    },
    leave(id) {
      docs.get(id)?.off();
      docs.delete(id);
      queue = queue.filter((m) => m.to !== id && m.from !== id);
    },
    setLink(a, b, up) {
      if (up) cut.delete(pair(a, b));
      else cut.add(pair(a, b));
    },
    isolate(id, on) {
      if (on) isolated.add(id);
      else isolated.delete(id);
    },
    deliver(n = Infinity) {
      let done = 0;
      while (queue.length && done < n) {
        const i = prng.chance(faults.reorder) ? Math.floor(prng.next() * queue.length) : 0;
        const [m] = queue.splice(i, 1);
        if (!m) break;
        done++;
        if (faults.delay && prng.chance(faults.delay)) {
          queue.push(m);
          s.delayed++;
          continue;
        }
        if (!connected(m.from, m.to) || prng.chance(faults.drop)) {
          s.dropped++;
          continue;
        }
        if (prng.chance(faults.duplicate)) {
          queue.splice(Math.floor(prng.next() * (queue.length + 1)), 0, m);
          s.duplicated++;
        }
        s.delivered++;
        apply(m.to, m.from, m.update);
      }
      return done;
    },
    pending: () => queue.length,
    syncAll() {
      for (let round = 0; round < 10; round++) {
        let moved = false;
        for (const [a, da] of docs) {
          for (const [b, db] of docs) {
            if (!connected(a, b)) continue;
            const sv = Y.encodeStateVector(db.doc);
            const diff = Y.encodeStateAsUpdate(da.doc, sv);
            const before = Y.encodeStateVector(db.doc);
            Y.applyUpdate(db.doc, diff, { net: NET_ORIGIN, from: a });
            const after = Y.encodeStateVector(db.doc);
            if (!equalBytes(before, after) || db.doc.store.pendingStructs) moved = true;
          }
        }
        queue = [];
        if (!moved) return;
      }
    },
    stats: () => ({ ...s }),
  };
}

function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.byteLength !== b.byteLength) return false;
  for (let i = 0; i < a.byteLength; i++) if (a[i] !== b[i]) return false;
  return true;
}
