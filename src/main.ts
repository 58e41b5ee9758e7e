/**
 * Composition root (main thread): claim this tab's device slot → start the storage worker
 * and boot it → restore the HLC → make sure this device's own record exists → mount the UI →
 * expose `window.tabdrive` (the devtools API, README "Devtools API").
 */
import { mount } from 'svelte';
import * as Y from 'yjs';
import type { Change } from './core/change.ts';
import { createHlcClock } from './core/hlc.ts';
import type { Result } from './core/result.ts';
import { openSlotRegistry } from './device/registry.ts';
import { claimDeviceSlot, createMemorySlotRegistry } from './device/slots.ts';
import { cleanSlots, deleteDatabase, relayOutboxOf, type CleanupReport } from './device/cleanup.ts';
import { SlotsState } from './ui/state/slots.svelte.ts';
import { PruningState } from './ui/state/pruning.svelte.ts';
import { describeBrowser } from './device/browser.ts';
import { createStorageClient } from './storage/client.ts';
import type { BootReport, CommitResult, Holdings, StorageError, StorageHealth } from './storage/rpc.ts';
import { createAntiEntropy, digestKey, type Unrepaired } from './sync/anti-entropy.ts';
import { createSyncEngine, HORIZON_KEY, type SyncStats } from './sync/engine.ts';
import { createIntents, type Intents } from './sync/intents.ts';
import { LOCAL_ORIGIN, BOOT_ORIGIN, isOwnOrigin, logTarget, metaMap, sharedLogSize } from './sync/doc.ts';
import { createLatencyProbe } from './sync/latency.ts';
import { createHandleStore } from './indexer/handles.ts';
import { createThumbStore, Thumbnails, workerMaker, type ThumbStats } from './media/thumbnails.ts';
import { posterFrame } from './media/poster.ts';
import { compareDigests, parseDigest, type SyncReport } from './ui/state/inspector.svelte.ts';
import { injectInbound } from './transport/chunked-channel.ts';
import { deflate } from './transport/deflate.ts';
import { inviteLink, parseInvite } from './transport/invite.ts';
import { newSecret, roomName, roomPassword } from './transport/room.ts';
import { createTransport, type Transport } from './transport/webrtc.ts';
import { combineNets, createBroadcastNet, createDataChannelNet, deriveStreamKey, type NetCounters } from './transport/stream-net.ts';
import { createStream, type Stream, type StreamStats } from './sync/stream.ts';
import { splitNet } from './media/files-wire.ts';
import { startFilesChannel } from './media/files.ts';
import type { TransferStats } from './media/transfer.ts';
import type { RemoteThumbStats } from './media/remote-thumbs.ts';
import { createRelayPresence, type RelayPresence } from './sync/relay-presence.ts';
import { createIdbRelayStore, createMemoryRelayStore, createRelaySync, withMemoryFallback, withRelay, type RelaySync, type RelayStatus } from './sync/relay-sync.ts';
import { createRelayConnection, parseRelayUrl, type RelayConnection } from './transport/relay.ts';
import { deriveRelayKeys } from './transport/relay-crypto.ts';
import { isDeviceKeys, newDeviceKeys } from './transport/seal.ts';
import { createRotation, publishedKeys, ROTATION_PREFIX, type Members } from './sync/rotation.ts';
import { checkForUpdate, registerServiceWorker } from './pwa/register.ts';
import App from './ui/App.svelte';
import { AppState } from './ui/state/app.svelte.ts';
import { VersionState } from './ui/state/version.svelte.ts';
import { ask } from './ui/ask.ts';
import { foreignSignalingHosts, joinQuestion, relayQuestion, signalingQuestion } from './ui/questions.ts';
import { chooseIceServers, chooseSignaling, defaultRelay } from './transport/endpoints.ts';
import { applyTheme, savedTheme } from './ui/theme.ts';

