/**
 * Thumbnails of this device's images: made while indexing, after each batch of entries is
 * written, by a worker (thumbs.worker.ts), at most CONCURRENCY at a time so indexing and the
 * UI keep their pace; kept in IndexedDB (`tabdrive:thumbnails`, one idb-keyval store) keyed by
 * content identity — the same bytes have the same thumbnail on every device and in every
 * library of this browser, so a copy is made once.
 */
import { get, set, type UseStore } from 'idb-keyval';
import { keyvalStore } from '../storage/keyval.ts';

/** long side of a thumbnail, in pixels */
export const THUMB_SIZE = 256;
const CONCURRENCY = 2;

export interface Thumb {
  readonly type: string;
  readonly bytes: ArrayBuffer;
  readonly width: number;
  readonly height: number;
}

export interface ThumbJob {
  readonly id: number;
  /** an image file, or a video frame already drawn (the worker has no video decoder) */
  readonly file: Blob | ImageBitmap;
  readonly max: number;
}
export type ThumbKind = 'image' | 'video';
export interface ThumbItem {
  readonly content: string;
  readonly file: Blob;
  readonly kind?: ThumbKind;
}
export type ThumbResult = { readonly id: number; readonly ok: true; readonly thumb: Thumb } | { readonly id: number; readonly ok: false; readonly error: string };

export interface ThumbStore {
  get(content: string): Promise<Thumb | undefined>;
  put(content: string, thumb: Thumb): Promise<void>;
}

const isThumb = (v: unknown): v is Thumb => {
  const t = v as Partial<Thumb> | null;
  return typeof t === 'object' && t !== null && typeof t.type === 'string' && t.type.startsWith('image/') && t.bytes instanceof ArrayBuffer &&
    typeof t.width === 'number' && typeof t.height === 'number';
};

export function createThumbStore(idb: IDBFactory): ThumbStore {
  const store: UseStore = keyvalStore(idb, 'tabdrive:thumbnails', 'thumbs');
  return {
    get: async (content) => {
      const v = await get<unknown>(content, store);
      return isThumb(v) ? v : undefined;
    },
    put: (content, thumb) => set(content, thumb, store),
  };
}

export interface ThumbStats {
  /** made and stored */
  made: number;
  /** already stored (same content seen before) */
  skipped: number;
  /** could not be decoded or stored */
  failed: number;
  /** waiting or being made */
  queued: number;
}

/**
 * The queue: each content identity once (what is stored or queued is skipped), CONCURRENCY
 * at a time. `make` turns a file into a thumbnail (the worker in the browser).
 */
export class Thumbnails {
  readonly stats: ThumbStats = { made: 0, skipped: 0, failed: 0, queued: 0 };
  readonly #queue: ThumbItem[] = [];
  readonly #known = new Set<string>();
  readonly #listeners = new Set<(content: string) => void>();
  #running = 0;
  #idle: (() => void)[] = [];

  constructor(
    readonly store: ThumbStore,
    private readonly make: (file: Blob, kind: ThumbKind) => Promise<Thumb>,
    private readonly concurrency = CONCURRENCY,
  ) {}

  /** Called with a content identity each time its thumbnail is stored. */
  onMade(f: (content: string) => void): () => void {
    this.#listeners.add(f);
    return () => this.#listeners.delete(f);
  }

  /** Keeps a thumbnail made elsewhere (another device's, media/remote-thumbs.ts) and shows it. */
  async keep(content: string, thumb: Thumb): Promise<void> {
    await this.store.put(content, thumb);
    this.#known.add(content);
    for (const f of this.#listeners) f(content);
  }

  enqueue(items: readonly ThumbItem[]): void {
    for (const it of items) {
      if (this.#known.has(it.content)) continue;
      this.#known.add(it.content);
      this.#queue.push(it);
      this.stats.queued++;
    }
    this.#pump();
  }

  /** Resolves once nothing is queued or being made. */
  idle(): Promise<void> {
    if (this.stats.queued === 0) return Promise.resolve();
    return new Promise((r) => this.#idle.push(r));
  }

  #pump(): void {
    while (this.#running < this.concurrency && this.#queue.length) {
      const job = this.#queue.shift()!;
      this.#running++;
      void this.#one(job).finally(() => {
        this.#running--;
        this.stats.queued--;
        if (this.stats.queued === 0) for (const r of this.#idle.splice(0)) r();
        this.#pump();
      });
    }
  }

  async #one({ content, file, kind = 'image' }: ThumbItem): Promise<void> {
    try {
      if (await this.store.get(content)) {
        this.stats.skipped++;
        return;
      }
      await this.store.put(content, await this.make(file, kind));
      this.stats.made++;
    } catch {
      this.stats.failed++;
      return;
    }
    for (const f of this.#listeners) f(content);
  }
}

/**
 * `make` through one module worker, answers matched by id. Videos are first drawn here by
 * `frame` (a `<video>` element decodes them; a worker cannot), and the frame is sent over.
 */
export function workerMaker(
  createWorker: () => Worker,
  frame: ((file: Blob) => Promise<ImageBitmap>) | null,
  max = THUMB_SIZE,
): (file: Blob, kind: ThumbKind) => Promise<Thumb> {
  let worker: Worker | null = null;
  let next = 0;
  const waiting = new Map<number, { resolve: (t: Thumb) => void; reject: (e: Error) => void }>();
  const start = (): Worker => {
    const w = createWorker();
    w.onmessage = (e: MessageEvent<ThumbResult>) => {
      const r = e.data;
      const p = waiting.get(r.id);
      waiting.delete(r.id);
      if (r.ok) p?.resolve(r.thumb);
      else p?.reject(new Error(r.error));
    };
    w.onerror = (e) => {
      e.preventDefault();
      for (const p of waiting.values()) p.reject(new Error('the thumbnail worker failed'));
      waiting.clear();
      worker?.terminate();
      worker = null;
    };
    return w;
  };
  const send = (file: Blob | ImageBitmap): Promise<Thumb> =>
    new Promise<Thumb>((resolve, reject) => {
      const id = ++next;
      waiting.set(id, { resolve, reject });
      (worker ??= start()).postMessage({ id, file, max } satisfies ThumbJob, file instanceof Blob ? [] : [file]);
    });
  return async (file, kind) => {
    if (kind === 'image') return send(file);
    if (!frame) throw new Error('no video decoder here');
    return send(await frame(file));
  };
}
