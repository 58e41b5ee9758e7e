/**
 * The library's provider: y-webrtc carries the sync document to the other tabs of this
 * browser (BroadcastChannel) and to other browsers (WebRTC through our signaling server).
 * Presence rides Yjs awareness: each device publishes who it is, so the UI can list peers
 * with the path they use.
 *
 * Invariants:
 *  - every WebRTC data channel is chunked (chunked-channel.ts): no message of any size is lost
 *    to Chromium's 256 KiB max-message-size, and a failed send is counted and reported;
 *  - nothing a peer, a tab or the signaling server sends can throw inside y-webrtc's handlers:
 *    BroadcastChannel messages, signaling publications and data-channel messages are each
 *    checked (or their handler guarded) before y-webrtc sees them; what fails is dropped and
 *    counted (`counters()`);
 *  - a tab ignores its own BroadcastChannel publications (lib0 loops them back; y-webrtc would
 *    re-apply its own updates and answer its own sync step 1 with the whole document);
 *  - of two browsers, only the one with the smaller y-webrtc peer id initiates the WebRTC
 *    connection (y-webrtc's glare handling can otherwise leave both sides stuck);
 *  - a peer's update is relayed (that relay carries changes across peers that are not
 *    directly connected) but never back where it came from: one from the BroadcastChannel
 *    goes to WebRTC peers only, one from a WebRTC peer to the tabs and the OTHER WebRTC peers
 *    (y-webrtc sent a fresh browser's whole backfill straight back to its sender, and a new
 *    tab's to every tab);
 *  - connecting does not broadcast the whole document to the tabs (build patch): the tabs
 *    answer a connecting tab's sync step 1 and greet it with their own (marked), so each
 *    side sends only what the other lacks;
 *  - a WebRTC peer gets (most of) the whole document at most once per 20 s, and all peers
 *    together at most 4 times (full-sync-limit.ts): asking with an empty state vector is cheap;
 *  - `signaling: []` means tabs only: y-webrtc is never left to its public default servers;
 *  - ICE servers default to none (local candidates only): no traffic to third parties.
 */
import * as bc from 'lib0/broadcastchannel';
import * as decoding from 'lib0/decoding';
import * as encoding from 'lib0/encoding';
import { WebrtcProvider } from 'y-webrtc';
import * as syncProtocol from 'y-protocols/sync';
import type * as Y from 'yjs';
import type { PeerSyncState } from '../sync/anti-entropy.ts';
import { isMarks, type Marks } from '../core/stream.ts';
import { createFullSyncLimiter } from './full-sync-limit.ts';
import { chunkedWrtc, deliveringChannel, newChannelStats, type ChannelStats, type ChunkedHooks, type SendFailure, type WrtcImpl } from './chunked-channel.ts';

export const DEFAULT_SIGNALING: readonly string[] = ['ws://127.0.0.1:4444'];

export type TransportState = 'offline' | 'connecting' | 'syncing' | 'backfilling' | 'ready';

export interface TransportStatus {
  readonly state: TransportState;
  /** 0..1, while a large inbound message (a backfill, a big batch) is arriving */
  readonly progress?: number;
}

/** One y-webrtc connection, whether or not its device published presence yet. */
export interface ConnectionInfo {
  readonly peerId: string;
  readonly path: 'tab' | 'webrtc';
  readonly connected: boolean;
  /**
   * WebRTC: the peer's sync step 2 was applied. Tabs: y-webrtc keeps no per-tab state (every
   * BroadcastChannel message reaches every tab, unchunked, in order), so a tab is synced as
   * soon as it is connected.
   */
  readonly synced: boolean;
  /** WebRTC: `connectionState/iceConnectionState/signalingState` of the peer connection (diagnostics) */
  readonly ice?: string;
}

export interface PeerInfo {
  readonly device: string;
  readonly name: string;
  readonly path: 'tab' | 'webrtc';
  readonly connected: boolean;
  readonly synced: boolean;
  /** the schema version the peer's build knows (null: it did not say — an older build) */
  readonly schema: number | null;
}