export interface TabdriveApi {
  ready: Promise<void>;
  device: { uuid: string; name: string };
  /** the library this tab's device belongs to, and the device's IndexedDB database */
  library: string;
  dbName: string;
  boot: BootReport | null;
  query(sql: string, params?: (string | number | null)[]): Promise<Record<string, unknown>[]>;
  digest(): Promise<Record<string, string>>;
  hlc(): string | null;
  stats(): Promise<SyncStats & { peers: number; documentSize: number; sharedLog: number; storage: StorageHealth | null; antiEntropy: { checks: number; mismatches: number; resyncs: number; lastResync: string | null; unrepaired: readonly Unrepaired[] } }>;
  durable(): Promise<StorageHealth>;
  snapshot(): Promise<StorageHealth>;
  /** the intents, and `setPruningHorizon(days)`: the library's pruning horizon (compaction.ts C10) */
  actions: (Intents & { setPruningHorizon(days: number): ReturnType<PruningState['setHorizon']> }) | null;
  /** Pause sync (disconnect from every peer) or resume it. */
  pause(paused: boolean): void;
  /** data-channel counters: frames, bytes, drops, send failures, inbound progress */
  transportStats?: () => { bytesSent: number; bytesReceived: number; dropped: number; undecodable: number; sendFailures: number; bcBytesReceived: number; stream: NetCounters & StreamStats };
  /** the (hashed) room this library syncs in: also the BroadcastChannel name */
  room?: string;
  /** thumbnails made, skipped (already kept), failed and queued since this tab started */
  thumbnailStats?: () => ThumbStats;
  /** the files channel: "Get from device" and other devices' thumbnails */
  filesStats?: () => { transfers: TransferStats; thumbs: RemoteThumbStats };
  /** test hook (test build only): this device, sending a file, flips a byte of every chunk */
  corruptSends?: (on: boolean) => void;
  /** test hook (test build only): this device, sending a file, waits `ms` before each chunk */
  sendDelay?: (ms: number) => void;
  /** test build: the next n thumbnail asks this device serves are answered as a hostile peer */
  hostileThumbs?: (n: number) => void;
  /** test hook (test build only): feed raw bytes to every open data channel as if a peer had sent them */
  injectInbound?: (data: Uint8Array) => number;
  /** test hook (test build): one closed-tabs cleanup now (device/cleanup.ts); null if another tab runs one */
  cleanSlots?: () => Promise<CleanupReport | null>;
  /** test hook (test build only): drop inbound tab messages for a while (a lossy moment) */
  dropInboundFor?: (ms: number) => void;
  /** test hook (test build): apply changes to this device's database only, a divergence */
  divergeLocally?: (changes: Change[]) => Promise<{ ms: number; bytes: number }>;
  /** test hook (test build): write into the sync document what a newer build would — its
   *  schema version in `meta` and shared entries with fields this build does not know —
   *  without validating or applying them here */
  writeAsNewerBuild?: (schema: number, shared: readonly { model: string; uuid: string; op: string; fields: Record<string, unknown> }[]) => void;
  /** test hook (test build): the library's pruning horizon in days, below the inspector's
   *  1 hour (a test cannot wait an hour for a device to be left out) */
  setHorizonDays?: (days: number) => Promise<void>;
  /** the always-on relay: state, cursor, outbox, bytes (null: no relay configured) */
  relay?: () => RelayStatus | null;
  /** "Rotate invite": records ignored, envelopes that did not open, moves; whom this tab sealed its last rotation to */
  rotation?: () => { invalid: number; notMember: number; badEnvelope: number; moved: number; badKey: number; sealedTo: string[]; stranded: boolean; keyed: string[] };
  /** test hook (test build): resolves once the relay outbox is empty and everything pulled and uploaded */
  relaySettled?: () => Promise<void>;
  /** presence through the relay: messages sent, received, invalid, refused, and who is heard (null: no relay) */
  relayPresence?: () => { sent: number; received: number; invalid: number; refused: number; heard: string[] } | null;
  /** test hook (test build): the library as a compressed snapshot — every owner's rows as the
   *  deflated pages the stream sends, plus the shared document's state deflated (the size the
   *  relay catch-up's downloaded bytes are compared with; scripts/bench-relay.mjs) */
  compressedSnapshot?: () => Promise<{ pages: number; pageBytes: number; docBytes: number }>;
}

declare global {
  interface Window {
    tabdrive: TabdriveApi;
  }
}

const APPROVED_SIGNALING = 'tabdrive:signaling-hosts';
const APPROVED_RELAYS = 'tabdrive:relay-hosts';
function approvedSignalingHosts(key = APPROVED_SIGNALING): string[] {
  try {
    const v: unknown = JSON.parse(localStorage.getItem(key) ?? '[]');
    return Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : [];
  } catch {
    return [];
  }
}
function approveSignalingHosts(hosts: string[], key = APPROVED_SIGNALING): void {
  try {
    localStorage.setItem(key, JSON.stringify([...new Set(hosts)].slice(-32)));
  } catch {
    /* no localStorage (private window): asked again next time */
  }
}

const unwrap = <T>(r: Result<T, StorageError>): T => {
  if (!r.ok) throw new Error(`${r.error.type}: ${r.error.message}`);
  return r.value;
};

let markReady!: () => void;
let markFailed!: (e: unknown) => void;
const api: TabdriveApi = {
  ready: new Promise<void>((res, rej) => {
    markReady = res;
    markFailed = rej;
  }),
  device: { uuid: '', name: '' },
  library: '',
  dbName: '',
  boot: null,
  query: () => Promise.reject(new Error('not ready')),
  digest: () => Promise.reject(new Error('not ready')),
  hlc: () => null,
  stats: () => Promise.reject(new Error('not ready')),
  durable: () => Promise.reject(new Error('not ready')),
  snapshot: () => Promise.reject(new Error('not ready')),
  actions: null,
  pause: () => undefined,
};
window.tabdrive = api;

