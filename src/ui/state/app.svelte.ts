/**
 * The app's reactive state. Components read fields and call methods; all reads go through
 * src/ui/queries.ts and all writes through the intents. When a commit touches tables, the
 * lists that read them refresh (`tablesChanged`).
 */
import type { SlotsState } from './slots.svelte.ts';
import type { PruningState } from './pruning.svelte.ts';
import type { StreamProgress } from '../../sync/stream.ts';
import type { RelayStatus } from '../../sync/relay-sync.ts';
import type { Intents, Progress } from '../../sync/intents.ts';
import type { PeerInfo, Transport } from '../../transport/webrtc.ts';
import type { BootReport, StorageHealth } from '../../storage/rpc.ts';
import * as Q from '../queries.ts';
import { keepUnchanged } from '../rows.ts';
import { createPendingDeletes, type DeleteKind, type PendingDelete, type PendingDeletes } from '../pending-deletes.ts';
import { applyTheme, savedTheme, type ThemeChoice } from '../theme.ts';
import { IndexingState, type FolderDeps } from './indexing.svelte.ts';
import { SyncInspectorState, type InspectorDeps } from './inspector.svelte.ts';
import type { VersionState } from './version.svelte.ts';
import { PreviewState } from './preview.svelte.ts';
import { ThumbView } from './thumbs.svelte.ts';
import { FetchState, type FetchDeps } from './fetch.svelte.ts';

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
  /** how far the owned-state stream is behind the peers (null: caught up) */
  readonly streamProgress: () => StreamProgress | null;
  /** devices heard from through the relay (presence messages), for those reached no other way */
  readonly relayPeers?: { peers(): readonly PeerInfo[]; onChange(fn: () => void): void };
  /** the always-on relay (null: none configured) */
  readonly relay?: () => RelayStatus | null;
  /** while this device pulls from the relay: how far the document pull is (null: pages only) */
  readonly relayCatchingUp?: () => { readonly fraction: number | null } | null;
  readonly library: string;
  readonly inviteLink: string;
  /** every library this browser holds, and how to switch to another */
  readonly libraries: readonly string[];
  readonly openLibrary: (library: string) => Promise<void>;
  /** times anti-entropy found a peer out of step and re-ran the handshake */
  readonly resyncs: () => number;
  /** a peer's sync state as it published it: 'syncing', 'in sync' (same digest) or 'behind' */
  readonly peerSyncState: (device: string) => 'syncing' | 'in sync' | 'catching up' | null;
  /** what the sync inspector reads and can do */
  readonly inspector: InspectorDeps;
  /** real folders: indexing, re-scans, kept directory handles */
  readonly folders: FolderDeps;
  /** whether this tab runs older code than the library (update available) */
  readonly version: VersionState;
  /** how long a delete waits for "Undo" (ms; default pending-deletes' UNDO_MS) */
  readonly undoMs?: number;
  /** settings of this page that were refused and left out (e.g. bad `?ice=` entries), for the banner */
  readonly notices?: readonly string[];
  /** this device was forgotten: give up its slot and start this tab as a new device */
  readonly rejoin?: () => Promise<void>;
  /** other devices' files: "Get from device", and thumbnails this device cannot make */
  readonly files?: FetchDeps & { readonly wantThumb: (content: string) => void };
  /** this browser's closed tabs: when they are removed, what was kept (device/cleanup.ts) */
  readonly slots?: SlotsState;
  /** the library's pruning horizon (sync/compaction.ts C10): shown and set in the sync inspector */
  readonly pruning?: PruningState;
  /** "Rotate invite": seal a new secret to the members and move there (the tab restarts) */
  readonly rotateInvite?: () => Promise<void>;
  /** open the Invite panel at start (this tab just rotated the invite: show the new link) */
  readonly showInvite?: boolean;
}

/** This device was forgotten by another member (who, as named here, and when). */
export interface Forgotten {
  readonly by: string;
  readonly at: number;
}

export type SyncState = 'Ready' | 'Syncing' | 'Backfilling' | 'Catching up' | 'Offline';

/** A filter of the explorer other than a location's folders. */
export type Collection =
  | { readonly kind: 'tag'; readonly uuid: string }
  | { readonly kind: 'album'; readonly uuid: string }
  | { readonly kind: 'favorites' }
  | { readonly kind: 'duplicates' };

export type Layout = 'list' | 'grid';

/** A set that is replaced whole, never changed in place: reactive as a `$state.raw` value. */
const frozenSet = (xs: Iterable<string>): ReadonlySet<string> => new Set(xs);

