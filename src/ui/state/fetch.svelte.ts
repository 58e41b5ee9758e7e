/**
 * "Get from device" for the UI: the transfer of the selected file's content (media/transfer.ts
 * does the protocol), its progress as state, "Save" of the verified file, and this device's
 * kept copies ("Kept on this device", "Remove copy"; parts.ts C1–C3). One transfer per
 * content; the view of the one the Inspector shows is `current`.
 */
import { SvelteMap } from 'svelte/reactivity';
import type { TransferStatus, TransferView, Transfers } from '../../media/transfer.ts';
import type { FileDetail } from '../queries.ts';

export interface FetchDeps {
  readonly transfers: Transfers;
  /** devices (not this one) holding files of this content, the entry's own device first */
  readonly sources: (content: string) => Promise<string[]>;
}

export class FetchState {
  /** content → its transfer's latest view (verified files stay for the tab's life) */
  readonly #views = new SvelteMap<string, TransferView>();
  /** content → size of this device's kept copy */
  readonly #copies = new SvelteMap<string, number>();
  // eslint-disable-next-line svelte/prefer-svelte-reactivity -- bookkeeping, never rendered
  readonly #status = new Map<string, TransferStatus>();

  constructor(private readonly deps: FetchDeps | null) {
    deps?.transfers.onChange((v) => {
      this.#views.set(v.content, v);
      // copies change when a transfer starts (room made) or ends (kept): not on each chunk
      if (this.#status.get(v.content) !== v.status) void this.refresh();
      this.#status.set(v.content, v.status);
    });
    void this.refresh();
  }

  get available(): boolean {
    return this.deps !== null;
  }

  /** The transfer of this content, if one ran or runs in this tab. */
  view(content: string | null): TransferView | null {
    return content ? (this.#views.get(content) ?? null) : null;
  }

  /** The verified file of this content, once received. */
  file(content: string | null): Blob | null {
    const v = this.view(content);
    return v?.status === 'done' ? v.file : null;
  }

  /** The size of this device's kept copy of the content, or null. */
  kept(content: string | null): number | null {
    return content ? (this.#copies.get(content) ?? null) : null;
  }

  /** This device's copy of the file (read from what it kept, no transfer), or null. */
  async local(f: FileDetail): Promise<Blob | null> {
    const content = f.content_uuid;
    if (!content) return null;
    const got = this.file(content);
    if (got) return got;
    // another tab may have removed it (or made room): never start a transfer from Preview
    await this.refresh();
    return this.kept(content) !== null ? this.get(f) : null;
  }

  /** Starts getting the file; resolves with the verified file, or null (the view says why). */
  async get(f: FileDetail): Promise<Blob | null> {
    const content = f.content_uuid;
    if (!this.deps || !content) return null;
    const running = this.#views.get(content);
    if (running?.status === 'done') return running.file;
    const found = await this.deps.sources(content);
    const sources = [...(f.device_uuid && found.includes(f.device_uuid) ? [f.device_uuid] : []), ...found.filter((d) => d !== f.device_uuid)];
    this.#views.set(content, this.deps.transfers.get({ content, size: f.size, sources }));
    return new Promise((resolve) => {
      const off = this.deps!.transfers.onChange((v) => {
        if (v.content !== content || (v.status !== 'done' && v.status !== 'failed' && v.status !== 'cancelled')) return;
        off();
        resolve(v.status === 'done' ? v.file : null);
      });
    });
  }

  cancel(content: string): Promise<void> {
    return this.deps?.transfers.cancel(content) ?? Promise.resolve();
  }

  /** "Remove copy": forgets this device's copy; the file is another device's again. */
  async remove(content: string): Promise<void> {
    if (!this.deps) return;
    await this.deps.transfers.removeCopy(content);
    this.#views.delete(content);
    this.#status.delete(content);
    await this.refresh();
  }

  /** Reads which copies are kept (other tabs of this browser share them). */
  async refresh(): Promise<void> {
    if (!this.deps) return;
    const copies = await this.deps.transfers.copies().catch(() => null);
    if (!copies) return;
    for (const k of [...this.#copies.keys()]) if (!copies.some((c) => c.content === k)) this.#copies.delete(k);
    for (const c of copies) if (this.#copies.get(c.content) !== c.size) this.#copies.set(c.content, c.size);
  }
}

/** Offers a file to the user as a download with its name ("Save"). */
export function saveFile(file: Blob, name: string): void {
  const url = URL.createObjectURL(file);
  const a = document.createElement('a');
  a.href = url;
  a.download = name;
  a.rel = 'noopener';
  document.body.append(a);
  a.click();
  a.remove();
  // the download has taken its copy of the URL's target by the next task
  setTimeout(() => URL.revokeObjectURL(url), 60_000);
}