export interface TransportCounters {
  readonly bytesSent: number;
  readonly bytesReceived: number;
  readonly framesSent: number;
  readonly framesReceived: number;
  readonly messagesSent: number;
  readonly messagesReceived: number;
  /** malformed data-channel frames dropped by the chunk layer */
  readonly framesDropped: number;
  /** whole messages (data channel or BroadcastChannel) y-webrtc could not read */
  readonly undecodable: number;
  readonly sendFailures: number;
  readonly bcBytesReceived: number;
  /** BroadcastChannel messages dropped (not AES-GCM framed, undecryptable, unreadable) */
  readonly bcDropped: number;
  /** signaling frames for our room dropped (not JSON, undecryptable, malformed) */
  readonly signalingDropped: number;
  /** WebRTC sync step 1s asking for most of the document again too soon (full-sync-limit.ts) */
  readonly fullSyncRefused: number;
  readonly lastError: string | null;
}

export interface TransportOptions {
  readonly doc: Y.Doc;
  readonly room: string;
  readonly password: string;
  /** signaling URLs; [] = tabs of this browser only. Default: DEFAULT_SIGNALING */
  readonly signaling?: readonly string[];
  /** presence published over awareness; without it the device is anonymous (benches) */
  readonly self?: { readonly device: string; readonly name: string; readonly schema?: number };
  /** simple-peer options; `config` defaults to `{ iceServers: [] }`; `wrtc` is the base the chunking wraps */
  readonly peerOpts?: { readonly config?: RTCConfiguration; readonly wrtc?: WrtcImpl; readonly [k: string]: unknown };
  /** y-webrtc: do not open WebRTC to peers already reachable over BroadcastChannel (default true) */
  readonly filterBcConns?: boolean;
  /** the owned-state stream's side of every data channel (stream-net.ts `createDataChannelNet`) */
  readonly streamHooks?: Pick<ChunkedHooks, 'onStreamChannel' | 'onStream'>;
}

export interface Transport {
  peers(): PeerInfo[];
  connections(): ConnectionInfo[];
  /** this device's y-webrtc peer id (null until the room key is derived) */
  peerId(): string | null;
  /** data-channel counters, including the progress of a large inbound message (backfill) */
  readonly channel: ChannelStats;
  counters(): TransportCounters;
  status(): TransportStatus;
  on(event: 'status', cb: (s: TransportStatus) => void): () => void;
  on(event: 'send-failure', cb: (f: SendFailure) => void): () => void;
  onPeers(cb: () => void): () => void;
  setName(name: string): void;
  /** publish this device's sync state (digest, busy) to its peers */
  publishSync(state: { digest: string; busy: boolean }): void;
  /** the sync state every connected peer published */
  peerSync(): PeerSyncState[];
  /** publish this device's watermark vector (the owned-state stream) */
  publishMarks(marks: Marks): void;
  /** the watermark vectors of the peers this device is connected to */
  peerMarks(): { device: string; marks: Marks }[];
  /** re-run the sync handshake (step 1/2) with every peer */
  resync(): void;
  /** test hook, test build only: drop every inbound BroadcastChannel message for `ms` (a lossy moment) */
  dropInboundFor?(ms: number): void;
  pause(): void;
  resume(): void;
  readonly paused: boolean;
  destroy(): void;
}

/** y-webrtc frames encrypted messages as varString('AES-GCM') · varBytes(iv) · varBytes(cipher). */
const AES_GCM = Array.from(new TextEncoder().encode('AES-GCM'));
/** y-webrtc's message type for sync messages, and y-protocols' sync message type for an update */
const MESSAGE_SYNC = 0;
const MESSAGE_YJS_UPDATE = 2;
/** Appended to the sync step 1 of a greeting (y-protocols ignores what follows a step 1), so
 *  that a tab can tell a greeting from the step 1 a tab sends when it connects. */
const GREETING = 'tabdrive:greeting';
/** Larger BroadcastChannel messages are not peeked at: a sync step 1 is a state vector. */
const PEEK_MAX_BYTES = 4096;

interface AwarenessState {
  device?: { uuid?: unknown; name?: unknown; peer?: unknown; schema?: unknown };
  sync?: { digest?: unknown; busy?: unknown };
  wm?: unknown;
}

/** What we touch of y-webrtc's Room (not in its type declarations, or typed loosely). */
interface RoomLike {
  readonly name: string;
  readonly peerId: string;
  readonly key: CryptoKey | null;
  readonly bcConns: Set<string>;
  readonly webrtcConns: Map<string, { connected: boolean; synced: boolean; peer?: { _pc?: RTCPeerConnection | null; _channel?: unknown; send?: (m: Uint8Array) => void } }>;
  readonly bcconnected: boolean;
  /** y-webrtc reads BroadcastChannel messages inside this mutex (and nothing else it applies) */
  readonly mux: (f: () => void, g?: () => void) => void;
  _bcSubscriber: (d: unknown) => PromiseLike<unknown>;
  _docUpdateHandler: (update: Uint8Array, origin: unknown) => void;
}