async function start(): Promise<void> {
  applyTheme(savedTheme());
  const target = document.getElementById('app')!;
  const params = new URLSearchParams(location.search);
  const browser = describeBrowser(navigator.userAgent);
  // Without IndexedDB (some private windows) the device lives for this tab only.
  const registry = await openSlotRegistry(indexedDB, 'locks' in navigator ? navigator.locks : null).catch(() => createMemorySlotRegistry());
  // An invite link (#/join/<library>/<secret>) makes this browser a device of that library —
  // once the user says so (DESIGN §8); Cancel changes nothing. A secret this browser already
  // stores for the library is replaced only when the user ticks that choice (ui/questions.ts).
  const invite = parseInvite(location.hash);
  if (invite && !invite.ok) throw new Error(invite.error.message);
  if (invite) {
    const { library, secret } = invite.value;
    const answer = await ask(target, joinQuestion(invite.value, await registry.knownSecret(library)));
    if (answer.confirmed) await registry.join(library, secret, answer.option);
    history.replaceState(null, '', location.pathname + location.search);
  }
  // A signaling server on another host than the page's is used only once the user agreed
  // (remembered per host in localStorage); Cancel falls back to this site's own server.
  let signalingParam = params.get('signaling');
  const foreign = foreignSignalingHosts((signalingParam ?? '').split(',').filter(Boolean), location.hostname);
  const approved = approvedSignalingHosts();
  if (foreign.some((h) => !approved.includes(h))) {
    if ((await ask(target, signalingQuestion(foreign, location.host))).confirmed) approveSignalingHosts([...approved, ...foreign]);
    else {
      signalingParam = null;
      params.delete('signaling');
      const search = params.toString();
      history.replaceState(null, '', location.pathname + (search ? `?${search}` : '') + location.hash);
    }
  }
  const claim = await claimDeviceSlot(
    {
      session: sessionStorage,
      registry,
      locks: 'locks' in navigator ? navigator.locks : null,
      randomUuid: () => crypto.randomUUID(),
      now: () => Date.now(),
      forceNew: params.has('new-device'),
    },
    browser.browser,
  );
  if (params.has('new-device')) history.replaceState(null, '', location.pathname + location.hash);
  // An invite pasted into the address bar of an open tab changes only the hash: start over.
  addEventListener('hashchange', () => {
    if (parseInvite(location.hash)) location.reload();
  });

  const worker = new Worker(new URL('./storage/db.worker.ts', import.meta.url), { type: 'module' });
  const thumbnails = new Thumbnails(
    createThumbStore(indexedDB),
    workerMaker(() => new Worker(new URL('./media/thumbs.worker.ts', import.meta.url), { type: 'module' }), posterFrame),
  );
  const storage = createStorageClient(worker);
  // A new device starts from the newest image another device of this library keeps in this
  // browser (storage engine S5), then syncs only what that image lacks (?no-seed: sync all).
  const seedFrom = claim.how === 'created' && !params.has('no-seed') ? claim.siblings : [];
  const boot = unwrap(await storage.call('open', { dbName: claim.dbName, deviceUuid: claim.device, seedFrom }));
  const clock = createHlcClock({ device: claim.device, now: () => Date.now(), last: boot.hlc, lastAhead: boot.hlcAhead });
  const query = async (sql: string, p: readonly (string | number | null)[] = []) => unwrap(await storage.call('query', { sql, params: p }));

  let app: AppState | null = null;
  let stream: Stream | null = null;
  // Forgotten devices (core/apply.ts I7): the stream stops pulling, serving and applying theirs.
  const noteForgotten = async (): Promise<void> => {
    const rows = await query('SELECT uuid FROM forgotten_devices');
    stream?.forget(rows.map((r) => String(r['uuid'])));
  };
  let relay: RelaySync | null = null;
  let relayConn: RelayConnection | null = null;
  let relayKeys: Awaited<ReturnType<typeof deriveRelayKeys>> | null = null;
  let presence: RelayPresence | null = null;
  const relayPeersChanged = new Set<() => void>();
  let rotationCheck: (() => Promise<unknown>) | null = null;
  const committed = (r: CommitResult, origin: 'local' | 'remote'): void => {
    if (app && r.tables.length) void app.tablesChanged(r.tables);
    if (r.tables.includes('forgotten_devices')) void noteForgotten();
    if (r.tables.includes('devices') || r.tables.includes('forgotten_devices')) void rotationCheck?.();
    // For devtools and the bench: a change is in this device's SQLite from this moment.
    dispatchEvent(new CustomEvent('tabdrive:commit', { detail: { origin, tables: r.tables, at: performance.timeOrigin + performance.now() } }));
  };
  // One path for every change: intents write into the sync document through the engine,
  // remote document updates come back through it, and both reach SQLite in the worker.
  const doc = new Y.Doc();
  // Sync latency for the inspector: stamp of each small remote update → its commit here.
  const latency = createLatencyProbe(() => Date.now());
  doc.on('update', (update: Uint8Array, origin: unknown) => {
    if (!isOwnOrigin(origin) && origin !== BOOT_ORIGIN) latency.received(update);
  });
  const version = new VersionState({ schema: boot.schema, checkForUpdate });
  const engine = createSyncEngine({
    doc,
    storage,
    clock,
    device: claim.device,
    now: () => Date.now(),
    onCommit: (r, origin) => {
      if (origin === 'remote') {
        latency.committed();
        version.documentSays(engine.newestSchema());
      } else {
        stream?.committed(r);
        if (r.pages?.length) relay?.committed();
      }
      committed(r, origin);
    },
    onNewer: (what) => version.newerData(what),
  });
  engine.boot(boot.ydoc);
  version.documentSays(engine.newestSchema());
  // What older code left out of rows (fields it did not know) is still in the document.
  if (boot.upgraded) unwrap(await engine.rematerialize());
  void engine.announceSchema(boot.schema.build);
  const secret = await registry.secret(claim.library, newSecret());
  // "Rotate invite" (sync/rotation.ts): this device's key pair (its public half in the
  // document), and the move to a newer secret sealed to it. A move restarts the tab: every
  // key, room, channel and relay handle derives from the secret once, below, so nothing can
  // stay on the old one (R1). A tab that just rotated opens the Invite panel on the new link.
  const deviceKeys = await registry.deviceKeys(claim.device, newDeviceKeys, isDeviceKeys);
  const SHOW_INVITE = 'tabdrive:show-invite';
  const showInvite = sessionStorage.getItem(SHOW_INVITE) === '1';
  sessionStorage.removeItem(SHOW_INVITE);
  let stranded = false;
  const members = async (): Promise<Members> => ({
    known: new Set((await query('SELECT uuid FROM devices')).map((r) => String(r['uuid']))),
    forgotten: new Set((await query('SELECT uuid FROM forgotten_devices')).map((r) => String(r['uuid']))),
  });
  const rotation = createRotation({
    doc,
    library: claim.library,
    self: claim.device,
    keys: deviceKeys,
    secret,
    members,
    setMeta: (k, v) => engine.setMeta(k, v),
    stamp: () => clock.next(),
    newSecret,
    move: async (next) => {
      await engine.idle();
      // what this device wrote before it moved leaves its relay outbox under the old handle
      // (bounded: a blob left there is dropped at the new handle, relay-sync.ts RS7; its
      // content goes up with the whole state at the new handle's first meeting)
      if (relay) await Promise.race([relay.settled(), new Promise((r) => setTimeout(r, 3000))]);
      await registry.rotate(claim.library, secret, next);
      location.reload();
    },
    stranded: (s) => {
      stranded = s;
      if (app) app.inviteReplaced = s;
    },
  });
  await rotation.publishKey();
  // while this tab lingers after its own rotation (rotateInvite below), it decides at the end
  let lingering = false;
  // a move that fails (the registry could not be written) leaves this tab where it was; the
  // next change to the document or the devices tries again
  const checkRotation = () => rotation.check().catch((e: unknown) => console.warn('rotate invite: could not follow', e));
  rotationCheck = () => (lingering ? Promise.resolve() : checkRotation());
  // A device coming back after a rotation it already holds moves before it connects anywhere.
  const atBoot = await checkRotation();
  if (atBoot && atBoot.kind === 'moved') return;
  // Rotation records arrive from peers and the relay; the author's device record may come later.
  metaMap(doc).observe((e) => {
    if (isOwnOrigin(e.transaction.origin)) return;
    if ([...e.keysChanged].some((k: string) => k.startsWith(ROTATION_PREFIX))) void rotationCheck?.();
  });
  // The always-on relay (?relay=ws://host:port; ?relay= for none): by default the one `npm
  // start` runs beside the app. The test build has no default: a test names its relay.
  const relayParam = params.get('relay');
  const ownRelay = import.meta.env.MODE === 'test' ? null : defaultRelay(location);
  let relayUrl = relayParam === null ? ownRelay : relayParam === '' ? null : parseRelayUrl(relayParam);
  if (relayParam && !relayUrl) console.warn(`?relay=${relayParam} is not a ws:// or wss:// URL: no relay`);
  // like signaling: a relay on another host than the page's only once the user agreed
  const relayHost = relayParam && relayUrl ? new URL(relayUrl).hostname : null;
  const approvedRelays = approvedSignalingHosts(APPROVED_RELAYS);
  if (relayHost && relayHost !== location.hostname && !approvedRelays.includes(relayHost)) {
    if ((await ask(target, relayQuestion(relayHost, location.host))).confirmed) approveSignalingHosts([...approvedRelays, relayHost], APPROVED_RELAYS);
    else {
      relayUrl = ownRelay;
      params.delete('relay');
      const search = params.toString();
      history.replaceState(null, '', location.pathname + (search ? `?${search}` : '') + location.hash);
    }
  }
  if (relayUrl) {
    const keys = await deriveRelayKeys(secret);
    relayConn = createRelayConnection({ url: relayUrl, handle: keys.handle, token: keys.token });
    relayKeys = keys;
    relay = createRelaySync({
      conn: relayConn,
      keys,
      doc,
      self: claim.device,
      // memory-only devices (no IndexedDB) keep their outbox for the tab's life
      store:
        typeof indexedDB === 'undefined'
          ? createMemoryRelayStore()
          : withMemoryFallback(createIdbRelayStore(relayOutboxOf(claim.dbName)), (e) => console.warn('relay outbox: IndexedDB failed, kept in memory for this tab', e)),
      idle: () => engine.idle(),
      storage,
      marks: () => stream?.marks() ?? boot.marks,
      onMarks: () => stream?.poke(),
      now: () => Date.now(),
    });
  }
  const writer = { write: (changes: Parameters<typeof engine.write>[0]) => engine.write(changes) };
  const readOwned = async (table: string, uuid: string) => {
    if (!/^[a-z_]+$/.test(table)) return null;
    const rows = await query(`SELECT * FROM ${table} WHERE uuid = ?`, [uuid]);
    return (rows[0]) ?? null;
  };
  const readMany = async (table: string, uuids: readonly string[]) => {
    const out = new Map<string, Record<string, string | number | null>>();
    if (!/^[a-z_]+$/.test(table)) return out;
    for (let i = 0; i < uuids.length; i += 500) {
      const part = uuids.slice(i, i + 500);
      for (const r of await query(`SELECT * FROM ${table} WHERE uuid IN (${part.map(() => '?').join(',')})`, part)) out.set(String(r['uuid']), r);
    }
    return out;
  };
  const intents = createIntents({
    writer,
    clock,
    device: claim.device,
    now: () => Date.now(),
    randomUuid: () => crypto.randomUUID(),
    deviceInfo: browser,
    readOwned,
    readMany,
    tombstoned: async (model, uuids) => new Set(unwrap(await storage.call('tombstoned', { model, uuids }))),
    yieldToUi: () => new Promise((r) => setTimeout(r, 0)),
  });
  /** DESIGN §8: every write made so far is durable — intents still reading before they write, then their commits */
  const durable = async (): Promise<StorageHealth> => {
    await intents.settled();
    return unwrap(await storage.settled());
  };
  const named = await intents.ensureDevice(claim.name);
  const device = { uuid: claim.device, name: named.ok ? named.value : claim.name };

  // Transport: tabs over BroadcastChannel; other browsers over WebRTC via signaling
  // (?signaling=ws://host:port,… to choose; ?signaling= for tabs only; without it, this
  // page's own server: transport/endpoints.ts). ICE servers: the build's, or ?ice= (none by
  // default); entries that do not parse are named and left out.
  const libraries = await registry.libraries();
  const signaling = chooseSignaling(signalingParam, location);
  const ice = chooseIceServers(params.get('ice'), import.meta.env.TABDRIVE_ICE);
  for (const problem of ice.problems) console.warn(problem); // and in the banner (notices)
  const room = await roomName(claim.library, secret);
  const password = await roomPassword(claim.library, secret);
  // The owned-state stream rides the same channels: its own BroadcastChannel between tabs
  // (encrypted with a key from the same secret) and its own frames on every data channel.
  const browsers = createDataChannelNet(claim.device);
  const transport: Transport = createTransport({
    doc,
    room,
    password,
    signaling,
    peerOpts: { config: { iceServers: ice.servers } },
    self: { device: claim.device, name: device.name, schema: boot.schema.build },
    streamHooks: browsers.hooks,
  });
  const tabs = createBroadcastNet({ name: `${room}:stream`, key: await deriveStreamKey(password, room), self: claim.device });
  // The files channel (thumbnails, "Get from device") shares these nets but never the relay:
  // its messages are told from the stream's by their first byte (media/files-wire.ts).
  const split = splitNet(combineNets(tabs, browsers.net));
  const net = relay ? withRelay(split.rest, relay.net) : split.rest;
  stream = createStream({
    self: claim.device,
    storage,
    net,
    peers: () => (relay ? [...transport.peerMarks(), ...relay.peers()] : transport.peerMarks()),
    announce: (m) => transport.publishMarks(m),
    // counted with every other commit (the inspector explains page rejections too); the
    // engine's commit hook then refreshes the UI and records the latency
    onApplied: (r) => engine.noteStream(r),
    initial: boot.marks,
    repairOwn: boot.repairOwn,
    now: () => Date.now(),
  });
  const online = (): string[] => transport.peers().filter((p) => p.connected).map((p) => p.device);
  let corrupt = false; // test build: `tabdrive.corruptSends(true)`, `tabdrive.sendDelay(ms)`
  let delay = 0;
  let hostile = 0; // `tabdrive.hostileThumbs(n)`: the next n thumbnail asks answered as a hostile peer
  const files = startFilesChannel({
    self: claim.device,
    net: split.files,
    query,
    thumbnails,
    access: () => app?.indexing.access ?? null,
    online,
    ...(import.meta.env.MODE === 'test' ? { corruptSends: () => corrupt, sendDelay: () => delay, hostileThumbs: () => hostile > 0 && hostile-- > 0 } : {}),
  });
  transport.onPeers(() => {
    files.poke();
    stream?.poke();
    version.peersSay(transport.peers().map((p) => p.schema));
  });
  await noteForgotten();
  transport.on('status', () => stream?.setPaused(transport.paused));

  // Closed tabs' slots unused past the horizon leave this browser once nothing is lost
  // (device/cleanup.ts): soon after boot, then every hour.
  const horizonParam = import.meta.env.MODE === 'test' ? params.get('slot-horizon-ms') : null;
  const slotMemo = new Map<string, { readonly lastUsed: number; readonly holdings: Holdings }>();
  const slots = new SlotsState({
    store: (() => {
      try {
        return localStorage;
      } catch {
        return null;
      }
    })(),
    overrideMs: horizonParam === null || !Number.isFinite(Number(horizonParam)) ? null : Number(horizonParam),
    run: (horizonMs) =>
      cleanSlots({
        registry,
        locks: 'locks' in navigator ? navigator.locks : null,
        library: claim.library,
        self: claim.device,
        now: () => Date.now(),
        horizonMs,
        holdings: async (dbName) => unwrap(await storage.call('holdings', { dbName })),
        held: async (device) => {
          const marks: Record<string, number> = { ...unwrap(await storage.call('marks', {})) };
          for (const p of relay ? [...transport.peerMarks(), ...relay.peers()] : transport.peerMarks())
            if (p.device !== device) for (const [owner, seq] of Object.entries(p.marks)) marks[owner] = Math.max(marks[owner] ?? 0, seq);
          return { marks, sv: Y.decodeStateVector(Y.encodeStateVector(doc)) };
        },
        forgotten: async () => new Set((await query('SELECT uuid FROM forgotten_devices')).map((r) => String(r['uuid']))),
        settle: async () => {
          await engine.idle(); // the document's changes counted are committed…
          unwrap(await storage.settled()); // …and on disk
        },
        deleteDatabase: (name) => deleteDatabase(indexedDB, name),
        memo: slotMemo,
      }),
  });
  // The library's pruning horizon (compaction.ts C10): shown as the document holds it, whoever wrote it.
  const pruning = new PruningState({
    horizonDays: () => engine.horizonDays(),
    setHorizonDays: (days) => engine.setMeta(HORIZON_KEY, days),
    onChange: (fn) =>
      metaMap(doc).observe((e) => {
        if (e.keysChanged.has(HORIZON_KEY)) fn();
      }),
  });
  const runSlots = (): void => void slots.run().catch((e: unknown) => console.warn('closed tabs cleanup failed', e));
  setTimeout(runSlots, 5_000);
  setInterval(runSlots, 3_600_000);

  app = new AppState({
    slots,
    pruning,
    query,
    intents,
    device,
    boot,
    hlc: () => clock.current(),
    openNewDevice: () => {
      const iceParam = params.get('ice');
      const extra = `${signalingParam === null ? '' : `&signaling=${signalingParam}`}${iceParam === null ? '' : `&ice=${encodeURIComponent(iceParam)}`}`;
      window.open(`${location.pathname}?new-device${extra}`, '_blank', 'noopener');
    },
    transport,
    pendingCommits: () => engine.stats().pending,
    streamProgress: () => stream?.progress() ?? null,
    relay: () => relay?.status() ?? null,
    relayCatchingUp: () => relay?.catchingUp() ?? null,
    relayPeers: {
      peers: () => presence?.peers() ?? [],
      onChange: (fn: () => void) => relayPeersChanged.add(fn),
    },
    library: claim.library,
    resyncs: () => antiEntropy.stats.resyncs,
    libraries,
    openLibrary: async (library: string) => {
      await registry.open(library);
      location.reload();
    },
    peerSyncState: (d: string) => {
      const s = transport.peerSync().find((p) => p.device === d) ?? presence?.states().find((p) => p.device === d);
      if (!s || s.digest === null) return null;
      if (s.busy) return 'syncing';
      return s.digest === antiEntropy.stats.lastDigest ? 'in sync' : 'catching up';
    },
    inviteLink: inviteLink(location.href, { library: claim.library, secret }),
    showInvite,
    // The record goes out like any local write; the move waits (bounded) until the relay has it
    // and the tabs and browsers connected now were sent it — then nothing more is written here
    // under the old secret. check() moves to this record, or to a concurrent one that won.
    rotateInvite: async () => {
      // a rotation this tab has not followed yet comes first (it moves, or says it was left out)
      if ((await rotation.check()).kind !== 'stay') return;
      // the record must reach the other members: through a peer now, or the relay for later
      if (transport.paused) throw new Error('resume sync first: the other members must receive the new invite');
      const m = await members();
      const keyed = publishedKeys(doc);
      const others = [...m.known].filter((d) => d !== claim.device && !m.forgotten.has(d) && keyed.has(d));
      if (others.length && transport.peers().length === 0 && relay?.status().state !== 'connected')
        throw new Error('no other member is online and no relay is connected: they could not receive the new invite');
      lingering = true;
      await rotation.rotate().catch((e: unknown) => {
        lingering = false;
        throw e;
      });
      await engine.idle();
      if (relay) await Promise.race([relay.settled(), new Promise((r) => setTimeout(r, 10_000))]);
      await new Promise((r) => setTimeout(r, 500)); // y-webrtc encrypts and posts asynchronously
      sessionStorage.setItem(SHOW_INVITE, '1');
      lingering = false;
      const moved = await rotation.check();
      if (moved.kind !== 'moved') {
        sessionStorage.removeItem(SHOW_INVITE);
        throw new Error('the new invite could not be opened on this device');
      }
    },
    notices: ice.problems,
    folders: {
      intents,
      query,
      digest: async (bytes: Uint8Array) => new Uint8Array(await crypto.subtle.digest('SHA-256', bytes as Uint8Array<ArrayBuffer>)),
      randomUuid: () => crypto.randomUUID(),
      yieldToUi: () => new Promise((r) => setTimeout(r, 0)),
      handles: createHandleStore(indexedDB),
      // the bench's baseline indexes without thumbnails (test build only)
      ...(import.meta.env.MODE === 'test' && params.has('no-thumbnails') ? {} : { thumbnails }),
      pickDirectory: 'showDirectoryPicker' in window
        ? () => (window as unknown as { showDirectoryPicker: (o: { mode: 'read' }) => Promise<FileSystemDirectoryHandle> }).showDirectoryPicker({ mode: 'read' })
        : null,
    },
    version,
    files: { transfers: files.transfers, sources: (c: string) => files.sources(c), wantThumb: (c: string) => files.thumbs.want(c) },
    // A forgotten device gives up its slot (no tab adopts it again) and this tab starts over
    // as a new device of the same library.
    rejoin: async () => {
      await registry.drop(claim.device);
      location.assign(`${location.pathname}?new-device${signalingParam === null ? '' : `&signaling=${signalingParam}`}`);
    },
    inspector: {
      inspect: () => inspect(),
      compact: () => engine.compact(),
      persist: async () => (await navigator.storage?.persist?.()) ?? false,
    },
  });
  // The document's encoded size costs a full encode (MBs at 100k entries): at most every 5 s.
  let docSize = { at: 0, bytes: 0 };
  async function inspect(): Promise<SyncReport> {
    const now = Date.now();
    if (now - docSize.at > 5000) docSize = { at: now, bytes: Y.encodeStateAsUpdate(doc).byteLength };
    const ours = parseDigest(antiEntropy.stats.lastDigest) ?? {};
    const published = transport.peerSync();
    const [health, estimate, persisted, waiting] = await Promise.all([
      storage.call('health', {}),
      navigator.storage?.estimate?.().catch(() => null) ?? Promise.resolve(null),
      navigator.storage?.persisted?.().catch(() => null) ?? Promise.resolve(null),
      // entries held until their location arrives (core/apply.ts I3): one that never comes shows here
      storage.call('query', { sql: 'SELECT count(*) AS n FROM pending_owned', params: [] }),
    ]);
    const c = transport.channel;
    return {
      at: now,
      hlc: clock.current(),
      documentBytes: docSize.bytes,
      sharedLog: sharedLogSize(doc),
      engine: engine.stats(),
      antiEntropy: { ...antiEntropy.stats, unrepaired: [...antiEntropy.stats.unrepaired] },
      tables: Object.keys(ours).sort(),
      peers: [...transport.peers(), ...(presence?.peers() ?? []).filter((r) => !transport.peers().some((p) => p.device === r.device))].map((p) => {
        const theirs = parseDigest((published.find((x) => x.device === p.device) ?? presence?.states().find((x) => x.device === p.device))?.digest ?? null);
        return {
          device: p.device,
          name: p.name,
          path: p.path === 'tab' ? 'tab' : p.path === 'relay' ? 'relay' : 'WebRTC',
          state: app?.deps.peerSyncState(p.device) ?? 'unknown',
          tables: theirs ? compareDigests(ours, theirs) : null,
        };
      }),
      storage: health.ok ? health.value : null,
      waiting: waiting.ok ? Number(waiting.value[0]?.['n'] ?? 0) : null,
      estimate: estimate ? { usage: estimate.usage ?? 0, quota: estimate.quota ?? 0 } : null,
      persisted,
      transport: { bytesSent: c.bytesSent, bytesReceived: c.bytesReceived, dropped: c.dropped, undecodable: c.undecodable, sendFailures: c.sendFailures },
      ...(stream ? { stream: { ...stream.stats, behind: stream.progress()?.behind ?? 0 } } : {}),
      backfill: c.inbound ? { ...c.inbound } : null,
      latency: [...latency.samples()],
      relay: relay?.status() ?? null,
    };
  }
  // Anti-entropy: compare digests with connected peers; re-handshake on a persistent mismatch.
  const antiEntropy = createAntiEntropy({
    digest: async () => digestKey(unwrap(await storage.call('digest', {}))),
    busy: () => engine.stats().pending > 0 || transport.channel.inbound !== null || (stream?.progress() ?? null) !== null || (stream?.busy() ?? false) || (stream?.serving() ?? false),
    publish: (s) => transport.publishSync(s),
    peers: () => transport.peerSync().filter((p) => transport.peers().some((x) => x.device === p.device)),
    resync: () => transport.resync(),
    now: () => Date.now(),
  });
  // Presence through the relay, for devices that reach this one by no other path.
  if (relayConn && relayKeys) {
    presence = createRelayPresence({
      conn: relayConn,
      keys: relayKeys,
      self: () => ({
        device: claim.device,
        name: app?.deviceName || device.name,
        schema: boot.schema.build,
        digest: antiEntropy.stats.lastDigest,
        busy: engine.stats().pending > 0 || (stream?.progress() ?? null) !== null,
      }),
      now: () => Date.now(),
    });
    presence.onChange(() => {
      for (const fn of relayPeersChanged) fn();
    });
  }
  setInterval(() => {
    if (transport.paused || (transport.peers().length === 0 && (presence?.peers().length ?? 0) === 0)) return;
    antiEntropy.check().catch(() => undefined);
  }, Number(params.get('anti-entropy-ms') ?? 3000));
  app.inviteReplaced = stranded;
  storage.onHealth((h) => {
    if (app) app.health = h;
  });
  mount(App, { target, props: { app } });
  registerServiceWorker({
    onUpdateReady: (apply) => {
      if (app) app.updateReady = apply;
      version.offered(apply);
    },
  });
  await app.start();

  // Deletes waiting for "Undo": closing the tab ends the wait (pending-deletes.ts); one a
  // previous page of this device could not finish is written now.
  const deleteNow = () => void app?.deletes.flush();
  addEventListener('pagehide', deleteNow);
  void app.deletes.resume();

  // Background images: when the tab is hidden or closing, write one now.
  const snapshotSoon = () => void storage.call('snapshot', {});
  addEventListener('pagehide', snapshotSoon);
  document.addEventListener('visibilitychange', () => {
    if (document.visibilityState === 'hidden') snapshotSoon();
  });

  Object.assign(api, {
    device,
    library: claim.library,
    dbName: claim.dbName,
    boot,
    query: (sql: string, p?: (string | number | null)[]) => query(sql, p ?? []),
    digest: async () => unwrap(await storage.call('digest', {})),
    hlc: () => clock.current(),
    stats: async () => ({
      ...engine.stats(),
      antiEntropy: { ...antiEntropy.stats, unrepaired: [...antiEntropy.stats.unrepaired] },
      peers: transport.peers().length,
      documentSize: Y.encodeStateAsUpdate(doc).byteLength,
      sharedLog: sharedLogSize(doc),
      storage: unwrap(await storage.call('health', {})),
    }),
    durable,
    snapshot: async () => unwrap(await storage.call('snapshot', {})),
    actions: { ...intents, setPruningHorizon: (days: number) => pruning.setHorizon(days) },
    pause: (p: boolean) => app?.setPaused(p),
    thumbnailStats: () => ({ ...thumbnails.stats }),
    filesStats: () => ({ transfers: { ...files.transfers.stats }, thumbs: { ...files.thumbs.stats } }),
    relay: () => relay?.status() ?? null,
    relayPresence: () => (presence ? { ...presence.stats, heard: presence.states().map((p) => p.device) } : null),
    rotation: () => ({ ...rotation.stats, sealedTo: [...rotation.lastSealedTo], stranded, keyed: [...publishedKeys(doc).keys()] }),
    transportStats: () => ({ ...transport.channel, bcBytesReceived: transport.counters().bcBytesReceived, stream: { ...net.counters, ...stream.stats } }),
    room,
  } satisfies Partial<TabdriveApi>);
  // Test hooks exist in the test build only (`vite build --mode test`; vite.config.ts): the
  // condition is a constant, so the production build carries neither them nor their code.
  if (import.meta.env.MODE === 'test')
    Object.assign(api, {
      injectInbound: (data: Uint8Array) => injectInbound(data),
      corruptSends: (on: boolean) => void (corrupt = on),
      sendDelay: (ms: number) => void (delay = ms),
      hostileThumbs: (n: number) => void (hostile = n),
      // applies changes to this device's database only — no document, no stream: a divergence
      // no resync can repair (the inspector's "did not repair"); the bench's naive write
      divergeLocally: async (changes: Change[]) => unwrap(await storage.call('benchNaiveWrite', { changes })),
      relaySettled: async () => {
        await relay?.settled();
      },
      compressedSnapshot: async () => {
        let pages = 0;
        let pageBytes = 0;
        for (const [owner, held] of Object.entries(stream?.marks() ?? {})) {
          for (let after = 0; after < held; ) {
            const r = unwrap(await storage.call('servePages', { owner, after, count: 8 }));
            if (!r.pages.length) break;
            for (const p of r.pages) {
              pages++;
              pageBytes += p.bytes.byteLength;
              after = p.to;
            }
          }
        }
        return { pages, pageBytes, docBytes: (await deflate(Y.encodeStateAsUpdate(doc))).byteLength };
      },
      dropInboundFor: (ms: number) => {
        transport.dropInboundFor?.(ms);
        tabs.dropInboundFor?.(ms);
      },
      cleanSlots: () => slots.run(),
      setHorizonDays: (days: number) => engine.setMeta(HORIZON_KEY, days),
      writeAsNewerBuild: (schema, shared) =>
        doc.transact(() => {
          metaMap(doc).set(`schema:${claim.device}`, schema);
          for (const e of shared) logTarget(doc).set(clock.next(), e);
        }, LOCAL_ORIGIN),
    } satisfies Partial<TabdriveApi>);
  markReady();
}

start().catch((e: unknown) => {
  const message = e instanceof Error ? e.message : String(e);
  const el = document.getElementById('app');
  if (el) el.innerHTML = `<div role="alert" class="fatal">tabdrive could not start: ${message.replace(/</g, '&lt;')}</div>`;
  markFailed(e);
});
