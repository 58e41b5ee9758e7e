// Parts of "Get from device" kept in memory (media/transfer.ts PartStore), for the Node tests: no budget.
import type { PartStore } from '../../src/media/transfer.ts';

export function memoryParts(): PartStore & { readonly kept: Map<string, Uint8Array[]> } {
  const kept = new Map<string, Uint8Array[]>();
  const verified = new Set<string>();
  const remove = (content: string): Promise<void> => {
    kept.delete(content);
    verified.delete(content);
    return Promise.resolve();
  };
  return {
    kept,
    open(content) {
      const chunks = kept.get(content) ?? [];
      kept.set(content, chunks);
      let size = chunks.reduce((n, c) => n + c.byteLength, 0);
      return Promise.resolve({
        get size() {
          return size;
        },
        get kept() {
          return verified.has(content);
        },
        append(bytes) {
          chunks.push(bytes);
          size += bytes.byteLength;
          return Promise.resolve();
        },
        blob: () => Promise.resolve(new Blob(chunks as Uint8Array<ArrayBuffer>[])),
        keep() {
          verified.add(content);
          return Promise.resolve();
        },
        discard() {
          chunks.length = 0;
          size = 0;
          return remove(content);
        },
      });
    },
    list: () => Promise.resolve([...kept].map(([content, c]) => ({ content, size: c.reduce((n, x) => n + x.byteLength, 0), used: 0, kept: verified.has(content) }))),
    room: () => Promise.resolve([]),
    remove,
    sweep: () => Promise.resolve(0),
  };
}