function asBytes(data: unknown): Uint8Array | null {
  if (data instanceof ArrayBuffer) return new Uint8Array(data);
  if (ArrayBuffer.isView(data)) return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  return null;
}

/** Cheap structural check of y-webrtc's encryption framing (before any crypto). */
function isAesGcmFramed(bytes: Uint8Array): boolean {
  return bytes.byteLength >= 8 + 12 && bytes[0] === AES_GCM.length && AES_GCM.every((c, i) => bytes[i + 1] === c);
}

async function decryptFramed(bytes: Uint8Array, key: CryptoKey): Promise<Uint8Array> {
  const d = decoding.createDecoder(bytes);
  if (decoding.readVarString(d) !== 'AES-GCM') throw new Error('not AES-GCM');
  const iv = decoding.readVarUint8Array(d);
  const cipher = decoding.readVarUint8Array(d);
  return new Uint8Array(await crypto.subtle.decrypt({ name: 'AES-GCM', iv: iv as BufferSource }, key, cipher as BufferSource));
}

// ── signaling guard ──────────────────────────────────────────────────────────────────────
// y-webrtc's SignalingConn is shared by every provider using the same URL (module-level in
// y-webrtc), so the guard is installed once per connection and consults a registry of OUR
// rooms; publications to rooms it does not know (a raw provider in a bench) pass unchanged.

interface GuardedRoom {
  readonly key: PromiseLike<CryptoKey | null>;
  readonly room: () => RoomLike | null;
  readonly drop: (why: string) => void;
}
const ourRooms = new Map<string, GuardedRoom>();
/** signaling frames seen / passed to y-webrtc, all connections of this page (diagnostics) */
export const signalingSeen = { frames: 0, forwarded: 0 };

type Handler = (...args: unknown[]) => void;
interface SignalingConnLike {
  ws: WebSocket | null;
  send(message: unknown): void;
  _observers: Map<string, Set<Handler>>;
}
const guardedConns = new WeakSet<object>();

function validSignal(data: unknown, room: RoomLike | null): boolean {
  if (typeof data !== 'object' || data === null) return false;
  const m = data as { type?: unknown; from?: unknown; to?: unknown; signal?: unknown };
  if (typeof m.from !== 'string' || (m.to !== undefined && typeof m.to !== 'string')) return false;
  if (m.type === 'announce') return true;
  if (m.type !== 'signal' || typeof m.signal !== 'object' || m.signal === null) return false;
  // y-webrtc dereferences the existing connection of an 'answer' without checking it exists
  const type = (m.signal as { type?: unknown }).type;
  if (type === 'answer' && m.to === room?.peerId && !room?.webrtcConns.has(m.from)) return false;
  return true;
}

/**
 * Checks one publication to our room. Returns why it is dropped, 'reannounce' for an
 * announce this side must not answer by initiating (see below), or null to pass it on.
 */
async function checkPublication(m: { topic: string; data?: unknown }, g: GuardedRoom): Promise<string | null> {
  const key = await g.key;
  if (!key) return null; // an unencrypted room: y-webrtc reads plain data; nothing to check
  if (typeof m.data !== 'string') return 'data is not a string';
  let bytes: Uint8Array;
  try {
    bytes = Uint8Array.from(atob(m.data), (c) => c.charCodeAt(0));
  } catch {
    return 'data is not base64';
  }
  if (!isAesGcmFramed(bytes)) return 'not AES-GCM framed';
  let plain: Uint8Array;
  try {
    plain = await decryptFramed(bytes, key);
  } catch {
    return 'does not decrypt with the room key';
  }
  let value: unknown;
  try {
    value = decoding.readAny(decoding.createDecoder(plain));
  } catch {
    return 'unreadable';
  }
  const room = g.room();
  if (!validSignal(value, room)) return 'malformed signal';
  // Glare: y-webrtc makes BOTH sides initiators when two peers announce at about the same
  // time (two devices starting together, or one whose main thread was busy), and its token
  // tie-break can leave one side with a dead offer forever (seen in the two-browser test:
  // B stuck in have-local-offer, A with no connection). So only the side with the SMALLER
  // peer id initiates: the larger one drops the announce and announces itself instead,
  // which makes the smaller one initiate.
  const v = value as { type: string; from: string };
  if (v.type === 'announce' && room && room.peerId > v.from && !room.webrtcConns.has(v.from)) return 'reannounce';
  return null;
}

