#!/usr/bin/env node
// tabdrive's signaling server: y-webrtc's pub/sub protocol (subscribe / unsubscribe /
// publish / ping), hardened: bound to 127.0.0.1 by default, bounded frame size, topics per
// connection, topic length and connection count; malformed frames are dropped and counted,
// never crash the server. It only relays encrypted signaling between peers of a room
// (rooms are hashes of the library id; payloads are encrypted with the invite secret).
//
//   SIGNALING_HOST (127.0.0.1)  SIGNALING_PORT (4444)
//   GET /health → JSON counters
import http from 'node:http';
import { WebSocketServer } from 'ws';

export const LIMITS = {
  maxFrameBytes: 64 * 1024,
  maxTopicsPerConn: 32,
  maxTopicLength: 128,
  maxConnections: 512,
  pingIntervalMs: 30_000,
};

/**
 * @param {{ host?: string, port?: number, limits?: Partial<typeof LIMITS>, log?: (m: string) => void }} [opts]
 * @returns {Promise<{ port: number, host: string, stats: () => object, close: () => Promise<void> }>}
 */
export function startSignalingServer(opts = {}) {
  const host = opts.host ?? '127.0.0.1';
  const limits = { ...LIMITS, ...(opts.limits ?? {}) };
  const log = opts.log ?? (() => {});
  /** @type {Map<string, Set<import('ws').WebSocket>>} */
  const topics = new Map();
  const counters = { connections: 0, accepted: 0, refused: 0, relayed: 0, dropped: 0 };

  const server = http.createServer((req, res) => {
    res.writeHead(200, { 'content-type': 'application/json', 'access-control-allow-origin': '*' });
    res.end(JSON.stringify({ ok: true, topics: topics.size, ...counters }));
  });
  const wss = new WebSocketServer({ server, maxPayload: limits.maxFrameBytes });

  const send = (conn, message) => {
    if (conn.readyState !== conn.OPEN) return;
    try {
      conn.send(message);
    } catch {
      conn.terminate();
    }
  };

  wss.on('connection', (conn) => {
    if (counters.connections >= limits.maxConnections) {
      counters.refused++;
      conn.close(1013, 'server full');
      return;
    }
    counters.connections++;
    counters.accepted++;
    /** @type {Set<string>} */
    const mine = new Set();
    let alive = true;
    const ping = setInterval(() => {
      if (!alive) return conn.terminate();
      alive = false;
      try {
        conn.ping();
      } catch {
        conn.terminate();
      }
    }, limits.pingIntervalMs);
    conn.on('pong', () => (alive = true));
    conn.on('error', () => conn.terminate());
    conn.on('close', () => {
      clearInterval(ping);
      counters.connections--;
      for (const t of mine) {
        const subs = topics.get(t);
        subs?.delete(conn);
        if (subs && subs.size === 0) topics.delete(t);
      }
      mine.clear();
    });
    conn.on('message', (raw, isBinary) => {
      let msg;
      try {
        if (isBinary) throw new Error('binary');
        msg = JSON.parse(raw.toString());
      } catch {
        counters.dropped++;
        return;
      }
      if (!msg || typeof msg !== 'object' || typeof msg.type !== 'string') {
        counters.dropped++;
        return;
      }
      const topicsOf = (m) =>
        Array.isArray(m.topics)
          ? m.topics.filter((t) => typeof t === 'string' && t.length > 0 && t.length <= limits.maxTopicLength)
          : [];
      switch (msg.type) {
        case 'subscribe':
          for (const t of topicsOf(msg)) {
            if (mine.size >= limits.maxTopicsPerConn && !mine.has(t)) {
              counters.dropped++;
              break;
            }
            let subs = topics.get(t);
            if (!subs) topics.set(t, (subs = new Set()));
            subs.add(conn);
            mine.add(t);
          }
          break;
        case 'unsubscribe':
          for (const t of topicsOf(msg)) {
            const subs = topics.get(t);
            subs?.delete(conn);
            if (subs && subs.size === 0) topics.delete(t);
            mine.delete(t);
          }
          break;
        case 'publish': {
          if (typeof msg.topic !== 'string' || !mine.has(msg.topic)) {
            // only members of a room may publish to it
            counters.dropped++;
            break;
          }
          const receivers = topics.get(msg.topic);
          if (!receivers) break;
          msg.clients = receivers.size;
          const out = JSON.stringify(msg);
          for (const r of receivers) send(r, out);
          counters.relayed++;
          break;
        }
        case 'ping':
          send(conn, JSON.stringify({ type: 'pong' }));
          break;
        default:
          counters.dropped++;
      }
    });
  });

  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 4444, host, () => {
      const addr = server.address();
      const port = typeof addr === 'object' && addr ? addr.port : (opts.port ?? 4444);
      log(`signaling: ws://${host}:${port}`);
      resolve({
        host,
        port,
        stats: () => ({ topics: topics.size, ...counters }),
        close: () =>
          new Promise((done) => {
            for (const c of wss.clients) c.terminate();
            wss.close();
            server.close(() => done());
          }),
      });
    });
  });
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const host = process.env.SIGNALING_HOST ?? '127.0.0.1';
  const port = Number(process.env.SIGNALING_PORT ?? 4444);
  startSignalingServer({ host, port, log: (m) => console.log(m) }).catch((e) => {
    console.error(`signaling server failed to start: ${e instanceof Error ? e.message : String(e)}`);
    process.exit(1);
  });
}
