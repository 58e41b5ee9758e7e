/**
 * The app's reactive state. Components read fields and call methods; all reads go through
 * src/ui/queries.ts and all writes through the intents. When a commit touches tables, the
 * lists that read them refresh (`tablesChanged`).
 */
import type { Intents, Progress } from '../../sync/intents.ts';
import type { PeerInfo, Transport } from '../../transport/webrtc.ts';
import type { BootReport, StorageHealth } from '../../storage/rpc.ts';
import * as Q from '../queries.ts';

export interface AppDeps {
  readonly query: Q.QueryFn;
  readonly intents: Intents;
  readonly device: { readonly uuid: string; name: string };
  readonly boot: BootReport;
  readonly hlc: () => string | null;
  readonly openNewDevice: () => void;
  readonly transport: Transport;
  /** commits queued in the sync engine (Syncing while > 0) */
  readonly pendingCommits: () => number;
  readonly library: string;
  readonly inviteLink: string;
  /** every library this browser holds, and how to switch to another */
  readonly libraries: readonly string[];
  readonly openLibrary: (library: string) => Promise<void>;
  /** times anti-entropy found a peer out of step and re-ran the handshake */
  readonly resyncs: () => number;
  /** a peer's sync state as it published it: 'syncing', 'in sync' (same digest) or 'behind' */
  readonly peerSyncState: (device: string) => 'syncing' | 'in sync' | 'catching up' | null;
}

export type SyncState = 'Ready' | 'Syncing' | 'Backfilling' | 'Offline';

const WINDOW = 200;

export class AppState {
  readonly deps: AppDeps;
  boot = $state<BootReport | null>(null);
  health = $state<StorageHealth | null>(null);
  deviceName = $state('');
  devices = $state<Q.DeviceRow[]>([]);
  locations = $state<Q.LocationRow[]>([]);
  /** explorer: current location and directory, or a search */
  location = $state<string | null>(null);
  dir = $state<string | null>(null);
  crumbs = $state<Q.Crumb[]>([]);
  searchText = $state('');
  fileTotal = $state(0);
  fileOffset = $state(0);
  fileRows = $state<Q.FileRow[]>([]);
  selected = $state<Q.FileDetail | null>(null);
  progress = $state<Progress | null>(null);
  busy = $state(false);
  error = $state<string | null>(null);
  hlc = $state('');
  peers = $state<PeerInfo[]>([]);
  paused = $state(false);
  syncState = $state<SyncState>('Ready');
  /** 0..1 while a large first sync is arriving */
  backfill = $state<number | null>(null);
  resyncs = $state(0);
  /** set when a new version of the app is downloaded: calling it reloads into it */
  updateReady = $state<(() => Promise<void>) | null>(null);
  syncTick = $state(0);
  #windowStart = 0;
  #windowLen = WINDOW;
  #seq = 0;

  constructor(deps: AppDeps) {
    this.deps = deps;
    this.boot = deps.boot;
    this.health = deps.boot.health;
    this.deviceName = deps.device.name;
    this.peers = deps.transport.peers();
    deps.transport.onPeers(() => {
      this.peers = deps.transport.peers();
      this.paused = deps.transport.paused;
    });
  }

  /** 'this device' | 'online' (with its path) | 'offline', as the Devices list shows it. */
  presence(device: string): { state: 'this device' | 'online' | 'offline'; path: string | null; sync: string | null } {
    if (device === this.deviceUuid) return { state: 'this device', path: null, sync: null };
    const p = this.peers.find((x) => x.device === device);
    void this.syncTick; // re-read as sync states change
    return p
      ? { state: 'online', path: p.path === 'tab' ? 'tab' : 'WebRTC', sync: this.deps.peerSyncState(device) }
      : { state: 'offline', path: null, sync: null };
  }

  setPaused(paused: boolean): void {
    if (paused) this.deps.transport.pause();
    else this.deps.transport.resume();
    this.paused = paused;
  }

  get deviceUuid(): string {
    return this.deps.device.uuid;
  }

  /** Derives the status bar's state from the transport and the engine (called on a timer). */
  tick(): void {
    const inbound = this.deps.transport.channel.inbound;
    let state: SyncState;
    if (this.paused) state = 'Offline';
    else if (inbound && inbound.total >= 512 * 1024) state = 'Backfilling';
    else if (this.deps.pendingCommits() > 0) state = 'Syncing';
    else if (this.devices.length > 1 && this.peers.length === 0) state = 'Offline';
    else state = 'Ready';
    this.syncState = state;
    this.backfill = state === 'Backfilling' && inbound ? inbound.received / inbound.total : null;
    this.resyncs = this.deps.resyncs();
    this.syncTick = (this.syncTick + 1) % 1_000_000;
  }

