// Our signaling server, over real WebSockets on loopback: relays y-webrtc's pub/sub, only to
// and from members of a room, with bounded frames and topics, and survives garbage.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { startSignalingServer, type SignalingServer } from '../../server/signaling.mjs';

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
