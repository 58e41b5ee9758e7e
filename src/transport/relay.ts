/**
 * The browser's connection to the always-on relay (server/relay, ARCHITECTURE "The always-on
 * relay"): one WebSocket, the relay's frame format (server/relay/protocol.mjs — the one
 * implementation of it, shared with the relay and its Node client), requests answered by id,
 * pushes as events, and a reconnect with backoff for as long as the page lives.
 *
 * Invariants:
 *  R1 `connected` means authenticated to the library's handle and subscribed: anything pushed
 *     after it reaches `onPush`. Every (re)connection runs AUTH then SUBSCRIBE first.
 *  R2 Bounded: at most MAX_INFLIGHT requests wait for a reply (more are refused at once with
 *     `busy`, the caller retries); a request unanswered for REQUEST_TIMEOUT_MS fails and drops
 *     the connection (a relay that stopped answering is reconnected to, not waited on).
 *  R3 Nothing the relay sends can throw here: malformed frames are counted and the connection
 *     is dropped (and retried with backoff); a request's promise settles exactly once.
 */
import { OP, Reassembler, decodeFrame, encodeFrame, fragment } from '../../server/relay/protocol.mjs';

export { OP };

export type RelayState = 'connecting' | 'connected' | 'offline';

export interface RelayReply {
  readonly meta: Record<string, unknown>;
  readonly payload: Uint8Array;
}

export interface RelayPush {
  readonly op: number;
  readonly meta: Record<string, unknown>;
  readonly payload: Uint8Array;
}

export interface RelayConnectionStats {
  state: RelayState;
  readonly url: string;
  bytesUp: number;
  bytesDown: number;
  connects: number;
  lastError: string | null;
}

export class RelayRequestError extends Error {
  override name = 'RelayRequestError';
  constructor(readonly code: string, message: string) {
    super(`${code}: ${message}`);
  }
}

export interface RelayConnection {
  readonly stats: RelayConnectionStats;
  request(op: number, meta: Record<string, unknown>, payload?: Uint8Array): Promise<RelayReply>;
  onPush(fn: (p: RelayPush) => void): () => void;
  onState(fn: (s: RelayState) => void): () => void;
  /** paused: disconnected and not reconnecting (Pause sync) */
  setPaused(paused: boolean): void;
  /** test hook: drop the socket now (as a network failure would) */
  drop(): void;
  destroy(): void;
}

/** The part of the WebSocket API used here (the browser's, or `ws` in Node tests). */
export interface SocketLike {
  binaryType: string;
  readonly readyState: number;
  onopen: ((ev: unknown) => void) | null;
  onmessage: ((ev: { data: unknown }) => void) | null;
  onclose: ((ev: { code: number; reason: string }) => void) | null;
  onerror: ((ev: unknown) => void) | null;
  send(data: Uint8Array): void;
  close(code?: number, reason?: string): void;
}

export interface RelayConnectionOptions {
  readonly url: string;
  readonly handle: string;
  readonly token: string;
  readonly WebSocketImpl?: new (url: string) => SocketLike;
  readonly minBackoffMs?: number;
  readonly maxBackoffMs?: number;
  readonly requestTimeoutMs?: number;
  readonly random?: () => number;
}

export const MAX_INFLIGHT = 48;
const REQUEST_TIMEOUT_MS = 30_000;
const OPEN = 1;

/** A relay URL as the `?relay=` parameter gives it: ws: or wss:, nothing else. */
export function parseRelayUrl(raw: string): string | null {
  try {
    const u = new URL(raw);
    return u.protocol === 'ws:' || u.protocol === 'wss:' ? u.toString() : null;
  } catch {
    return null;
  }
}

