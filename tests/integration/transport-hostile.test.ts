// The real provider (y-webrtc underneath) in Node, fed garbage on the two paths Node can
// reach: the BroadcastChannel of its room and a hostile signaling server. Nothing may throw
// or reject unhandled (vitest fails the run on either, and we also collect them), everything
// is counted, and valid traffic still gets through. (The data-channel path needs WebRTC:
// tests/webrtc/transport.spec.ts.)
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import * as encoding from 'lib0/encoding';
import { WebSocketServer, WebSocket as NodeWebSocket } from 'ws';
import * as syncProtocol from 'y-protocols/sync';
import * as Y from 'yjs';
import { createTransport, type Transport, type TransportStatus } from '../../src/transport/webrtc.ts';

const PASSWORD = 'correct horse battery staple';
let transport: Transport | null = null;
let server: WebSocketServer | null = null;
const problems: unknown[] = [];

beforeAll(() => {
  // Node 20 has no global WebSocket; lib0's client (used by y-webrtc) needs one.
  (globalThis as { WebSocket?: unknown }).WebSocket ??= NodeWebSocket;
  process.on('unhandledRejection', (e) => problems.push(e));
  process.on('uncaughtException', (e) => problems.push(e));
});
afterEach(async () => {
  transport?.destroy();
  transport = null;
  await new Promise<void>((r) => (server ? server.close(() => r()) : r()));
  server = null;
});

const wait = (ms: number) => new Promise((r) => setTimeout(r, ms));
async function until(f: () => boolean, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!f() && Date.now() < end) await wait(10);
}
const roomId = () => `tabdrive-test-${Math.random().toString(36).slice(2)}`;

/** y-webrtc's own encryption (crypto.js), redone here so the test can speak as a tab would. */
async function keyFor(room: string): Promise<CryptoKey> {
  const material = await crypto.subtle.importKey('raw', new TextEncoder().encode(PASSWORD), 'PBKDF2', false, ['deriveKey']);
  return crypto.subtle.deriveKey({ name: 'PBKDF2', salt: new TextEncoder().encode(room), iterations: 100_000, hash: 'SHA-256' }, material, { name: 'AES-GCM', length: 256 }, true, ['encrypt', 'decrypt']);
}
async function seal(data: Uint8Array, key: CryptoKey): Promise<Uint8Array> {
  const iv = crypto.getRandomValues(new Uint8Array(12));
  const cipher = new Uint8Array(await crypto.subtle.encrypt({ name: 'AES-GCM', iv }, key, data as BufferSource));
  const e = encoding.createEncoder();
  encoding.writeVarString(e, 'AES-GCM');
  encoding.writeVarUint8Array(e, iv);
  encoding.writeVarUint8Array(e, cipher);
  return encoding.toUint8Array(e);
}
const aesFramedJunk = (): Uint8Array => {
  const e = encoding.createEncoder();
  encoding.writeVarString(e, 'AES-GCM');
  encoding.writeVarUint8Array(e, crypto.getRandomValues(new Uint8Array(12)));
  encoding.writeVarUint8Array(e, crypto.getRandomValues(new Uint8Array(40)));
  return encoding.toUint8Array(e);
};
const b64 = (b: Uint8Array) => Buffer.from(b).toString('base64');

