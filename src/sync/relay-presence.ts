/**
 * Presence through the relay: what a device publishes over awareness to the tabs and WebRTC
 * peers (its uuid, name, schema, and its anti-entropy digest and busy flag), sent every few
 * seconds as an encrypted PRESENCE message that the relay fans out to the library's other
 * subscribers and never stores. Devices that reach each other only through the relay then
 * list each other as online, with the path "relay".
 *
 *  RP1 The relay sees ciphertext only (AES-GCM with the library's blob key, slot "presence").
 *  RP2 A message is checked field by field after decryption; anything malformed (or undecryptable)
 *      is counted and skipped, never thrown on. Our own device is ignored.
 *  RP3 A device is online via the relay while its messages keep coming: one older than
 *      `timeoutMs` (3 intervals), or the relay connection dropping, makes it offline.
 *  RP4 At most one message per `intervalMs` (the relay refuses more than one a second); a change
 *      of name or sync state goes out at the next tick.
 */
import { OP, type RelayConnection, type RelayPush } from '../transport/relay.ts';
import { decryptBlob, encryptBlob, type RelayKeys } from '../transport/relay-crypto.ts';
import type { PeerInfo } from '../transport/transport-types.ts';

export const PRESENCE_VERSION = 1;
export const PRESENCE_INTERVAL_MS = 5000;
const SLOT = 'presence';
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
/** a message claiming a time further than this from ours is stale (a replay) or from a broken clock */
const MAX_SKEW_MS = 5 * 60_000;
/** the anti-entropy digest: `table=count:hash` for each table (~30 characters each) */
const MAX_DIGEST_CHARS = 2048;

export interface PresenceState {
  readonly device: string;
  readonly name: string;
  readonly schema: number | null;
  readonly digest: string | null;
  readonly busy: boolean;
}

export interface RelayPeer extends PresenceState {
  /** when the last message from it arrived (our clock) */
  readonly seen: number;
}

export interface RelayPresenceDeps {
  readonly conn: RelayConnection;
  readonly keys: RelayKeys;
  /** what this device publishes now */
  readonly self: () => PresenceState;
  readonly now: () => number;
  readonly intervalMs?: number;
  readonly timeoutMs?: number;
}

export interface RelayPresence {
  /** devices heard from through the relay within the timeout, as the Devices list takes them */
  peers(): PeerInfo[];
  /** the same with their sync states (digest, busy) */
  states(): RelayPeer[];
  onChange(fn: () => void): () => void;
  readonly stats: { sent: number; received: number; invalid: number; refused: number };
  destroy(): void;
}

export async function encodePresence(keys: RelayKeys, s: PresenceState, at: number): Promise<Uint8Array> {
  const body = { v: PRESENCE_VERSION, device: s.device, name: s.name, schema: s.schema, digest: s.digest, busy: s.busy, at };
  return encryptBlob(keys, new TextEncoder().encode(JSON.stringify(body)), SLOT);
}

/** The state in a decrypted message, or null when any field is not what it must be. */
export function parsePresence(bytes: Uint8Array, now: number): PresenceState | null {
  let o: unknown;
  try {
    o = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes));
  } catch {
    return null;
  }
  if (typeof o !== 'object' || o === null) return null;
  const m = o as Record<string, unknown>;
  if (m['v'] !== PRESENCE_VERSION) return null;
  const { device, name, schema, digest, busy, at } = m;
  if (typeof device !== 'string' || !UUID.test(device)) return null;
  if (typeof name !== 'string' || name.length > 200) return null;
  if (schema !== null && !(typeof schema === 'number' && Number.isSafeInteger(schema) && schema > 0)) return null;
  if (digest !== null && !(typeof digest === 'string' && digest.length <= MAX_DIGEST_CHARS)) return null;
  if (typeof busy !== 'boolean') return null;
  if (typeof at !== 'number' || !Number.isFinite(at) || Math.abs(at - now) > MAX_SKEW_MS) return null;
  return { device, name, schema, digest, busy };
}

export function createRelayPresence(deps: RelayPresenceDeps): RelayPresence {
  const { conn, keys } = deps;
  const intervalMs = deps.intervalMs ?? PRESENCE_INTERVAL_MS;
  const timeoutMs = deps.timeoutMs ?? 3 * intervalMs;
  const seen = new Map<string, RelayPeer>();
  const listeners = new Set<() => void>();
  const stats = { sent: 0, received: 0, invalid: 0, refused: 0 };
  let destroyed = false;
  let sending = false;

  const changed = (): void => {
    for (const fn of listeners) {
      try {
        fn();
      } catch {
        /* a listener's bug must not stop the others */
      }
    }
  };

  const send = async (): Promise<void> => {
    if (destroyed || sending || conn.stats.state !== 'connected') return;
    sending = true;
    try {
      await conn.request(OP.PRESENCE, { h: keys.handle }, await encodePresence(keys, deps.self(), deps.now()));
      stats.sent++;
    } catch {
      // refused (rate), or the connection dropped: the next tick sends again
      stats.refused++;
    } finally {
      sending = false;
    }
  };

  const expire = (): void => {
    const now = deps.now();
    let gone = false;
    for (const [d, p] of seen) {
      if (now - p.seen > timeoutMs) {
        seen.delete(d);
        gone = true;
      }
    }
    if (gone) changed();
  };

  const onPush = (p: RelayPush): void => {
    if (p.op !== OP.EV_PRESENCE || p.meta['h'] !== keys.handle) return;
    void decryptBlob(keys, p.payload, SLOT).then(
      (plain) => {
        if (destroyed) return;
        const now = deps.now();
        const s = parsePresence(plain, now);
        if (!s) {
          stats.invalid++;
          return;
        }
        if (s.device === deps.self().device) return;
        stats.received++;
        const before = seen.get(s.device);
        seen.set(s.device, { ...s, seen: now });
        if (!before || before.name !== s.name || before.schema !== s.schema || before.digest !== s.digest || before.busy !== s.busy) changed();
      },
      () => {
        stats.invalid++;
      },
    );
  };

  const offPush = conn.onPush(onPush);
  const offState = conn.onState((s) => {
    if (s === 'connected') void send();
    else if (seen.size > 0) {
      // without the relay nobody is reachable through it
      seen.clear();
      changed();
    }
  });
  const timer = setInterval(() => {
    expire();
    void send();
  }, intervalMs);
  void send();

  return {
    peers: () =>
      [...seen.values()].map((p) => ({ device: p.device, name: p.name, path: 'relay' as const, connected: true, synced: true, schema: p.schema })),
    states: () => [...seen.values()],
    onChange(fn) {
      listeners.add(fn);
      return () => listeners.delete(fn);
    },
    stats,
    destroy() {
      destroyed = true;
      clearInterval(timer);
      offPush();
      offState();
      seen.clear();
    },
  };
}