/** y-webrtc's encryption framing (its crypto.js): varString('AES-GCM') · varBytes(iv) · varBytes(cipher). */
async function sealFramed(plain: Uint8Array, key: CryptoKey): Promise<Uint8Array> {
  const iv = crypto.getRandomValues(new Uint8Array(12));
  const cipher = new Uint8Array(await crypto.subtle.encrypt({ name: 'AES-GCM', iv }, key, plain as Uint8Array<ArrayBuffer>));
  const e = encoding.createEncoder();
  encoding.writeVarString(e, 'AES-GCM');
  encoding.writeVarUint8Array(e, iv);
  encoding.writeVarUint8Array(e, cipher);
  return encoding.toUint8Array(e);
}

/** The inverse of sealFramed; null if `framed` is not such a message or does not decrypt. */
async function openFramed(framed: Uint8Array, key: CryptoKey): Promise<Uint8Array | null> {
  try {
    const d = decoding.createDecoder(framed);
    if (decoding.readVarString(d) !== 'AES-GCM') return null;
    const iv = decoding.readVarUint8Array(d);
    const cipher = decoding.readVarUint8Array(d);
    return new Uint8Array(await crypto.subtle.decrypt({ name: 'AES-GCM', iv: iv as Uint8Array<ArrayBuffer> }, key, cipher as Uint8Array<ArrayBuffer>));
  } catch {
    return null;
  }
}

/** Whether a plain message from a tab is the sync step 1 a tab sends when it connects (a
 *  greeting is a step 1 followed by GREETING). */
function isConnectStep1(plain: Uint8Array): boolean {
  try {
    const d = decoding.createDecoder(plain);
    if (decoding.readVarUint(d) !== MESSAGE_SYNC || decoding.readVarUint(d) !== syncProtocol.messageYjsSyncStep1) return false;
    decoding.readVarUint8Array(d); // the state vector
    return !decoding.hasContent(d);
  } catch {
    return false;
  }
}

async function sealJson(value: unknown, key: CryptoKey): Promise<string> {
  const inner = encoding.createEncoder();
  encoding.writeAny(inner, value as never);
  let s = '';
  for (const b of await sealFramed(encoding.toUint8Array(inner), key)) s += String.fromCharCode(b);
  return btoa(s);
}

function guardSignalingConn(conn: SignalingConnLike): void {
  if (guardedConns.has(conn)) return;
  guardedConns.add(conn);
  const dropUnknown = (): void => {
    // A frame we cannot attribute to a room (not JSON, no type): count it on every room.
    for (const g of ourRooms.values()) g.drop('signaling frame is not JSON');
  };
  // 1. lib0's WebsocketClient JSON.parses every text frame without a try: wrap onmessage of
  //    each WebSocket it creates (the current one, and those of later reconnects).
  const wrapSocket = (ws: WebSocket | null): void => {
    if (!ws) return;
    let inner: ((ev: MessageEvent) => void) | null = null;
    const outer = (ev: MessageEvent): void => {
      signalingSeen.frames++;
      if (typeof ev.data === 'string') {
        try {
          JSON.parse(ev.data);
        } catch {
          return dropUnknown();
        }
      }
      inner?.(ev);
    };
    const current = ws.onmessage as ((ev: MessageEvent) => void) | null;
    // clear the IDL handler first, or the message would reach lib0 twice
    ws.onmessage = null;
    Object.defineProperty(ws, 'onmessage', {
      configurable: true,
      get: () => inner,
      set: (fn: ((ev: MessageEvent) => void) | null) => {
        inner = fn;
      },
    });
    inner = current;
    ws.addEventListener('message', outer);
  };
  let socket = conn.ws;
  wrapSocket(socket);
  Object.defineProperty(conn, 'ws', {
    configurable: true,
    get: () => socket,
    set: (ws: WebSocket | null) => {
      socket = ws;
      wrapSocket(ws);
    },
  });
  // 2. y-webrtc's 'message' handler: only well-formed publications to our rooms that decrypt
  //    with the room key reach it, in arrival order.
  const handlers = conn._observers.get('message');
  if (!handlers) return;
  const originals = [...handlers];
  handlers.clear();
  let chain: Promise<void> = Promise.resolve();
  const forward = (args: unknown[]): void => {
    signalingSeen.forwarded++;
    for (const h of originals) {
      try {
        h(...args);
      } catch {
        dropUnknown();
      }
    }
  };
  handlers.add((...args: unknown[]) => {
    const m = args[0];
    if (typeof m !== 'object' || m === null || typeof (m as { type?: unknown }).type !== 'string') return dropUnknown();
    const pub = m as { type: string; topic?: unknown; data?: unknown };
    const g = pub.type === 'publish' && typeof pub.topic === 'string' ? ourRooms.get(pub.topic) : undefined;
    if (!g) {
      chain = chain.then(() => forward(args));
      return;
    }
    const topic = pub.topic as string;
    chain = chain.then(async () => {
      const why = await checkPublication(pub as { topic: string; data?: unknown }, g);
      if (why === 'reannounce') {
        const key = await g.key;
        const room = g.room();
        if (key && room) conn.send({ type: 'publish', topic, data: await sealJson({ type: 'announce', from: room.peerId }, key) });
      } else if (why) g.drop(why);
      else forward(args);
    });
  });
}

