/**
 * y-webrtc's messages (10.3.0, src/y-webrtc.js; MIT, see LICENSE here), unchanged on the wire:
 * a varUint type, then sync (y-protocols/sync), awareness, an awareness query, or a tab's
 * peer id coming or going. Plus our GREETING marker (room.ts).
 */
import * as decoding from 'lib0/decoding';
import * as encoding from 'lib0/encoding';
import * as awarenessProtocol from 'y-protocols/awareness';
import * as syncProtocol from 'y-protocols/sync';
import type * as Y from 'yjs';

export const MESSAGE_SYNC = 0;
export const MESSAGE_AWARENESS = 1;
export const MESSAGE_QUERY_AWARENESS = 3;
export const MESSAGE_BC_PEER_ID = 4;

/** Appended to the sync step 1 of a greeting (y-protocols ignores what follows a step 1), so
 *  that a tab can tell a greeting from the step 1 a tab sends when it connects. */
export const GREETING = 'tabdrive:greeting';

const message = (write: (e: encoding.Encoder) => void): Uint8Array => {
  const e = encoding.createEncoder();
  write(e);
  return encoding.toUint8Array(e);
};

export const syncStep1 = (doc: Y.Doc, greeting = false): Uint8Array =>
  message((e) => {
    encoding.writeVarUint(e, MESSAGE_SYNC);
    syncProtocol.writeSyncStep1(e, doc);
    if (greeting) encoding.writeVarString(e, GREETING);
  });

export const updateMessage = (update: Uint8Array): Uint8Array =>
  message((e) => {
    encoding.writeVarUint(e, MESSAGE_SYNC);
    syncProtocol.writeUpdate(e, update);
  });

export const awarenessMessage = (awareness: awarenessProtocol.Awareness, clients: number[]): Uint8Array =>
  message((e) => {
    encoding.writeVarUint(e, MESSAGE_AWARENESS);
    encoding.writeVarUint8Array(e, awarenessProtocol.encodeAwarenessUpdate(awareness, clients));
  });

export const queryAwareness = (): Uint8Array => message((e) => encoding.writeVarUint(e, MESSAGE_QUERY_AWARENESS));

export const bcPeerId = (peerId: string, present: boolean): Uint8Array =>
  message((e) => {
    encoding.writeVarUint(e, MESSAGE_BC_PEER_ID);
    encoding.writeUint8(e, present ? 1 : 0);
    encoding.writeVarString(e, peerId);
  });

export type Read =
  | { readonly kind: 'sync'; readonly step: number; readonly reply: Uint8Array | null; readonly connectStep1: boolean }
  | { readonly kind: 'awareness' }
  | { readonly kind: 'query-awareness'; readonly reply: Uint8Array }
  | { readonly kind: 'peer-id'; readonly present: boolean; readonly peerId: string };

/**
 * Reads one message, applying a sync message to `doc` and an awareness update to `awareness`
 * with `origin`. Throws on a malformed message (the caller counts it).
 */
export function readMessage(bytes: Uint8Array, doc: Y.Doc, awareness: awarenessProtocol.Awareness, origin: unknown): Read {
  const d = decoding.createDecoder(bytes);
  const type = decoding.readVarUint(d);
  switch (type) {
    case MESSAGE_SYNC: {
      const e = encoding.createEncoder();
      encoding.writeVarUint(e, MESSAGE_SYNC);
      const step = syncProtocol.readSyncMessage(d, e, doc, origin);
      const isStep1 = step === syncProtocol.messageYjsSyncStep1;
      // a connect's step 1 ends with its state vector; a greeting carries GREETING after it
      return { kind: 'sync', step, reply: isStep1 ? encoding.toUint8Array(e) : null, connectStep1: isStep1 && !decoding.hasContent(d) };
    }
    case MESSAGE_QUERY_AWARENESS:
      return { kind: 'query-awareness', reply: awarenessMessage(awareness, [...awareness.getStates().keys()]) };
    case MESSAGE_AWARENESS:
      awarenessProtocol.applyAwarenessUpdate(awareness, decoding.readVarUint8Array(d), origin);
      return { kind: 'awareness' };
    case MESSAGE_BC_PEER_ID: {
      const present = decoding.readUint8(d) === 1;
      return { kind: 'peer-id', present, peerId: decoding.readVarString(d) };
    }
    default:
      throw new Error(`unknown message type ${type}`);
  }
}
