/**
 * Transport harness (bench/transport.html): one bare Y.Doc holding a Y.Map of file records,
 * carried either by our provider (src/transport/webrtc.ts: chunked data channels, guards) or
 * by raw y-webrtc — nothing else of the app (no storage, no engine), so what is measured is
 * the transport alone. Driven by the WebRTC specs (tests/webrtc/transport.spec.ts) and the
 * bench through `window.transportHarness`.
 *
 * Latency: the sender writes `{ i, at }` under one key, `at` = performance.timeOrigin + now()
 * (comparable across pages and browsers of one machine); the receiver's observer takes
 * `now − at` as the one-way time and answers under another key, which gives the round trip
 * too. Changes are sequential: the next ping leaves when the previous pong arrived.
 */
import { WebrtcProvider } from 'y-webrtc';
import * as Y from 'yjs';
import { FRAME_BYTES, injectInbound, newChannelStats, wrapChannel, type DataChannelLike } from '../src/transport/chunked-channel.ts';
import { createTransport, signalingSeen, type Transport, type TransportCounters, type TransportStatus, type ConnectionInfo } from '../src/transport/webrtc.ts';

export interface HarnessStart {
  readonly mode: 'ours' | 'raw';
  readonly room: string;
  readonly password?: string;
  readonly signaling: string[];
}

const wall = (): number => performance.timeOrigin + performance.now();
const hex = (n: number): string => Array.from(crypto.getRandomValues(new Uint8Array(n)), (b) => b.toString(16).padStart(2, '0')).join('');

/** A file record like the lab's: ~222 B of JSON. */
function record(i: number, parent: string): { id: string; name: string; size: number; ext: string; parent: string; ctime: number; mtime: number; atime: number } {
  return { id: crypto.randomUUID(), name: `IMG_${String(i).padStart(6, '0')}_${hex(4)}.jpg`, size: 1_000_000 + i, ext: 'jpg', parent, ctime: 1_700_000_000_000 + i, mtime: 1_700_000_100_000 + i, atime: 1_700_000_200_000 + i };
}

const doc = new Y.Doc();
const files = doc.getMap<unknown>('files');
const lat = doc.getMap<{ i: number; at: number }>('lat');
let transport: Transport | null = null;
let raw: WebrtcProvider | null = null;
let startedAt = 0;
let room = '';
const statusLog: (TransportStatus & { at: number })[] = [];
const rawSendErrors: string[] = [];
const oneWay: number[] = [];
const oneWayBack: number[] = [];
let echoing = false;
let pongWaiter: ((i: number) => void) | null = null;

lat.observe((ev, tr) => {
  if (tr.local) return;
  const now = wall();
  if (ev.keysChanged.has('ping')) {
    const p = lat.get('ping');
    if (p && echoing) {
      oneWay.push(now - p.at);
      lat.set('pong', { i: p.i, at: wall() });
    }
  }
  if (ev.keysChanged.has('pong')) {
    const p = lat.get('pong');
    if (p) {
      oneWayBack.push(now - p.at);
      pongWaiter?.(p.i);
    }
  }
});

let honestDeflated: Uint8Array | null = null;

