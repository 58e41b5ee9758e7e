// The transport contract, written once and run over every channel that carries the sync
// document (src/transport/channel.ts): in Node the in-memory network, our provider between
// tabs (BroadcastChannel) and the relay (tests/integration/transport.contract.test.ts); in
// Chromium our provider between tabs (tests/e2e/transport-contract.spec.ts) and between two
// browsers over WebRTC (tests/webrtc/transport-contract.spec.ts, the WebRTC suite).
export interface ContractPair {
  /** set key → value in the named map of side A or B */
  set(side: 'a' | 'b', map: string, key: string, value: unknown): Promise<void>;
  get(side: 'a' | 'b', map: string, key: string): Promise<unknown>;
  /** add n records of ~230 B to a map of side A, in one transaction */
  fill(side: 'a' | 'b', map: string, n: number): Promise<void>;
  size(side: 'a' | 'b', map: string): Promise<number>;
  pauseB(): Promise<void>;
  resumeB(): Promise<void>;
  /** let the transport work a little */
  settle(): Promise<void>;
}

export interface ContractCase {
  readonly name: string;
  run(p: ContractPair, expectTrue: (v: boolean, what: string) => void): Promise<void>;
}

async function until(p: ContractPair, f: () => Promise<boolean>, rounds = 150): Promise<boolean> {
  for (let i = 0; i < rounds; i++) {
    if (await f()) return true;
    await p.settle();
  }
  return f();
}

export const TRANSPORT_CONTRACT: readonly ContractCase[] = [
  {
    name: 'delivers an update both ways',
    async run(p, ok) {
      await p.set('a', 'm', 'x', 1);
      ok(await until(p, async () => (await p.get('b', 'm', 'x')) === 1), 'A → B');
      await p.set('b', 'm', 'y', 2);
      ok(await until(p, async () => (await p.get('a', 'm', 'y')) === 2), 'B → A');
    },
  },
  {
    name: 'delivers an update far over 256 KiB (12,000 records, ~3 MB)',
    async run(p, ok) {
      await p.fill('a', 'big', 12_000);
      ok(await until(p, async () => (await p.size('b', 'big')) === 12_000), 'all 12,000 records arrive');
    },
  },
  {
    name: 'a paused side misses nothing: it catches up when resumed',
    async run(p, ok) {
      await p.pauseB();
      await p.set('a', 'm', 'while-paused', true);
      await p.settle();
      ok((await p.get('b', 'm', 'while-paused')) === undefined, 'nothing arrives while paused');
      await p.resumeB();
      ok(await until(p, async () => (await p.get('b', 'm', 'while-paused')) === true), 'caught up after resume');
    },
  },
];

export const contractRecord = (i: number): Record<string, unknown> => ({
  id: `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`, name: `IMG_${i}.jpg`, size: i * 1000, ext: 'jpg',
  parent: '11111111-1111-4111-8111-111111111111', ctime: 1_700_000_000_000 + i, mtime: 1_700_000_000_000 + i, atime: 1_700_000_000_000,
});
