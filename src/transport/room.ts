/**
 * What a library's room is called and how it is locked. The signaling server only ever sees
 * a hash of (library id, secret) — never the library id — and the y-webrtc password (AES-GCM
 * over signaling and BroadcastChannel traffic) derives from the secret, which travels only
 * in invite links' URL fragments.
 */
import { STREAM_LAYOUT as LAYOUT } from '../core/stream.ts';

const hex = (b: ArrayBuffer): string => Array.from(new Uint8Array(b), (x) => x.toString(16).padStart(2, '0')).join('');

export async function roomName(library: string, secret: string): Promise<string> {
  return `tabdrive-${hex(await crypto.subtle.digest('SHA-256', new TextEncoder().encode(`tabdrive:room:v${LAYOUT}:${library}:${secret}`)))}`;
}

export async function roomPassword(library: string, secret: string): Promise<string> {
  return hex(await crypto.subtle.digest('SHA-256', new TextEncoder().encode(`tabdrive:password:${library}:${secret}`)));
}

/** 32 random bytes, base64url: the library secret. */
export function newSecret(): string {
  const b = crypto.getRandomValues(new Uint8Array(32));
  return btoa(String.fromCharCode(...b)).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}
