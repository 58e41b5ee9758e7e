/**
 * "Get from device" for the UI: the transfer of the selected file's content (media/transfer.ts
 * does the protocol), its progress as state, and "Save" of the verified file. One transfer per
 * content; the view of the one the Inspector shows is `current`.
 */
import { SvelteMap } from 'svelte/reactivity';
import type { TransferView, Transfers } from '../../media/transfer.ts';
import type { FileDetail } from '../queries.ts';

export interface FetchDeps {
  readonly transfers: Transfers;
  /** devices (not this one) holding files of this content, the entry's own device first */
  readonly sources: (content: string) => Promise<string[]>;
}

export class FetchState {
  /** content → its transfer's latest view (verified files stay for the tab's life) */
  readonly #views = new SvelteMap<string, TransferView>();

  constructor(private readonly deps: FetchDeps | null) {
    deps?.transfers.onChange((v) => this.#views.set(v.content, v));
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