const WINDOW = 200;
/** the stream is "Backfilling" (with a progress bar) while this many rows or more are missing */
const BACKFILL_ROWS = 2000;

export class AppState {
  readonly deps: AppDeps;
  boot = $state<BootReport | null>(null);
  health = $state<StorageHealth | null>(null);
  deviceName = $state('');
  /** the library's name as synced; null until someone names it */
  libraryName = $state<string | null>(null);
  /** set once this device learns another member forgot it */
  forgotten = $state<Forgotten | null>(null);
  /** the invite this device runs on was replaced by one it was not given (sync/rotation.ts R4) */
  inviteReplaced = $state(false);
  /** "Rotate invite" is under way (the tab restarts on the new secret when it is done) */
  rotating = $state(false);
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
  /** tags, albums, favourite, notes and copies of the selected file */
  meta = $state<Q.FileMeta | null>(null);
  /** the files selected in the list (one: `selected` is that file; several: the Inspector acts
   *  on all of them). Replaced, never mutated, so a change is one reactive update. */
  selection = $state.raw<ReadonlySet<string>>(frozenSet([]));
  /** with several selected: how many of them are favourites */
  bulk = $state<{ favorites: number } | null>(null);
  /** what the last act on several files did, in words */
  bulkMessage = $state<string | null>(null);
  /** the filters (Kind, Size, Date, Device, Tag), applied together to whatever the list shows */
  filters = $state.raw<Q.Filters>(Q.NO_FILTERS);
  /** read whole after a commit, unchanged rows kept (`keepUnchanged`): raw, never changed in place */
  tags = $state.raw<readonly Q.TagRow[]>([]);
  albums = $state.raw<readonly Q.AlbumRow[]>([]);
  /** a tag, album or the favourites shown instead of a folder */
  collection = $state<Collection | null>(null);
  sort = $state<Q.SortKey>('name');
  layout = $state<Layout>('list');
  theme = $state<ThemeChoice>(savedTheme());
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
  /** when each peer was last connected to this tab (epoch ms) */
  lastSeen = $state<Record<string, number>>({});
  readonly inspector: SyncInspectorState;
  readonly indexing: IndexingState;
  /** deletes waiting for their "Undo" (nothing of them is written yet) */
  pendingDeletes = $state<readonly PendingDelete[]>([]);
  readonly deletes: PendingDeletes;
  /** the "Preview" dialog */
  readonly preview = new PreviewState();
  /** thumbnails of images, by content identity */
  readonly thumbs: ThumbView;
  /** "Get from device" */
  readonly fetch: FetchState;
  #windowStart = 0;
  #windowLen = WINDOW;
  #seq = 0;
  /** the list index a Shift-click range starts from (the last plain or Ctrl-click) */
  #anchor: number | null = null;
  #bulkSeq = 0;

  constructor(deps: AppDeps) {
    this.deps = deps;
    this.boot = deps.boot;
    this.health = deps.boot.health;
    this.deviceName = deps.device.name;
    this.peers = this.#allPeers();
    this.inspector = new SyncInspectorState(deps.inspector);
    this.indexing = new IndexingState(deps.folders);
    this.deletes = createPendingDeletes({
      run: (kind, uuid, targets) => this.#runDelete(kind, uuid, targets),
      storage: typeof localStorage === 'undefined' ? null : localStorage,
      key: `tabdrive:pending-deletes:${deps.device.uuid}`,
      now: () => Date.now(),
      setTimer: (fn, ms) => setTimeout(fn, ms),
      clearTimer: (h) => clearTimeout(h as ReturnType<typeof setTimeout>),
      onChange: (items) => {
        // files waiting to leave the list leave it now (once written, the commit refreshes it)
        const more = items.some((p) => p.hide && !this.pendingDeletes.some((x) => x.id === p.id));
        this.pendingDeletes = [...items];
        if (more) void this.refreshFiles();
      },
      ...(deps.undoMs === undefined ? {} : { delayMs: deps.undoMs }),
    });
    this.thumbs = new ThumbView(deps.folders.thumbnails ?? null, deps.files?.wantThumb);
    this.fetch = new FetchState(deps.files ?? null);
    deps.relayPeers?.onChange(() => {
      this.peers = this.#allPeers();
      this.#seen();
    });
    deps.transport.onPeers(() => {
      this.peers = this.#allPeers();
      this.paused = deps.transport.paused;
      this.#seen();
    });
  }

