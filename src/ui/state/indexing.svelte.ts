/**
 * Adding and re-scanning real folders, as the Locations section drives it: which folder is
 * being indexed, how far it is, "Cancel", and what happened in plain words.
 */
import type { Result } from '../../core/result.ts';
import { canRead, type HandleStore } from '../../indexer/handles.ts';
import { indexNewFolder, rescanFolder, type IndexDeps, type IndexReport } from '../../indexer/indexer.ts';
import { fromDirectoryHandle, fromFileList, isPickedFile, type PickedFolder } from '../../indexer/source.ts';
import { FileAccess } from '../../indexer/access.ts';
import type { Thumbnails } from '../../media/thumbnails.ts';
import type { IntentError } from '../../sync/intents.ts';

export interface FolderDeps extends Omit<IndexDeps, 'onProgress' | 'signal'> {
  /** where directory handles are kept for re-scans (null: not available) */
  readonly handles: HandleStore | null;
  /** the File System Access directory picker, when the browser has one */
  readonly pickDirectory: (() => Promise<FileSystemDirectoryHandle>) | null;
  /** thumbnails of indexed images (absent: none are made) */
  readonly thumbnails?: Thumbnails | null;
}

export class IndexingState {
  /** the folder being indexed and its progress (null when idle) */
  running = $state<{ name: string; done: number; total: number; phase: 'reading' | 'indexing' } | null>(null);
  message = $state<string | null>(null);
  error = $state<string | null>(null);
  #abort: AbortController | null = null;
  /** reads this device's files for previews (picked files of this tab, kept handles) */
  readonly access: FileAccess;

  constructor(private readonly deps: FolderDeps) {
    this.access = new FileAccess(deps.handles);
  }

  #remember(location: string, folder: PickedFolder): void {
    this.access.remember(location, folder.items.filter(isPickedFile));
  }

  get canPickDirectory(): boolean {
    return this.deps.pickDirectory !== null;
  }

  cancel(): void {
    this.#abort?.abort();
  }

  /** Files from the "Folder" input (webkitdirectory). */
  async addFromFiles(list: ArrayLike<File>): Promise<IndexReport | null> {
    const folder = fromFileList(list);
    if (!folder) {
      this.error = 'That folder is empty (or the browser did not list its files).';
      return null;
    }
    const report = await this.#run(folder.name, (d) => indexNewFolder(folder, d));
    if (report) this.#remember(report.location, folder);
    return report;
  }

  /** "Add folder" with the directory picker; the handle is kept for re-scans. */
  async addWithPicker(): Promise<IndexReport | null> {
    if (!this.deps.pickDirectory) return null;
    let handle: FileSystemDirectoryHandle;
    try {
      handle = await this.deps.pickDirectory();
    } catch (e) {
      if (!(e instanceof DOMException && e.name === 'AbortError')) this.error = `The folder could not be opened: ${String(e)}`;
      return null;
    }
    // the handle is kept before the result is announced: a reload right after must find it
    return this.#run(handle.name, async (d, signal) => {
      const folder = await this.#read(handle, signal);
      const r = await indexNewFolder(folder, d);
      if (r.ok && this.deps.handles) await this.deps.handles.save(r.value.location, handle).catch(() => undefined);
      return r;
    });
  }

  /** Whether a location can be re-scanned without picking the folder again. */
  async hasHandle(location: string): Promise<boolean> {
    return (await this.deps.handles?.load(location).catch(() => null)) != null;
  }

  /** Re-scan from the kept handle, or from the folder picked again with the input. */
  async rescan(location: string, name: string, files?: ArrayLike<File>): Promise<IndexReport | null> {
    if (files) {
      const folder = fromFileList(files);
      if (!folder) {
        this.error = 'That folder is empty (or the browser did not list its files).';
        return null;
      }
      const report = await this.#run(name, (d) => rescanFolder(location, folder, d));
      if (report) this.#remember(location, folder);
      return report;
    }
    const handle = await this.deps.handles?.load(location).catch(() => null);
    if (!handle) {
      this.error = 'Pick the folder again to re-scan it.';
      return null;
    }
    if (!(await canRead(handle))) {
      this.error = `Permission to read “${name}” was not given.`;
      return null;
    }
    return this.#run(name, async (d, signal) => rescanFolder(location, await this.#read(handle, signal), d));
  }

  async forget(location: string): Promise<void> {
    this.access.forget(location);
    await this.deps.handles?.forget(location).catch(() => undefined);
  }

  async #read(handle: FileSystemDirectoryHandle, signal: AbortSignal): Promise<PickedFolder> {
    const { folder, unreadable } = await fromDirectoryHandle(handle, signal, (n) => {
      if (this.running) this.running = { ...this.running, done: n, total: 0, phase: 'reading' };
    });
    if (unreadable.length) this.error = `${unreadable.length} file(s) could not be read (e.g. ${unreadable[0]}).`;
    return folder;
  }

  async #run(name: string, job: (d: IndexDeps, signal: AbortSignal) => Promise<Result<IndexReport, IntentError>>): Promise<IndexReport | null> {
    if (this.running) {
      this.error = 'A folder is being indexed already.';
      return null;
    }
    this.error = null;
    this.message = null;
    const abort = (this.#abort = new AbortController());
    this.running = { name, done: 0, total: 0, phase: 'reading' };
    try {
      const r = await job(
        {
          ...this.deps, signal: abort.signal, onProgress: (p) => (this.running = { name, ...p, phase: 'indexing' }),
          onImagesWritten: (items) => this.deps.thumbnails?.enqueue(items),
        },
        abort.signal,
      );
      if (!r.ok) {
        this.error = r.error.message;
        return null;
      }
      const v = r.value;
      const changes = [v.added && `${v.added} added`, v.moved && `${v.moved} moved`, v.changed && `${v.changed} changed`, v.removed && `${v.removed} removed`].filter(Boolean).join(', ');
      this.message = v.cancelled
        ? `Indexing “${name}” was cancelled: ${v.files.toLocaleString('en')} files are indexed so far.`
        : `“${name}”: ${v.files.toLocaleString('en')} files${changes ? ` (${changes})` : ', nothing changed'}.` +
          (v.mediaFailed ? ` ${v.mediaFailed} image(s) had no readable date, size or camera.` : '');
      if (v.unreadable.length) this.error = `${v.unreadable.length} file(s) could not be read and have no content identity (e.g. ${v.unreadable[0]}).`;
      return v;
    } catch (e) {
      this.error = `Indexing stopped: ${e instanceof Error ? e.message : String(e)}. What was indexed so far is kept.`;
      return null;
    } finally {
      this.running = null;
      this.#abort = null;
    }
  }
}
