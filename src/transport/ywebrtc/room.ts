/**
 * Our copy of y-webrtc's `WebrtcProvider` + `Room` (y-webrtc 10.3.0, src/y-webrtc.js; MIT, see
 * LICENSE here), kept as our own module and changed at the source. It syncs one Y.Doc and its
 * awareness over two Channels (../channel.ts): the tabs of this browser (tab-channel.ts) and
 * WebRTC peers (peer-mesh.ts). The wire format is y-webrtc's (protocol.ts).
 *
 * Invariants (each enforced here):
 *  Y1 Connecting does not send the whole document to the tabs. A connecting tab sends its
 *     sync step 1; every tab already there answers with what the newcomer lacks, and greets
 *     it with a step 1 of its own marked GREETING, which the newcomer answers with exactly the
 *     difference. Only a connect's step 1 is greeted, never a greeting. (y-webrtc broadcast
 *     the whole document at every connect: 30 MB at 100k entries, decoded by every tab.)
 *     tests/unit/transport/ywebrtc-connect.test.ts fails if that broadcast comes back.
 *  Y2 Every remote update is applied with a RemoteOrigin naming its channel and sender, and
 *     relayed (so changes cross peers that are not directly connected) but never back where
 *     it came from: one from the tabs goes to WebRTC peers only, one from a WebRTC peer to the
 *     tabs (if there are any) and the OTHER WebRTC peers. This device's own updates go
 *     everywhere. (y-webrtc sent a fresh browser's whole backfill straight back to its sender,
 *     and a new tab's to every tab.)
 *  Y3 Nothing a tab or a peer sends can throw out of here: a message that does not read is
 *     dropped and counted (`onTabDrop`, `onPeerUndecodable`).
 *  Y4 Presence survives reconnects: disconnect removes this device's awareness state (so the
 *     others show it offline) and connect puts it back (y-webrtc's connect broadcast whatever
 *     was left — nothing — and the device stayed invisible until reloaded).
 *  Y5 No module-global state: two rooms in one page are independent (y-webrtc shared signaling
 *     connections and a room registry across the page).
 */
import { Awareness, removeAwarenessStates } from 'y-protocols/awareness';
import * as syncProtocol from 'y-protocols/sync';
import type * as Y from 'yjs';
import type { Channel } from '../channel.ts';
import { deriveKey } from './crypto.ts';
import { createPeerMesh, type PeerConnInfo, type PeerMesh } from './peer-mesh.ts';
import { awarenessMessage, bcPeerId, queryAwareness, readMessage, syncStep1, updateMessage } from './protocol.ts';
import type { SignalingSocket } from './signaling.ts';
import { createTabChannel } from './tab-channel.ts';

/** The origin of every transaction and awareness change this room applies for a peer. */
export class RemoteOrigin {
  constructor(
    readonly room: object,
    readonly path: 'tab' | 'webrtc',
    /** the WebRTC peer id (null for tabs: a BroadcastChannel message has no sender) */
    readonly peer: string | null,
  ) {}
}

export interface RoomHooks {
  /** connections, tabs, sync state or awareness changed */
  readonly onChange: () => void;
  /** a tab's message dropped (not sealed, undecryptable, unreadable) */
  readonly onTabDrop: (why: string) => void;
  readonly onTabBytes?: (n: number) => void;
  /** test hook: true drops the inbound tab message unread (a lossy moment) */
  readonly dropTabInbound?: () => boolean;
  /** a WebRTC peer's message could not be read */
  readonly onPeerUndecodable: (why: string) => void;
  readonly onSignalingDrop: (why: string) => void;
}

export interface RoomOptions {
  readonly doc: Y.Doc;
  readonly name: string;
  readonly password: string;
  /** signaling URLs; [] = tabs only */
  readonly signaling: readonly string[];
  /** simple-peer options */
  readonly peerOpts: Record<string, unknown>;
  /** do not open WebRTC to peers reachable over BroadcastChannel (default true) */
  readonly filterBcConns?: boolean;
  readonly maxConns?: number;
  readonly hooks: RoomHooks;
  readonly BroadcastChannelImpl?: typeof BroadcastChannel;
  readonly WebSocketImpl?: new (url: string) => SignalingSocket;
}

