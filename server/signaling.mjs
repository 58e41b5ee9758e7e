#!/usr/bin/env node
// tabdrive's signaling server: y-webrtc's pub/sub protocol (subscribe / unsubscribe /
// publish / ping). It only relays encrypted signaling between peers of a room (rooms are
// hashes of the library id; payloads are encrypted with the invite secret), and it must
// survive any client — a hostile one included:
//  - bound to 127.0.0.1 by default; WebSocket upgrades whose Origin is not one of the app's
//    are refused (403) before the handshake;
//  - frames are bounded (maxPayload: larger frames close the socket with 1009); every
//    message is parsed and validated in a guarded handler; outgoing frames are built from
//    validated fields only, and a publication's `data` (an opaque string when encrypted, a
//    small object for unencrypted y-webrtc) is re-serialized only after an iterative depth
//    check (a recursive stringify of a deeply nested value overflows the stack and would
//    take the process down);
//  - each connection, and each remote address, has a token bucket (messages/s and bytes/s);
//    excess is dropped and counted before it is even parsed, the socket is not read again
//    until the buckets refill (TCP back-pressure), and a connection that keeps exceeding its
//    rate is closed;
//  - connections are capped in total and per remote address; a socket subscribed to no topic
//    for `idleMs` is closed, so idle sockets cannot hold the slots;
//  - a receiver whose unsent bytes (`bufferedAmount`) would pass `maxBufferedBytes` is
//    dropped instead of buffering without bound (a peer that never reads costs ≤ ~1 MB);
//  - malformed frames are dropped and counted, never thrown.
//
//   SIGNALING_HOST (127.0.0.1)  SIGNALING_PORT (4444)
//   SIGNALING_ORIGINS  comma-separated extra origins allowed to connect (e.g.
//                      https://tabdrive.example); any http(s) origin on 127.0.0.1, localhost
//                      or [::1] is always allowed; `*` allows every origin
//   SIGNALING_MAX_PER_ADDRESS (32)  connections per remote address
//   SIGNALING_TRUST_PROXY=1  an upgrade from loopback counts as its last X-Forwarded-For
//                      address (the app's HTTPS proxy, `npm start -- --lan`; see clientAddress)
//   GET /health → JSON counters (no CORS: pages of other origins cannot read it)
import http from 'node:http';
import { isIP } from 'node:net';
import { WebSocketServer } from 'ws';

export const LIMITS = {
  maxFrameBytes: 64 * 1024,
  maxTopicsPerConn: 32,
  maxTopicLength: 128,
  maxConnections: 512,
  /** per remote address (an IPv6 /64 counts as one address: see addressKey) */
  maxConnectionsPerAddress: 32,
  /** nesting depth of an unencrypted publication's `data` (y-webrtc's signals use ≤ 4) */
  maxDataDepth: 32,
  pingIntervalMs: 30_000,
  /** a connection subscribed to no topic for this long is closed */
  idleMs: 10_000,
  /** a receiver with more unsent bytes than this is dropped */
  maxBufferedBytes: 1024 * 1024,
  /** token bucket per connection: sustained rate and burst, in messages … */
  messagesPerSec: 50,
  messageBurst: 200,
  /** … and in bytes (y-webrtc's signaling is a few KB per peer connection) */
  bytesPerSec: 256 * 1024,
  byteBurst: 1024 * 1024,
  /** all connections of one address share a bucket too, so neither opening many connections
   * nor reconnecting after a close (a fresh per-connection bucket) multiplies the rate */
  messagesPerSecPerAddress: 200,
  messageBurstPerAddress: 800,
  bytesPerSecPerAddress: 1024 * 1024,
  byteBurstPerAddress: 4 * 1024 * 1024,
  /** this many messages over the rate within `abuseWindowMs` closes the connection (1008) */
  abuseDrops: 50,
  abuseWindowMs: 10_000,
};

/** Origins on the machine itself, any port: the app (`npm start`: 4173), tests and benches. */
const LOOPBACK_ORIGIN = /^https?:\/\/(127\.0\.0\.1|localhost|\[::1\])(:\d{1,5})?$/;

