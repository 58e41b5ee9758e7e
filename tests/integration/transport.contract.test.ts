// The transport contract (tests/support/transport-contract.ts) on the in-memory network the
// simulator uses. The same cases run against the real provider in Chromium:
// tests/e2e/transport-contract.spec.ts.
import { describe, expect, it } from 'vitest';
import * as Y from 'yjs';
import { createPrng } from '../../src/core/prng.ts';
import { createMemoryNetwork } from '../../src/transport/memory.ts';
import { contractRecord, TRANSPORT_CONTRACT, type ContractPair } from '../support/transport-contract.ts';

function memoryPair(): ContractPair {
  const net = createMemoryNetwork(createPrng('contract'));
  const docs = { a: new Y.Doc(), b: new Y.Doc() };
  net.join('a', docs.a);
  net.join('b', docs.b);
  return {
    set: (s, m, k, v) => Promise.resolve(void docs[s].getMap(m).set(k, v)),
    get: (s, m, k) => Promise.resolve(docs[s].getMap(m).get(k)),
    fill: (s, m, n) => Promise.resolve(docs[s].transact(() => { for (let i = 0; i < n; i++) docs[s].getMap(m).set(`r${i}`, contractRecord(i)); })),
    size: (s, m) => Promise.resolve(docs[s].getMap(m).size),
    pauseB: () => Promise.resolve(net.isolate('b', true)),
    resumeB: () => {
      net.isolate('b', false);
      net.syncAll(); // what a reconnect's handshake does
      return Promise.resolve();
    },
    settle: async () => {
      net.deliver();
      await new Promise((r) => setTimeout(r, 0));
    },
  };
}

describe('transport contract: in-memory network', () => {
  for (const c of TRANSPORT_CONTRACT) {
    it(c.name, async () => {
      await c.run(memoryPair(), (v, what) => expect(v, what).toBe(true));
    });
  }
});
