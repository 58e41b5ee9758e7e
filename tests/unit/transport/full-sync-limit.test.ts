// How often a WebRTC peer can get the whole document (src/transport/full-sync-limit.ts), with
// real Yjs documents and y-protocols' own step 1 encoding, on a fake clock.
import * as encoding from 'lib0/encoding';
import { describe, expect, it } from 'vitest';
import * as syncProtocol from 'y-protocols/sync';
import * as Y from 'yjs';
import { createFullSyncLimiter } from '../../../src/transport/full-sync-limit.ts';

/** y-webrtc's sync step 1 for `doc` (message type 0, then y-protocols' step 1) */
function step1(doc: Y.Doc): Uint8Array {
  const e = encoding.createEncoder();
  encoding.writeVarUint(e, 0);
  syncProtocol.writeSyncStep1(e, doc);
  return encoding.toUint8Array(e);
}
function update(doc: Y.Doc): Uint8Array {
  const e = encoding.createEncoder();
  encoding.writeVarUint(e, 0);
  syncProtocol.writeUpdate(e, Y.encodeStateAsUpdate(doc));
  return encoding.toUint8Array(e);
}

describe('whole-document requests from WebRTC peers', () => {
  const ours = new Y.Doc();
  for (let i = 0; i < 100; i++) ours.getMap('m').set(`k${i}`, i);

  it('answers an empty state vector once per interval per peer, and at most `burst` times over all peers', () => {
    let now = 0;
    const limiter = createFullSyncLimiter({ doc: ours, now: () => now, intervalMs: 20_000, burst: 2 });
    const empty = step1(new Y.Doc());
    expect(limiter.admit(empty, 'p1')).toBe(true);
    expect(limiter.admit(empty, 'p1')).toBe(false); // again at once: refused
    now = 19_999;
    expect(limiter.admit(empty, 'p1')).toBe(false);
    expect(limiter.admit(empty, 'p2')).toBe(true); // another peer
    expect(limiter.admit(empty, 'p3')).toBe(false); // a third within the interval: burst spent
    expect(limiter.refused).toBe(3);
    now = 20_000;
    expect(limiter.admit(empty, 'p1')).toBe(true); // the interval is over
    // a 3-byte hand-made step 1 with an empty state vector is the same request
    now = 21_000;
    expect(limiter.admit(new Uint8Array([0, 0, 1, 0]), 'p1')).toBe(false);
    expect(limiter.refused).toBe(4);
  });

  it('never limits a peer that is nearly in step, nor updates, nor anything that is not a step 1', () => {
    const limiter = createFullSyncLimiter({ doc: ours, now: () => 0 });
    const peer = new Y.Doc();
    Y.applyUpdate(peer, Y.encodeStateAsUpdate(ours));
    ours.getMap('m').set('new', 1);
    for (let i = 0; i < 10; i++) expect(limiter.admit(step1(peer), 'p')).toBe(true); // lacks 1 of 101 items
    for (let i = 0; i < 10; i++) expect(limiter.admit(update(peer), 'p')).toBe(true);
    expect(limiter.admit(new Uint8Array([250, 250, 250]), 'p')).toBe(true); // garbage: y-webrtc's to count
    expect(limiter.admit(new Uint8Array([1, 0]), 'p')).toBe(true); // awareness
    expect(limiter.refused).toBe(0);
  });

  it('an empty document has nothing to protect', () => {
    const limiter = createFullSyncLimiter({ doc: new Y.Doc(), now: () => 0 });
    const empty = step1(new Y.Doc());
    for (let i = 0; i < 5; i++) expect(limiter.admit(empty, 'p')).toBe(true);
  });
});
