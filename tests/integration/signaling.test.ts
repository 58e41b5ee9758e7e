// Our signaling server, over real WebSockets on loopback: relays y-webrtc's pub/sub, only to
// and from members of a room, with bounded frames and topics, and survives garbage; and each
// defence against a hostile client on its own (the figures: signaling-hostile.test.ts).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import type { IncomingMessage } from 'node:http';
import { addressKey, clientAddress, originAllowed, parseOrigins, startSignalingServer, type SignalingServer } from '../../server/signaling.mjs';

let server: SignalingServer;
beforeAll(async () => {
  server = await startSignalingServer({ port: 0, limits: { maxTopicsPerConn: 3, maxFrameBytes: 4096 } });
});
afterAll(() => server.close());

async function client(): Promise<{ ws: WebSocket; inbox: unknown[]; send: (m: unknown) => void; closed: Promise<number> }> {
  const ws = new WebSocket(`ws://127.0.0.1:${server.port}`);
  const inbox: unknown[] = [];
  ws.on('message', (d: Buffer) => inbox.push(JSON.parse(d.toString())));
  const closed = new Promise<number>((r) => ws.on('close', (code) => r(code)));
  await new Promise((r) => ws.on('open', r));
  return { ws, inbox, send: (m) => ws.send(typeof m === 'string' ? m : JSON.stringify(m)), closed };
}
const settle = () => new Promise((r) => setTimeout(r, 60));

describe('signaling server', () => {
  it('binds to 127.0.0.1 by default', () => {
    expect(server.host).toBe('127.0.0.1');
  });

  it('relays publications to the members of a room, and only from members', async () => {
    const [a, b, outsider] = [await client(), await client(), await client()];
    a.send({ type: 'subscribe', topics: ['room-1'] });
    b.send({ type: 'subscribe', topics: ['room-1'] });
    await settle();
    a.send({ type: 'publish', topic: 'room-1', data: 'hello' });
    outsider.send({ type: 'publish', topic: 'room-1', data: 'intruder' });
    await settle();
    expect(b.inbox).toEqual([{ type: 'publish', topic: 'room-1', data: 'hello', clients: 2 }]);
    expect(outsider.inbox).toEqual([]);
    b.send({ type: 'unsubscribe', topics: ['room-1'] });
    await settle();
    a.send({ type: 'publish', topic: 'room-1', data: 'again' });
    await settle();
    expect(b.inbox).toHaveLength(1);
    a.send({ type: 'ping' });
    await settle();
    expect(a.inbox).toContainEqual({ type: 'pong' });
    for (const c of [a, b, outsider]) c.ws.close();
  });

  it('drops and counts garbage and over-limit requests without dropping the connection', async () => {
    const c = await client();
    const before = server.stats()['dropped']!;
    c.send('{not json');
    c.send({ no: 'type' });
    c.send({ type: 'explode' });
    c.send({ type: 'subscribe', topics: ['a', 'b', 'c', 'd', 'x'.repeat(500)] });
    await settle();
    expect(server.stats()['dropped']! - before).toBeGreaterThanOrEqual(4);
    c.send({ type: 'ping' });
    await settle();
    expect(c.inbox).toContainEqual({ type: 'pong' });
    c.ws.close();
  });

  it('closes a connection that sends a frame over the size limit', async () => {
    const c = await client();
    c.send({ type: 'publish', topic: 't', data: 'x'.repeat(10_000) });
    expect(await c.closed).toBe(1009);
  });

  it('bounds the topics one connection may join: a topic past the limit gets nothing relayed', async () => {
    const [c, peer] = [await client(), await client()];
    c.send({ type: 'subscribe', topics: ['t1', 't2', 't3'] });
    c.send({ type: 'subscribe', topics: ['t4'] }); // 4th: over maxTopicsPerConn = 3
    peer.send({ type: 'subscribe', topics: ['t3', 't4'] });
    await settle();
    peer.send({ type: 'publish', topic: 't4', data: 'to t4' });
    peer.send({ type: 'publish', topic: 't3', data: 'to t3' });
    c.send({ type: 'publish', topic: 't4', data: 'c is no member of t4' });
    await settle();
    expect(c.inbox).toEqual([{ type: 'publish', topic: 't3', data: 'to t3', clients: 2 }]);
    expect(peer.inbox.filter((m) => (m as { data?: string }).data === 'c is no member of t4')).toEqual([]);
    for (const x of [c, peer]) x.ws.close();
  });

  it('counts binary frames and non-object JSON as garbage', async () => {
    const c = await client();
    const before = server.stats()['dropped']!;
    c.ws.send(Buffer.from([1, 2, 3]));
    c.send('null');
    c.send('[1,2]');
    c.send({ type: 'publish', topic: 42, data: 'x' });
    await settle();
    expect(server.stats()['dropped']! - before).toBe(4);
    c.ws.close();
  });

  it('refuses connections over the limit', async () => {
    const small = await startSignalingServer({ port: 0, limits: { maxConnections: 1 } });
    try {
      const first = new WebSocket(`ws://127.0.0.1:${small.port}`);
      await new Promise((r) => first.on('open', r));
      const second = new WebSocket(`ws://127.0.0.1:${small.port}`);
      const code = await new Promise<number>((r) => second.on('close', (c) => r(c)));
      expect(code).toBe(1013);
      expect(small.stats()['refused']).toBe(1);
      first.close();
    } finally {
      await small.close();
    }
  });

  it('listens on loopback only', async () => {
    const { networkInterfaces } = await import('node:os');
    const external = Object.values(networkInterfaces()).flat().find((i) => i && !i.internal && i.family === 'IPv4');
    if (!external) return; // nothing but loopback here (e.g. inside the test namespace)
    const ws = new WebSocket(`ws://${external.address}:${server.port}`);
    const outcome = await new Promise<string>((r) => {
      ws.on('open', () => r('open'));
      ws.on('error', () => r('refused'));
    });
    expect(outcome).toBe('refused');
  });
});

