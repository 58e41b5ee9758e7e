/**
 * One way to reach peers, whatever carries it: `send` / `onReceive` / `destroy`, addressed by
 * peer (the TinyBase synchronizer shape). The owned-state stream's nets (stream-net.ts) and
 * the sync document's channels (ywebrtc/: BroadcastChannel between tabs, the WebRTC mesh
 * between browsers) are all Channels; the relay is reached through relay-sync, which speaks
 * a StreamNet for the stream. One contract suite runs over every channel that carries the
 * sync document (tests/support/transport-contract.ts).
 *
 * Invariant (every implementation): a message is delivered whole, at most once, in the order
 * sent between two peers, with its sender — or not at all; nothing a peer sends can make
 * `send`, `onReceive`'s callers or `destroy` throw (bad input is counted and dropped).
 */
export interface Channel {
  /** to one peer, or (null) to every peer this channel reaches */
  send(to: string | null, message: Uint8Array): void;
  onReceive(cb: (from: string, message: Uint8Array) => void): () => void;
  destroy(): void;
}
