export declare const LIMITS: {
  maxFrameBytes: number;
  maxTopicsPerConn: number;
  maxTopicLength: number;
  maxConnections: number;
  maxConnectionsPerAddress: number;
  maxDataDepth: number;
  pingIntervalMs: number;
  idleMs: number;
  maxBufferedBytes: number;
  messagesPerSec: number;
  messageBurst: number;
  bytesPerSec: number;
  byteBurst: number;
  messagesPerSecPerAddress: number;
  messageBurstPerAddress: number;
  bytesPerSecPerAddress: number;
  byteBurstPerAddress: number;
  abuseDrops: number;
  abuseWindowMs: number;
};
export interface SignalingServer {
  readonly port: number;
  readonly host: string;
  stats(): Record<string, number>;
  close(): Promise<void>;
}
export declare function originAllowed(origin: string | undefined, extra: readonly string[]): boolean;
/** the key the per-address cap and buckets count: IPv4 address, or IPv6 /64 */
export declare function addressKey(remoteAddress: string | undefined): string;
/** the address an upgrade counts as: its peer's, or behind a trusted loopback proxy the last X-Forwarded-For */
export declare function clientAddress(req: import('node:http').IncomingMessage, trustProxy: boolean): string;
export declare function parseOrigins(v: string | undefined): string[];
export declare function startSignalingServer(opts?: {
  host?: string;
  port?: number;
  limits?: Partial<typeof LIMITS>;
  /** extra allowed origins (exact), or '*'; loopback origins are always allowed */
  origins?: readonly string[];
  /** an upgrade from loopback counts as its last X-Forwarded-For address (behind the app's proxy) */
  trustProxy?: boolean;
  log?: (m: string) => void;
}): Promise<SignalingServer>;
