// simple-peer ships no types; what the mesh (peer-mesh.ts) uses of it.
declare module 'simple-peer/simplepeer.min.js' {
  export interface SimplePeer {
    on(event: 'signal', cb: (signal: object) => void): void;
    on(event: 'connect' | 'close', cb: () => void): void;
    on(event: 'error', cb: (err: unknown) => void): void;
    on(event: 'data', cb: (data: Uint8Array) => void): void;
    signal(signal: object): void;
    send(data: Uint8Array): void;
    destroy(): void;
    /** internals, read for diagnostics and to tell which peer a data channel belongs to */
    readonly _pc?: RTCPeerConnection | null;
    readonly _channel?: unknown;
  }
  const Peer: new (opts: Record<string, unknown>) => SimplePeer;
  export default Peer;
}