export function createRelayConnection(o: RelayConnectionOptions): RelayConnection {
  const WS = o.WebSocketImpl ?? (WebSocket as unknown as new (url: string) => SocketLike);
  const minBackoff = o.minBackoffMs ?? 500;
  const maxBackoff = o.maxBackoffMs ?? 30_000;
  const timeoutMs = o.requestTimeoutMs ?? REQUEST_TIMEOUT_MS;
  const random = o.random ?? Math.random;
  const stats: RelayConnectionStats = { state: 'offline', url: o.url, bytesUp: 0, bytesDown: 0, connects: 0, lastError: null };
  const pushes = new Set<(p: RelayPush) => void>();
  const states = new Set<(s: RelayState) => void>();
  const pending = new Map<number, { resolve: (r: RelayReply) => void; reject: (e: Error) => void; timer: ReturnType<typeof setTimeout> }>();
  let ws: SocketLike | null = null;
  let reasm = new Reassembler();
  let nextId = 1;
  let attempt = 0;
  let retry: ReturnType<typeof setTimeout> | null = null;
  let paused = false;
  let destroyed = false;
  let authed = false;

  const setState = (s: RelayState): void => {
    if (stats.state === s) return;
    stats.state = s;
    for (const fn of states) {
      try {
        fn(s);
      } catch {
        /* a listener's bug must not stop the others */
      }
    }
  };
  const failAll = (why: string): void => {
    for (const [id, p] of pending) {
      clearTimeout(p.timer);
      pending.delete(id);
      p.reject(new RelayRequestError('offline', why));
    }
  };

  function raw(op: number, meta: Record<string, unknown>, payload?: Uint8Array): Promise<RelayReply> {
    const sock = ws;
    if (!sock || sock.readyState !== OPEN) return Promise.reject(new RelayRequestError('offline', 'not connected to the relay'));
    if (pending.size >= MAX_INFLIGHT) return Promise.reject(new RelayRequestError('busy', `${MAX_INFLIGHT} requests already wait for the relay`));
    const id = nextId;
    nextId = nextId >= 0xfffffff0 ? 1 : nextId + 1;
    let frames: Uint8Array[];
    try {
      frames = fragment(encodeFrame(op, id, meta, payload), id);
    } catch (e) {
      return Promise.reject(new RelayRequestError('too_large', e instanceof Error ? e.message : String(e)));
    }
    return new Promise<RelayReply>((resolve, reject) => {
      const timer = setTimeout(() => {
        pending.delete(id);
        reject(new RelayRequestError('timeout', `no reply from the relay in ${timeoutMs} ms`));
        sock.close(4000, 'request timed out');
      }, timeoutMs);
      pending.set(id, { resolve, reject, timer });
      for (const f of frames) {
        stats.bytesUp += f.byteLength;
        sock.send(f);
      }
    });
  }

  function onFrame(data: unknown): void {
    const bytes = data instanceof ArrayBuffer ? new Uint8Array(data) : data instanceof Uint8Array ? data : null;
    if (!bytes) throw new RelayRequestError('bad_frame', 'a text frame from the relay');
    stats.bytesDown += bytes.byteLength;
    let f = decodeFrame(bytes);
    if (f.op === OP.FRAG) {
      const whole = reasm.push(f);
      if (!whole) return;
      f = decodeFrame(whole);
    }
    if (f.op === OP.EV_UPDATE || f.op === OP.EV_PAGE || f.op === OP.EV_PRESENCE) {
      if (!authed) return;
      for (const fn of pushes) {
        try {
          fn({ op: f.op, meta: f.meta, payload: f.payload });
        } catch {
          /* a listener's bug must not stop the others */
        }
      }
      return;
    }
    const p = pending.get(f.id);
    if (!p) {
      if (f.op === OP.ERROR) stats.lastError = `${String(f.meta['code'])}: ${String(f.meta['message'])}`;
      return;
    }
    pending.delete(f.id);
    clearTimeout(p.timer);
    if (f.op === OP.OK) p.resolve({ meta: f.meta, payload: f.payload });
    else p.reject(new RelayRequestError(String(f.meta['code']), String(f.meta['message'])));
  }

  function schedule(): void {
    if (paused || destroyed || retry) return;
    // full jitter: many devices that lost the same relay do not come back in step
    const ceiling = Math.min(maxBackoff, minBackoff * 2 ** Math.min(attempt, 16));
    attempt++;
    retry = setTimeout(() => {
      retry = null;
      connect();
    }, Math.round(ceiling / 2 + (random() * ceiling) / 2));
  }

  function connect(): void {
    if (paused || destroyed || ws) return;
    setState('connecting');
    let sock: SocketLike;
    try {
      sock = new WS(o.url);
    } catch (e) {
      stats.lastError = e instanceof Error ? e.message : String(e);
      setState('offline');
      schedule();
      return;
    }
    ws = sock;
    reasm = new Reassembler();
    sock.binaryType = 'arraybuffer';
    sock.onopen = () => {
      void (async () => {
        try {
          await raw(OP.AUTH, { h: o.handle, t: o.token });
          authed = true;
          await raw(OP.SUBSCRIBE, { h: o.handle });
          if (ws !== sock) return;
          attempt = 0;
          stats.connects++;
          setState('connected');
        } catch (e) {
          stats.lastError = e instanceof Error ? e.message : String(e);
          sock.close(4001, 'authentication failed');
        }
      })();
    };
    sock.onmessage = (ev) => {
      if (ws !== sock) return;
      try {
        onFrame(ev.data);
      } catch (e) {
        stats.lastError = `relay sent a bad frame (${e instanceof Error ? e.message : String(e)})`;
        sock.close(4002, 'bad frame');
      }
    };
    sock.onerror = () => {
      if (ws === sock && !stats.lastError) stats.lastError = 'the relay cannot be reached';
    };
    sock.onclose = (ev) => {
      if (ws !== sock) return;
      ws = null;
      authed = false;
      if (ev.code !== 1000 && ev.code !== 1005) stats.lastError = `connection closed (${ev.code}${ev.reason ? ` ${ev.reason}` : ''})`;
      failAll('the connection to the relay closed');
      setState('offline');
      schedule();
    };
  }

  function disconnect(): void {
    if (retry) clearTimeout(retry);
    retry = null;
    const sock = ws;
    ws = null;
    authed = false;
    failAll('disconnected');
    if (sock) {
      sock.onclose = null;
      sock.onmessage = null;
      sock.close(1000, 'bye');
    }
    setState('offline');
  }

  connect();
  return {
    stats,
    request(op, meta, payload) {
      if (!authed || stats.state !== 'connected') return Promise.reject(new RelayRequestError('offline', 'not connected to the relay'));
      return raw(op, meta, payload);
    },
    onPush(fn) {
      pushes.add(fn);
      return () => pushes.delete(fn);
    },
    onState(fn) {
      states.add(fn);
      return () => states.delete(fn);
    },
    setPaused(p) {
      if (paused === p) return;
      paused = p;
      if (p) disconnect();
      else {
        attempt = 0;
        connect();
      }
    },
    drop() {
      ws?.close(4003, 'dropped');
    },
    destroy() {
      destroyed = true;
      disconnect();
      pushes.clear();
      states.clear();
    },
  };
}
