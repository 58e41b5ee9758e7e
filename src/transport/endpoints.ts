/**
 * Where a page finds its servers, and which ICE servers its WebRTC connections use.
 *
 * Signaling and the relay live beside the app. Over plain http (loopback, `npm start`) they
 * listen on their own ports of the page's host; over https (`npm start -- --lan`) the app's
 * server forwards `/signaling` and `/relay` on its own origin, so one certificate (and one
 * "accept this certificate" in the browser) covers all three, and mixed content never arises.
 *
 * ICE servers: none by default (host candidates suffice on one machine and on a LAN). A list
 * comes from the build (`TABDRIVE_ICE` when `npm start` or `vite build` runs) or, for one
 * page, from `?ice=`; entries are comma-separated:
 *   stun:host[:port]   stuns:host[:port]
 *   turn:user:password@host[:port][?transport=udp|tcp]   turns:… likewise
 * User and password are percent-decoded (a comma, `@` or `:` in them must be percent-encoded).
 * Plain JavaScript values only: Node (vite.config.ts, unit tests) uses it as well.
 */

export const SIGNALING_PORT = 4444;
export const RELAY_PORT = 4445;
/** more than this many ICE servers slows every connection attempt for nothing */
export const MAX_ICE_SERVERS = 8;

/** the part of `Location` this needs */
export interface PageLocation {
  readonly protocol: string;
  /** host name, IPv6 in brackets (as `URL.hostname` gives it) */
  readonly hostname: string;
  /** host name and port */
  readonly host: string;
}

const secure = (loc: PageLocation): boolean => loc.protocol === 'https:';

/** The signaling server(s) a page uses when `?signaling=` does not say. */
export function defaultSignaling(loc: PageLocation): string[] {
  return [secure(loc) ? `wss://${loc.host}/signaling` : `ws://${loc.hostname}:${SIGNALING_PORT}`];
}

/** The relay a page uses unless told otherwise. */
export function defaultRelay(loc: PageLocation): string {
  return secure(loc) ? `wss://${loc.host}/relay` : `ws://${loc.hostname}:${RELAY_PORT}`;
}

/**
 * `?signaling=` as given: absent (null) → this page's own server; empty → none (tabs only);
 * otherwise the comma-separated URLs.
 */
export function chooseSignaling(param: string | null, loc: PageLocation): string[] {
  return param === null ? defaultSignaling(loc) : param.split(',').map((s) => s.trim()).filter(Boolean);
}

/** One ICE server as RTCPeerConnection takes it (structurally `RTCIceServer`). */
export interface IceServer {
  readonly urls: string;
  readonly username?: string;
  readonly credential?: string;
}

export interface IceList {
  readonly servers: IceServer[];
  /** one sentence per entry that was ignored, naming it (credentials masked) */
  readonly problems: string[];
}

const ENTRY = /^(stuns?|turns?):(?:([^@/?#]*)@)?(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+)(?::(\d{1,5}))?(?:\?transport=(udp|tcp))?$/;
const HOSTNAME = /^(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/;

/** An entry as it may be shown: the password replaced. */
function masked(entry: string): string {
  return entry.replace(/^([a-z]+:)([^@]*)@/i, (_m, scheme: string, user: string) => `${scheme}${user.split(':')[0] ?? ''}:***@`);
}

function decode(part: string): string | null {
  try {
    return decodeURIComponent(part);
  } catch {
    return null;
  }
}

function validHost(host: string): boolean {
  if (host.startsWith('[')) return URL.canParse(`http://${host}/`);
  // all digits and dots: it must be an IPv4 address, not a name
  if (/^[\d.]+$/.test(host)) return /^(\d{1,3}\.){3}\d{1,3}$/.test(host) && host.split('.').every((o) => Number(o) <= 255);
  return HOSTNAME.test(host);
}

/** Parses one entry; a string is the reason it is refused. */
export function parseIceEntry(entry: string): IceServer | string {
  const m = ENTRY.exec(entry);
  if (!m) return 'expected stun:host[:port], stuns:host[:port], turn:user:password@host[:port] or turns:user:password@host[:port]';
  const [, scheme = '', auth, host = '', port, transport] = m;
  if (!validHost(host)) return `"${host}" is not a host name or IP address`;
  if (port !== undefined && (Number(port) < 1 || Number(port) > 65535)) return `port ${port} is out of range`;
  const turn = scheme.startsWith('turn');
  if (transport !== undefined && !turn) return '?transport= applies to TURN only';
  const urls = `${scheme}:${host}${port === undefined ? '' : `:${port}`}${transport === undefined ? '' : `?transport=${transport}`}`;
  if (!turn) return auth === undefined ? { urls } : 'a STUN server takes no user or password';
  if (auth === undefined) return 'a TURN server needs user:password@ before the host';
  const colon = auth.indexOf(':');
  if (colon <= 0) return 'a TURN server needs user:password@ before the host';
  const username = decode(auth.slice(0, colon));
  const credential = decode(auth.slice(colon + 1));
  if (username === null || credential === null) return 'the user or password has a broken %-escape';
  if (credential === '') return 'the TURN password is empty';
  return { urls, username, credential };
}

/** Parses a comma-separated list (`?ice=`, `TABDRIVE_ICE`); bad entries are named and left out. */
export function parseIceServers(text: string): IceList {
  const servers: IceServer[] = [];
  const problems: string[] = [];
  const entries = text.split(',').map((s) => s.trim()).filter(Boolean);
  for (const entry of entries) {
    const r = parseIceEntry(entry);
    if (typeof r === 'string') problems.push(`ICE server "${masked(entry)}" ignored: ${r}.`);
    else if (servers.length >= MAX_ICE_SERVERS) problems.push(`ICE server "${masked(entry)}" ignored: at most ${MAX_ICE_SERVERS} are used.`);
    else servers.push(r);
  }
  return { servers, problems };
}

/** `?ice=` when present (empty → none), else the build's list. */
export function chooseIceServers(param: string | null, built: string): IceList {
  return parseIceServers(param ?? built);
}
