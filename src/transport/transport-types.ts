/**
 * The transport's public shape (src/main.ts, the UI, the benches): status, peers, counters,
 * presence, pause. Implemented by webrtc.ts over our copy of y-webrtc (ywebrtc/).
 */
import type * as Y from 'yjs';
import type { PeerSyncState } from '../sync/anti-entropy.ts';
import type { Marks } from '../core/stream.ts';
import type { ChannelStats, ChunkedHooks, SendFailure, WrtcImpl } from './chunked-channel.ts';

export const DEFAULT_SIGNALING: readonly string[] = ['ws://127.0.0.1:4444'];

export type TransportState = 'offline' | 'connecting' | 'syncing' | 'backfilling' | 'ready';

export interface TransportStatus {
  readonly state: TransportState;
  /** 0..1, while a large inbound message (a backfill, a big batch) is arriving */
  readonly progress?: number;
}

/** One connection of the room (ywebrtc/room.ts), whether or not its device published presence yet. */
export interface ConnectionInfo {
  readonly peerId: string;
  readonly path: 'tab' | 'webrtc';
  readonly connected: boolean;
  /**
   * WebRTC: the peer's sync step 2 was applied. Tabs: the room keeps no per-tab state (every
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
  readonly path: 'tab' | 'webrtc' | 'relay';
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
  /** whole messages (data channel or BroadcastChannel) the sync protocol could not read */
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
  /** do not open WebRTC to peers already reachable over BroadcastChannel (default true) */
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