const harness = {
  ready: true,

  /** Starts the provider (ours or raw) on the shared doc; times are measured from here. */
  start(o: HarnessStart): void {
    room = o.room;
    startedAt = performance.now();
    if (o.mode === 'ours') {
      transport = createTransport({ doc, room: o.room, password: o.password ?? 'harness', signaling: o.signaling, self: { device: crypto.randomUUID(), name: 'harness' } });
      transport.on('status', (s) => statusLog.push({ ...s, at: performance.now() - startedAt }));
      return;
    }
    // Raw y-webrtc, as its README shows it; a wrapper on send only RECORDS what y-webrtc
    // swallows (it rethrows, so behaviour is unchanged).
    const proto = RTCDataChannel.prototype as unknown as { send: (d: unknown) => void; __wrapped?: boolean };
    if (!proto.__wrapped) {
      const send = proto.send;
      proto.send = function (this: RTCDataChannel, d: unknown) {
        try {
          send.call(this, d);
        } catch (e) {
          rawSendErrors.push(e instanceof Error ? e.message : String(e));
          throw e;
        }
      };
      proto.__wrapped = true;
    }
    raw = new WebrtcProvider(o.room, doc, { signaling: o.signaling, ...(o.password ? { password: o.password } : {}), peerOpts: { config: { iceServers: [] } } });
  },

  /** Adds n records in ONE transaction (a big initial state or a big batch). */
  fill(n: number): { ms: number; updateBytes: number } {
    const t0 = performance.now();
    const parent = crypto.randomUUID();
    const base = files.size; // Y.Map#size walks the map: read it once, not per record
    doc.transact(() => {
      for (let i = 0; i < n; i++) {
        const r = record(base + i, parent);
        files.set(r.id, r);
      }
    });
    return { ms: performance.now() - t0, updateBytes: Y.encodeStateAsUpdate(doc).byteLength };
  },
  set(key: string, value: unknown): void {
    files.set(key, value);
  },
  get: (key: string): unknown => files.get(key) ?? null,
  size: (): number => files.size,
  docBytes: (): number => Y.encodeStateAsUpdate(doc).byteLength,

  /** ms from start() until the map holds ≥ n records; null after timeoutMs. */
  waitSize(n: number, timeoutMs: number): Promise<number | null> {
    return new Promise((resolve) => {
      const done = (): boolean => {
        if (files.size < n) return false;
        files.unobserve(check);
        clearTimeout(timer);
        resolve(performance.now() - startedAt);
        return true;
      };
      const check = (): void => void done();
      const timer = setTimeout(() => {
        files.unobserve(check);
        resolve(null);
      }, timeoutMs);
      files.observe(check);
      done();
    });
  },

  status: (): TransportStatus | null => transport?.status() ?? null,
  statusLog: (): (TransportStatus & { at: number })[] => statusLog.slice(),
  counters: (): TransportCounters | null => transport?.counters() ?? null,
  connections(): ConnectionInfo[] {
    if (transport) return transport.connections();
    const r = raw?.room;
    if (!r) return [];
    return [
      ...[...r.bcConns].map((peerId) => ({ peerId, path: 'tab' as const, connected: true, synced: true })),
      ...[...r.webrtcConns].map(([peerId, c]) => ({ peerId, path: 'webrtc' as const, connected: c.connected, synced: c.synced })),
    ];
  },
  rawSendErrors: (): string[] => rawSendErrors.slice(),
  /** raw: connected to a signaling server with the room open (announced); ours: room open */
  signalingReady(): boolean {
    if (transport) return transport.peerId() !== null;
    const p = raw as unknown as { room: unknown; signalingConns: { connected: boolean }[] } | null;
    return !!p?.room && (p.signalingConns.length === 0 || p.signalingConns.some((c) => c.connected));
  },
  signalingSeen: (): { frames: number; forwarded: number } => ({ ...signalingSeen }),
  pause(): void {
    if (transport) transport.pause();
    else raw?.disconnect();
  },
  resume(): void {
    if (transport) transport.resume();
    else raw?.connect();
  },

  /** Hostile input: frames straight into every open (chunked) data channel of this page. */
  injectDataChannel(frames: number[][]): number {
    let n = 0;
    for (const f of frames) n = injectInbound(new Uint8Array(f));
    return n;
  },
  /** Hostile input: messages on the room's BroadcastChannel, as another tab could post. */
  postBroadcast(messages: (number[] | string)[]): void {
    const ch = new BroadcastChannel(room);
    for (const m of messages) ch.postMessage(typeof m === 'string' ? m : new Uint8Array(m));
    ch.close();
  },

  /** Receiver side of the latency probe: record one-way times and answer every ping. */
  echo(on: boolean): void {
    echoing = on;
  },
  /** Sender side: n sequential ping → pong changes; round trips in ms. */
  async pingPong(n: number, timeoutMs = 5000): Promise<number[]> {
    const rtt: number[] = [];
    oneWayBack.length = 0;
    for (let i = 0; i < n; i++) {
      const at = wall();
      const back = new Promise<boolean>((resolve) => {
        const t = setTimeout(() => resolve(false), timeoutMs);
        pongWaiter = (j) => {
          if (j !== i) return;
          clearTimeout(t);
          resolve(true);
        };
      });
      lat.set('ping', { i, at });
      if (!(await back)) throw new Error(`pong ${i} did not come back within ${timeoutMs} ms`);
      rtt.push(wall() - at);
    }
    pongWaiter = null;
    return rtt;
  },
  oneWay: (): number[] => oneWay.slice(),
  oneWayBack: (): number[] => oneWayBack.slice(),

  stop(): void {
    transport?.destroy();
    raw?.destroy();
    transport = null;
    raw = null;
  },

  /**
   * Hands `copies` deflated bombs (`bomb`, base64; framed here as a peer would send them) to
   * one chunked channel over a fake real channel, then an honest 2 MiB deflated message, and
   * waits for that message: what the hostile e2e test measures the renderer's memory around.
   */
  async inflateBombs(bomb64: string, copies: number): Promise<{ dropped: number; delivered: number[]; lastError: string | null; ms: number }> {
    const bomb = Uint8Array.from(atob(bomb64), (c) => c.charCodeAt(0));
    // sync-document-like text: deflates well, but within MAX_INFLATE_RATIO (what a sender
    // deflates); made once, so that a second call measures the bombs, not this
    honestDeflated ??= await (async () => {
      const honest = new TextEncoder().encode(Array.from({ length: 262_500 }, (_, i) => `"entry:${(i * 7919) % 100000}",`).join('')).slice(0, 2_100_000);
      return new Uint8Array(await new Response(new Blob([honest]).stream().pipeThrough(new CompressionStream('deflate-raw'))).arrayBuffer());
    })();
    const deflated = honestDeflated;
    const stats = newChannelStats();
    const real: DataChannelLike = {
      binaryType: 'arraybuffer', bufferedAmount: 0, bufferedAmountLowThreshold: 0, label: 'bombs', readyState: 'open',
      onmessage: null, onbufferedamountlow: null, onopen: null, onclose: null, onerror: null,
      send: () => undefined, close: () => undefined,
    };
    const channel = wrapChannel(real, { stats });
    const delivered: number[] = [];
    channel.onmessage = (ev) => delivered.push((ev.data as ArrayBuffer).byteLength);
    const framesOf = (id: number, payload: Uint8Array): Uint8Array[] => {
      const per = FRAME_BYTES - 17;
      const count = Math.ceil(payload.byteLength / per);
      return Array.from({ length: count }, (_, i) => {
        const part = payload.subarray(i * per, (i + 1) * per);
        const f = new Uint8Array(17 + part.byteLength);
        const v = new DataView(f.buffer);
        v.setUint8(0, 2);
        v.setUint32(1, id);
        v.setUint32(5, i);
        v.setUint32(9, count);
        v.setUint32(13, payload.byteLength);
        f.set(part, 17);
        return f;
      });
    };
    const t0 = performance.now();
    for (let id = 1; id <= copies; id++) for (const f of framesOf(id, bomb)) real.onmessage?.({ data: f.buffer });
    for (const f of framesOf(copies + 1, deflated)) real.onmessage?.({ data: f.buffer });
    while (delivered.length === 0 && performance.now() - t0 < 60_000) await new Promise((r) => setTimeout(r, 10));
    return { dropped: stats.dropped, delivered, lastError: stats.lastError, ms: performance.now() - t0 };
  },
};

declare global {
  interface Window {
    transportHarness: typeof harness;
  }
}
window.transportHarness = harness;
