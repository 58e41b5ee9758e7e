// The Preview dialog's state (src/ui/state/preview.svelte.ts): a preview asked for before some
// awaiting shows only if nothing newer was asked and the dialog was not closed meanwhile — a
// slow request must not pop the dialog up again after Escape (media e2e, under load).
import { describe, expect, it } from 'vitest';
import { PreviewState } from '../../../src/ui/state/preview.svelte.ts';
import type { FileDetail } from '../../../src/ui/queries.ts';

const file = (name: string): FileDetail => ({ uuid: name, name, kind: 'file', extension: 'txt' }) as unknown as FileDetail;
const text = (s: string) => () => Promise.resolve({ ok: true as const, file: new File([s], 'f.txt') });

describe('PreviewState tickets', () => {
  it('a request closed before it could show stays closed; a newer request wins', async () => {
    const p = new PreviewState();
    const early = p.ask();
    p.close(); // Escape while the request was still awaiting
    await p.show(file('a.txt'), text('a'), early);
    expect(p.status).toBe('closed');

    const first = p.ask();
    const second = p.ask();
    await p.show(file('b.txt'), text('b'), second);
    await p.show(file('a.txt'), text('a'), first); // the older one lands late
    expect(p.file?.name).toBe('b.txt');
    expect(p.status).toBe('ready');

    await p.show(file('c.txt'), text('c')); // no ticket: shown at once
    expect(p.file?.name).toBe('c.txt');
  });
});
