/**
 * The tabs of this browser: one BroadcastChannel named after the room, every message sealed
 * with the room key (crypto.ts). A Channel (../channel.ts) whose peers are not addressed: a
 * message goes to every other tab (`to` is ignored) and arrives from TABS.
 *
 * Changed from y-webrtc 10.3.0 (which publishes through lib0's shared BroadcastChannel):
 *  - a channel of our own: a tab never receives its own messages (lib0 looped them back, and
 *    y-webrtc re-applied its own updates and answered its own sync step 1 with the whole
 *    document to every tab);
 *  - what is not framed as AES-GCM, does not decrypt or is not bytes is dropped and counted
 *    (`onDrop`), never thrown (y-webrtc's decrypt left a rejected promise for garbage);
 *  - sends and deliveries keep their order (one encryption lane, one decryption lane);
 *  - `destroy` stops receiving at once but sends what was queued before it (the goodbye a
 *    disconnect broadcasts), then closes.
 */
import type { Channel } from '../channel.ts';
import { isSealed, open, seal } from './crypto.ts';

/** the sender every tab message is delivered with */
export const TABS = 'tabs';

export interface TabChannelOptions {
  readonly name: string;
  readonly key: CryptoKey;
  /** a message was dropped: why (counted by the caller) */
  readonly onDrop: (why: string) => void;
  /** bytes of a well-framed inbound message, before decryption (diagnostics) */
  readonly onBytes?: (n: number) => void;
  /** test hook (a lossy moment): true drops the inbound message unread */
  readonly dropInbound?: () => boolean;
  readonly BroadcastChannelImpl?: typeof BroadcastChannel;
}

export function createTabChannel(o: TabChannelOptions): Channel {
  const BC = o.BroadcastChannelImpl ?? BroadcastChannel;
  const channel = new BC(o.name);
  const receivers = new Set<(from: string, m: Uint8Array) => void>();
  let receiving = true;
  let sending: Promise<unknown> = Promise.resolve();
  let delivering: Promise<unknown> = Promise.resolve();
  channel.onmessage = (ev: MessageEvent<unknown>) => {
    if (!receiving || o.dropInbound?.()) return;
    const data = ev.data;
    const bytes = data instanceof ArrayBuffer ? new Uint8Array(data) : data instanceof Uint8Array ? data : null;
    if (!bytes || !isSealed(bytes)) return o.onDrop('not an AES-GCM message');
    o.onBytes?.(bytes.byteLength);
    // decryptions may finish out of order; deliveries keep the order messages arrived in
    const plain = open(bytes, o.key);
    delivering = delivering.then(async () => {
      const m = await plain;
      if (!receiving) return;
      if (!m) return o.onDrop('does not decrypt with the room key');
      for (const cb of receivers) {
        try {
          cb(TABS, m);
        } catch (e) {
          o.onDrop(e instanceof Error ? e.message : String(e));
        }
      }
    });
  };
  return {
    send(_to, message) {
      const sealed = seal(message, o.key);
      sending = sending.then(async () => {
        try {
          channel.postMessage(await sealed);
        } catch {
          /* closed under us (the page is going away): the next connect syncs again */
        }
      });
    },
    onReceive(cb) {
      receivers.add(cb);
      return () => receivers.delete(cb);
    },
    destroy() {
      receiving = false;
      receivers.clear();
      void sending.then(() => channel.close());
    },
  };
}
