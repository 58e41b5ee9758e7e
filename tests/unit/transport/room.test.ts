// Room name and password: what the signaling server sees must reveal neither the library id
// nor the secret, and a party without the secret must land in another room with another key.
import { describe, expect, it } from 'vitest';
import { newSecret, roomName, roomPassword } from '../../../src/transport/room.ts';
import { inviteLink, parseInvite } from '../../../src/transport/invite.ts';

const library = '3f0c4c1e-7d1a-4b8e-9a43-2f6d1c0b7e55';

describe('room', () => {
  it('is a SHA-256 of library + secret, deterministic, and names neither', async () => {
    const secret = newSecret();
    const name = await roomName(library, secret);
    expect(name).toMatch(/^tabdrive-[0-9a-f]{64}$/);
    expect(await roomName(library, secret)).toBe(name);
    expect(name).not.toContain(library.replace(/-/g, ''));
    expect(name).not.toContain(secret);
  });

  it('differs with the secret (no invite → another room, another key)', async () => {
    const [s1, s2] = [newSecret(), newSecret()];
    expect(await roomName(library, s1)).not.toBe(await roomName(library, s2));
    expect(await roomPassword(library, s1)).not.toBe(await roomPassword(library, s2));
    expect(await roomPassword(library, s1)).not.toBe((await roomName(library, s1)).slice('tabdrive-'.length));
  });

  it('secrets are 32 random bytes, base64url, and survive an invite link', () => {
    const s = newSecret();
    expect(s).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(Buffer.from(s, 'base64url').byteLength).toBe(32);
    expect(newSecret()).not.toBe(s);
    expect(parseInvite(new URL(inviteLink('http://127.0.0.1:4173/', { library, secret: s })).hash)).toEqual({ ok: true, value: { library, secret: s } });
  });
});