export function createTransport(o: TransportOptions): Transport {
  const channel = newChannelStats();
  const extra = { bcBytesReceived: 0, bcDropped: 0, signalingDropped: 0 };
  const listeners = new Set<() => void>();
  const statusListeners = new Set<(s: TransportStatus) => void>();
  const failureListeners = new Set<(f: SendFailure) => void>();
  let paused = false;
  let destroyed = false;
  let lastStatus: TransportStatus = { state: 'connecting' };
  // A WebRTC peer gets the whole document at most once per 20 s (full-sync-limit.ts).
  const fullSync = createFullSyncLimiter({ doc: o.doc, now: () => Date.now() });
  const peerOfChannel = (ch: unknown): string => {
    for (const [peerId, c] of room()?.webrtcConns ?? []) if (c.peer?._channel === ch) return peerId;
    return 'unknown';
  };

  const notify = (): void => {
    listeners.forEach((l) => l());
    emitStatus();
  };
  const { wrtc: baseWrtc, config, ...restPeerOpts } = o.peerOpts ?? {};
  const base = baseWrtc ?? (typeof RTCPeerConnection === 'undefined' ? undefined : { RTCPeerConnection, RTCSessionDescription, RTCIceCandidate });
  const provider = new WebrtcProvider(o.room, o.doc, {
    signaling: [...(o.signaling ?? DEFAULT_SIGNALING)],
    password: o.password,
    filterBcConns: o.filterBcConns ?? true,
    // The seam: simple-peer gets RTCPeerConnections whose data channels chunk and pace
    // every message, so documents of any size reach other browsers.
    peerOpts: {
      ...restPeerOpts,
      ...(base
        ? {
            wrtc: chunkedWrtc(
              {
                stats: channel,
                onChange: notify,
                onChannel: notify,
                onSendFailure: (f) => failureListeners.forEach((l) => l(f)),
                compress: true,
                ...o.streamHooks,
                admit: (m, ch) => fullSync.admit(m, peerOfChannel(ch)),
              },
              base,
            ),
          }
        : {}),
      config: config ?? { iceServers: [] },
    },
  });
  const room = (): RoomLike | null => provider.room as unknown as RoomLike | null;
  ourRooms.set(o.room, {
    key: provider.key,
    room,
    drop: (why) => {
      extra.signalingDropped++;
      channel.lastError = `signaling: ${why}`;
      notify();
    },
  });
  const guardSignaling = (): void => {
    for (const conn of (provider as unknown as { signalingConns: SignalingConnLike[] }).signalingConns) guardSignalingConn(conn);
  };
  guardSignaling();

  const awareness = provider.awareness;
  let name = o.self?.name ?? '';
  let dropUntil = 0;
  let greeting: ReturnType<typeof setTimeout> | null = null; // see greetTabs
  /**
   * y-webrtc's disconnect removes this device's awareness state (so the others show it offline)
   * and its connect broadcasts whatever state is left — none: after a resync or a resume the
   * device stayed invisible to every peer until reloaded. The state is put back before connecting.
   */
  let awarenessState: Record<string, unknown> | null = null;
  const disconnect = (): void => {
    awarenessState = awareness.getLocalState() ?? awarenessState;
    provider.disconnect();
  };
  const connect = (): void => {
    if (awarenessState && awareness.getLocalState() === null) awareness.setLocalState(awarenessState);
    provider.connect();
  };
  // Each device publishes its y-webrtc peer id, so the others can tell whether they reach it
  // over BroadcastChannel (a tab of the same browser) or a WebRTC connection.
  const publish = (): void => {
    if (o.self) awareness.setLocalStateField('device', { uuid: o.self.device, name, peer: room()?.peerId ?? null, schema: o.self.schema ?? null });
  };
  publish();
  void provider.key.then(() =>
    setTimeout(() => {
      if (destroyed) return;
      publish();
      guardBroadcastChannel();
      narrowRelay();
      notify();
    }, 0),
  );
  /**
   * y-webrtc decrypts and reads every BroadcastChannel message without a guard: garbage
   * throws (or rejects) inside its handler. Re-subscribe it behind one that drops and counts.
   */
  const guardBroadcastChannel = (): void => {
    const r = room();
    if (!r) return;
    const original = r._bcSubscriber;
    const guarded = (data: unknown, origin?: unknown): PromiseLike<unknown> => {
      // lib0 hands every publish to this tab's own subscribers as well (origin null; other
      // tabs' messages come with origin 'broadcastchannel'). y-webrtc would decrypt and apply
      // its own updates again, and answer its own sync step 1 with a step 2 of the WHOLE
      // document to every tab — at each connect and resync. Our own messages are skipped.
      if (origin !== 'broadcastchannel') return Promise.resolve(undefined);
      const dropped = (e?: unknown): undefined => {
        channel.dropped++;
        channel.undecodable++;
        extra.bcDropped++;
        channel.lastError = `broadcast channel: ${e instanceof Error ? e.message : 'not an AES-GCM message'}`;
        notify();
        return undefined;
      };
      if (Date.now() < dropUntil) return Promise.resolve(undefined);
      // y-webrtc's decrypt creates an orphaned rejected promise for an unknown algorithm
      // (it forgets to return it), so reject anything not framed as an AES-GCM message first.
      const bytes = asBytes(data);
      if (!bytes || !isAesGcmFramed(bytes)) return Promise.resolve(dropped());
      extra.bcBytesReceived += bytes.byteLength;
      // a sync step 1 is small: read it (y-webrtc decrypts it again) to see whether to greet
      const key = r.key;
      if (key && bytes.byteLength <= PEEK_MAX_BYTES)
        void openFramed(bytes, key).then((plain) => {
          if (plain && isConnectStep1(plain)) greetSoon();
        });
      try {
        return Promise.resolve(original(data)).then(undefined, dropped);
      } catch (e) {
        return Promise.resolve(dropped(e));
      }
    };
    // Subscribe the guard BEFORE removing the original: lib0 closes a BroadcastChannel whose
    // last subscriber leaves, and messages already queued on it (the first sync!) would be lost.
    r._bcSubscriber = guarded;
    if (!paused) bc.subscribe(r.name, guarded);
    bc.unsubscribe(r.name, original);
  };

  /**
   * y-webrtc relays every update it applies to every peer, the BroadcastChannel included. An
   * update that came in over the BroadcastChannel already reached every tab of this browser,
   * so it is relayed to WebRTC peers only: without this a new tab sent its whole backfill
   * (38 MB at 100k entries) back to every tab, each of which decrypted and decoded it again.
   * One that came from a WebRTC peer goes to the tabs and the other WebRTC peers, not back to
   * that peer (a fresh browser used to return its whole backfill to the sender).
   * y-webrtc applies what peers send with the room as origin, and BroadcastChannel messages
   * inside `room.mux` (WebRTC ones outside it): "origin is the room and the mutex is held"
   * means "this update came over the BroadcastChannel". The origin matters: a local write made
   * by an observer of such an update runs inside the mutex too, and must reach every tab.
   */
  const narrowRelay = (): void => {
    const r = room();
    if (!r) return;
    const relayAll = r._docUpdateHandler;
    const relay = (update: Uint8Array, origin: unknown): void => {
      if (origin !== r) return relayAll(update, origin); // this device's own
      let fromTab = true;
      r.mux(() => {
        fromTab = false;
      });
      const from = fromTab ? null : deliveringChannel();
      if (!fromTab && (!from || !r.key)) return relayAll(update, origin); // source unknown: y-webrtc's way
      // Nobody to relay to (a browser's only tab): a 100k backfill was encoded again and
      // encrypted for the BroadcastChannel for nobody, 0.6 s of the main thread. A tab that
      // connects later asks for what it lacks (its connect's sync step 1 and its greeting).
      const toTabs = !fromTab && r.bcConns.size > 0;
      const peers = [...r.webrtcConns.values()].filter((c) => !(from && c.peer?._channel === from));
      if (!toTabs && peers.length === 0) return;
      const encoder = encoding.createEncoder();
      encoding.writeVarUint(encoder, MESSAGE_SYNC);
      encoding.writeVarUint(encoder, MESSAGE_YJS_UPDATE);
      encoding.writeVarUint8Array(encoder, update);
      const m = encoding.toUint8Array(encoder);
      if (toTabs) broadcastTabs(m);
      for (const c of peers) {
        try {
          c.peer?.send?.(m);
        } catch {
          /* as y-webrtc: a closing connection; its sync step on reconnect covers it */
        }
      }
    };
    // connect() subscribes `_docUpdateHandler` and disconnect() unsubscribes it: swap in place
    r._docUpdateHandler = relay;
    if (r.bcconnected) {
      o.doc.off('update', relayAll);
      o.doc.on('update', relay);
    }
  };

  /**
   * Tabs learn each other's state with sync step 1 / step 2. A connecting tab sends its step 1
   * (y-webrtc's connect) and every tab already there answers with what the newcomer lacks. The
   * newcomer's own state reaches them because each of them, seeing a connect's step 1, greets
   * it with a step 1 of its own, marked GREETING; the newcomer answers with exactly the
   * difference. y-webrtc instead had every connecting tab broadcast its whole document
   * (removed at build time: build/ywebrtc-connect-state.ts).
   *
   * Only a connect's step 1 is greeted, never a greeting: a newcomer that greeted the tabs it
   * met, with a new tab's empty state vector, had each of them send it the whole document once
   * more per tab it met (6 copies with two tabs open; 30 MB each at 100k entries). Two tabs
   * connecting at once each see the other's connect and greet it: both directions are covered
   * whichever subscribed first. Resyncs and resumes are connects, and greeted the same way.
   */
  function greetSoon(): void {
    greeting ??= setTimeout(greetTabs, 0); // one greeting for a burst of connects
  }
  function greetTabs(): void {
    greeting = null;
    const r = room();
    if (!r?.key || paused || destroyed) return;
    const encoder = encoding.createEncoder();
    encoding.writeVarUint(encoder, MESSAGE_SYNC);
    syncProtocol.writeSyncStep1(encoder, o.doc);
    encoding.writeVarString(encoder, GREETING);
    broadcastTabs(encoding.toUint8Array(encoder));
  }

  /** A y-webrtc message to every other tab, encrypted as y-webrtc does (room key). */
  function broadcastTabs(m: Uint8Array): void {
    const r = room();
    if (!r?.key || !r.bcconnected) return;
    void sealFramed(m, r.key)
      .then((sealed) => {
        if (!paused && !destroyed) bc.publish(r.name, sealed);
      })
      .catch(() => undefined); // a tab closing under us: its next connect syncs again
  }

  const connections = (): ConnectionInfo[] => {
    const r = room();
    if (!r || paused) return [];
    const out: ConnectionInfo[] = [];
    for (const peerId of r.bcConns) out.push({ peerId, path: 'tab', connected: true, synced: true });
    for (const [peerId, c] of r.webrtcConns) {
      if (r.bcConns.has(peerId)) continue;
      const pc = c.peer?._pc;
      out.push({ peerId, path: 'webrtc', connected: c.connected, synced: c.synced, ...(pc ? { ice: `${pc.connectionState}/${pc.iceConnectionState}/${pc.signalingState}` } : {}) });
    }
    return out;
  };

  const computeStatus = (): TransportStatus => {
    if (paused || destroyed) return { state: 'offline' };
    const conns = connections().filter((c) => c.connected);
    const inbound = channel.inbound;
    const unsynced = conns.some((c) => !c.synced);
    if (inbound && inbound.total > 0) return { state: unsynced ? 'backfilling' : 'syncing', progress: inbound.received / inbound.total };
    if (conns.length === 0) return { state: 'connecting' };
    return { state: unsynced ? 'syncing' : 'ready' };
  };
  function emitStatus(): void {
    const next = computeStatus();
    const moved = next.state !== lastStatus.state || Math.abs((next.progress ?? 0) - (lastStatus.progress ?? 0)) >= 0.01;
    if (!moved) return;
    lastStatus = next;
    statusListeners.forEach((l) => l(next));
  }
  // y-webrtc emits no event when one more connection finishes its sync (only when the whole
  // room flips), so the status is also re-derived on a light timer.
  const timer = setInterval(emitStatus, 250);

  awareness.on('change', notify);
  provider.on('peers', notify);
  provider.on('synced', notify);

  const counters = (): TransportCounters => ({
    bytesSent: channel.bytesSent,
    bytesReceived: channel.bytesReceived,
    framesSent: channel.framesSent,
    framesReceived: channel.framesReceived,
    messagesSent: channel.messagesSent,
    messagesReceived: channel.messagesReceived,
    framesDropped: channel.dropped - extra.bcDropped,
    undecodable: channel.undecodable,
    sendFailures: channel.sendFailures,
    bcBytesReceived: extra.bcBytesReceived,
    bcDropped: extra.bcDropped,
    signalingDropped: extra.signalingDropped,
    fullSyncRefused: fullSync.refused,
    lastError: channel.lastError,
  });

  return {
    channel,
    counters,
    connections,
    peerId: () => room()?.peerId ?? null,
    status: computeStatus,
    on(event: 'status' | 'send-failure', cb: ((s: TransportStatus) => void) | ((f: SendFailure) => void)): () => void {
      const set = (event === 'status' ? statusListeners : failureListeners) as Set<typeof cb>;
      set.add(cb);
      return () => set.delete(cb);
    },
    peers() {
      const r = room();
      const byPeer = new Map(connections().map((c) => [c.peerId, c]));
      const out: PeerInfo[] = [];
      for (const [clientId, state] of awareness.getStates()) {
        if (clientId === awareness.clientID) continue;
        const d = (state as AwarenessState).device;
        if (typeof d?.uuid !== 'string' || typeof d.name !== 'string') continue;
        const peer = typeof d.peer === 'string' ? d.peer : null;
        const conn = peer ? byPeer.get(peer) : undefined;
        const viaWebrtc = !!(r && peer && !r.bcConns.has(peer) && r.webrtcConns.get(peer)?.connected);
        // Awareness may outlive a connection by up to 30 s (its timeout): say so.
        const schema = typeof d.schema === 'number' && Number.isSafeInteger(d.schema) && d.schema > 0 ? d.schema : null;
        out.push({ device: d.uuid, name: d.name, path: viaWebrtc ? 'webrtc' : 'tab', connected: conn?.connected ?? false, synced: conn?.synced ?? false, schema });
      }
      return out;
    },
    onPeers(cb) {
      listeners.add(cb);
      return () => listeners.delete(cb);
    },
    publishSync(state) {
      awareness.setLocalStateField('sync', state);
    },
    publishMarks(marks) {
      awareness.setLocalStateField('wm', marks);
    },
    peerMarks() {
      const connected = new Set(this.peers().filter((p) => p.connected).map((p) => p.device));
      const out: { device: string; marks: Marks }[] = [];
      for (const [clientId, state] of awareness.getStates()) {
        if (clientId === awareness.clientID) continue;
        const s = state as AwarenessState;
        const d = s.device?.uuid;
        if (typeof d === 'string' && connected.has(d) && isMarks(s.wm)) out.push({ device: d, marks: s.wm });
      }
      return out;
    },
    peerSync() {
      const out: PeerSyncState[] = [];
      for (const [clientId, state] of awareness.getStates()) {
        if (clientId === awareness.clientID) continue;
        const s = state as AwarenessState;
        if (typeof s.device?.uuid !== 'string') continue;
        out.push({ device: s.device.uuid, digest: typeof s.sync?.digest === 'string' ? s.sync.digest : null, busy: s.sync?.busy === true });
      }
      return out;
    },
    resync() {
      if (paused) return;
      disconnect();
      connect();
      guardSignaling();
    },
    // compiled out of the production build (vite.config.ts)
    ...(import.meta.env.MODE === 'test' ? { dropInboundFor: (ms: number) => void (dropUntil = Date.now() + ms) } : {}),
    setName(next) {
      name = next;
      publish();
    },
    pause() {
      paused = true;
      disconnect();
      notify();
    },
    resume() {
      paused = false;
      connect();
      // a fresh SignalingConn is created when the last provider of a URL left it
      guardSignaling();
      notify();
    },
    get paused() {
      return paused;
    },
    destroy() {
      destroyed = true;
      clearInterval(timer);
      if (greeting) clearTimeout(greeting);
      ourRooms.delete(o.room);
      awareness.off('change', notify);
      provider.destroy();
      emitStatus();
    },
  };
}
