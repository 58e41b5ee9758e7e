/**
 * Thumbnail URLs for what the UI shows: read from this browser's thumbnail store on first
 * sight of a content identity, as object URLs; the oldest are released past MAX_URLS (the
 * grid shows a few hundred at most). A thumbnail made later shows up where its content is.
 */
import { SvelteMap } from 'svelte/reactivity';
import type { Thumbnails } from '../../media/thumbnails.ts';
import { NONE_MS } from '../../media/remote-thumbs.ts';

const MAX_URLS = 600;

export class ThumbView {
  /** content → object URL, or null: none stored (yet) */
  readonly #urls = new SvelteMap<string, string | null>();
  // eslint-disable-next-line svelte/prefer-svelte-reactivity -- bookkeeping, never rendered
  readonly #loading = new Set<string>();
  /** content → when other devices were last asked for it (never rendered) */
  // eslint-disable-next-line svelte/prefer-svelte-reactivity -- bookkeeping, never rendered
  readonly #askedAt = new Map<string, number>();

  /** `missing`: a content shown without a kept thumbnail (asked of other devices) */
  constructor(
    private readonly thumbs: Thumbnails | null,
    private readonly missing?: (content: string) => void,
  ) {
    thumbs?.onMade((content) => {
      if (this.#urls.get(content) === null) {
        this.#urls.delete(content);
        this.#load(content);
      }
    });
  }

  /** The thumbnail's URL, or null while there is none (asks the store on first sight). */
  url(content: string | null): string | null {
    if (!content || !this.thumbs) return null;
    const u = this.#urls.get(content);
    if (u === undefined) queueMicrotask(() => this.#load(content)); // not while rendering
    // Still none when shown again after the peers' "none" has expired: ask again (a device
    // holding it may have connected since; remote-thumbs keeps the per-peer rate, R1).
    else if (u === null && this.missing && Date.now() - (this.#askedAt.get(content) ?? 0) >= NONE_MS) {
      this.#askedAt.set(content, Date.now());
      queueMicrotask(() => this.missing?.(content));
    }
    return u ?? null;
  }

  #load(content: string): void {
    if (!this.thumbs || this.#loading.has(content) || this.#urls.has(content)) return;
    this.#loading.add(content);
    void this.thumbs.store
      .get(content)
      .catch(() => undefined)
      .then((t) => {
        this.#loading.delete(content);
        this.#urls.set(content, t ? URL.createObjectURL(new Blob([t.bytes], { type: t.type })) : null);
        if (!t && this.missing) {
          this.#askedAt.set(content, Date.now());
          this.missing(content);
        }
        this.#trim();
      });
  }

  #trim(): void {
    if (this.#urls.size <= MAX_URLS) return;
    for (const [k, u] of this.#urls) {
      if (this.#urls.size <= MAX_URLS * 0.8) break;
      if (u) URL.revokeObjectURL(u);
      this.#urls.delete(k);
      this.#askedAt.delete(k);
    }
  }
}
