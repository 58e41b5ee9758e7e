/**
 * The library's provider: y-webrtc carries the sync document to the other tabs of this
 * browser (BroadcastChannel) and to other browsers (WebRTC through our signaling server).
 * Presence rides Yjs awareness: each device publishes who it is, so the UI can list peers
 * with the path they use.
 */
import { WebrtcProvider } from 'y-webrtc';
import type * as Y from 'yjs';

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
  onPeers(cb: () => void): () => void;
  setName(name: string): void;
  pause(): void;
  resume(): void;
  readonly paused: boolean;
  destroy(): void;
}

interface AwarenessState {
  device?: { uuid?: unknown; name?: unknown };
}

export function createTransport(o: TransportOptions): Transport {
  const provider = new WebrtcProvider(o.room, o.doc, {
    signaling: [...o.signaling],
    password: o.password,
    peerOpts: { config: { iceServers: [] } },
  });
  const awareness = provider.awareness;
  awareness.setLocalStateField('device', { uuid: o.self.device, name: o.self.name });
  const listeners = new Set<() => void>();
  const notify = (): void => listeners.forEach((l) => l());
  awareness.on('change', notify);
  let paused = false;

  return {
    peers() {
      const room = provider.room;
      const out: PeerInfo[] = [];
      for (const [clientId, state] of awareness.getStates()) {
        if (clientId === awareness.clientID) continue;
        const d = (state as AwarenessState).device;
        if (typeof d?.uuid !== 'string' || typeof d.name !== 'string') continue;
        // A peer reached over WebRTC has a connection in webrtcConns; otherwise it is a tab.
        const viaWebrtc = room ? [...room.webrtcConns.values()].some((c) => c.connected) && room.bcConns.size === 0 : false;
        out.push({ device: d.uuid, name: d.name, path: viaWebrtc ? 'webrtc' : 'tab' });
      }
      return out;
    },
    onPeers(cb) {
      listeners.add(cb);
      return () => listeners.delete(cb);
    },
    setName(name) {
      awareness.setLocalStateField('device', { uuid: o.self.device, name });
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
