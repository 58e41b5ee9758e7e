/**
 * The library's provider: y-webrtc carries the sync document to the other tabs of this
 * browser (BroadcastChannel) and to other browsers (WebRTC through our signaling server).
 * Presence rides Yjs awareness: each device publishes who it is, so the UI can list peers
 * with the path they use.
 */
import { WebrtcProvider } from 'y-webrtc';
import type * as Y from 'yjs';
import { chunkedWrtc, newChannelStats, type ChannelStats } from './chunked-channel.ts';

export interface PeerInfo {
  readonly device: string;
  readonly name: string;
  readonly path: 'tab' | 'webrtc';
}

export interface TransportOptions {
  readonly doc: Y.Doc;
  readonly room: string;
  readonly password: string;
  /** signaling URLs; [] = tabs of this browser only */
  readonly signaling: readonly string[];
  readonly self: { readonly device: string; readonly name: string };
}

export interface Transport {
  peers(): PeerInfo[];
  /** data-channel counters, including the progress of a large inbound message (backfill) */
  readonly channel: ChannelStats;
  onPeers(cb: () => void): () => void;
  setName(name: string): void;
  pause(): void;
  resume(): void;
  readonly paused: boolean;
  destroy(): void;
}

interface AwarenessState {
  device?: { uuid?: unknown; name?: unknown; peer?: unknown };
}

export function createTransport(o: TransportOptions): Transport {
  const channel = newChannelStats();
  const listeners = new Set<() => void>();
  const notify = (): void => listeners.forEach((l) => l());
  const provider = new WebrtcProvider(o.room, o.doc, {
    signaling: [...o.signaling],
    password: o.password,
    // The seam: simple-peer gets RTCPeerConnections whose data channels chunk and pace
    // every message, so documents of any size reach other browsers.
    peerOpts: { wrtc: chunkedWrtc({ stats: channel, onChange: notify }), config: { iceServers: [] } },
  });
  const awareness = provider.awareness;
  let name = o.self.name;
  // Each device publishes its y-webrtc peer id, so the others can tell whether they reach it
  // over BroadcastChannel (a tab of the same browser) or a WebRTC connection.
  const publish = (): void =>
    awareness.setLocalStateField('device', { uuid: o.self.device, name, peer: provider.room?.peerId ?? null });
  publish();
  void provider.key.then(() => setTimeout(publish, 0));
  awareness.on('change', notify);
  provider.on('peers', notify);
  let paused = false;

  return {
    channel,
    peers() {
      const room = provider.room;
      const out: PeerInfo[] = [];
      for (const [clientId, state] of awareness.getStates()) {
        if (clientId === awareness.clientID) continue;
        const d = (state as AwarenessState).device;
        if (typeof d?.uuid !== 'string' || typeof d.name !== 'string') continue;
        const peer = typeof d.peer === 'string' ? d.peer : null;
        const viaWebrtc = !!(room && peer && !room.bcConns.has(peer) && room.webrtcConns.get(peer)?.connected);
        out.push({ device: d.uuid, name: d.name, path: viaWebrtc ? 'webrtc' : 'tab' });
      }
      return out;
    },
    onPeers(cb) {
      listeners.add(cb);
      return () => listeners.delete(cb);
    },
    setName(next) {
      name = next;
      publish();
    },
    pause() {
      paused = true;
      provider.disconnect();
      notify();
    },
    resume() {
      paused = false;
      provider.connect();
      notify();
    },
    get paused() {
      return paused;
    },
    destroy() {
      awareness.off('change', notify);
      provider.destroy();
    },
  };
}
