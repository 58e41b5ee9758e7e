/**
 * Invite links: `<app url>#/join/<library uuid>/<secret>`. The fragment never leaves the
 * browser (it is not sent with the request), so neither the web server nor the signaling
 * server ever sees the library id or the secret.
 */
import { err, ok, type Result, type Typed } from '../core/result.ts';
import { isUuid } from '../core/uuid.ts';

export interface Invite {
  readonly library: string;
  readonly secret: string;
}

export interface InvalidInvite extends Typed<'InvalidInvite'> {
  readonly message: string;
}

const SECRET_RE = /^[A-Za-z0-9_-]{32,128}$/;

export function inviteLink(base: string, invite: Invite): string {
  const url = new URL(base);
  url.search = '';
  url.hash = `/join/${invite.library}/${invite.secret}`;
  return url.toString();
}

/** Reads an invite from a URL hash; null when the hash is not an invite at all. */
export function parseInvite(hash: string): Result<Invite, InvalidInvite> | null {
  const m = /^#\/join\/([^/]*)\/([^/]*)$/.exec(hash);
  if (!m) return hash.startsWith('#/join') ? err({ type: 'InvalidInvite', message: 'This invite link is incomplete.' }) : null;
  const [, library = '', secret = ''] = m;
  if (!isUuid(library)) return err({ type: 'InvalidInvite', message: 'This invite link names no valid library.' });
  if (!SECRET_RE.test(secret)) return err({ type: 'InvalidInvite', message: 'This invite link carries no valid secret.' });
  return ok({ library, secret });
}
