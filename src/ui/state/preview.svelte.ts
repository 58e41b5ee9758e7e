/**
 * The "Preview" dialog's state: which file, and what of it can be shown. Reading goes through
 * FileAccess (this device's picked files or kept handles); what cannot be read is a message.
 * Object URLs live exactly as long as the dialog shows them.
 */
import type { FileLookup } from '../../indexer/access.ts';
import { looksBinary, previewKind, TEXT_PREVIEW_BYTES } from '../../media/kinds.ts';
import type { FileDetail } from '../queries.ts';

export type PreviewContent =
  | { readonly kind: 'image' | 'video' | 'audio'; readonly url: string }
  | { readonly kind: 'text'; readonly text: string; readonly shown: number; readonly size: number }
  | { readonly kind: 'pdf'; readonly data: Uint8Array }
  /** nothing to show; `why` when the kind has a viewer but this file does not fit it */
  | { readonly kind: 'none'; readonly why?: string };

/** PDFs are parsed whole by pdf.js: larger ones are not previewed (memory of the tab). */
export const PDF_PREVIEW_BYTES = 64 * 1024 * 1024;

export class PreviewState {
  file = $state<FileDetail | null>(null);
  status = $state<'closed' | 'loading' | 'ready' | 'unavailable'>('closed');
  content = $state<PreviewContent | null>(null);
  message = $state<string | null>(null);
  #url: string | null = null;
  #seq = 0;
  #asked = 0;

  get open(): boolean {
    return this.status !== 'closed';
  }

  /**
   * A ticket for a preview about to be shown after some awaiting (e.g. reading the kept
   * copies): `show` with it does nothing if another preview was asked for or the dialog was
   * closed meanwhile — a slow request must not pop the dialog up again after Escape.
   */
  ask(): number {
    return ++this.#asked;
  }

  /** How many previews were asked for (or closed) so far: a dialog that opened at one count
   *  and closes at another belongs to an older preview (Preview.svelte). */
  get asked(): number {
    return this.#asked;
  }

  async show(file: FileDetail, lookup: () => Promise<FileLookup>, ticket?: number): Promise<void> {
    if (ticket !== undefined && ticket !== this.#asked) return;
    const seq = ++this.#seq;
    this.#release();
    this.file = file;
    this.content = null;
    this.message = null;
    this.status = 'loading';
    let content: PreviewContent | null = null;
    let message: string | null = null;
    try {
      const found = await lookup();
      if (!found.ok) message = found.message;
      else content = await read(found.file, file.extension);
    } catch (e) {
      message = `The file could not be read: ${e instanceof Error ? e.message : String(e)}`;
    }
    if (seq !== this.#seq) {
      if (content && 'url' in content) URL.revokeObjectURL(content.url);
      return;
    }
    if (content && 'url' in content) this.#url = content.url;
    this.content = content;
    this.message = message;
    this.status = content ? 'ready' : 'unavailable';
  }

  /** The viewer could not decode what it was given (an image format this browser lacks…). */
  failed(message: string): void {
    this.#release();
    this.content = null;
    this.message = message;
    this.status = 'unavailable';
  }

  close(): void {
    this.#seq++;
    this.#asked++;
    this.#release();
    this.status = 'closed';
    this.content = null;
    this.message = null;
  }

  #release(): void {
    if (this.#url) URL.revokeObjectURL(this.#url);
    this.#url = null;
  }
}

async function read(file: File, extension: string | null): Promise<PreviewContent> {
  const kind = previewKind(extension);
  switch (kind) {
    case 'image':
    case 'video':
    case 'audio':
      return { kind, url: URL.createObjectURL(file) };
    case 'pdf':
      if (file.size > PDF_PREVIEW_BYTES) return { kind: 'none', why: `This PDF is larger than ${PDF_PREVIEW_BYTES / 1024 / 1024} MB: too large to preview here.` };
      return { kind, data: new Uint8Array(await file.arrayBuffer()) };
    case 'text': {
      const shown = Math.min(file.size, TEXT_PREVIEW_BYTES);
      const text = new TextDecoder('utf-8', { fatal: false }).decode(await file.slice(0, shown).arrayBuffer());
      return looksBinary(text) ? { kind: 'none', why: 'This file holds binary data, not text.' } : { kind, text, shown, size: file.size };
    }
    case 'none':
      return { kind: 'none' };
  }
}
