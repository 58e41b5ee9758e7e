/**
 * How often one WebRTC peer can make this device send it (most of) the whole document.
 *
 * y-webrtc answers every sync step 1 with a step 2 holding whatever the asker's state vector
 * lacks; an empty state vector (a 3-byte message, or an inflation bomb of zeros, which reads
 * as one) gets the whole document — 30 MB at 100k entries, encoded on the main thread. A
 * hostile member could ask for it in a loop. The seam is the chunk layer's `admit` hook: a
 * whole inbound data-channel message is seen here before simple-peer hands it to y-webrtc,
 * and a step 1 that lacks more than half of this device's document is answered at most once
 * per `intervalMs` per peer (y-webrtc peer id; it survives resyncs and resumes), and at most
 * `burst` times per `intervalMs` over all peers (a hostile member can mint peer ids, one
 * signaling announce and WebRTC negotiation each). A refused step 1 is counted (`refused`)
 * and dropped; the asker stays unsynced and its anti-entropy re-runs the handshake later,
 * which is then answered. Tabs of this browser (BroadcastChannel) are the same origin and
 * are not limited. Any other message, and anything that does not read as a step 1, passes.
 *
 * Invariant: per peer, two whole-document answers are ≥ intervalMs apart; over all peers, at
 * most `burst` per intervalMs.
 */
import * as decoding from 'lib0/decoding';
import * as Y from 'yjs';

/** y-webrtc's message type for sync messages; y-protocols' sync step 1 */
const MESSAGE_SYNC = 0;
const SYNC_STEP_1 = 0;

export interface FullSyncLimiter {
  /** false: drop this message (a whole-document request from `peer` too soon) */
  admit(message: Uint8Array, peer: string): boolean;
  /** whole-document requests refused so far */
  readonly refused: number;
}

/** The state vector a message carries if it is a sync step 1, else null. */
function step1StateVector(message: Uint8Array): Uint8Array | null {
  try {
    const d = decoding.createDecoder(message);
    if (decoding.readVarUint(d) !== MESSAGE_SYNC || decoding.readVarUint(d) !== SYNC_STEP_1) return null;
    return decoding.readVarUint8Array(d);
  } catch {
    return null;
  }
}

/** Whether a step 1 with state vector `sv` lacks more than half of what `doc` holds. */
export function asksForMostOf(doc: Y.Doc, sv: Uint8Array): boolean {
  let theirs: Map<number, number>;
  try {
    theirs = Y.decodeStateVector(sv);
  } catch {
    return false; // unreadable: y-webrtc fails on it too and the transport counts it
  }
  let total = 0;
  let missing = 0;
  for (const [client, clock] of Y.decodeStateVector(Y.encodeStateVector(doc))) {
    total += clock;
    missing += Math.max(0, clock - (theirs.get(client) ?? 0));
  }
  return total > 0 && missing * 2 > total;
}

export function createFullSyncLimiter(o: { doc: Y.Doc; now: () => number; intervalMs?: number; burst?: number }): FullSyncLimiter {
  const interval = o.intervalMs ?? 20_000;
  const burst = o.burst ?? 4;
  const lastByPeer = new Map<string, number>();
  let recent: number[] = [];
  let refused = 0;
  return {
    admit(message, peer) {
      const sv = step1StateVector(message);
      if (!sv || !asksForMostOf(o.doc, sv)) return true;
      const now = o.now();
      recent = recent.filter((t) => now - t < interval);
      const last = lastByPeer.get(peer);
      if ((last !== undefined && now - last < interval) || recent.length >= burst) {
        refused++;
        return false;
      }
      // forget peers whose interval is over (peer ids are random per session)
      if (lastByPeer.size > 256) for (const [p, t] of lastByPeer) if (now - t >= interval) lastByPeer.delete(p);
      lastByPeer.set(peer, now);
      recent.push(now);
      return true;
    },
    get refused() {
      return refused;
    },
  };
}