export interface Room {
  readonly awareness: Awareness;
  /** resolves once the room key is derived (the room connects then, if asked to) */
  readonly ready: Promise<void>;
  /** this device's y-webrtc peer id; null until ready */
  readonly peerId: string | null;
  readonly connected: boolean;
  /** peer ids of the tabs this room hears over BroadcastChannel */
  readonly tabs: ReadonlySet<string>;
  /** WebRTC connections, open or opening */
  webrtc(): PeerConnInfo[];
  /** the WebRTC peer a (chunk-layer wrapped) data channel belongs to */
  peerOfChannel(channel: unknown): string | null;
  connect(): void;
  disconnect(): void;
  destroy(): void;
}

export function createRoom(o: RoomOptions): Room {
  const { doc, hooks } = o;
  const awareness = new Awareness(doc);
  const filterBcConns = o.filterBcConns ?? true;
  // the random factor reduces the chance that n clients form a cluster (y-webrtc)
  const maxConns = o.maxConns ?? 20 + Math.floor(Math.random() * 15);
  const tabs = new Set<string>();
  const self = {};
  const tabOrigin = new RemoteOrigin(self, 'tab', null);
  const peerOrigins = new Map<string, RemoteOrigin>();
  let key: CryptoKey | null = null;
  /** the room's peer id, published once the key is derived (`peerId`) */
  const ownId = crypto.randomUUID();
  let peerId: string | null = null;
  let tab: Channel | null = null;
  let shouldConnect = true;
  let destroyed = false;
  let savedState: Record<string, unknown> | null = null;
  let greeting: ReturnType<typeof setTimeout> | null = null;

  const toPeers = (m: Uint8Array, except: string | null = null): void => {
    if (except === null) return mesh.send(null, m);
    for (const p of [...mesh.peerIds()]) if (p !== except) mesh.send(p, m);
  };
  const toTabs = (m: Uint8Array): void => tab?.send(null, m);
  const announceToTabs = (): void => {
    if (filterBcConns && peerId) toTabs(bcPeerId(peerId, true));
  };

  /** Y2: relay, never back where it came from */
  const onUpdate = (update: Uint8Array, origin: unknown): void => {
    if (!(origin instanceof RemoteOrigin) || origin.room !== self) {
      const m = updateMessage(update);
      toTabs(m);
      return toPeers(m);
    }
    const except = origin.path === 'webrtc' ? origin.peer : null;
    const tabsToo = origin.path === 'webrtc' && tabs.size > 0;
    let peers = 0;
    for (const p of mesh.peerIds()) if (p !== except) peers++;
    // nobody to relay to (a browser's only tab): a 100k backfill was encoded again and
    // encrypted for nobody, 0.6 s of the main thread; a tab that connects later asks for it
    if (!tabsToo && peers === 0) return;
    const m = updateMessage(update);
    if (tabsToo) toTabs(m);
    if (peers > 0) toPeers(m, except);
  };
  const onAwareness = ({ added, updated, removed }: { added: number[]; updated: number[]; removed: number[] }): void => {
    const m = awarenessMessage(awareness, added.concat(updated, removed));
    toTabs(m);
    toPeers(m);
  };

  /** Y1: one greeting for a burst of connects */
  const greetSoon = (): void => {
    greeting ??= setTimeout(() => {
      greeting = null;
      if (tab) toTabs(syncStep1(doc, true));
    }, 0);
  };

  const onTab = (_from: string, m: Uint8Array): void => {
    let r;
    try {
      r = readMessage(m, doc, awareness, tabOrigin);
    } catch (e) {
      return hooks.onTabDrop(e instanceof Error ? e.message : String(e));
    }
    if (r.kind === 'sync') {
      if (r.reply) toTabs(r.reply);
      if (r.connectStep1) greetSoon();
    } else if (r.kind === 'query-awareness') toTabs(r.reply);
    else if (r.kind === 'peer-id' && r.peerId !== peerId && tabs.has(r.peerId) !== r.present) {
      if (r.present) tabs.add(r.peerId);
      else tabs.delete(r.peerId);
      hooks.onChange();
      announceToTabs();
    }
  };

  const onPeer = (from: string, m: Uint8Array): void => {
    let origin = peerOrigins.get(from);
    if (!origin) peerOrigins.set(from, (origin = new RemoteOrigin(self, 'webrtc', from)));
    let r;
    try {
      r = readMessage(m, doc, awareness, origin);
    } catch (e) {
      return hooks.onPeerUndecodable(e instanceof Error ? e.message : String(e));
    }
    if (r.kind === 'sync') {
      if (r.reply) mesh.send(from, r.reply);
      if (r.step === syncProtocol.messageYjsSyncStep2) {
        mesh.markSynced(from);
        hooks.onChange();
      }
    } else if (r.kind === 'query-awareness') mesh.send(from, r.reply);
    // a tab's peer id means nothing over WebRTC: ignored
  };

  const onOpen = (remote: string): void => {
    mesh.send(remote, syncStep1(doc));
    if (awareness.getStates().size > 0) mesh.send(remote, awarenessMessage(awareness, [...awareness.getStates().keys()]));
  };

  const start = (): void => {
    if (destroyed) return;
    mesh.connect(); // at once, as upstream: the socket opens while the key is derived
    if (!key || !peerId || tab) return;
    if (savedState && awareness.getLocalState() === null) awareness.setLocalState(savedState);
    doc.on('update', onUpdate);
    awareness.on('update', onAwareness);
    tab = createTabChannel({
      name: o.name,
      key,
      onDrop: hooks.onTabDrop,
      ...(hooks.onTabBytes ? { onBytes: hooks.onTabBytes } : {}),
      ...(hooks.dropTabInbound ? { dropInbound: hooks.dropTabInbound } : {}),
      ...(o.BroadcastChannelImpl ? { BroadcastChannelImpl: o.BroadcastChannelImpl } : {}),
    });
    tab.onReceive(onTab);
    announceToTabs();
    // Y1: the state vector only — no whole-state sync step 2 here
    toTabs(syncStep1(doc));
    toTabs(queryAwareness());
    toTabs(awarenessMessage(awareness, [doc.clientID]));
    hooks.onChange();
  };

  const stop = (): void => {
    if (!tab) return mesh.disconnect(); // asked to stop before the key was derived
    savedState = awareness.getLocalState() ?? savedState;
    // the others learn this device left (sent while the channels are still open)
    removeAwarenessStates(awareness, [doc.clientID], 'disconnect');
    if (peerId) toTabs(bcPeerId(peerId, false));
    tab.destroy();
    tab = null;
    doc.off('update', onUpdate);
    awareness.off('update', onAwareness);
    mesh.disconnect();
    tabs.clear();
    if (greeting) clearTimeout(greeting);
    greeting = null;
    hooks.onChange();
  };

  const onUnload = (): void => stop();
  if (typeof window !== 'undefined') window.addEventListener('beforeunload', onUnload);

  const keyDerived = deriveKey(o.password, o.name);
  const mesh: PeerMesh = createPeerMesh({
    room: o.name,
    peerId: ownId,
    key: keyDerived,
    signaling: o.signaling,
    maxConns,
    peerOpts: o.peerOpts,
    isTab: (p) => tabs.has(p),
    onOpen,
    onChange: hooks.onChange,
    onSignalingDrop: hooks.onSignalingDrop,
    ...(o.WebSocketImpl ? { WebSocketImpl: o.WebSocketImpl } : {}),
  });
  mesh.onReceive(onPeer);
  const ready = keyDerived.then((k) => {
    if (destroyed) return;
    key = k;
    peerId = ownId;
    if (shouldConnect) start();
  });
  start();

  return {
    awareness,
    ready,
    get peerId() {
      return peerId;
    },
    get connected() {
      return tab !== null;
    },
    tabs,
    webrtc: () => [...mesh.connections()],
    peerOfChannel: (channel) => mesh.peerOfChannel(channel),
    connect() {
      shouldConnect = true;
      start();
    },
    disconnect() {
      shouldConnect = false;
      stop();
    },
    destroy() {
      shouldConnect = false;
      stop();
      destroyed = true;
      mesh.destroy();
      if (typeof window !== 'undefined') window.removeEventListener('beforeunload', onUnload);
      awareness.destroy();
    },
  };
}
