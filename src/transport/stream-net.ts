/**
 * Nets for the owned-state stream (core/stream.ts): a transport is `send` / `onReceive` /
 * `destroy` (the TinyBase synchronizer shape), addressed by device uuid. Three of them carry
 * the same bytes — BroadcastChannel between tabs, the chunked WebRTC data channel between
 * browsers, and an in-memory hub for Node tests and the simulator — and pass one contract
 * suite (tests/integration/stream-net.contract.test.ts, the e2e stream tests for WebRTC).
 *
 * Invariants:
 *  N1 A message is delivered whole, once, to the device it is addressed to (or to every peer
 *     for `to = null`), with the sender's device uuid — or not at all. Nothing a peer sends can
 *     throw here: malformed frames are counted (`dropped`) and ignored.
 *  N2 Between tabs the bytes are encrypted with a key derived from the invite secret (AES-GCM),
 *     like y-webrtc's BroadcastChannel traffic; the addressee travels in clear in front so
 *     other tabs skip a page without decrypting it. Data channels are DTLS-encrypted already.
 *  N3 Paused, a net sends and delivers nothing.
 */
import type { Channel } from './channel.ts';
import type { StreamEndpoint } from './chunked-channel.ts';
import type { Prng } from '../core/prng.ts';

/** A Channel (channel.ts) addressed by device uuid. */
export interface StreamNet extends Channel {
  /** whether this net reaches `device` directly (a data-channel peer that said hello) */
  reaches?(device: string): boolean;
  setPaused(paused: boolean): void;
  /** test hook (a lossy moment): drop every inbound message for `ms` */
  dropInboundFor?(ms: number): void;
  readonly counters: NetCounters;
}

export interface NetCounters {
  sent: number;
  received: number;
  bytesSent: number;
  bytesReceived: number;
  dropped: number;
}

const ID_BYTES = 36;
const BROADCAST = '0'.repeat(ID_BYTES);
const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const ascii = new TextEncoder();
const text = new TextDecoder();
const newCounters = (): NetCounters => ({ sent: 0, received: 0, bytesSent: 0, bytesReceived: 0, dropped: 0 });

/** Receivers of a net's messages; one that throws does not stop the others (N1). */
export function listeners(): { add(cb: (from: string, m: Uint8Array) => void): () => void; emit(from: string, m: Uint8Array): void } {
  const set = new Set<(from: string, m: Uint8Array) => void>();
  return {
    add(cb) {
      set.add(cb);
      return () => set.delete(cb);
    },
    emit(from, m) {
      for (const cb of set) {
        try {
          cb(from, m);
        } catch {
          /* a receiver's bug must not stop the others (N1) */
        }
      }
    },
  };
}

const readId = (b: Uint8Array, at: number): string | null => {
  if (b.byteLength < at + ID_BYTES) return null;
  const id = text.decode(b.subarray(at, at + ID_BYTES));
  return id === BROADCAST || UUID_RE.test(id) ? id : null;
};

/** Derives the stream's AES-GCM key from the room password (HKDF: the password is already a
 *  high-entropy secret derived from the invite). */
export async function deriveStreamKey(password: string, room: string): Promise<CryptoKey> {
  const base = await crypto.subtle.importKey('raw', ascii.encode(password), 'HKDF', false, ['deriveKey']);
  return crypto.subtle.deriveKey(
    { name: 'HKDF', hash: 'SHA-256', salt: ascii.encode('tabdrive:stream:v1'), info: ascii.encode(room) },
    base,
    { name: 'AES-GCM', length: 256 },
    false,
    ['encrypt', 'decrypt'],
  );
}

/**
 * Tabs of one browser. Frame: to (36 ASCII, zeros = everyone) · from (36) · iv (12) · AES-GCM
 * ciphertext of the message. Sends keep their order (one encryption lane).
 */