/**
 * Whether a WebSocket upgrade's Origin may connect. Browsers always send Origin on WebSocket
 * upgrades, and the check exists to stop *pages* of other sites from using a visitor's
 * browser against this server. A request without Origin is a non-browser client (Node
 * tests, tools), which could send any Origin it likes anyway, so refusing it protects nothing:
 * it is allowed. `Origin: null` (file: pages, sandboxed frames) is refused.
 * @param {string | undefined} origin
 * @param {readonly string[]} extra exact origins, or '*'
 */
export function originAllowed(origin, extra) {
  if (origin === undefined) return true;
  if (LOOPBACK_ORIGIN.test(origin)) return true;
  return extra.includes('*') || extra.includes(origin);
}

/** @param {string | undefined} v */
export function parseOrigins(v) {
  return (v ?? '')
    .split(',')
    .map((s) => s.trim().replace(/\/$/, ''))
    .filter(Boolean);
}

/**
 * Whether a JSON value nests at most `max` levels, walked with an explicit stack (no
 * recursion on client data). The node count is bounded by the frame size.
 * @param {unknown} value @param {number} max
 */
function depthWithin(value, max) {
  /** @type {Array<[unknown, number]>} */
  const stack = [[value, 1]];
  while (stack.length > 0) {
    const [v, depth] = /** @type {[unknown, number]} */ (stack.pop());
    if (v === null || typeof v !== 'object') continue;
    if (depth > max) return false;
    for (const child of Object.values(v)) stack.push([child, depth + 1]);
  }
  return true;
}

/** A token bucket: `rate` per second, at most `burst` stored. */
function bucket(rate, burst, now) {
  let tokens = burst;
  let last = now;
  return {
    /** takes `n` tokens if there are that many */
    take(n, t) {
      tokens = Math.min(burst, tokens + ((t - last) * rate) / 1000);
      last = t;
      if (tokens < n) return false;
      tokens -= n;
      return true;
    },
    /** ms until `n` tokens are there (as of the last `take`) */
    wait(n) {
      return tokens >= n ? 0 : ((n - tokens) * 1000) / rate;
    },
  };
}

const PONG = Buffer.from('{"type":"pong"}');

/**
 * The "address" that the per-address cap and buckets count: an IPv4 address (IPv4-mapped
 * IPv6 included), or an IPv6 /64 — one host usually holds a whole /64, so counting single
 * IPv6 addresses would cap nothing.
 * @param {string | undefined} a a socket's remoteAddress
 */
export function addressKey(a) {
  const s = (a ?? 'unknown').replace(/^::ffff:(?=\d+\.)/i, '').replace(/%.*$/, '');
  if (!s.includes(':')) return s;
  const [head = '', tail = ''] = s.split('::');
  const h = head ? head.split(':') : [];
  const t = s.includes('::') && tail ? tail.split(':') : [];
  const groups = s.includes('::') ? [...h, ...Array(Math.max(0, 8 - h.length - t.length)).fill('0'), ...t] : h;
  return `${groups.slice(0, 4).map((g) => (parseInt(g, 16) || 0).toString(16)).join(':')}::/64`;
}

const LOOPBACK_PEER = /^(127\.|::1$|::ffff:127\.)/;

/**
 * The address a WebSocket upgrade comes from, as the per-address cap and buckets count it.
 * Behind the app's own proxy (`npm start -- --lan`: the HTTPS server forwards /signaling and
 * /relay from loopback) every client would be 127.0.0.1, and all the machines of a LAN would
 * share one cap and one bucket: one machine with many tabs would lock the others out. With
 * `trustProxy`, an upgrade from loopback counts as the last X-Forwarded-For address — the
 * one the proxy appended; earlier ones are whatever the client claimed. Without it, or from
 * any other peer, the header is ignored.
 * @param {import('node:http').IncomingMessage} req
 * @param {boolean} trustProxy
 */
export function clientAddress(req, trustProxy) {
  const peer = req.socket.remoteAddress;
  if (trustProxy && peer !== undefined && LOOPBACK_PEER.test(peer)) {
    const header = req.headers['x-forwarded-for'];
    const last = (Array.isArray(header) ? header.join(',') : (header ?? '')).split(',').pop()?.trim() ?? '';
    if (isIP(last.replace(/%.*$/, ''))) return addressKey(last);
  }
  return addressKey(peer);
}

