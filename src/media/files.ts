/**
 * The files channel put together for the app (main.ts calls this): "Get from device"
 * (transfer.ts) and other devices' thumbnails (remote-thumbs.ts) on one net, with what they
 * read from the library and from this device's folders.
 */
import { canThumbnail } from './kinds.ts';
import { createIdbParts, storageBudget } from './parts.ts';
import { createRemoteThumbs, type RemoteThumbs } from './remote-thumbs.ts';
import { T, type FilesMessage } from './files-wire.ts';
import type { Thumbnails } from './thumbnails.ts';
import { createTransfers, type Transfers } from './transfer.ts';
import type { FileAccess } from '../indexer/access.ts';
import type { StreamNet } from '../transport/stream-net.ts';
import { contentHolders, fileDetail, ownFilesOf, type QueryFn } from '../ui/queries.ts';

export interface FilesChannel {
  readonly transfers: Transfers;
  readonly thumbs: RemoteThumbs;
  /** devices (not this one) holding files of this content */
  sources(content: string): Promise<string[]>;
  /** presence changed */
  poke(): void;
}

export function startFilesChannel(o: {
  readonly self: string;
  readonly net: StreamNet;
  readonly query: QueryFn;
  readonly thumbnails: Thumbnails;
  /** this device's readable folders (null until the app exists) */
  readonly access: () => FileAccess | null;
  /** connected devices */
  readonly online: () => readonly string[];
  /** test build: a sender that flips a byte of every chunk; one that waits before each */
  readonly corruptSends?: () => boolean;
  readonly sendDelay?: () => number;
  /** test build: answer this thumbnail ask as a hostile peer (true takes one of the asks set) */
  readonly hostileThumbs?: () => boolean;
}): FilesChannel {
  const { self, query } = o;
  const digest = async (b: Uint8Array): Promise<Uint8Array> => new Uint8Array(await crypto.subtle.digest('SHA-256', b as Uint8Array<ArrayBuffer>));
  const resolve = async (content: string): Promise<Blob | null> => {
    const access = o.access();
    if (!access) return null;
    for (const uuid of await ownFilesOf(query, content, self)) {
      const f = await fileDetail(query, uuid);
      if (!f) continue;
      const found = await access.open({ location: f.location_uuid, locationPath: f.location_path, device: f.device_uuid, deviceName: f.device_name, path: f.rel_path }, self, { ask: false });
      if (found.ok) return found.file;
    }
    return null;
  };
  const transfers = createTransfers({
    self,
    net: o.net,
    digest,
    parts: createIdbParts(indexedDB, { budget: storageBudget, now: () => Date.now() }),
    resolve,
    online: o.online,
    now: () => Date.now(),
    randomUuid: () => crypto.randomUUID(),
    ...(o.corruptSends ? { corruptSends: o.corruptSends } : {}),
    ...(o.sendDelay ? { sendDelay: o.sendDelay } : {}),
  });
  const thumbs = createRemoteThumbs({
    self,
    net: o.net,
    store: o.thumbnails.store,
    keep: (c, t) => o.thumbnails.keep(c, t),
    decodes: async (bytes, type) => {
      const bmp = await createImageBitmap(new Blob([bytes as Uint8Array<ArrayBuffer>], { type }));
      const size = { width: bmp.width, height: bmp.height };
      bmp.close();
      return size;
    },
    holders: async (content) => {
      const rows = await contentHolders(query, content);
      if (rows.some((r) => r.device === self) || !rows.some((r) => canThumbnail(r.extension))) return null;
      return [...new Set(rows.map((r) => r.device))];
    },
    online: o.online,
    now: () => Date.now(),
    ...(o.hostileThumbs ? { hostileReply: hostileReplies(o.hostileThumbs) } : {}),
  });
  return {
    transfers,
    thumbs,
    sources: async (content) => [...new Set((await contentHolders(query, content)).map((r) => r.device))].filter((d) => d !== self),
    poke() {
      transfers.poke();
      thumbs.poke();
    },
  };
}

/**
 * Test build: the replies of a hostile peer to a thumbnail ask (remote-thumbs.ts R2). Each
 * ask gets a real thumbnail for a content nobody asked, then, in turn, bytes that are not an
 * image or an image larger than it claims (it decodes, at the wrong size).
 */
function hostileReplies(take: () => boolean): NonNullable<Parameters<typeof createRemoteThumbs>[0]['hostileReply']> {
  let n = 0;
  return async (content, kept) => {
    if (!take()) return null;
    const replies: FilesMessage[] = [];
    if (kept) replies.push({ type: T.THUMB, content: crypto.randomUUID(), width: kept.width, height: kept.height, mime: kept.type, bytes: new Uint8Array(kept.bytes) });
    if (n++ % 2 === 0) {
      replies.push({ type: T.THUMB, content, width: 64, height: 48, mime: 'image/webp', bytes: crypto.getRandomValues(new Uint8Array(4096)) });
    } else {
      const big = new OffscreenCanvas(600, 600);
      big.getContext('2d')!.fillRect(0, 0, 600, 600);
      const bytes = new Uint8Array(await (await big.convertToBlob({ type: 'image/png' })).arrayBuffer());
      replies.push({ type: T.THUMB, content, width: 256, height: 256, mime: 'image/png', bytes });
    }
    return replies;
  };
}
