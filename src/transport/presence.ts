/**
 * Presence over awareness (y-protocols): each device publishes `{ device: { uuid, name, peer,
 * schema }, sync: { digest, busy }, wm }`; the others read it to list peers with the path they
 * use (its room peer id tells a tab from a WebRTC peer), the anti-entropy digests and the
 * owned-state stream's watermarks. What a peer publishes is checked field by field: a
 * malformed state is skipped, never thrown on.
 */
import type { Awareness } from 'y-protocols/awareness';
import type { PeerSyncState } from '../sync/anti-entropy.ts';
import { isMarks, type Marks } from '../core/stream.ts';
import type { ConnectionInfo, PeerInfo } from './transport-types.ts';

interface AwarenessState {
  device?: { uuid?: unknown; name?: unknown; peer?: unknown; schema?: unknown };
  sync?: { digest?: unknown; busy?: unknown };
  wm?: unknown;
}

/** the other devices' states (this device's own left out) */
function* others(awareness: Awareness): Generator<AwarenessState> {
  for (const [clientId, state] of awareness.getStates()) if (clientId !== awareness.clientID) yield state;
}

export function publishDevice(awareness: Awareness, self: { device: string; name: string; schema?: number }, peerId: string | null): void {
  awareness.setLocalStateField('device', { uuid: self.device, name: self.name, peer: peerId, schema: self.schema ?? null });
}

/** Awareness may outlive a connection by up to 30 s (its timeout): `connected` says so. */
export function peersOf(awareness: Awareness, connections: readonly ConnectionInfo[]): PeerInfo[] {
  const byPeer = new Map(connections.map((c) => [c.peerId, c]));
  const out: PeerInfo[] = [];
  for (const s of others(awareness)) {
    const d = s.device;
    if (typeof d?.uuid !== 'string' || typeof d.name !== 'string') continue;
    const conn = typeof d.peer === 'string' ? byPeer.get(d.peer) : undefined;
    const viaWebrtc = conn?.path === 'webrtc' && conn.connected;
    const schema = typeof d.schema === 'number' && Number.isSafeInteger(d.schema) && d.schema > 0 ? d.schema : null;
    out.push({ device: d.uuid, name: d.name, path: viaWebrtc ? 'webrtc' : 'tab', connected: conn?.connected ?? false, synced: conn?.synced ?? false, schema });
  }
  return out;
}

export function marksOf(awareness: Awareness, connected: ReadonlySet<string>): { device: string; marks: Marks }[] {
  const out: { device: string; marks: Marks }[] = [];
  for (const s of others(awareness)) {
    const d = s.device?.uuid;
    if (typeof d === 'string' && connected.has(d) && isMarks(s.wm)) out.push({ device: d, marks: s.wm });
  }
  return out;
}

export function syncStatesOf(awareness: Awareness): PeerSyncState[] {
  const out: PeerSyncState[] = [];
  for (const s of others(awareness)) {
    if (typeof s.device?.uuid !== 'string') continue;
    out.push({ device: s.device.uuid, digest: typeof s.sync?.digest === 'string' ? s.sync.digest : null, busy: s.sync?.busy === true });
  }
  return out;
}
