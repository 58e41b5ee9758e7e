import { describe, expect, it } from 'vitest';
import { inviteLink, parseInvite } from '../../../src/transport/invite.ts';

const library = '3f0c4c1e-7d1a-4b8e-9a43-2f6d1c0b7e55';
const secret = 'Zm9vYmFyYmF6cXV4cXV1eGZvb2JhcmJhenF1eHF1dXg';

describe('invites', () => {
  it('round-trip through a link whose secret lives in the fragment only', () => {
    const link = inviteLink('http://127.0.0.1:4173/?signaling=x#old', { library, secret });
    const url = new URL(link);
    expect(url.search).toBe('');
    expect(url.pathname + url.search).not.toContain(secret);
    expect(parseInvite(url.hash)).toEqual({ ok: true, value: { library, secret } });
  });

  it('reject broken links with a clear message, and ignore other hashes', () => {
    expect(parseInvite('#/join/not-a-uuid/' + secret)).toMatchObject({ ok: false, error: { message: expect.stringContaining('library') as string } });
    expect(parseInvite(`#/join/${library}/short`)).toMatchObject({ ok: false, error: { message: expect.stringContaining('secret') as string } });
    expect(parseInvite('#/join/')).toMatchObject({ ok: false });
    expect(parseInvite('')).toBeNull();
    expect(parseInvite('#/files')).toBeNull();
  });
});
