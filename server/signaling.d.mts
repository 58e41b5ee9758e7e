export declare const LIMITS: {
  maxFrameBytes: number;
  maxTopicsPerConn: number;
  maxTopicLength: number;
  maxConnections: number;
  pingIntervalMs: number;
};
export interface SignalingServer {
  readonly port: number;
  readonly host: string;
  stats(): Record<string, number>;
  close(): Promise<void>;
}
export declare function startSignalingServer(opts?: {
  host?: string;
  port?: number;
  limits?: Partial<typeof LIMITS>;
  log?: (m: string) => void;
}): Promise<SignalingServer>;
