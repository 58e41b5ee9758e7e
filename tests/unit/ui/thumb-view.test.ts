// Thumbnails the UI shows (src/ui/state/thumbs.svelte.ts): a content without a kept thumbnail
// is asked of other devices once, and again when shown after their "none" has expired — a
// device holding it may have connected since (remote-thumbs keeps the per-peer rate).
import { afterEach, describe, expect, it, vi } from 'vitest';
import { NONE_MS } from '../../../src/media/remote-thumbs.ts';
import { Thumbnails, type ThumbStore } from '../../../src/media/thumbnails.ts';
import { ThumbView } from '../../../src/ui/state/thumbs.svelte.ts';

const C = 'c0000000-0000-4000-8000-000000000001';
const settle = () => new Promise((r) => setTimeout(r, 0));

afterEach(() => vi.useRealTimers());

describe('ThumbView', () => {
  it('asks other devices for a missing thumbnail once, and again only after NONE_MS', async () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    const store: ThumbStore = { get: () => Promise.resolve(undefined), put: () => Promise.resolve() };
    const asked: string[] = [];
    const view = new ThumbView(new Thumbnails(store, () => Promise.reject(new Error('unused'))), (c) => asked.push(c));
    expect(view.url(C)).toBeNull();
    await settle();
    expect(asked).toEqual([C]); // first sight: the store has none
    for (let i = 0; i < 3; i++) view.url(C);
    await settle();
    expect(asked).toEqual([C]); // shown again soon: not asked again
    vi.setSystemTime(Date.now() + NONE_MS);
    view.url(C);
    await settle();
    expect(asked).toEqual([C, C]);
    view.url(C);
    await settle();
    expect(asked).toEqual([C, C]);
  });
});
