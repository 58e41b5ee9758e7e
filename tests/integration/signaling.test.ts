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
});
