/**
 * The library's provider: y-webrtc carries the sync document to the other tabs of this
 * browser (BroadcastChannel) and to other browsers (WebRTC through our signaling server).
 * Presence rides Yjs awareness: each device publishes who it is, so the UI can list peers
 * with the path they use.
 */
import * as bc from 'lib0/broadcastchannel';
import { WebrtcProvider } from 'y-webrtc';
import type * as Y from 'yjs';
import type { PeerSyncState } from '../sync/anti-entropy.ts';
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
  /** publish this device's sync state (digest, busy) to its peers */
  publishSync(state: { digest: string; busy: boolean }): void;
  /** the sync state every connected peer published */
  peerSync(): PeerSyncState[];
  /** re-run the sync handshake (step 1/2) with every peer */
  resync(): void;
  /** test hook: drop every inbound BroadcastChannel message for `ms` (a lossy moment) */
  dropInboundFor(ms: number): void;
  pause(): void;
  resume(): void;
  readonly paused: boolean;
  destroy(): void;
}

/** y-webrtc frames encrypted messages as varString('AES-GCM') · iv · cipher. */
const AES_GCM = Array.from(new TextEncoder().encode('AES-GCM'));

interface AwarenessState {
  device?: { uuid?: unknown; name?: unknown; peer?: unknown };
  sync?: { digest?: unknown; busy?: unknown };
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
    peerOpts: {
      ...(typeof RTCPeerConnection === 'undefined' ? {} : { wrtc: chunkedWrtc({ stats: channel, onChange: notify }) }),
      config: { iceServers: [] },
    },
  });
  const awareness = provider.awareness;
  let name = o.self.name;
  let dropUntil = 0;
  // Each device publishes its y-webrtc peer id, so the others can tell whether they reach it
  // over BroadcastChannel (a tab of the same browser) or a WebRTC connection.
  const publish = (): void =>
    awareness.setLocalStateField('device', { uuid: o.self.device, name, peer: provider.room?.peerId ?? null });
  publish();
  void provider.key.then(() =>
    setTimeout(() => {
      publish();
      guardBroadcastChannel();
    }, 0),
  );
  /**
   * y-webrtc decrypts and reads every BroadcastChannel message without a guard: garbage
   * throws (or rejects) inside its handler. Re-subscribe it behind one that drops and counts.
   */
  const guardBroadcastChannel = (): void => {
    const room = provider.room as unknown as { name: string; _bcSubscriber: (d: unknown) => PromiseLike<unknown> } | null;
    if (!room) return;
    const original = room._bcSubscriber;
    const guarded = (data: unknown): PromiseLike<unknown> => {
      const dropped = (): undefined => {
        channel.dropped++;
        channel.undecodable++;
        notify();
        return undefined;
      };
      if (Date.now() < dropUntil) return Promise.resolve(undefined);
      // y-webrtc's decrypt creates an orphaned rejected promise for an unknown algorithm
      // (it forgets to return it), so reject anything not framed as an AES-GCM message first.
      const bytes = data instanceof ArrayBuffer ? new Uint8Array(data) : ArrayBuffer.isView(data) ? new Uint8Array(data.buffer, data.byteOffset, data.byteLength) : null;
      if (!bytes || bytes.byteLength < 8 + 12 || bytes[0] !== AES_GCM.length || AES_GCM.some((c, i) => bytes[i + 1] !== c)) return Promise.resolve(dropped());
      try {
        return Promise.resolve(original(data)).then(undefined, dropped);
      } catch {
        return Promise.resolve(dropped());
      }
    };
    // Subscribe the guard BEFORE removing the original: lib0 closes a BroadcastChannel whose
    // last subscriber leaves, and messages already queued on it (the first sync!) would be lost.
    room._bcSubscriber = guarded;
    if (!paused) bc.subscribe(room.name, guarded);
    bc.unsubscribe(room.name, original);
  };
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
    publishSync(state) {
      awareness.setLocalStateField('sync', state);
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
      provider.disconnect();
      provider.connect();
    },
    dropInboundFor(ms) {
      dropUntil = Date.now() + ms;
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