describe('provider under hostile input (Node)', () => {
  it('drops and counts garbage on the BroadcastChannel, and still applies a valid tab message', async () => {
    const room = roomId();
    const doc = new Y.Doc();
    transport = createTransport({ doc, room, password: PASSWORD, signaling: [], self: { device: 'd1', name: 'Node' } });
    await wait(400); // key derivation (PBKDF2) + the guard installs itself
    const tab = new BroadcastChannel(room);
    const key = await keyFor(room);
    tab.postMessage(new Uint8Array([1, 2, 3])); // not framed
    tab.postMessage('a string');
    tab.postMessage(aesFramedJunk()); // framed, does not decrypt
    tab.postMessage(await seal(new Uint8Array([0, 99, 1, 2]), key)); // decrypts, unreadable sync message
    await until(() => transport!.counters().bcDropped >= 4);
    expect(transport.counters().bcDropped).toBe(4);

    const other = new Y.Doc();
    other.getMap('m').set('from-a-tab', 42);
    const e = encoding.createEncoder();
    encoding.writeVarUint(e, 0); // messageSync
    syncProtocol.writeUpdate(e, Y.encodeStateAsUpdate(other));
    tab.postMessage(await seal(encoding.toUint8Array(e), key));
    await until(() => doc.getMap('m').get('from-a-tab') === 42);
    expect(doc.getMap('m').get('from-a-tab')).toBe(42);
    expect(transport.counters().bcDropped).toBe(4);
    tab.close();
    await wait(50);
    expect(problems).toEqual([]);
  });

  it('drops and counts garbage from a hostile signaling server without breaking the provider', async () => {
    const room = roomId();
    const key = await keyFor(room);
    const validNotForUs = b64(await seal(encodeAny({ type: 'signal', from: 'peer-x', to: 'someone-else', token: 1, signal: { type: 'offer', sdp: 'v=0' } }), key));
    const badSignal = b64(await seal(encodeAny({ type: 'signal', from: 'peer-x', to: 'someone-else' }), key)); // no signal object
    const answerOutOfNowhere = async (to: string) => b64(await seal(encodeAny({ type: 'signal', from: 'ghost', to, signal: { type: 'answer', sdp: 'v=0' } }), key));
    server = new WebSocketServer({ host: '127.0.0.1', port: 0 });
    let served = false;
    const subscribed = new Promise<NodeWebSocket>((resolve) =>
      server!.on('connection', (ws) =>
        ws.on('message', (raw: Buffer) => {
          const m = JSON.parse(raw.toString()) as { type: string; topics?: string[] };
          if (m.type === 'subscribe' && m.topics?.includes(room) && !served) {
            served = true;
            resolve(ws);
          }
        }),
      ),
    );
    await new Promise((r) => server!.once('listening', r));
    const port = (server.address() as { port: number }).port;
    const doc = new Y.Doc();
    transport = createTransport({ doc, room, password: PASSWORD, signaling: [`ws://127.0.0.1:${port}`], self: { device: 'd1', name: 'Node' } });
    const ws = await subscribed;
    await wait(300);
    const peerId = transport.peerId()!;
    expect(peerId).toMatch(/^[0-9a-f-]{36}$/);
    const frames = [
      'not json at all',
      'null',
      '42',
      JSON.stringify({ type: 'publish', topic: room, data: 123 }),
      JSON.stringify({ type: 'publish', topic: room, data: '!!! not base64 !!!' }),
      JSON.stringify({ type: 'publish', topic: room, data: b64(crypto.getRandomValues(new Uint8Array(64))) }),
      JSON.stringify({ type: 'publish', topic: room, data: b64(aesFramedJunk()) }),
      JSON.stringify({ type: 'publish', topic: room, data: badSignal }),
      JSON.stringify({ type: 'publish', topic: room, data: await answerOutOfNowhere(peerId) }),
    ];
    for (const f of frames) ws.send(f);
    ws.send(JSON.stringify({ type: 'publish', topic: room, data: validNotForUs })); // well-formed: passes
    ws.send(JSON.stringify({ type: 'publish', topic: 'someone-elses-room', data: 'whatever' })); // not ours: ignored by y-webrtc
    // a valid announce from a peer whose id sorts before ours: we must not initiate (glare),
    // we announce ourselves instead, so that it initiates
    const published: { from: string }[] = [];
    ws.on('message', (raw: Buffer) => {
      const m = JSON.parse(raw.toString()) as { type: string; topic?: string; data?: string };
      if (m.type === 'publish' && m.topic === room && typeof m.data === 'string') published.push({ from: 'us' });
    });
    ws.send(JSON.stringify({ type: 'publish', topic: room, data: b64(await seal(encodeAny({ type: 'announce', from: '00000000-0000-4000-8000-000000000000' }), key)) }));
    await until(() => published.length > 0);
    expect(published.length).toBe(1);
    await until(() => transport!.counters().signalingDropped >= frames.length);
    await wait(200);
    expect(transport.counters().signalingDropped).toBe(frames.length);
    expect(problems).toEqual([]);
    // the provider is intact: it still answers its signaling connection and keeps its state
    expect(transport.status().state).toBe('connecting');
    transport.pause();
    expect(transport.status()).toEqual({ state: 'offline' });
    transport.resume();
    expect(transport.status().state).toBe('connecting');
  });

  it('reports status transitions: connecting → offline on pause → connecting on resume', async () => {
    const doc = new Y.Doc();
    transport = createTransport({ doc, room: roomId(), password: PASSWORD, signaling: [] });
    const seen: TransportStatus[] = [];
    transport.on('status', (s) => seen.push(s));
    await wait(300);
    transport.pause();
    transport.resume();
    expect(seen.map((s) => s.state)).toEqual(['offline', 'connecting']);
    expect(transport.connections()).toEqual([]);
  });
});

function encodeAny(v: unknown): Uint8Array {
  const e = encoding.createEncoder();
  encoding.writeAny(e, v as never);
  return encoding.toUint8Array(e);
}

