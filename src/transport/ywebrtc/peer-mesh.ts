/**
 * Browsers: WebRTC connections (simple-peer) to the other peers of the room, found and
 * negotiated through signaling servers (signaling.ts). A Channel (../channel.ts) addressed by
 * y-webrtc peer id. Derived from y-webrtc 10.3.0 (`WebrtcConn`, `SignalingConn`; MIT, see
 * LICENSE here); changed at the source:
 *  - every signaling publication is checked before it is acted on, in arrival order: it must
 *    be base64 of an AES-GCM message sealed with the room key holding a well-formed announce
 *    or signal; anything else is dropped and counted (`onSignalingDrop`). An `answer` for a
 *    connection that does not exist is dropped (y-webrtc dereferenced it and threw);
 *  - glare: of two peers, only the one with the SMALLER peer id initiates. The larger one
 *    answers an announce with its own announce, which makes the smaller one initiate
 *    (y-webrtc made both sides initiators when they announced together, and its token
 *    tie-break could leave one side with a dead offer forever);
 *  - one signaling connection per mesh (y-webrtc shared one per URL across the page through
 *    module-global maps);
 *  - a message a connection delivers is handed on with its sender's peer id (`onReceive`):
 *    the room applies it with an origin naming that peer, so it is never relayed back.
 */
import Peer, { type SimplePeer } from 'simple-peer/simplepeer.min.js';
import type { Channel } from '../channel.ts';
import { openJson, sealJson } from './crypto.ts';
import { createSignalingClient, type SignalingClient, type SignalingMessage, type SignalingSocket } from './signaling.ts';

export interface PeerConnInfo {
  readonly peerId: string;
  readonly connected: boolean;
  /** the peer's sync step 2 was applied (set by the room) */
  synced: boolean;
  /** `connectionState/iceConnectionState/signalingState` (diagnostics) */
  readonly ice: string | undefined;
}

export interface PeerMesh extends Channel {
  connect(): void;
  disconnect(): void;
  connections(): IterableIterator<PeerConnInfo>;
  /** peer ids of the connections, open or opening (cheap: per update relayed) */
  peerIds(): IterableIterator<string>;
  /** the peer whose data channel (as the chunk layer wrapped it) this is (cheap: per message) */
  peerOfChannel(channel: unknown): string | null;
  has(peerId: string): boolean;
  markSynced(peerId: string): void;
}

export interface PeerMeshOptions {
  readonly room: string;
  readonly peerId: string;
  /** the room key; the signaling connection opens while it is still being derived (as upstream) */
  readonly key: Promise<CryptoKey>;
  readonly signaling: readonly string[];
  readonly maxConns: number;
  /** simple-peer options (`wrtc`, `config`) */
  readonly peerOpts: Record<string, unknown>;
  /** a tab of this browser (reached over BroadcastChannel): no WebRTC to it */
  readonly isTab: (peerId: string) => boolean;
  /** a connection opened: the room greets the peer (sync step 1, awareness) */
  readonly onOpen: (peerId: string) => void;
  /** the set of connections or their state changed */
  readonly onChange: () => void;
  readonly onSignalingDrop: (why: string) => void;
  readonly WebSocketImpl?: new (url: string) => SignalingSocket;
}

interface Conn {
  readonly peer: SimplePeer;
  connected: boolean;
  synced: boolean;
  glareToken: number | undefined;
}

interface Signal {
  readonly type: 'announce' | 'signal';
  readonly from: string;
  readonly to?: string;
  readonly token?: number;
  readonly signal?: { readonly type?: unknown };
}

function asSignal(v: unknown): Signal | null {
  if (typeof v !== 'object' || v === null) return null;
  const m = v as { type?: unknown; from?: unknown; to?: unknown; signal?: unknown; token?: unknown };
  if (typeof m.from !== 'string' || (m.to !== undefined && typeof m.to !== 'string')) return null;
  if (m.type === 'announce') return m as Signal;
  if (m.type !== 'signal' || typeof m.signal !== 'object' || m.signal === null) return null;
  if (m.token !== undefined && typeof m.token !== 'number') return null;
  return m as Signal;
}

