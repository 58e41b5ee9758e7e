/**
 * The library's transport: our copy of y-webrtc (ywebrtc/room.ts) carries the sync document
 * to the other tabs of this browser (BroadcastChannel) and to other browsers (WebRTC through
 * our signaling server); presence rides awareness (presence.ts). This module composes them and
 * derives what the app reads: status, connections, peers, counters.
 *
 * Invariants:
 *  - every WebRTC data channel is chunked (chunked-channel.ts): no message of any size is lost
 *    to Chromium's 256 KiB max-message-size, and a failed send is counted and reported;
 *  - nothing a peer, a tab or the signaling server sends can throw (ywebrtc/: the tab
 *    channel, the signaling client and the mesh check what they read): what fails is dropped
 *    and counted (`counters()`);
 *  - a WebRTC peer gets (most of) the whole document at most once per 20 s, and all peers
 *    together at most 4 times (full-sync-limit.ts, the chunk layer's `admit` hook);
 *  - `signaling: []` means tabs only: never a public default server;
 *  - ICE servers default to none (local candidates only): no traffic to third parties.
 * The room's own invariants (no whole document at connect, no relay back, presence across
 * reconnects) are in ywebrtc/room.ts.
 */
import { createFullSyncLimiter } from './full-sync-limit.ts';
import { chunkedWrtc, newChannelStats, type SendFailure } from './chunked-channel.ts';
import { marksOf, peersOf, publishDevice, syncStatesOf } from './presence.ts';
import { DEFAULT_SIGNALING, type ConnectionInfo, type Transport, type TransportCounters, type TransportOptions, type TransportStatus } from './transport-types.ts';
import { createRoom } from './ywebrtc/room.ts';

export { signalingSeen } from './ywebrtc/signaling.ts';
export { DEFAULT_SIGNALING };
export type { ConnectionInfo, PeerInfo, Transport, TransportCounters, TransportOptions, TransportState, TransportStatus } from './transport-types.ts';

export function createTransport(o: TransportOptions): Transport {
  const channel = newChannelStats();
  const extra = { bcBytesReceived: 0, bcDropped: 0, signalingDropped: 0 };
  const listeners = new Set<() => void>();
  const statusListeners = new Set<(s: TransportStatus) => void>();
  const failureListeners = new Set<(f: SendFailure) => void>();
  let paused = false;
  let destroyed = false;
  let dropUntil = 0;
  let lastStatus: TransportStatus = { state: 'connecting' };
  // A WebRTC peer gets the whole document at most once per 20 s (full-sync-limit.ts).
  const fullSync = createFullSyncLimiter({ doc: o.doc, now: () => Date.now() });

  const notify = (): void => {
    listeners.forEach((l) => l());
    emitStatus();
  };
  const { wrtc: baseWrtc, config, ...restPeerOpts } = o.peerOpts ?? {};
  const base = baseWrtc ?? (typeof RTCPeerConnection === 'undefined' ? undefined : { RTCPeerConnection, RTCSessionDescription, RTCIceCandidate });
  const room = createRoom({
    doc: o.doc,
    name: o.room,
    password: o.password,
    signaling: [...(o.signaling ?? DEFAULT_SIGNALING)],
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
                admit: (m, ch) => fullSync.admit(m, room.peerOfChannel(ch) ?? 'unknown'),
              },
              base,
            ),
          }
        : {}),
      config: config ?? { iceServers: [] },
    },
    hooks: {
      onChange: notify,
      onTabDrop: (why) => {
        channel.dropped++;
        channel.undecodable++;
        extra.bcDropped++;
        channel.lastError = `broadcast channel: ${why}`;
        notify();
      },
      onTabBytes: (n) => void (extra.bcBytesReceived += n),
      dropTabInbound: () => Date.now() < dropUntil,
      onPeerUndecodable: (why) => {
        channel.undecodable++;
        channel.lastError = why;
        notify();
      },
      onSignalingDrop: (why) => {
        extra.signalingDropped++;
        channel.lastError = `signaling: ${why}`;
        notify();
      },
    },
  });
  const awareness = room.awareness;
  let name = o.self?.name ?? '';
  // Each device publishes its room peer id, so the others can tell whether they reach it
  // over BroadcastChannel (a tab of the same browser) or a WebRTC connection.
  const publish = (): void => {
    if (o.self) publishDevice(awareness, { ...o.self, name }, room.peerId);
  };
  publish();
  void room.ready.then(() => {
    if (destroyed) return;
    publish();
    notify();
  });

  const connections = (): ConnectionInfo[] => {
    if (paused) return [];
    const out: ConnectionInfo[] = [];
    for (const peerId of room.tabs) out.push({ peerId, path: 'tab', connected: true, synced: true });
    for (const c of room.webrtc()) {
      if (room.tabs.has(c.peerId)) continue;
      out.push({ peerId: c.peerId, path: 'webrtc', connected: c.connected, synced: c.synced, ...(c.ice ? { ice: c.ice } : {}) });
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
  // The chunk layer reports progress throttled; the status is also re-derived on a light timer.
  const timer = setInterval(emitStatus, 250);
  awareness.on('change', notify);

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

  const peers = () => peersOf(awareness, connections());
  return {
    channel,
    counters,
    connections,
    peerId: () => room.peerId,
    status: computeStatus,
    on(event: 'status' | 'send-failure', cb: ((s: TransportStatus) => void) | ((f: SendFailure) => void)): () => void {
      const set = (event === 'status' ? statusListeners : failureListeners) as Set<typeof cb>;
      set.add(cb);
      return () => set.delete(cb);
    },
    peers,
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
    peerMarks: () => marksOf(awareness, new Set(peers().filter((p) => p.connected).map((p) => p.device))),
    peerSync: () => syncStatesOf(awareness),
    resync() {
      if (paused) return;
      room.disconnect();
      room.connect();
    },
    // compiled out of the production build (vite.config.ts)
    ...(import.meta.env.MODE === 'test' ? { dropInboundFor: (ms: number) => void (dropUntil = Date.now() + ms) } : {}),
    setName(next) {
      name = next;
      publish();
    },
    pause() {
      paused = true;
      room.disconnect();
      notify();
    },
    resume() {
      paused = false;
      room.connect();
      notify();
    },
    get paused() {
      return paused;
    },
    destroy() {
      destroyed = true;
      clearInterval(timer);
      awareness.off('change', notify);
      room.destroy();
      emitStatus();
    },
  };
}