  async start(): Promise<void> {
    setInterval(() => this.tick(), 200);
    await Promise.all([this.refreshDevices(), this.refreshLocations()]);
    const first = this.locations.find((l) => l.device_uuid === this.deviceUuid) ?? this.locations[0];
    if (first) await this.openLocation(first.uuid);
    this.hlc = this.deps.hlc() ?? '';
  }

  /** Called after every commit with the SQL tables it changed. */
  async tablesChanged(tables: readonly string[]): Promise<void> {
    this.hlc = this.deps.hlc() ?? '';
    const jobs: Promise<void>[] = [];
    if (tables.includes('devices') || tables.includes('locations')) jobs.push(this.refreshDevices());
    if (tables.includes('locations')) jobs.push(this.refreshLocations());
    if (tables.includes('entries') || tables.includes('locations')) jobs.push(this.refreshFiles());
    await Promise.all(jobs);
    if (!this.location && this.locations.length) {
      const mine = this.locations.find((l) => l.device_uuid === this.deviceUuid) ?? this.locations[0]!;
      await this.openLocation(mine.uuid);
    } else if (this.location && !this.locations.some((l) => l.uuid === this.location)) {
      this.location = null;
      this.dir = null;
      this.crumbs = [];
      this.selected = null;
      await this.refreshFiles();
    }
  }

  async refreshDevices(): Promise<void> {
    this.devices = await Q.devices(this.deps.query);
    const me = this.devices.find((d) => d.uuid === this.deviceUuid);
    if (me) this.deviceName = me.name;
  }

  async refreshLocations(): Promise<void> {
    this.locations = await Q.locations(this.deps.query);
  }

  async openLocation(uuid: string): Promise<void> {
    const loc = this.locations.find((l) => l.uuid === uuid);
    this.location = uuid;
    this.searchText = '';
    await this.openDir(loc?.root ?? null);
  }

  async openDir(dir: string | null): Promise<void> {
    this.dir = dir;
    this.fileOffset = 0;
    this.#windowStart = 0;
    this.crumbs = dir ? await Q.breadcrumbs(this.deps.query, dir) : [];
    await this.refreshFiles();
  }

  async setSearch(text: string): Promise<void> {
    this.searchText = text;
    this.#windowStart = 0;
    await this.refreshFiles();
  }

  /** The file list asks for the rows around what is visible (virtualized list). */
  async showWindow(start: number, length: number): Promise<void> {
    const from = Math.max(0, start - 50);
    if (from >= this.fileOffset && start + length <= this.fileOffset + this.fileRows.length) return;
    this.#windowStart = from;
    this.#windowLen = Math.max(WINDOW, length + 100);
    await this.refreshFiles();
  }

  async refreshFiles(): Promise<void> {
    const seq = ++this.#seq;
    const q = this.deps.query;
    const text = this.searchText.trim();
    let total = 0;
    let rows: Q.FileRow[] = [];
    if (text) {
      total = await Q.searchCount(q, text);
      rows = await Q.search(q, text, this.#windowStart, this.#windowLen);
    } else if (this.dir) {
      total = await Q.childCount(q, this.dir);
      rows = await Q.children(q, this.dir, this.#windowStart, this.#windowLen);
    }
    if (seq !== this.#seq) return; // a newer refresh started meanwhile
    this.fileTotal = total;
    this.fileOffset = this.#windowStart;
    this.fileRows = rows;
  }

  async select(file: Q.FileRow): Promise<void> {
    if (file.kind === 'dir' && !this.searchText.trim()) {
      await this.openDir(file.uuid);
      return;
    }
    this.selected = await Q.fileDetail(this.deps.query, file.uuid);
  }

  async openFile(file: Q.FileRow): Promise<void> {
    if (file.kind === 'dir') {
      this.searchText = '';
      if (file.location_uuid !== this.location) this.location = file.location_uuid;
      await this.openDir(file.uuid);
    } else this.selected = await Q.fileDetail(this.deps.query, file.uuid);
  }

  async addSampleLocation(name: string, count: number): Promise<boolean> {
    this.busy = true;
    this.error = null;
    this.progress = { done: 0, total: count };
    try {
      const r = await this.deps.intents.addSampleLocation(name, count, (p) => (this.progress = p));
      if (!r.ok) {
        this.error = r.error.message;
        return false;
      }
      await this.refreshLocations();
      await this.openLocation(r.value.location);
      return true;
    } finally {
      this.busy = false;
      this.progress = null;
    }
  }

  async renameDevice(name: string): Promise<boolean> {
    this.error = null;
    const r = await this.deps.intents.renameDevice(name);
    if (!r.ok) {
      this.error = r.error.message;
      return false;
    }
    this.deps.device.name = name.trim();
    this.deps.transport.setName(name.trim());
    return true;
  }

  async deleteLocation(uuid: string): Promise<void> {
    const r = await this.deps.intents.deleteLocation(uuid);
    if (!r.ok) this.error = r.error.message;
  }

  newDevice(): void {
    this.deps.openNewDevice();
  }
}
