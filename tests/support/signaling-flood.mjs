#!/usr/bin/env node
// A hostile signaling client for tests/integration/signaling-hostile.test.ts, in its own
// process so its work does not slow the test's honest client: connections from the given
// loopback addresses subscribe to a topic and publish 60 KB messages as fast as their
// sockets drain, reconnecting whenever the server closes them, until the time is up.
// Bounded: by time, by connection attempts, and by each socket's own send buffer.
//   node tests/support/signaling-flood.mjs <port> <ms> <addr,addr,…> <connsPerAddr> <topic>
// Prints one JSON line of counts when done.
import WebSocket from 'ws';

const [port, ms, addrs, per, topic] = process.argv.slice(2);
const url = `ws://127.0.0.1:${port}`;
const end = Date.now() + Number(ms);
const MAX_CONNECTS = 5_000;
const payload = JSON.stringify({ type: 'publish', topic, data: 'x'.repeat(60_000) });
const stats = { sent: 0, sentBytes: 0, connects: 0, closes: /** @type {Record<string, number>} */ ({}) };
let open = 0;

function flooder(/** @type {string} */ addr) {
  if (Date.now() >= end || stats.connects >= MAX_CONNECTS) return;
  stats.connects++;
  open++;
  // a zero mask (ws skips the XOR on both ends): the flood's cost is the server's, not ours
  const ws = new WebSocket(url, { localAddress: addr, generateMask: (mask) => mask.fill(0) });
  ws.on('error', () => {}); // 'close' follows
  ws.on('message', () => {}); // it reads: it is a receiver of its own topic
  const pump = () => {
    if (ws.readyState !== ws.OPEN) return;
    if (Date.now() >= end) return ws.close();
    // at most 1 MB per turn: a server that drains at once keeps bufferedAmount at 0
    for (let i = 0; i < 17 && ws.bufferedAmount < 1024 * 1024; i++) {
      ws.send(payload);
      stats.sent++;
      stats.sentBytes += payload.length;
    }
    setTimeout(pump, 1);
  };
  ws.on('open', () => {
    ws.send(JSON.stringify({ type: 'subscribe', topics: [topic] }));
    pump();
  });
  ws.on('close', (code) => {
    open--;
    stats.closes[code] = (stats.closes[code] ?? 0) + 1;
    if (Date.now() < end) setTimeout(() => flooder(addr), 10);
    else if (open === 0) done();
  });
}

let finished = false;
function done() {
  if (finished) return;
  finished = true;
  console.log(JSON.stringify(stats));
  process.exit(0);
}
for (const addr of addrs.split(',')) for (let i = 0; i < Number(per); i++) flooder(addr);
setTimeout(done, Number(ms) + 5_000).unref(); // sockets that never close: report anyway
