/**
 * A connection to one signaling server (server/signaling.mjs, y-webrtc's protocol: JSON text
 * frames `subscribe` / `unsubscribe` / `publish` / `ping`). Replaces lib0's WebsocketClient,
 * which y-webrtc 10.3.0 uses and which JSON.parses every frame without a guard: here a frame
 * that is not a JSON object with a string `type` is dropped and counted (`onUnreadable`),
 * never thrown. Same liveness as lib0's: reconnect with a backoff of log10(failures + 1) ×
 * 1.2 s (≤ 2.5 s), a ping 15 s after the last message, and a socket silent for 30 s closed.
 */

/** The part of the WebSocket API used here (the browser's, or `ws` in Node tests). */
export interface SignalingSocket {
  onopen: ((ev: unknown) => void) | null;
  onmessage: ((ev: { data: unknown }) => void) | null;
  onclose: ((ev: unknown) => void) | null;
  onerror: ((ev: unknown) => void) | null;
  send(data: string): void;
  close(): void;
}

export interface SignalingMessage {
  readonly type: string;
  readonly [k: string]: unknown;
}

export interface SignalingClient {
  readonly url: string;
  readonly connected: boolean;
  send(message: SignalingMessage): void;
  destroy(): void;
}

export interface SignalingOptions {
  readonly url: string;
  readonly onOpen: (client: SignalingClient) => void;
  readonly onMessage: (m: SignalingMessage) => void;
  /** a frame that is not a JSON object with a string `type` */
  readonly onUnreadable: () => void;
  readonly WebSocketImpl?: new (url: string) => SignalingSocket;
}

const RECONNECT_BASE_MS = 1200;
const RECONNECT_MAX_MS = 2500;
const SILENCE_MS = 30_000;

/** signaling frames seen / handed on, all connections of this page (diagnostics) */
export const signalingSeen = { frames: 0, forwarded: 0 };

export function createSignalingClient(o: SignalingOptions): SignalingClient {
  const WS = o.WebSocketImpl ?? (WebSocket as unknown as new (url: string) => SignalingSocket);
  let ws: SignalingSocket | null = null;
  let connected = false;
  let destroyed = false;
  let failures = 0;
  let lastMessage = 0;
  let ping: ReturnType<typeof setTimeout> | undefined;
  let retry: ReturnType<typeof setTimeout> | undefined;
  const client: SignalingClient = {
    url: o.url,
    get connected() {
      return connected;
    },
    send(message) {
      if (!ws || !connected) return;
      try {
        ws.send(JSON.stringify(message));
      } catch {
        /* closing: the reconnect re-subscribes and re-announces */
      }
    },
    destroy() {
      destroyed = true;
      clearTimeout(ping);
      clearTimeout(retry);
      clearInterval(watchdog);
      const s = ws;
      ws = null;
      connected = false;
      try {
        s?.close();
      } catch {
        /* already closed */
      }
    },
  };
  const schedulePing = (): void => {
    clearTimeout(ping);
    ping = setTimeout(() => client.send({ type: 'ping' }), SILENCE_MS / 2);
  };
  const open = (): void => {
    if (destroyed || ws) return;
    let socket: SignalingSocket;
    try {
      socket = new WS(o.url);
    } catch {
      failures++;
      retry = setTimeout(open, RECONNECT_MAX_MS);
      return;
    }
    ws = socket;
    const closed = (): void => {
      if (ws !== socket) return;
      ws = null;
      clearTimeout(ping);
      if (connected) connected = false;
      else failures++;
      if (!destroyed) retry = setTimeout(open, Math.min(Math.log10(failures + 1) * RECONNECT_BASE_MS, RECONNECT_MAX_MS));
    };
    socket.onclose = closed;
    socket.onerror = closed;
    socket.onopen = () => {
      if (ws !== socket) return;
      lastMessage = Date.now();
      connected = true;
      failures = 0;
      schedulePing();
      o.onOpen(client);
    };
    socket.onmessage = (ev) => {
      if (ws !== socket) return;
      lastMessage = Date.now();
      signalingSeen.frames++;
      let m: unknown;
      try {
        m = typeof ev.data === 'string' ? JSON.parse(ev.data) : null;
      } catch {
        m = null;
      }
      if (typeof m !== 'object' || m === null || typeof (m as { type?: unknown }).type !== 'string') return o.onUnreadable();
      if ((m as SignalingMessage).type === 'pong') schedulePing();
      signalingSeen.forwarded++;
      o.onMessage(m as SignalingMessage);
    };
  };
  // no message in a long time, not even a pong: the connection is dead without knowing it
  const watchdog = setInterval(() => {
    if (connected && Date.now() - lastMessage > SILENCE_MS) ws?.close();
  }, SILENCE_MS / 2);
  open();
  return client;
}
