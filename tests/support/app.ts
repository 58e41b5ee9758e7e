// An AppState (src/ui/state) over one of the simulator's devices, wired as the page wires it
// but with no transport, folders picker or update check: what the integration suites of the
// state modules share.
import { webcrypto } from 'node:crypto';
import type { Change } from '../../src/core/change.ts';
import { createIntents } from '../../src/sync/intents.ts';
import type { Transport } from '../../src/transport/webrtc.ts';
import { AppState } from '../../src/ui/state/app.svelte.ts';
import type { SyncReport } from '../../src/ui/state/inspector.svelte.ts';
import { VersionState } from '../../src/ui/state/version.svelte.ts';
import { uuidFactory } from './fixtures.ts';
import type { SimDevice } from './sim/world.ts';

/** Just what AppState reads of a transport: no peers, never paused. */
export const quietTransport = (): Transport =>
  ({ peers: () => [], onPeers: () => () => undefined, paused: false, pause() {}, resume() {}, setName() {}, channel: { inbound: null } }) as unknown as Transport;

export interface SimAppOptions {
  /** seeds the device's uuid factory, so two suites never mint the same ids */
  readonly label: string;
  readonly inspect?: () => Promise<SyncReport>;
}

/** An AppState on a simulated device; `writes` records every write its intents make. */
export function simApp(d: SimDevice, opts: SimAppOptions): { app: AppState; writes: Change[][] } {
  const live = d.live!;
  const ids = uuidFactory(`${opts.label}:${d.id}`);
  const writes: Change[][] = [];
  const query = async (sql: string, params: readonly (string | number | null)[] = []) => {
    const r = await live.storage.call('query', { sql, params: [...params] });
    if (!r.ok) throw new Error(r.error.message);
    return r.value;
  };
  const intents = createIntents({
    writer: { write: (c) => (writes.push([...c]), live.engine.write(c)) },
    clock: live.clock,
    device: d.id,
    now: d.now,
    randomUuid: ids,
    deviceInfo: { os: 'Linux', browser: 'Chrome' },
    readOwned: async (table, uuid) => (await query(`SELECT * FROM ${table} WHERE uuid = ?`, [uuid]))[0] ?? null,
    readMany: async (table, uuids) =>
      new Map((await query(`SELECT * FROM ${table} WHERE uuid IN (${uuids.map(() => '?').join(',')})`, uuids)).map((r) => [String(r['uuid']), r])),
    tombstoned: async (model, uuids) => {
      const r = await live.storage.call('tombstoned', { model, uuids });
      if (!r.ok) throw new Error(r.error.message);
      return new Set(r.value);
    },
  });
  const app = new AppState({
    query, intents, device: { uuid: d.id, name: d.id.slice(0, 4) }, boot: { health: null } as never, hlc: () => live.clock.current(),
    openNewDevice: () => undefined, transport: quietTransport(), pendingCommits: () => 0, streamProgress: () => null, library: 'lib', inviteLink: '',
    libraries: ['lib'], openLibrary: () => Promise.resolve(), resyncs: () => 0, peerSyncState: () => null,
    folders: {
      intents, query, randomUuid: ids, handles: null, pickDirectory: null,
      digest: async (b: Uint8Array) => new Uint8Array(await webcrypto.subtle.digest('SHA-256', b)),
    },
    inspector: { inspect: opts.inspect ?? (() => Promise.reject(new Error('no inspector'))), compact: () => live.engine.compact(), persist: () => Promise.resolve(true) },
    version: new VersionState({ schema: { build: 1, database: 1 }, checkForUpdate: () => Promise.resolve(false) }),
  });
  return { app, writes };
}