export function createBroadcastNet(o: { readonly name: string; readonly key: CryptoKey; readonly self: string; readonly BroadcastChannelImpl?: typeof BroadcastChannel }): StreamNet {
  const BC = o.BroadcastChannelImpl ?? BroadcastChannel;
  const counters = newCounters();
  const out = listeners();
  let channel: BroadcastChannel | null = null;
  let paused = false;
  let lane: Promise<unknown> = Promise.resolve();
  let receiving: Promise<unknown> = Promise.resolve();
  let dropUntil = 0;
  const selfBytes = ascii.encode(o.self);
  const onMessage = (ev: MessageEvent<unknown>): void => {
    const data = ev.data;
    const b = data instanceof Uint8Array ? data : data instanceof ArrayBuffer ? new Uint8Array(data) : null;
    const to = b ? readId(b, 0) : null;
    const from = b ? readId(b, ID_BYTES) : null;
    if (!b || !to || !from || from === BROADCAST || b.byteLength < 2 * ID_BYTES + 12 + 16) {
      counters.dropped++;
      return;
    }
    if (to !== BROADCAST && to !== o.self) return; // another tab's page: not even decrypted
    if (from === o.self || paused || Date.now() < dropUntil) return;
    const iv = b.slice(2 * ID_BYTES, 2 * ID_BYTES + 12);
    // decryptions may finish out of order; deliveries keep the order messages arrived in.
    // A frame that does not open settles as null at once: it may fail before the frames
    // ahead of it are delivered, and a rejection nobody handled yet is an unhandled one.
    const plain = crypto.subtle.decrypt({ name: 'AES-GCM', iv }, o.key, b.subarray(2 * ID_BYTES + 12) as Uint8Array<ArrayBuffer>).catch(() => null);
    receiving = receiving.then(() => plain).then((bytes) => {
      if (bytes === null) return void counters.dropped++;
      if (paused) return;
      counters.received++;
      counters.bytesReceived += b.byteLength;
      out.emit(from, new Uint8Array(bytes));
    });
  };
  const open = (): void => {
    channel = new BC(o.name);
    channel.onmessage = onMessage;
  };
  open();
  return {
    counters,
    send(to, message) {
      if (paused || !channel) return;
      const head = new Uint8Array(2 * ID_BYTES + 12);
      head.set(ascii.encode(to ?? BROADCAST), 0);
      head.set(selfBytes, ID_BYTES);
      const iv = crypto.getRandomValues(new Uint8Array(12));
      head.set(iv, 2 * ID_BYTES);
      // settled at once, like `plain` above: a failure is not left unhandled behind the lane
      const sealed = crypto.subtle.encrypt({ name: 'AES-GCM', iv }, o.key, message as Uint8Array<ArrayBuffer>).catch(() => null);
      lane = lane.then(async () => {
        const done = await sealed;
        if (done === null) return; // never with a valid key: nothing to send
        const cipher = new Uint8Array(done);
        const frame = new Uint8Array(head.byteLength + cipher.byteLength);
        frame.set(head, 0);
        frame.set(cipher, head.byteLength);
        if (paused || !channel) return;
        channel.postMessage(frame);
        counters.sent++;
        counters.bytesSent += frame.byteLength;
      }).catch(() => undefined);
    },
    onReceive: (cb) => out.add(cb),
    // a lossy moment, for tests: the test build only (vite.config.ts), like the transport's
    ...(import.meta.env.MODE === 'test' ? { dropInboundFor: (ms: number) => void (dropUntil = Date.now() + ms) } : {}),
    setPaused(p) {
      paused = p;
      if (p) {
        channel?.close();
        channel = null;
      } else if (!channel) open();
    },
    destroy() {
      paused = true;
      channel?.close();
      channel = null;
    },
  };
}

const HELLO = 1;
const DATA = 2;

/**
 * Browsers: the chunked data channels (chunked-channel.ts, frame kind STREAM). Each side says
 * hello with its device uuid when a channel opens; messages then go to the channel of their
 * addressee. `hooks` plug into `chunkedWrtc`.
 * Frame: kind (1 hello, 2 data) · from (36) · message.
 */
export function createDataChannelNet(self: string): {
  readonly net: StreamNet;
  readonly hooks: { onStreamChannel(c: StreamEndpoint, e: 'open' | 'close'): void; onStream(c: StreamEndpoint, m: Uint8Array): void };
} {
  const counters = newCounters();
  const out = listeners();
  const byDevice = new Map<string, StreamEndpoint>();
  const open = new Set<StreamEndpoint>();
  let paused = false;
  const frame = (kind: number, message: Uint8Array): Uint8Array => {
    const f = new Uint8Array(1 + ID_BYTES + message.byteLength);
    f[0] = kind;
    f.set(ascii.encode(self), 1);
    f.set(message, 1 + ID_BYTES);
    return f;
  };
  const put = (c: StreamEndpoint, f: Uint8Array): void => {
    if (!c.open) return;
    c.send(f);
    counters.sent++;
    counters.bytesSent += f.byteLength;
  };
  const net: StreamNet = {
    counters,
    send(to, message) {
      if (paused) return;
      const f = frame(DATA, message);
      if (to === null) {
        for (const c of new Set(byDevice.values())) put(c, f);
        return;
      }
      const c = byDevice.get(to);
      if (c) put(c, f);
    },
    onReceive: (cb) => out.add(cb),
    reaches: (device) => !paused && (byDevice.get(device)?.open ?? false),
    setPaused(p) {
      paused = p;
    },
    destroy() {
      paused = true;
      byDevice.clear();
      open.clear();
    },
  };
  return {
    net,
    hooks: {
      onStreamChannel(c, e) {
        if (e === 'open') {
          open.add(c);
          put(c, frame(HELLO, new Uint8Array(0)));
          return;
        }
        open.delete(c);
        for (const [d, x] of byDevice) if (x === c) byDevice.delete(d);
      },
      onStream(c, m) {
        const from = readId(m, 1);
        if (m.byteLength < 1 + ID_BYTES || (m[0] !== HELLO && m[0] !== DATA) || !from || from === BROADCAST || from === self) {
          counters.dropped++;
          return;
        }
        const known = byDevice.get(from) === c;
        byDevice.set(from, c); // the latest channel a device spoke on is the one to answer on
        // A hello is answered once, so each side learns the other even when its own hello was
        // lost or never sent (a channel already open when it was handed over fires no 'open'):
        // a device that knows no channel to a peer sends its pulls nowhere, and waits for ever.
        if (m[0] === HELLO && !known && c.open) put(c, frame(HELLO, new Uint8Array(0)));
        if (m[0] === HELLO || paused) return;
        counters.received++;
        counters.bytesReceived += m.byteLength;
        out.emit(from, m.slice(1 + ID_BYTES));
      },
    },
  };
}