export function createPeerMesh(o: PeerMeshOptions): PeerMesh {
  const conns = new Map<string, Conn>();
  const receivers = new Set<(from: string, m: Uint8Array) => void>();
  let clients: SignalingClient[] = [];
  let inbound: Promise<unknown> = Promise.resolve();

  const publish = (client: SignalingClient, data: Record<string, unknown>): void => {
    void o.key.then((key) => sealJson(data, key)).then((sealed) => client.send({ type: 'publish', topic: o.room, data: sealed }));
  };
  const announce = (): void => {
    for (const c of clients) {
      if (!c.connected) continue;
      c.send({ type: 'subscribe', topics: [o.room] });
      if (conns.size < o.maxConns) publish(c, { type: 'announce', from: o.peerId });
    }
  };

  const open = (client: SignalingClient, remote: string, initiator: boolean): Conn => {
    const peer = new Peer({ initiator, ...o.peerOpts });
    const conn: Conn = { peer, connected: false, synced: false, glareToken: undefined };
    peer.on('signal', (signal) => {
      // some randomness on the offer's time: the tie-break of two offers crossing
      conn.glareToken ??= Date.now() + Math.random();
      publish(client, { to: remote, from: o.peerId, type: 'signal', token: conn.glareToken, signal });
    });
    peer.on('connect', () => {
      conn.connected = true;
      o.onOpen(remote);
      o.onChange();
    });
    peer.on('close', () => {
      conn.connected = false;
      if (conns.get(remote) === conn) conns.delete(remote);
      peer.destroy();
      o.onChange();
      announce();
    });
    peer.on('error', () => announce());
    peer.on('data', (data) => {
      for (const cb of receivers) cb(remote, data);
    });
    return conn;
  };

  const act = (client: SignalingClient, s: Signal): void => {
    if (s.from === o.peerId || (s.to !== undefined && s.to !== o.peerId) || o.isTab(s.from)) return;
    const known = conns.has(s.from);
    if (s.type === 'announce') {
      // glare: the larger peer id does not initiate; its announce makes the smaller one do it
      if (o.peerId > s.from && !known) return publish(client, { type: 'announce', from: o.peerId });
      if (!known && conns.size < o.maxConns) conns.set(s.from, open(client, s.from, true));
    } else {
      if (s.to !== o.peerId) return; // a signal is always addressed
      const type = s.signal?.type;
      const existing = conns.get(s.from);
      if (type === 'offer' && existing) {
        if (existing.glareToken !== undefined && s.token !== undefined && existing.glareToken > s.token) return; // our offer wins
        existing.glareToken = undefined; // we answer theirs
      }
      if (type === 'answer') {
        if (!existing) return o.onSignalingDrop('answer without an offer');
        existing.glareToken = undefined;
      }
      let conn = existing;
      if (!conn) conns.set(s.from, (conn = open(client, s.from, false)));
      try {
        conn.peer.signal(s.signal as object);
      } catch (e) {
        o.onSignalingDrop(`malformed signal: ${e instanceof Error ? e.message : String(e)}`);
      }
    }
    if (!known) o.onChange();
  };

  const onMessage = (client: SignalingClient, m: SignalingMessage): void => {
    if (m.type !== 'publish' || m.topic !== o.room) return; // pongs, other rooms' traffic
    const opened = o.key.then((key) => openJson(m['data'], key));
    // decryptions may finish out of order; signals are acted on in the order they came
    inbound = inbound.then(async () => {
      const r = await opened;
      if (!clients.includes(client)) return; // disconnected meanwhile
      if ('why' in r) return o.onSignalingDrop(r.why);
      const s = asSignal(r.value);
      if (!s) return o.onSignalingDrop('malformed signal');
      act(client, s);
    });
  };

  return {
    send(to, message) {
      for (const [peerId, c] of conns) {
        if (to !== null && peerId !== to) continue;
        try {
          c.peer.send(message);
        } catch {
          /* a closing connection: its sync step on reconnect covers it */
        }
      }
    },
    onReceive(cb) {
      receivers.add(cb);
      return () => receivers.delete(cb);
    },
    connect() {
      if (clients.length > 0) return;
      clients = o.signaling.map((url) => {
        const client: SignalingClient = createSignalingClient({
          url,
          onOpen: (c) => {
            c.send({ type: 'subscribe', topics: [o.room] });
            publish(c, { type: 'announce', from: o.peerId });
          },
          onMessage: (m) => onMessage(client, m),
          onUnreadable: () => o.onSignalingDrop('signaling frame is not JSON'),
          ...(o.WebSocketImpl ? { WebSocketImpl: o.WebSocketImpl } : {}),
        });
        return client;
      });
    },
    disconnect() {
      for (const c of clients) {
        c.send({ type: 'unsubscribe', topics: [o.room] });
        c.destroy();
      }
      clients = [];
      for (const c of conns.values()) c.peer.destroy();
    },
    destroy() {
      this.disconnect();
      receivers.clear();
    },
    *connections() {
      for (const [peerId, c] of conns) {
        const pc = c.peer._pc;
        yield {
          peerId,
          connected: c.connected,
          synced: c.synced,
          ice: pc ? `${pc.connectionState}/${pc.iceConnectionState}/${pc.signalingState}` : undefined,
        } satisfies PeerConnInfo;
      }
    },
    peerIds: () => conns.keys(),
    peerOfChannel(channel) {
      for (const [peerId, c] of conns) if (c.peer._channel === channel) return peerId;
      return null;
    },
    has: (peerId) => conns.has(peerId),
    markSynced(peerId) {
      const c = conns.get(peerId);
      if (c) c.synced = true;
    },
  };
}