  /** the transport's peers, then devices reached only through the relay */
  #allPeers(): PeerInfo[] {
    const direct = this.deps.transport.peers();
    const relayed = (this.deps.relayPeers?.peers() ?? []).filter((r) => !direct.some((p) => p.device === r.device));
    return [...direct, ...relayed];
  }

  /** 'this device' | 'online' (with its path) | 'offline', as the Devices list shows it. */
  presence(device: string): { state: 'this device' | 'online' | 'offline'; path: string | null; sync: string | null } {
    if (device === this.deviceUuid) return { state: 'this device', path: null, sync: null };
    const p = this.peers.find((x) => x.device === device);
    void this.syncTick; // re-read as sync states change
    return p
      ? { state: 'online', path: p.path === 'tab' ? 'tab' : p.path === 'relay' ? 'relay' : 'WebRTC', sync: this.deps.peerSyncState(device) }
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

  #seen(): void {
    const now = Date.now();
    for (const p of this.peers) if (now - (this.lastSeen[p.device] ?? 0) > 2000) this.lastSeen[p.device] = now;
  }

  /** Derives the status bar's state from the transport and the engine (called on a timer). */
  tick(): void {
    this.#seen();
    const inbound = this.deps.transport.channel.inbound;
    const streamed = this.deps.streamProgress();
    const relay = this.deps.relayCatchingUp?.() ?? null;
    const relayUp = this.deps.relay?.()?.state === 'connected';
    let state: SyncState;
    if (this.paused) state = 'Offline';
    else if (relay && (streamed || relay.fraction !== null)) state = 'Catching up';
    else if ((inbound && inbound.total >= 512 * 1024) || (streamed && streamed.behind >= BACKFILL_ROWS)) state = 'Backfilling';
    else if (this.deps.pendingCommits() > 0 || streamed) state = 'Syncing';
    else if (this.devices.length > 1 && this.peers.length === 0 && !relayUp) state = 'Offline';
    else state = 'Ready';
    this.syncState = state;
    this.backfill =
      state === 'Catching up'
        ? (streamed?.fraction ?? relay?.fraction ?? 0)
        : state !== 'Backfilling'
          ? null
          : streamed
            ? streamed.fraction
            : inbound
              ? inbound.received / inbound.total
              : null;
    this.resyncs = this.deps.resyncs();
    this.syncTick = (this.syncTick + 1) % 1_000_000;
  }

  async start(): Promise<void> {
    setInterval(() => this.tick(), 200);
    await Promise.all([this.refreshDevices(), this.refreshLocations(), this.refreshTags(), this.refreshAlbums(), this.refreshLibrary(), this.refreshForgotten()]);
    const first = this.locations.find((l) => l.device_uuid === this.deviceUuid) ?? this.locations[0];
    if (first) await this.openLocation(first.uuid);
    this.hlc = this.deps.hlc() ?? '';
  }

  /** Called after every commit with the SQL tables it changed. */
  // eslint-disable-next-line svelte/prefer-svelte-reactivity -- bookkeeping, never rendered
  #changed = new Set<string>();
  #refreshing: Promise<void> | null = null;

  /**
   * Tables whose rows changed (a commit here): what reads them is read again. Changes that
   * arrive while a refresh runs, or in the pause after it, are gathered into the next one — a
   * backfill commits a page every few milliseconds, and refreshing the views once per page kept
   * the main thread busy. The first refresh of a burst starts at once.
   */
  tablesChanged(tables: readonly string[]): Promise<void> {
    for (const t of tables) this.#changed.add(t);
    this.#refreshing ??= (async () => {
      try {
        while (this.#changed.size) {
          const next = [...this.#changed];
          this.#changed.clear();
          const t0 = performance.now();
          await this.#refreshFor(next);
          // Paced by its own cost: what arrives next gathers for as long as this refresh took.
          // A refresh reads whole lists (every tag), and a burst of acts commits one at a time
          // through the same worker as the refresh's reads: each refresh ended before the next
          // commit landed, so every commit got a refresh of its own and each act cost time in
          // proportion to the library's tags (decision 0019).
          await new Promise((r) => setTimeout(r, performance.now() - t0));
        }
      } finally {
        this.#refreshing = null;
      }
    })();
    return this.#refreshing;
  }

  async #refreshFor(tables: readonly string[]): Promise<void> {
    this.hlc = this.deps.hlc() ?? '';
    const jobs: Promise<void>[] = [];
    if (tables.includes('devices') || tables.includes('locations')) jobs.push(this.refreshDevices());
    if (tables.includes('locations')) jobs.push(this.refreshLocations());
    const has = (...t: string[]) => t.some((x) => tables.includes(x));
    if (has('tags', 'tag_links', 'devices')) jobs.push(this.refreshTags());
    if (has('albums', 'album_entries')) jobs.push(this.refreshAlbums());
    if (has('libraries')) jobs.push(this.refreshLibrary());
    if (has('forgotten_devices')) jobs.push(this.refreshForgotten());
    const c = this.collection;
    if (
      has('entries', 'locations') ||
      (c?.kind === 'tag' && has('tag_links')) ||
      (c?.kind === 'album' && has('album_entries')) ||
      (c?.kind === 'favorites' && has('user_metadata'))
    ) jobs.push(this.refreshFiles());
    if (this.selected && has('entries', 'locations', 'devices', 'tags', 'tag_links', 'albums', 'album_entries', 'user_metadata')) {
      jobs.push(this.refreshSelected());
    }
    if (this.selection.size > 1 && has('user_metadata')) jobs.push(this.refreshBulk());
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

  async rotateInvite(): Promise<void> {
    if (!this.deps.rotateInvite || this.rotating) return;
    this.rotating = true;
    try {
      await this.deps.rotateInvite();
    } catch (e) {
      this.rotating = false;
      this.error = `Rotate invite failed: ${e instanceof Error ? e.message : String(e)}`;
    }
  }

  async refreshForgotten(): Promise<void> {
    this.forgotten = await Q.forgotten(this.deps.query, this.deviceUuid);
  }

  /** Forgets another device of the library, everywhere (its record and all it owns). */
  forgetDevice(uuid: string): Promise<boolean> {
    return this.#act(() => this.deps.intents.forgetDevice(uuid));
  }

  async rejoin(): Promise<void> {
    await this.deps.rejoin?.();
  }

  async refreshLibrary(): Promise<void> {
    this.libraryName = await Q.libraryName(this.deps.query, this.deps.library);
  }

  /** What the library is called here: its synced name, or its short id until it has one. */
  get libraryTitle(): string {
    return this.libraryName ?? `Library ${this.deps.library.slice(0, 8)}`;
  }

  renameLibrary(name: string): Promise<boolean> {
    return this.#act(() => this.deps.intents.renameLibrary(this.deps.library, name));
  }

  async refreshTags(): Promise<void> {
    this.tags = keepUnchanged(this.tags, await Q.tags(this.deps.query), (t) => t.uuid);
    const t = this.filters.tag;
    if (t && !this.tags.some((x) => x.uuid === t)) await this.setFilters({ tag: null }); // the tag was deleted
    if (this.collection?.kind === 'tag' && !this.tags.some((t) => t.uuid === (this.collection as { uuid: string }).uuid)) {
      this.collection = null; // the tag was deleted (here or elsewhere)
      await this.refreshFiles();
    }
  }

  async refreshAlbums(): Promise<void> {
    this.albums = keepUnchanged(this.albums, await Q.albums(this.deps.query), (a) => a.uuid);
    if (this.collection?.kind === 'album' && !this.albums.some((a) => a.uuid === (this.collection as { uuid: string }).uuid)) {
      this.collection = null;
      await this.refreshFiles();
    }
  }

  /** The selected file again (it may have been renamed, moved, deleted or re-tagged). */
  async refreshSelected(): Promise<void> {
    const f = this.selected;
    if (!f) return;
    const detail = await Q.fileDetail(this.deps.query, f.uuid);
    if (this.selected?.uuid !== f.uuid) return;
    this.selected = detail;
    await this.refreshMeta();
  }

  async refreshLocations(): Promise<void> {
    this.locations = await Q.locations(this.deps.query);
  }

  async openLocation(uuid: string): Promise<void> {
    const loc = this.locations.find((l) => l.uuid === uuid);
    this.location = uuid;
    this.collection = null;
    this.searchText = '';
    await this.openDir(loc?.root ?? null);
  }

  async openDir(dir: string | null): Promise<void> {
    this.#listChanged();
    this.dir = dir;
    this.collection = null;
    this.fileOffset = 0;
    this.#windowStart = 0;
    this.crumbs = dir ? await Q.breadcrumbs(this.deps.query, dir) : [];
    await this.refreshFiles();
  }

  async setSearch(text: string): Promise<void> {
    this.#listChanged();
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

  /** What the file list shows now: a search wins over a tag/album/favourites, which win over the folder. */
  get source(): Q.FileSource | null {
    const text = this.searchText.trim();
    if (text) return { kind: 'search', text };
    const c = this.collection;
    if (c) return c.kind === 'tag' ? { kind: 'tag', tag: c.uuid } : c.kind === 'album' ? { kind: 'album', album: c.uuid } : { kind: c.kind };
    return this.dir ? { kind: 'dir', dir: this.dir } : null;
  }

  async refreshFiles(): Promise<void> {
    const seq = ++this.#seq;
    const q = this.deps.query;
    const src = this.source;
    let total = 0;
    let rows: Q.FileRow[] = [];
    if (src) {
      const f = this.#listFilters();
      [total, rows] = await Promise.all([Q.sourceCount(q, src, f), Q.sourceRows(q, src, this.#windowStart, this.#windowLen, this.sort, f)]);
    }
    if (seq !== this.#seq) return; // a newer refresh started meanwhile
    this.fileTotal = total;
    this.fileOffset = this.#windowStart;
    this.fileRows = rows;
  }

  async setSort(sort: Q.SortKey): Promise<void> {
    this.#anchor = null; // indexes mean other files now
    this.sort = sort;
    this.#windowStart = 0;
    await this.refreshFiles();
  }

  setLayout(layout: Layout): void {
    this.layout = layout;
  }

  setTheme(theme: ThemeChoice): void {
    this.theme = theme;
    applyTheme(theme);
  }

  /** Shows a tag's, an album's or the favourite files (from every device). */
  async openCollection(c: Collection): Promise<void> {
    this.#listChanged();
    this.collection = c;
    this.searchText = '';
    this.#windowStart = 0;
    await this.refreshFiles();
  }

  /** The heading of the file list when it shows a collection. */
  get collectionTitle(): string | null {
    const c = this.collection;
    if (!c) return null;
    if (c.kind === 'favorites') return 'Favorites';
    if (c.kind === 'duplicates') return 'Duplicates: the same content more than once';
    if (c.kind === 'tag') return `Tag: ${this.tags.find((t) => t.uuid === c.uuid)?.name ?? 'deleted tag'}`;
    return `Album: ${this.albums.find((a) => a.uuid === c.uuid)?.name ?? 'deleted album'}`;
  }

  async select(file: Q.FileRow): Promise<void> {
    if (file.kind === 'dir' && !this.searchText.trim()) {
      await this.openDir(file.uuid);
      return;
    }
    await this.showDetails(file.uuid);
  }

  async showDetails(uuid: string): Promise<void> {
    this.selection = frozenSet([uuid]);
    this.bulk = null;
    const detail = await Q.fileDetail(this.deps.query, uuid);
    this.selected = detail;
    await this.refreshMeta();
  }

  async refreshMeta(): Promise<void> {
    const f = this.selected;
    if (!f) {
      this.meta = null;
      return;
    }
    const meta = await Q.fileMeta(this.deps.query, f);
    if (this.selected?.uuid === f.uuid) this.meta = meta;
  }

  // ── selecting many ───────────────────────────────────────────────────────────────

  /** the "Kind" filter */
  get kind(): Q.KindFilter {
    return this.filters.kind;
  }
  /** Filter by kind (combined with the other filters and the folder, collection or search shown). */
  setKind(kind: Q.KindFilter): Promise<void> {
    return this.setFilters({ kind });
  }
  /** Changes some filters (the others stay); the list starts from its top. */
  async setFilters(patch: Partial<Q.Filters>): Promise<void> {
    this.#listChanged();
    this.filters = { ...this.filters, ...patch };
    this.#windowStart = 0;
    await this.refreshFiles();
  }
  /** Whether any filter narrows the list ("Clear filters" shows). */
  get filtered(): boolean {
    return Q.anyFilter(this.filters);
  }
  clearFilters(): Promise<void> {
    return this.setFilters({ ...Q.NO_FILTERS });
  }
  /** The filters with the entries whose removal from the collection shown waits for "Undo". */
  #listFilters(): Q.Filters {
    const c = this.collection;
    const owner = c?.kind === 'tag' || c?.kind === 'album' ? c.uuid : null;
    const hide = owner ? this.pendingDeletes.filter((p) => p.uuid === owner && p.hide).flatMap((p) => p.hide!) : [];
    return hide.length ? { ...this.filters, hide } : this.filters;
  }

  /**
   * A click on the row at `index`: plain selects that file alone (a folder opens), `toggle`
   * (Ctrl/Cmd) adds or removes it, `range` (Shift) selects from the last clicked row to it.
   */
  async clickFile(file: Q.FileRow, index: number, mods: { toggle?: boolean; range?: boolean } = {}): Promise<void> {
    if (mods.range) return this.selectRange(index);
    this.#anchor = index;
    if (!mods.toggle) return this.select(file);
    const has = this.selection.has(file.uuid);
    await this.#setSelection(frozenSet(has ? [...this.selection].filter((u) => u !== file.uuid) : [...this.selection, file.uuid]));
  }

  /** Selects the rows from the anchor (the last clicked row) to `index`, both included. */
  async selectRange(index: number): Promise<void> {
    const src = this.source;
    if (!src) return;
    const from = this.#anchor ?? index;
    this.#anchor = from;
    const lo = Math.max(0, Math.min(from, index));
    const hi = Math.max(from, index);
    await this.#setSelection(frozenSet(await Q.sourceUuids(this.deps.query, src, lo, hi - lo + 1, this.sort, this.#listFilters())));
  }

  /** Ctrl+A: every row the list shows (with its filters), scrolled into view or not. */
  async selectAll(): Promise<void> {
    const src = this.source;
    if (!src || this.fileTotal === 0) return;
    await this.#setSelection(frozenSet(await Q.sourceUuids(this.deps.query, src, 0, this.fileTotal, this.sort, this.#listFilters())));
  }

  /** Escape: nothing selected. */
  clearSelection(): void {
    this.#anchor = null;
    this.selection = frozenSet([]);
    this.selected = null;
    this.meta = null;
    this.bulk = null;
    this.bulkMessage = null;
  }

  async #setSelection(next: ReadonlySet<string>): Promise<void> {
    this.bulkMessage = null;
    if (next.size === 1) return this.showDetails([...next][0]!);
    this.selection = next;
    this.selected = null;
    this.meta = null;
    if (next.size === 0) this.bulk = null;
    else await this.refreshBulk();
  }

  /** What the list shows is about to change: a selection of several (rows of the old list,
   *  partly not on screen any more) is dropped; one selected file stays in the Inspector. */
  #listChanged(): void {
    this.#anchor = null;
    if (this.selection.size > 1) this.clearSelection();
  }

  async refreshBulk(): Promise<void> {
    const seq = ++this.#bulkSeq;
    const ids = [...this.selection];
    const favorites = await Q.favoriteCount(this.deps.query, ids);
    if (seq === this.#bulkSeq) this.bulk = { favorites };
  }

  /** Runs one act on every selected file (one commit) and says what it did. */
  async #onSelection(run: (ids: string[]) => ReturnType<AppDeps['intents']['tagEntries']>, done: (n: number) => string): Promise<boolean> {
    const ids = [...this.selection];
    this.bulkMessage = null;
    const ok = await this.#act(() => run(ids));
    if (ok) this.bulkMessage = done(ids.length);
    return ok;
  }
  tagSelection(tag: string): Promise<boolean> {
    const name = this.tags.find((t) => t.uuid === tag)?.name ?? 'the tag';
    return this.#onSelection((ids) => this.deps.intents.tagEntries(tag, ids), (n) => `Tagged ${n.toLocaleString('en')} files with “${name}”.`);
  }
  addSelectionToAlbum(album: string): Promise<boolean> {
    const name = this.albums.find((a) => a.uuid === album)?.name ?? 'the album';
    return this.#onSelection((ids) => this.deps.intents.addEntriesToAlbum(album, ids), (n) => `Added ${n.toLocaleString('en')} files to “${name}”.`);
  }
  async favoriteSelection(favorite: boolean): Promise<boolean> {
    const ok = await this.#onSelection(
      (ids) => this.deps.intents.setFavorites(ids, favorite),
      (n) => `${n.toLocaleString('en')} files ${favorite ? 'marked as favorites' : 'no longer favorites'}.`,
    );
    if (ok) await this.refreshBulk();
    return ok;
  }

  async openFile(file: Q.FileRow): Promise<void> {
    if (file.kind === 'dir') {
      this.searchText = '';
      if (file.location_uuid !== this.location) this.location = file.location_uuid;
      await this.openDir(file.uuid);
    } else await this.showDetails(file.uuid);
  }

  #stopSample = false;
  /** Cancels a sample location being added (between batches; what was written stays). */
  cancelSample(): void {
    this.#stopSample = true;
  }

  async addSampleLocation(name: string, count: number): Promise<boolean> {
    this.busy = true;
    this.error = null;
    this.progress = { done: 0, total: count };
    this.#stopSample = false;
    try {
      const r = await this.deps.intents.addSampleLocation(name, count, (p) => (this.progress = p), () => this.#stopSample);
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

  /** Deletes wait a few seconds for "Undo" (pending-deletes.ts); the lists hide them meanwhile. */
  deleteLocation(uuid: string): void {
    this.deletes.schedule('location', uuid, this.locations.find((l) => l.uuid === uuid)?.name ?? 'location');
  }

  /** Whether a record shows in its list (not waiting to be deleted). */
  shown(uuid: string): boolean {
    return !this.pendingDeletes.some((p) => p.uuid === uuid && !p.targets);
  }

  /**
   * The Delete key: in an album's view the selected files leave the album, in a tag's view the
   * tag leaves them (on the file and on its content) — one batch, held for "Undo" like other
   * deletes. Elsewhere nothing: files belong to their device, and the app never deletes them
   * from disk. Returns whether a removal was scheduled.
   */
  async deleteSelection(): Promise<boolean> {
    const c = this.collection;
    const ids = [...this.selection];
    if (!ids.length || this.searchText.trim() || (c?.kind !== 'album' && c?.kind !== 'tag')) return false;
    const targets = c.kind === 'album' ? ids : await Q.tagTargets(this.deps.query, c.uuid, ids);
    if (!targets.length) return false;
    const name = c.kind === 'album' ? (this.albums.find((a) => a.uuid === c.uuid)?.name ?? 'album') : (this.tags.find((t) => t.uuid === c.uuid)?.name ?? 'tag');
    this.clearSelection();
    this.deletes.schedule(c.kind === 'album' ? 'album-files' : 'tag-files', c.uuid, name, { targets, hide: ids });
    return true;
  }

  /** "Undo" of a pending delete; files held out of the list come back. */
  undoDelete(id: number): void {
    const removal = this.pendingDeletes.some((p) => p.id === id && p.hide);
    if (this.deletes.undo(id) && removal) void this.refreshFiles();
  }

  async #runDelete(kind: DeleteKind, uuid: string, targets?: readonly string[]): Promise<boolean> {
    if (kind === 'album-files') return this.#act(() => this.deps.intents.removeEntriesFromAlbum(uuid, targets ?? []));
    if (kind === 'tag-files') return this.#act(() => this.deps.intents.untagTargets(uuid, targets ?? []));
    if (kind === 'tag') return this.#act(() => this.deps.intents.deleteTag(uuid));
    if (kind === 'album') return this.#act(() => this.deps.intents.deleteAlbum(uuid));
    const r = await this.deps.intents.deleteLocation(uuid);
    if (!r.ok) {
      this.error = r.error.message;
      return false;
    }
    await this.indexing.forget(uuid);
    return true;
  }

  /** After a folder was indexed: show it. */
  async #opened(report: { location: string } | null): Promise<void> {
    if (!report) return;
    await this.refreshLocations();
    await this.openLocation(report.location);
  }
  async addFolderFiles(files: ArrayLike<File>): Promise<void> {
    await this.#opened(await this.indexing.addFromFiles(files));
  }
  async addFolderWithPicker(): Promise<void> {
    await this.#opened(await this.indexing.addWithPicker());
  }
  async rescanLocation(uuid: string, files?: ArrayLike<File>): Promise<void> {
    const name = this.locations.find((l) => l.uuid === uuid)?.name ?? 'folder';
    await this.#opened(await this.indexing.rescan(uuid, name, files));
  }

  /** Runs an intent; its error (if any) is shown, and the result says whether it worked. */
  async #act(run: () => Promise<{ ok: boolean; error?: { message: string } }>): Promise<boolean> {
    this.error = null;
    const r = await run();
    if (!r.ok) this.error = r.error?.message ?? 'That did not work.';
    return r.ok;
  }

  // ── tags ─────────────────────────────────────────────────────────────────────────
  createTag(name: string, namespace: string, color: string | null): Promise<boolean> {
    return this.#act(() => this.deps.intents.createTag({ name, namespace: namespace || null, color }));
  }
  renameTag(uuid: string, name: string): Promise<boolean> {
    return this.#act(() => this.deps.intents.updateTag(uuid, { name }));
  }
  recolorTag(uuid: string, color: string): Promise<boolean> {
    return this.#act(() => this.deps.intents.updateTag(uuid, { color }));
  }
  setTagNamespace(uuid: string, namespace: string): Promise<boolean> {
    return this.#act(() => this.deps.intents.updateTag(uuid, { namespace: namespace || null }));
  }
  /** Holds the delete for "Undo" (written after a few seconds, or when the page goes away). */
  deleteTag(uuid: string): void {
    this.deletes.schedule('tag', uuid, this.tags.find((t) => t.uuid === uuid)?.name ?? 'tag');
  }
  /** Groups of tags sharing a name (same canonical name and namespace): merge candidates. */
  get duplicateTags(): Q.TagRow[][] {
    const groups: Record<string, Q.TagRow[]> = {};
    for (const t of this.tags) (groups[`${t.namespace ?? ''}\u0000${t.canonical}`] ??= []).push(t);
    return Object.values(groups).filter((g) => g.length > 1);
  }
  /** Keeps `keep` and moves every link of the other same-name tags to it. */
  async mergeTags(keep: string, others: readonly string[]): Promise<boolean> {
    const drop = await Promise.all(others.map(async (uuid) => ({ uuid, links: await Q.tagLinks(this.deps.query, uuid) })));
    return this.#act(() => this.deps.intents.mergeTags(keep, drop));
  }

  // ── albums ───────────────────────────────────────────────────────────────────────
  createAlbum(name: string): Promise<boolean> {
    return this.#act(() => this.deps.intents.createAlbum(name));
  }
  renameAlbum(uuid: string, name: string): Promise<boolean> {
    return this.#act(() => this.deps.intents.renameAlbum(uuid, name));
  }
  deleteAlbum(uuid: string): void {
    this.deletes.schedule('album', uuid, this.albums.find((a) => a.uuid === uuid)?.name ?? 'album');
  }

  // ── the selected file ────────────────────────────────────────────────────────────
  tagSelected(tag: string): Promise<boolean> {
    const f = this.selected;
    return f ? this.#act(() => this.deps.intents.tagEntry(tag, f.uuid)) : Promise.resolve(false);
  }
  /** Removes the tag from this file, whether it was on the file or on its content. */
  async untagSelected(tag: string): Promise<boolean> {
    const f = this.selected;
    const t = this.meta?.tags.find((x) => x.uuid === tag);
    if (!f || !t) return false;
    if (t.via !== 'content' && !(await this.#act(() => this.deps.intents.untagEntry(tag, f.uuid)))) return false;
    if (t.via !== 'entry' && f.content_uuid) return this.#act(() => this.deps.intents.untagEntry(tag, f.content_uuid!));
    return true;
  }
  setFavorite(favorite: boolean): Promise<boolean> {
    const f = this.selected;
    return f ? this.#act(() => this.deps.intents.setFavorite(f.uuid, favorite)) : Promise.resolve(false);
  }
  /** Saves the notes of a file (the Inspector calls it as the user types, debounced). */
  saveNotes(entry: string, notes: string): Promise<boolean> {
    return this.#act(() => this.deps.intents.setNotes(entry, notes));
  }
  addSelectedToAlbum(album: string): Promise<boolean> {
    const f = this.selected;
    return f ? this.#act(() => this.deps.intents.addToAlbum(album, f.uuid)) : Promise.resolve(false);
  }
  removeSelectedFromAlbum(album: string): Promise<boolean> {
    const f = this.selected;
    return f ? this.#act(() => this.deps.intents.removeFromAlbum(album, f.uuid)) : Promise.resolve(false);
  }

  /** Opens "Preview" on the selected file (a folder has none). */
  async openPreview(): Promise<void> {
    const f = this.selected;
    if (!f || f.kind === 'dir') return;
    const ref = { location: f.location_uuid, locationPath: f.location_path, device: f.device_uuid, deviceName: f.device_name, path: f.rel_path };
    const ticket = this.preview.ask();
    // a file received before (this device's kept copy) is read from it, with no transfer
    const fetched = await this.fetch.local(f);
    await this.preview.show(
      f,
      () => (fetched ? Promise.resolve({ ok: true, file: new File([fetched], f.name) }) : this.indexing.access.open(ref, this.deviceUuid)),
      ticket,
    );
  }

  /** "Get from device": the selected file from a device holding it, then "Preview". */
  async getFromDevice(): Promise<void> {
    const f = this.selected;
    if (!f || f.kind === 'dir') return;
    const got = await this.fetch.get(f);
    if (got && this.selected?.uuid === f.uuid) await this.openPreview();
  }

  newDevice(): void {
    this.deps.openNewDevice();
  }
}