/** Tabs and browsers as one net: a device a data channel reaches is sent to there, any other
 *  over the BroadcastChannel; `null` goes to both. */
export function combineNets(tabs: StreamNet, browsers: StreamNet): StreamNet {
  const counters = newCounters();
  return {
    get counters() {
      for (const k of Object.keys(counters) as (keyof NetCounters)[]) counters[k] = tabs.counters[k] + browsers.counters[k];
      return counters;
    },
    send(to, message) {
      if (to !== null && browsers.reaches?.(to)) return browsers.send(to, message);
      tabs.send(to, message);
      if (to === null) browsers.send(null, message);
    },
    onReceive(cb) {
      const a = tabs.onReceive(cb);
      const b = browsers.onReceive(cb);
      return () => {
        a();
        b();
      };
    },
    reaches: (d) => browsers.reaches?.(d) ?? false,
    setPaused(p) {
      tabs.setPaused(p);
      browsers.setPaused(p);
    },
    destroy() {
      tabs.destroy();
      browsers.destroy();
    },
  };
}

export interface MemoryHubFaults {
  readonly drop: number;
  readonly duplicate: number;
  readonly reorder: number;
}

/**
 * The in-memory net (simulator, Node tests): a seeded hub that queues every message and
 * delivers it when asked, dropping, duplicating and reordering from the PRNG (deterministic),
 * with links that can be cut.
 */
export function createMemoryHub(prng: Prng, faults: MemoryHubFaults = { drop: 0, duplicate: 0, reorder: 0 }) {
  const members = new Map<string, { emit: (from: string, m: Uint8Array) => void; paused: () => boolean; received: (m: Uint8Array) => void }>();
  const cut = new Set<string>();
  const isolated = new Set<string>();
  let queue: { from: string; to: string; m: Uint8Array }[] = [];
  const pair = (a: string, b: string): string => (a < b ? `${a}|${b}` : `${b}|${a}`);
  const linked = (a: string, b: string): boolean =>
    a !== b && !cut.has(pair(a, b)) && !isolated.has(a) && !isolated.has(b) && members.has(a) && members.has(b);
  const leave = (self: string): void => {
    members.delete(self);
    queue = queue.filter((q) => q.to !== self && q.from !== self);
  };
  return {
    linked,
    leave,
    isolate(id: string, on: boolean): void {
      if (on) isolated.add(id);
      else isolated.delete(id);
    },
    join(self: string): StreamNet {
      const counters = newCounters();
      const out = listeners();
      let paused = false;
      members.set(self, {
        emit: (from, m) => out.emit(from, m),
        paused: () => paused,
        received: (m) => {
          counters.received++;
          counters.bytesReceived += m.byteLength;
        },
      });
      return {
        counters,
        send(to, message) {
          if (paused) return;
          const targets = to === null ? [...members.keys()].filter((d) => d !== self) : [to];
          for (const t of targets) {
            if (!linked(self, t)) continue;
            queue.push({ from: self, to: t, m: message.slice() });
            counters.sent++;
            counters.bytesSent += message.byteLength;
          }
        },
        onReceive: (cb) => out.add(cb),
        reaches: (d) => linked(self, d),
        setPaused(p) {
          paused = p;
        },
        destroy: () => leave(self),
      };
    },
    setLink(a: string, b: string, up: boolean): void {
      if (up) cut.delete(pair(a, b));
      else cut.add(pair(a, b));
    },
    /** Delivers up to n queued messages (faults applied); returns how many were taken. */
    deliver(n = Infinity): number {
      let done = 0;
      while (queue.length && done < n) {
        const i = prng.chance(faults.reorder) ? Math.floor(prng.next() * queue.length) : 0;
        const [q] = queue.splice(i, 1);
        if (!q) break;
        done++;
        const to = members.get(q.to);
        if (!to || to.paused() || !linked(q.from, q.to) || prng.chance(faults.drop)) continue;
        if (prng.chance(faults.duplicate)) queue.splice(Math.floor(prng.next() * (queue.length + 1)), 0, q);
        to.received(q.m);
        to.emit(q.from, q.m);
      }
      return done;
    },
    pending: (): number => queue.length,
  };
}
