// Where a page finds signaling and the relay, and how ICE server lists are read (?ice=,
// TABDRIVE_ICE): good entries become RTCIceServer values, bad ones are named and left out.
import { describe, expect, it } from 'vitest';
import { chooseIceServers, chooseSignaling, defaultRelay, MAX_ICE_SERVERS, parseIceEntry, parseIceServers } from '../../../src/transport/endpoints.ts';

const at = (url: string) => {
  const u = new URL(url);
  return { protocol: u.protocol, hostname: u.hostname, host: u.host };
};

describe('server URLs', () => {
  it('over http: the page host on the servers own ports', () => {
    expect(chooseSignaling(null, at('http://127.0.0.1:4173/'))).toEqual(['ws://127.0.0.1:4444']);
    expect(defaultRelay(at('http://127.0.0.1:4173/'))).toBe('ws://127.0.0.1:4445');
    expect(chooseSignaling(null, at('http://[::1]:4173/'))).toEqual(['ws://[::1]:4444']);
  });
  it('over https: wss on the page own origin, forwarded by the app server', () => {
    expect(chooseSignaling(null, at('https://192.168.1.20:4173/?x=1'))).toEqual(['wss://192.168.1.20:4173/signaling']);
    expect(defaultRelay(at('https://192.168.1.20:4173/'))).toBe('wss://192.168.1.20:4173/relay');
    expect(chooseSignaling(null, at('https://[fd00::5]/'))).toEqual(['wss://[fd00::5]/signaling']);
    expect(defaultRelay(at('https://laptop.local/'))).toBe('wss://laptop.local/relay');
  });
  it('?signaling= still chooses: a list, or empty for tabs only', () => {
    const page = at('https://10.0.0.2:4173/');
    expect(chooseSignaling('ws://127.0.0.1:4192', page)).toEqual(['ws://127.0.0.1:4192']);
    expect(chooseSignaling('wss://a.example/s, wss://b.example/s,', page)).toEqual(['wss://a.example/s', 'wss://b.example/s']);
    expect(chooseSignaling('', page)).toEqual([]);
  });
});

describe('ICE servers', () => {
  it('reads STUN and TURN entries', () => {
    expect(parseIceServers('stun:stun.example.org:3478, turn:alice:s3cret@10.0.0.1:3478,turns:bob:pw@turn.example.org?transport=tcp')).toEqual({
      servers: [
        { urls: 'stun:stun.example.org:3478' },
        { urls: 'turn:10.0.0.1:3478', username: 'alice', credential: 's3cret' },
        { urls: 'turns:turn.example.org?transport=tcp', username: 'bob', credential: 'pw' },
      ],
      problems: [],
    });
    expect(parseIceEntry('stuns:[fd00::1]:5349')).toEqual({ urls: 'stuns:[fd00::1]:5349' });
  });
  it('percent-decodes user and password, so they can hold , : and @', () => {
    expect(parseIceEntry('turn:me%40home:a%2Cb%3Ac@turn.example')).toEqual({ urls: 'turn:turn.example', username: 'me@home', credential: 'a,b:c' });
  });
  it('none by default: an empty list, empty parameter or only commas', () => {
    for (const t of ['', ' ', ',,']) expect(parseIceServers(t)).toEqual({ servers: [], problems: [] });
  });
  it.each([
    ['http://stun.example.org', 'expected stun:'],
    ['stun:', 'expected stun:'],
    ['stun:host:0', 'port 0 is out of range'],
    ['stun:host:70000', 'port 70000 is out of range'],
    ['stun:999.1.1.1', 'not a host name or IP address'],
    ['stun:-bad-.example', 'not a host name or IP address'],
    ['stun:u:p@host', 'takes no user or password'],
    ['stun:host?transport=tcp', 'TURN only'],
    ['turn:host:3478', 'needs user:password@'],
    ['turn::pw@host', 'needs user:password@'],
    ['turn:user:@host', 'password is empty'],
    ['turn:us%zzer:pw@host', 'broken %-escape'],
    ['turn:u:p@host?transport=sctp', 'expected stun:'],
    ['stun:host name', 'expected stun:'],
  ])('refuses %s with a reason', (entry, reason) => {
    const r = parseIceEntry(entry);
    expect(typeof r).toBe('string');
    expect(r).toContain(reason);
  });
  it('a bad entry is named (password masked) and ignored; the good ones stay', () => {
    const r = parseIceServers('turn:alice:topsecret@host:99999,stun:ok.example');
    expect(r.servers).toEqual([{ urls: 'stun:ok.example' }]);
    expect(r.problems).toHaveLength(1);
    expect(r.problems[0]).toMatch(/^ICE server "turn:alice:\*\*\*@host:99999" ignored: port 99999 is out of range\.$/);
    expect(r.problems[0]).not.toContain('topsecret');
  });
  it(`keeps at most ${MAX_ICE_SERVERS}`, () => {
    const r = parseIceServers(Array.from({ length: MAX_ICE_SERVERS + 2 }, (_, i) => `stun:s${i}.example`).join(','));
    expect(r.servers).toHaveLength(MAX_ICE_SERVERS);
    expect(r.problems).toHaveLength(2);
  });
  it('?ice= overrides the built-in list; ?ice= empty means none', () => {
    const built = 'stun:built.example';
    expect(chooseIceServers(null, built).servers).toEqual([{ urls: 'stun:built.example' }]);
    expect(chooseIceServers('stun:mine.example', built).servers).toEqual([{ urls: 'stun:mine.example' }]);
    expect(chooseIceServers('', built).servers).toEqual([]);
  });
});