/**
 * @param {{ host?: string, port?: number, limits?: Partial<typeof LIMITS>, origins?: readonly string[], trustProxy?: boolean, log?: (m: string) => void }} [opts]
 * @returns {Promise<{ port: number, host: string, stats: () => Record<string, number>, close: () => Promise<void> }>}
 */
export function startSignalingServer(opts = {}) {
  const host = opts.host ?? '127.0.0.1';
  const limits = { ...LIMITS, ...(opts.limits ?? {}) };
  const origins = opts.origins ?? [];
  const log = opts.log ?? (() => {});
  /** @type {Map<string, Set<import('ws').WebSocket>>} */
  const topics = new Map();
  /**
   * Per remote address: open connections and the shared buckets. An entry outlives its last
   * connection for a while (swept below), or reconnecting would refill the buckets.
   * @type {Map<string, { conns: number, messages: ReturnType<typeof bucket>, bytes: ReturnType<typeof bucket>, lastSeen: number }>}
   */
  const perAddress = new Map();
  const sweep = setInterval(() => {
    const now = Date.now();
    for (const [a, e] of perAddress) if (e.conns === 0 && now - e.lastSeen > 60_000) perAddress.delete(a);
  }, 30_000);
  sweep.unref();
  const counters = {
    connections: 0,
    accepted: 0,
    /** refused for the total or the per-address cap (1013) */
    refused: 0,
    refusedPerAddress: 0,
    /** upgrades refused for their Origin (403) */
    refusedOrigin: 0,
    relayed: 0,
    /** malformed, unauthorized or over-limit requests */
    dropped: 0,
    /** messages over a connection's rate */
    rateLimited: 0,
    /** connections closed for persistent excess */
    closedAbusive: 0,
    closedIdle: 0,
    /** receivers dropped because they did not read (send buffer over maxBufferedBytes) */
    closedSlow: 0,
    /** exceptions caught in a handler (a bug, or an input nobody foresaw) */
    errors: 0,
  };
  const caught = (/** @type {string} */ where, /** @type {unknown} */ e) => {
    counters.errors++;
    log(`signaling: error in ${where}: ${e instanceof Error ? e.message : String(e)}`);
  };

  const server = http.createServer((req, res) => {
    try {
      const path = (req.url ?? '/').split('?')[0];
      if (req.method !== 'GET' && req.method !== 'HEAD') {
        res.writeHead(405, { allow: 'GET, HEAD' }).end();
      } else if (path === '/health' || path === '/') {
        // no access-control-allow-origin: only same-origin pages and non-browser clients read it
        res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'no-store' });
        res.end(JSON.stringify({ ok: true, topics: topics.size, ...counters }));
      } else {
        res.writeHead(404).end();
      }
    } catch (e) {
      caught('http', e);
      res.destroy();
    }
  });
  server.on('clientError', (_e, socket) => socket.destroy());
  const wss = new WebSocketServer({ noServer: true, maxPayload: limits.maxFrameBytes, perMessageDeflate: false });
  wss.on('error', (e) => caught('wss', e));

  server.on('upgrade', (req, socket, head) => {
    socket.on('error', () => socket.destroy());
    try {
      if (!originAllowed(req.headers.origin, origins)) {
        counters.refusedOrigin++;
        socket.end('HTTP/1.1 403 Forbidden\r\nconnection: close\r\ncontent-length: 0\r\n\r\n');
        return;
      }
      wss.handleUpgrade(req, socket, head, (conn) => onConnection(conn, clientAddress(req, opts.trustProxy === true)));
    } catch (e) {
      caught('upgrade', e);
      socket.destroy();
    }
  });

  /**
   * Sends one text frame (encoded once by the caller, however many receivers it has).
   * @param {import('ws').WebSocket} conn @param {Buffer} message UTF-8 JSON
   */
  const send = (conn, message) => {
    if (conn.readyState !== conn.OPEN) return;
    // Invariant: a connection never holds more than maxBufferedBytes unsent. A receiver that
    // does not read is cut off rather than buffered for.
    if (conn.bufferedAmount + message.length > limits.maxBufferedBytes) {
      counters.closedSlow++;
      conn.terminate(); // a close frame would queue behind the full buffer
      return;
    }
    try {
      conn.send(message, { binary: false });
    } catch {
      conn.terminate();
    }
  };

  /**
   * Closes with a reason the client can read, and cuts the socket if the client does not
   * answer the close within a second (ws would wait 30 s, holding the socket and its slot).
   * @param {import('ws').WebSocket} conn @param {number} code @param {string} reason
   */
  const shut = (conn, code, reason) => {
    conn.close(code, reason);
    setTimeout(() => conn.terminate(), 1000).unref();
  };

  /** @param {import('ws').WebSocket} conn @param {string} address */
  function onConnection(conn, address) {
    conn.on('error', () => conn.terminate());
    if (counters.connections >= limits.maxConnections) {
      counters.refused++;
      shut(conn, 1013, 'server full');
      return;
    }
    const now0 = Date.now();
    let at = perAddress.get(address);
    if (!at) {
      at = {
        conns: 0,
        messages: bucket(limits.messagesPerSecPerAddress, limits.messageBurstPerAddress, now0),
        bytes: bucket(limits.bytesPerSecPerAddress, limits.byteBurstPerAddress, now0),
        lastSeen: now0,
      };
      perAddress.set(address, at);
    }
    const shared = at;
    shared.lastSeen = now0;
    if (shared.conns >= limits.maxConnectionsPerAddress) {
      counters.refused++;
      counters.refusedPerAddress++;
      shut(conn, 1013, 'too many connections from this address');
      return;
    }
    shared.conns++;
    counters.connections++;
    counters.accepted++;
    /** @type {Set<string>} */
    const mine = new Set();
    const messages = bucket(limits.messagesPerSec, limits.messageBurst, now0);
    const bytes = bucket(limits.bytesPerSec, limits.byteBurst, now0);
    let excess = 0;
    let excessSince = 0;
    let paused = false;
    let alive = true;

    /** @type {ReturnType<typeof setTimeout> | undefined} */
    let idle;
    const armIdle = () => {
      clearTimeout(idle);
      idle = setTimeout(() => {
        if (mine.size > 0) return;
        counters.closedIdle++;
        shut(conn, 1008, 'idle: subscribed to nothing');
      }, limits.idleMs);
    };
    armIdle();

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
    conn.on('close', () => {
      try {
        clearInterval(ping);
        clearTimeout(idle);
        counters.connections--;
        shared.conns--;
        shared.lastSeen = Date.now();
        for (const t of mine) leave(t);
        mine.clear();
      } catch (e) {
        caught('close', e);
      }
    });
    const leave = (/** @type {string} */ t) => {
      const subs = topics.get(t);
      subs?.delete(conn);
      if (subs && subs.size === 0) topics.delete(t);
    };
    const topicsOf = (/** @type {{ topics?: unknown }} */ m) =>
      Array.isArray(m.topics)
        ? m.topics.filter((t) => typeof t === 'string' && t.length > 0 && t.length <= limits.maxTopicLength)
        : [];

    /** @param {import('ws').RawData} raw @param {boolean} isBinary */
    const onMessage = (raw, isBinary) => {
      if (conn.readyState !== conn.OPEN) return; // closing: what is still in flight is ignored
      // Rate first, before any parsing: excess costs no more than the frame itself.
      const size = Array.isArray(raw) ? raw.reduce((n, b) => n + b.length, 0) : raw.byteLength;
      const now = Date.now();
      shared.lastSeen = now;
      if (!messages.take(1, now) || !bytes.take(size, now) || !shared.messages.take(1, now) || !shared.bytes.take(size, now)) {
        counters.rateLimited++;
        if (now - excessSince > limits.abuseWindowMs) {
          excessSince = now;
          excess = 0;
        }
        if (++excess >= limits.abuseDrops && conn.readyState === conn.OPEN) {
          counters.closedAbusive++;
          shut(conn, 1008, 'rate limit');
          return;
        }
        // Back-pressure: stop reading this socket until its buckets have refilled. What the
        // client sends meanwhile waits in TCP buffers (its own memory, not ours), and a
        // flood costs the server no more than the rate it is allowed.
        if (!paused && conn.readyState === conn.OPEN) {
          paused = true;
          conn.pause();
          const wait = Math.max(messages.wait(1), bytes.wait(size), shared.messages.wait(1), shared.bytes.wait(size));
          setTimeout(() => {
            paused = false;
            if (conn.readyState === conn.OPEN) conn.resume();
          }, Math.min(1_000, Math.max(20, wait)));
        }
        return;
      }
      /** @type {unknown} */
      let msg;
      try {
        if (isBinary) throw new Error('binary');
        // binaryType is 'nodebuffer' (ws's default): a text message arrives as one Buffer
        msg = JSON.parse(Buffer.isBuffer(raw) ? raw.toString() : Buffer.concat(Array.isArray(raw) ? raw : [Buffer.from(raw)]).toString());
      } catch {
        counters.dropped++;
        return;
      }
      if (!msg || typeof msg !== 'object' || Array.isArray(msg)) {
        counters.dropped++;
        return;
      }
      const m = /** @type {{ type?: unknown, topic?: unknown, topics?: unknown, data?: unknown }} */ (msg);
      switch (m.type) {
        case 'subscribe':
          for (const t of topicsOf(m)) {
            if (mine.size >= limits.maxTopicsPerConn && !mine.has(t)) {
              counters.dropped++;
              break;
            }
            let subs = topics.get(t);
            if (!subs) topics.set(t, (subs = new Set()));
            subs.add(conn);
            mine.add(t);
          }
          if (mine.size > 0) clearTimeout(idle);
          break;
        case 'unsubscribe':
          for (const t of topicsOf(m)) {
            leave(t);
            mine.delete(t);
          }
          if (mine.size === 0) armIdle();
          break;
        case 'publish': {
          if (typeof m.topic !== 'string' || !mine.has(m.topic)) {
            // only members of a room may publish to it
            counters.dropped++;
            break;
          }
          // `data` is an encrypted string (rooms with a password: every tabdrive room) or a
          // small object (unencrypted y-webrtc); anything deeper than maxDataDepth is not
          // signaling, and would make re-serializing it unbounded recursion.
          const data = m.data;
          if (data === undefined || !depthWithin(data, limits.maxDataDepth)) {
            counters.dropped++;
            break;
          }
          const receivers = topics.get(m.topic);
          if (!receivers) break;
          const out = Buffer.from(JSON.stringify({ type: 'publish', topic: m.topic, data, clients: receivers.size }));
          for (const r of receivers) send(r, out);
          counters.relayed++;
          break;
        }
        case 'ping':
          send(conn, PONG);
          break;
        default:
          counters.dropped++;
      }
    };
    conn.on('message', (raw, isBinary) => {
      try {
        onMessage(raw, isBinary);
      } catch (e) {
        caught('message', e);
      }
    });
  }

  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 4444, host, () => {
      server.off('error', reject);
      server.on('error', (e) => caught('server', e));
      const addr = server.address();
      const port = typeof addr === 'object' && addr ? addr.port : (opts.port ?? 4444);
      log(`signaling: ws://${host}:${port}`);
      resolve({
        host,
        port,
        stats: () => ({ topics: topics.size, ...counters }),
        close: () =>
          new Promise((done) => {
            clearInterval(sweep);
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
  const perAddress = Number(process.env.SIGNALING_MAX_PER_ADDRESS ?? LIMITS.maxConnectionsPerAddress);
  const origins = parseOrigins(process.env.SIGNALING_ORIGINS);
  startSignalingServer({
    host,
    port,
    origins,
    trustProxy: ['1', 'true', 'yes'].includes((process.env.SIGNALING_TRUST_PROXY ?? '').toLowerCase()),
    limits: { maxConnectionsPerAddress: Number.isInteger(perAddress) && perAddress > 0 ? perAddress : LIMITS.maxConnectionsPerAddress },
    log: (m) => console.log(m),
  }).catch((e) => {
    console.error(`signaling server failed to start: ${e instanceof Error ? e.message : String(e)}`);
    process.exit(1);
  });
}
