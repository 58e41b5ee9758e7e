// @ts-check
// Fan-out between relay processes and the compaction lease. With REDIS_URL: Redis pub/sub
// (one channel per subscribed handle; the channel name is the opaque handle) and Redis keys
// for leases. Without: in-process. The bus only carries hints — the store is the truth: a
// relay delivers to its clients in seq order and fills any gap from the store, and it polls
// the store while the bus is down, so a lost or late message delays, never loses.
import { randomBytes } from 'node:crypto';

/**
 * @typedef {{
 *   kind: 'local' | 'redis',
 *   healthy(): boolean,
 *   subscribe(channel: string): Promise<void>,
 *   unsubscribe(channel: string): Promise<void>,
 *   publish(channel: string, message: Buffer): Promise<void>,
 *   onMessage(fn: (channel: string, message: Buffer) => void): void,
 *   acquire(key: string, ttlMs: number): Promise<string | null>,
 *   renew(key: string, token: string, ttlMs: number): Promise<boolean>,
 *   release(key: string, token: string): Promise<void>,
 *   close(): Promise<void>,
 * }} Bus
 */

/** @returns {Bus} */
export function localBus() {
  /** @type {((channel: string, message: Buffer) => void)[]} */
  const handlers = [];
  const subscribed = new Set();
  /** @type {Map<string, { token: string, until: number }>} */
  const leases = new Map();
  const held = (/** @type {string} */ key) => {
    const l = leases.get(key);
    if (l && l.until <= Date.now()) leases.delete(key);
    return leases.get(key);
  };
  return {
    kind: 'local',
    healthy: () => true,
    async subscribe(c) {
      subscribed.add(c);
    },
    async unsubscribe(c) {
      subscribed.delete(c);
    },
    async publish(c, m) {
      if (!subscribed.has(c)) return;
      // async like Redis, so a publisher never re-enters its own delivery
      queueMicrotask(() => {
        for (const h of handlers) h(c, m);
      });
    },
    onMessage(fn) {
      handlers.push(fn);
    },
    async acquire(key, ttlMs) {
      if (held(key)) return null;
      const token = randomBytes(16).toString('hex');
      leases.set(key, { token, until: Date.now() + ttlMs });
      return token;
    },
    async renew(key, token, ttlMs) {
      const l = held(key);
      if (!l || l.token !== token) return false;
      l.until = Date.now() + ttlMs;
      return true;
    },
    async release(key, token) {
      if (held(key)?.token === token) leases.delete(key);
    },
    async close() {},
  };
}

const RENEW = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('pexpire', KEYS[1], ARGV[2]) else return 0 end";
const RELEASE = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) else return 0 end";

/**
 * @param {string} url
 * @param {{ prefix?: string, log?: (m: string) => void }} [opts]
 * @returns {Promise<Bus>}
 */
export async function redisBus(url, opts = {}) {
  const { Redis } = await import('ioredis');
  const prefix = opts.prefix ?? 'tdrelay:';
  const log = opts.log ?? (() => {});
  const common = {
    // a command while Redis is away fails at once instead of queueing without bound
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
    connectTimeout: 2000,
    retryStrategy: (/** @type {number} */ times) => Math.min(100 * times, 1000),
    lazyConnect: true,
  };
  const pub = new Redis(url, common);
  // the subscriber re-subscribes by itself after a reconnect (ioredis autoResubscribe)
  const sub = new Redis(url, { ...common, enableOfflineQueue: true, maxRetriesPerRequest: null });
  let pubUp = false;
  let subUp = false;
  let wasUp = true;
  const report = () => {
    const up = pubUp && subUp;
    if (up !== wasUp) log(up ? 'redis: connected; fan-out through Redis' : 'redis: unreachable; fan-out falls back to polling the store');
    wasUp = up;
  };
  pub.on('ready', () => ((pubUp = true), report()));
  sub.on('ready', () => ((subUp = true), report()));
  for (const [c, set] of /** @type {const} */ ([
    [pub, (/** @type {boolean} */ v) => (pubUp = v)],
    [sub, (/** @type {boolean} */ v) => (subUp = v)],
  ])) {
    c.on('close', () => (set(false), report()));
    c.on('end', () => (set(false), report()));
    c.on('error', () => {}); // 'close' follows; reconnects by retryStrategy
  }
  await Promise.all([pub.connect(), sub.connect()]);
  /** @type {((channel: string, message: Buffer) => void)[]} */
  const handlers = [];
  sub.on('messageBuffer', (/** @type {Buffer} */ ch, /** @type {Buffer} */ msg) => {
    const c = ch.toString().slice(prefix.length);
    for (const h of handlers) h(c, msg);
  });
  return {
    kind: 'redis',
    healthy: () => pubUp && subUp,
    async subscribe(c) {
      await sub.subscribe(prefix + c);
    },
    async unsubscribe(c) {
      await sub.unsubscribe(prefix + c).catch(() => {});
    },
    async publish(c, m) {
      await pub.publish(prefix + c, m);
    },
    onMessage(fn) {
      handlers.push(fn);
    },
    async acquire(key, ttlMs) {
      const token = randomBytes(16).toString('hex');
      const r = await pub.set(prefix + key, token, 'PX', ttlMs, 'NX');
      return r === 'OK' ? token : null;
    },
    async renew(key, token, ttlMs) {
      return Number(await pub.eval(RENEW, 1, prefix + key, token, String(ttlMs))) === 1;
    },
    async release(key, token) {
      await pub.eval(RELEASE, 1, prefix + key, token);
    },
    async close() {
      pub.disconnect();
      sub.disconnect();
    },
  };
}