describe('signaling server against hostile clients', () => {
  const open = (port: number, o: { origin?: string; from?: string; forwardedFor?: string } = {}) => {
    const ws = new WebSocket(`ws://127.0.0.1:${port}`, {
      ...(o.origin ? { origin: o.origin } : {}),
      ...(o.from ? { localAddress: o.from } : {}),
      ...(o.forwardedFor ? { headers: { 'x-forwarded-for': o.forwardedFor } } : {}),
    });
    const inbox: unknown[] = [];
    ws.on('message', (d: Buffer) => inbox.push(JSON.parse(d.toString())));
    ws.on('error', () => {});
    const closed = new Promise<number>((r) => ws.on('close', (code) => r(code)));
    const opened = new Promise<boolean>((r) => {
      ws.on('open', () => r(true));
      ws.on('close', () => r(false));
    });
    return { ws, inbox, closed, opened, send: (m: unknown) => ws.send(typeof m === 'string' ? m : JSON.stringify(m)) };
  };
  const within = <T>(p: Promise<T>, ms: number, otherwise: T) => Promise.race([p, new Promise<T>((r) => setTimeout(() => r(otherwise), ms))]);

  it('relays an unencrypted signal object, and drops (never re-serializes) a deeply nested one', async () => {
    const [a, b] = [open(server.port), open(server.port)];
    await Promise.all([a.opened, b.opened]);
    a.send({ type: 'subscribe', topics: ['plain'] });
    b.send({ type: 'subscribe', topics: ['plain'] });
    await settle();
    const signal = { type: 'signal', from: 'p1', to: 'p2', signal: { type: 'offer', sdp: 'v=0' } };
    a.send({ type: 'publish', topic: 'plain', data: signal, extra: 'not relayed' });
    const before = server.stats()['dropped']!;
    a.send(`{"type":"publish","topic":"plain","data":${'['.repeat(1_500)}${']'.repeat(1_500)}}`);
    await settle();
    expect(b.inbox).toEqual([{ type: 'publish', topic: 'plain', data: signal, clients: 2 }]);
    expect(server.stats()['dropped']! - before).toBe(1);
    expect(server.stats()['errors']).toBe(0);
    for (const c of [a, b]) c.ws.close();
  });

  it('serves the app’s origins only: loopback origins on any port, configured ones, and clients without Origin', async () => {
    expect(originAllowed(undefined, [])).toBe(true);
    expect(originAllowed('http://127.0.0.1:4173', [])).toBe(true);
    expect(originAllowed('http://localhost:4191', [])).toBe(true);
    expect(originAllowed('https://[::1]:8443', [])).toBe(true);
    expect(originAllowed('http://127.0.0.1.evil.example', [])).toBe(false);
    expect(originAllowed('null', [])).toBe(false);
    expect(originAllowed('https://tabdrive.example', parseOrigins(' https://tabdrive.example/ ,'))).toBe(true);
    expect(originAllowed('https://evil.example', ['*'])).toBe(true);
    const s = await startSignalingServer({ port: 0, origins: ['https://tabdrive.example'] });
    try {
      const refused = new WebSocket(`ws://127.0.0.1:${s.port}`, { origin: 'https://evil.example' });
      refused.on('error', () => {});
      const status = await new Promise<number>((r) => refused.on('unexpected-response', (_q, res) => r(res.statusCode ?? 0)));
      expect(status).toBe(403);
      expect(s.stats()['refusedOrigin']).toBe(1);
      const ok = open(s.port, { origin: 'https://tabdrive.example' });
      expect(await ok.opened).toBe(true);
      ok.ws.close();
      const res = await fetch(`http://127.0.0.1:${s.port}/health`, { headers: { origin: 'https://evil.example' } });
      expect(res.status).toBe(200);
      expect(res.headers.get('access-control-allow-origin')).toBeNull();
      expect(await res.json()).toMatchObject({ ok: true });
    } finally {
      await s.close();
    }
  });

  it('closes a socket that subscribes to nothing, and one that unsubscribes from everything', async () => {
    const s = await startSignalingServer({ port: 0, limits: { idleMs: 300 } });
    try {
      const [idle, busy, leaving] = [open(s.port), open(s.port), open(s.port)];
      await Promise.all([idle.opened, busy.opened, leaving.opened]);
      busy.send({ type: 'subscribe', topics: ['t'] });
      leaving.send({ type: 'subscribe', topics: ['t'] });
      await settle();
      leaving.send({ type: 'unsubscribe', topics: ['t'] });
      expect(await within(idle.closed, 3_000, -1)).toBe(1008);
      expect(await within(leaving.closed, 3_000, -1)).toBe(1008);
      expect(await within(busy.closed, 500, -1)).toBe(-1);
      expect(s.stats()['closedIdle']).toBe(2);
      busy.ws.close();
    } finally {
      await s.close();
    }
  });

  it('counts an IPv4 address as itself and an IPv6 address by its /64', () => {
    expect(addressKey('127.0.0.2')).toBe('127.0.0.2');
    expect(addressKey('::ffff:10.0.0.7')).toBe('10.0.0.7');
    expect(addressKey('2001:db8:1:2:aaaa::1')).toBe('2001:db8:1:2::/64');
    expect(addressKey('2001:db8:1:2:bbbb:cccc:dddd:eeee')).toBe('2001:db8:1:2::/64');
    expect(addressKey('2001:db8::1')).toBe('2001:db8:0:0::/64');
    expect(addressKey('fe80::1%eth0')).toBe('fe80:0:0:0::/64');
    expect(addressKey('::1')).toBe('0:0:0:0::/64');
    expect(addressKey(undefined)).toBe('unknown');
  });

  it('behind a trusted loopback proxy, counts the last X-Forwarded-For address; otherwise the peer', () => {
    const req = (peer: string, xff?: string | string[]) => ({ socket: { remoteAddress: peer }, headers: xff === undefined ? {} : { 'x-forwarded-for': xff } }) as unknown as IncomingMessage;
    expect(clientAddress(req('127.0.0.1', '10.0.0.7'), true)).toBe('10.0.0.7');
    expect(clientAddress(req('::ffff:127.0.0.1', '::ffff:10.0.0.8'), true)).toBe('10.0.0.8');
    expect(clientAddress(req('::1', '2001:db8:1:2::9'), true)).toBe('2001:db8:1:2::/64');
    // what a client claimed comes first; the proxy appends the address it saw
    expect(clientAddress(req('127.0.0.1', '1.2.3.4, 10.0.0.7'), true)).toBe('10.0.0.7');
    expect(clientAddress(req('127.0.0.1', ['1.2.3.4', '10.0.0.7']), true)).toBe('10.0.0.7');
    // not trusted: the option off, a peer that is not loopback, or no address in it
    expect(clientAddress(req('127.0.0.1', '10.0.0.7'), false)).toBe('127.0.0.1');
    expect(clientAddress(req('10.0.0.5', '10.0.0.7'), true)).toBe('10.0.0.5');
    expect(clientAddress(req('127.0.0.1', 'unknown'), true)).toBe('127.0.0.1');
    expect(clientAddress(req('127.0.0.1', ''), true)).toBe('127.0.0.1');
    expect(clientAddress(req('127.0.0.1'), true)).toBe('127.0.0.1');
  });

  it('with trustProxy, clients behind the loopback proxy get a cap each', async () => {
    const s = await startSignalingServer({ port: 0, limits: { maxConnectionsPerAddress: 2 }, trustProxy: true });
    try {
      const mine = [open(s.port, { forwardedFor: '10.9.0.2' }), open(s.port, { forwardedFor: '10.9.0.2' })];
      await Promise.all(mine.map((c) => c.opened));
      const third = open(s.port, { forwardedFor: '10.9.0.2' });
      expect(await within(third.closed, 3_000, -1)).toBe(1013);
      const other = open(s.port, { forwardedFor: '10.9.0.3' });
      expect(await other.opened).toBe(true);
      expect(await within(other.closed, 300, -1)).toBe(-1);
      for (const c of [...mine, other]) c.ws.close();
    } finally {
      await s.close();
    }
  });

  // other "addresses" are 127.0.0.x source addresses: Linux routes all of 127/8 to lo
  it.skipIf(process.platform !== 'linux')('caps connections per remote address; other addresses still get in', async () => {
    const s = await startSignalingServer({ port: 0, limits: { maxConnectionsPerAddress: 2 } });
    try {
      const mine = [open(s.port, { from: '127.0.0.3' }), open(s.port, { from: '127.0.0.3' })];
      await Promise.all(mine.map((c) => c.opened));
      const third = open(s.port, { from: '127.0.0.3' });
      expect(await within(third.closed, 3_000, -1)).toBe(1013);
      const other = open(s.port, { from: '127.0.0.4' });
      expect(await other.opened).toBe(true);
      expect(await within(other.closed, 300, -1)).toBe(-1);
      expect(s.stats()['refusedPerAddress']).toBe(1);
      for (const c of [...mine, other]) c.ws.close();
    } finally {
      await s.close();
    }
  });

  it('drops and counts messages over a connection’s rate, and closes a connection that keeps on', async () => {
    const s = await startSignalingServer({ port: 0, limits: { messagesPerSec: 20, messageBurst: 10, abuseDrops: 20 } });
    try {
      const c = open(s.port);
      await c.opened;
      // a burst over the bucket: 10 answered at once, then the excess is dropped and the
      // socket is not read until a token is back (1 answered, 1 dropped per ~50 ms) …
      for (let i = 0; i < 60; i++) c.send({ type: 'ping' });
      await new Promise((r) => setTimeout(r, 30));
      expect(c.inbox.length).toBe(10);
      expect(s.stats()['rateLimited']).toBeGreaterThanOrEqual(1);
      // … and 20 drops within the abuse window close it
      expect(await within(c.closed, 5_000, -1)).toBe(1008);
      expect(s.stats()['closedAbusive']).toBe(1);
      expect(s.stats()['rateLimited']).toBe(20);
      expect(c.inbox.length).toBeLessThan(40);
    } finally {
      await s.close();
    }
  });

  it('cuts off a receiver that does not read once its send buffer passes the limit', async () => {
    const big = 64 * 2 ** 20;
    const s = await startSignalingServer({
      port: 0,
      limits: { maxBufferedBytes: 256 * 1024, bytesPerSec: big, byteBurst: big, bytesPerSecPerAddress: big, byteBurstPerAddress: big, messagesPerSec: 1e4, messageBurst: 1e4, messagesPerSecPerAddress: 1e4, messageBurstPerAddress: 1e4 },
    });
    try {
      const [sender, stalled] = [open(s.port), open(s.port)];
      await Promise.all([sender.opened, stalled.opened]);
      sender.send({ type: 'subscribe', topics: ['big'] });
      stalled.send({ type: 'subscribe', topics: ['big'] });
      await settle();
      stalled.ws.pause(); // never reads again: the kernel's buffers fill, then the server's
      const msg = JSON.stringify({ type: 'publish', topic: 'big', data: 'x'.repeat(60_000) });
      // bounded: ≤ 600 × 60 KB (36 MB), ≤ 20 s
      const t0 = Date.now();
      for (let i = 0; i < 600 && s.stats()['closedSlow'] === 0 && Date.now() - t0 < 20_000; i++) {
        sender.send(msg);
        await new Promise((r) => setTimeout(r, 2));
      }
      expect(s.stats()['closedSlow']).toBe(1);
      stalled.ws.resume();
      expect(await within(stalled.closed, 3_000, -1)).toBe(1006); // cut, not closed politely
      sender.send({ type: 'ping' });
      await settle();
      expect(sender.ws.readyState).toBe(WebSocket.OPEN);
      sender.ws.close();
    } finally {
      await s.close();
    }
  }, 30_000);
});
