/**
 * The questions asked before anything changes (DESIGN §8), in plain words, and the pure
 * decisions behind them.
 *  - An invite link asks "Join" / "Cancel". If this browser already holds the library with a
 *    DIFFERENT secret, it says so and keeps the stored secret unless the user ticks the box:
 *    the link's secret would move this browser's devices into another room, one that
 *    whoever made the link may control.
 *  - `?signaling=` naming a host other than the page's asks before any connection to it.
 */
import type { Invite } from '../transport/invite.ts';

/** A question shown by Ask.svelte: Cancel is the default (focused) answer. */
export interface Question {
  readonly title: string;
  readonly paragraphs: readonly string[];
  readonly confirm: string;
  readonly cancel: string;
  /** an extra choice the user must tick on purpose (starts unticked) */
  readonly option?: string;
}

const short = (library: string): string => library.slice(0, 8);

export function joinQuestion(invite: Invite, storedSecret: string | null): Question {
  const base = { title: 'Join this library?', confirm: 'Join', cancel: 'Cancel' } as const;
  if (storedSecret === null)
    return {
      ...base,
      paragraphs: [
        `This invite link makes this browser a device of the library ${short(invite.library)}…: its files, tags and albums will sync with the other devices of that library.`,
        'The library open here now stays in this browser ("Open library" in the sidebar switches back). Cancel leaves everything as it is.',
      ],
    };
  if (storedSecret === invite.secret)
    return { ...base, paragraphs: [`This browser already holds the library ${short(invite.library)}…. Join opens it here.`] };
  return {
    ...base,
    paragraphs: [
      `This browser already holds the library ${short(invite.library)}…, but this link carries a different secret.`,
      'The secret decides which devices this browser syncs with. A link with another secret can come from a rotated invite, or from someone who wants your devices in a room they control.',
      'Join keeps the secret this browser has. Replace it only if you know the library\'s invite was rotated.',
    ],
    option: "Replace this browser's secret with the link's",
  };
}

/** Hosts of signaling URLs that are not the page's own host (malformed URLs count as foreign). */
export function foreignSignalingHosts(urls: readonly string[], pageHostname: string): string[] {
  const out = new Set<string>();
  for (const u of urls) {
    let host: string;
    try {
      host = new URL(u).hostname;
    } catch {
      host = u;
    }
    if (host !== pageHostname) out.add(host);
  }
  return [...out];
}

export function signalingQuestion(hosts: readonly string[], pageHost: string): Question {
  return {
    title: 'Use another signaling server?',
    paragraphs: [
      `This link asks tabdrive to find your other devices through ${hosts.join(', ')}, not through this site (${pageHost}).`,
      'A signaling server sees when your devices connect and their network addresses, not your files. Use it only if you trust it. Cancel uses this site\'s own server.',
    ],
    confirm: 'Use it',
    cancel: 'Cancel',
  };
}

export function relayQuestion(host: string, pageHost: string): Question {
  return {
    title: 'Use another relay?',
    paragraphs: [
      `This link asks tabdrive to keep this library's changes on the relay at ${host}, not on this site (${pageHost}).`,
      'A relay stores your changes encrypted and cannot read them, but it sees when your devices connect and how much they send. Use it only if you trust it. Cancel uses this site\'s own relay.',
    ],
    confirm: 'Use it',
    cancel: 'Cancel',
  };
}
