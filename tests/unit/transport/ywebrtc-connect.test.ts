// Our copy of y-webrtc (src/transport/ywebrtc/room.ts), Y1: connecting sends the tabs a sync
// step 1 (a state vector), never the whole document (upstream y-webrtc 10.3.0 broadcast a
// sync step 2 of the whole document at every connect); a connect's step 1 is greeted, a
// greeting is not. Spoken to as another tab would, over Node's BroadcastChannel.
import * as decoding from 'lib0/decoding';
import * as encoding from 'lib0/encoding';
import { afterEach, describe, expect, it } from 'vitest';
import * as syncProtocol from 'y-protocols/sync';
import * as Y from 'yjs';
import { deriveKey, open, seal } from '../../../src/transport/ywebrtc/crypto.ts';
import { GREETING, MESSAGE_SYNC } from '../../../src/transport/ywebrtc/protocol.ts';
import { createRoom, type Room } from '../../../src/transport/ywebrtc/room.ts';

const PASSWORD = 'connect-test';
const rooms: Room[] = [];
const channels: BroadcastChannel[] = [];
afterEach(() => {
  rooms.splice(0).forEach((r) => r.destroy());
  channels.splice(0).forEach((c) => c.close());
});

interface Seen {
  readonly type: number;
  readonly sync?: number;
  readonly greeting?: boolean;
  readonly bytes: number;
}

/** A tab of our own on the room's BroadcastChannel: what it hears, decrypted and classified. */
async function listen(name: string): Promise<{ seen: Seen[]; send(m: Uint8Array): Promise<void> }> {
  const key = await deriveKey(PASSWORD, name);
  const bc = new BroadcastChannel(name);
  channels.push(bc);
  const seen: Seen[] = [];
  bc.onmessage = async (ev: MessageEvent<Uint8Array>) => {
    const plain = await open(new Uint8Array(ev.data), key);
    if (!plain) throw new Error('the room sent something that does not decrypt');
    const d = decoding.createDecoder(plain);
    const type = decoding.readVarUint(d);
    if (type !== MESSAGE_SYNC) return void seen.push({ type, bytes: plain.byteLength });
    const sync = decoding.readVarUint(d);
    decoding.readVarUint8Array(d);
    seen.push({ type, sync, greeting: decoding.hasContent(d) && decoding.readVarString(d) === GREETING, bytes: plain.byteLength });
  };
  return { seen, send: async (m) => bc.postMessage(await seal(m, key)) };
}

const until = async (f: () => boolean): Promise<void> => {
  for (let i = 0; i < 200 && !f(); i++) await new Promise((r) => setTimeout(r, 10));
  expect(f()).toBe(true);
};

function bigDoc(): Y.Doc {
  const doc = new Y.Doc();
  doc.transact(() => {
    for (let i = 0; i < 2000; i++) doc.getMap('files').set(`f${i}`, { name: `IMG_${i}.jpg`, size: i });
  });
  return doc;
}

function step1(doc: Y.Doc, greeting: boolean): Uint8Array {
  const e = encoding.createEncoder();
  encoding.writeVarUint(e, MESSAGE_SYNC);
  syncProtocol.writeSyncStep1(e, doc);
  if (greeting) encoding.writeVarString(e, GREETING);
  return encoding.toUint8Array(e);
}

describe('our y-webrtc: connecting to the tabs', () => {
  it('sends a state vector and awareness, never the whole document (sync step 2)', async () => {
    const name = `connect-${crypto.randomUUID()}`;
    const tab = await listen(name);
    const doc = bigDoc();
    const whole = Y.encodeStateAsUpdate(doc).byteLength;
    const room = createRoom({ doc, name, password: PASSWORD, signaling: [], peerOpts: {}, hooks: { onChange: () => {}, onTabDrop: () => {}, onPeerUndecodable: () => {}, onSignalingDrop: () => {} } });
    rooms.push(room);
    await room.ready;
    // connect sends: the tab's peer id, sync step 1, an awareness query, this device's awareness
    await until(() => tab.seen.length >= 4);
    await new Promise((r) => setTimeout(r, 100)); // anything sent after them would show here
    expect(tab.seen.filter((m) => m.type === MESSAGE_SYNC && m.sync === syncProtocol.messageYjsSyncStep2)).toEqual([]);
    expect(tab.seen.filter((m) => m.type === MESSAGE_SYNC && m.sync === syncProtocol.messageYjsSyncStep1 && !m.greeting)).toHaveLength(1);
    expect(whole).toBeGreaterThan(20_000);
    expect(Math.max(...tab.seen.map((m) => m.bytes))).toBeLessThan(1000);

    // resync (disconnect + connect) and resume are connects: again no whole document
    tab.seen.length = 0;
    room.disconnect();
    room.connect();
    await until(() => tab.seen.some((m) => m.type === MESSAGE_SYNC));
    await new Promise((r) => setTimeout(r, 100));
    expect(tab.seen.filter((m) => m.sync === syncProtocol.messageYjsSyncStep2)).toEqual([]);
  });

  it("answers a connecting tab's step 1 with the difference and greets it; a greeting is answered, not greeted", async () => {
    const name = `greet-${crypto.randomUUID()}`;
    const tab = await listen(name);
    const doc = bigDoc();
    const room = createRoom({ doc, name, password: PASSWORD, signaling: [], peerOpts: {}, hooks: { onChange: () => {}, onTabDrop: () => {}, onPeerUndecodable: () => {}, onSignalingDrop: () => {} } });
    rooms.push(room);
    await room.ready;
    await until(() => tab.seen.length >= 4);
    tab.seen.length = 0;

    await tab.send(step1(new Y.Doc(), false)); // a new tab connecting
    await until(() => tab.seen.some((m) => m.greeting === true));
    expect(tab.seen.filter((m) => m.sync === syncProtocol.messageYjsSyncStep2)).toHaveLength(1);
    expect(tab.seen.filter((m) => m.greeting === true)).toHaveLength(1);

    tab.seen.length = 0;
    await tab.send(step1(new Y.Doc(), true)); // a greeting: answered with what it lacks only
    await until(() => tab.seen.some((m) => m.sync === syncProtocol.messageYjsSyncStep2));
    await new Promise((r) => setTimeout(r, 50));
    expect(tab.seen.filter((m) => m.greeting === true)).toEqual([]);
  });
});
