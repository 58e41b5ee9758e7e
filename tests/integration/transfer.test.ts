// "Get from device" (media/transfer.ts F1–F4) over the in-memory net: whole, windowed,
// resumed after a cut (same source, then another), verified (a corrupt sender, a file that
// changed on disk), hostile bytes counted. Node's WebCrypto is the real SHA-256.
import { describe, expect, it } from 'vitest';
import { webcrypto } from 'node:crypto';
import { contentHash } from '../../src/core/content-hash.ts';
import { createPrng } from '../../src/core/prng.ts';
import { contentUuid } from '../../src/core/uuid.ts';
import { decode, encode, T } from '../../src/media/files-wire.ts';
import { CHUNK, createTransfers, WINDOW, type TransferDeps, type Transfers } from '../../src/media/transfer.ts';
import { memoryParts } from '../support/memory-parts.ts';
import { createMemoryHub } from '../../src/transport/stream-net.ts';

const A = 'aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa';
const B = 'bbbbbbbb-bbbb-4bbb-8bbb-bbbbbbbbbbbb';
const C = 'cccccccc-cccc-4ccc-8ccc-cccccccccccc';
const digest = async (b: Uint8Array) => new Uint8Array(await webcrypto.subtle.digest('SHA-256', b));
const tick = () => new Promise((r) => setImmediate(r));
const bytesOf = async (b: Blob) => new Uint8Array(await b.arrayBuffer());
const sha = async (b: Uint8Array) => Buffer.from(await digest(b)).toString('hex');

async function identity(bytes: Uint8Array): Promise<string> {
  return contentUuid(await contentHash(bytes.byteLength, { read: (o, n) => Promise.resolve(bytes.slice(o, o + n)), digest }));
}

function world(seed: string) {
  const hub = createMemoryHub(createPrng(seed));
  let now = 0;
  let n = 0;
  const members = [A, B, C];
  const online = (self: string) => () => members.filter((d) => d !== self && hub.linked(self, d));
  const files = new Map<string, Map<string, Blob>>(); // device → content → file
  const make = (self: string, extra: Partial<TransferDeps> = {}): Transfers => {
    files.set(self, files.get(self) ?? new Map<string, Blob>());
    return createTransfers({
      self,
      net: hub.join(self),
      digest,
      parts: memoryParts(),
      resolve: (c) => Promise.resolve(files.get(self)?.get(c) ?? null),
      online: online(self),
      now: () => now,
      randomUuid: () => `00000000-0000-4000-8000-${String(++n).padStart(12, '0')}`,
      tickMs: null,
      stallMs: 5_000,
      ...extra,
    });
  };
  /** delivers until `done` holds (or nothing moves for a while) */
  const run = async (done: () => boolean, limit = 20_000): Promise<void> => {
    let quiet = 0;
    for (let i = 0; i < limit && !done(); i++) {
      const moved = hub.deliver(1);
      if (moved) await tick();
      else await new Promise((r) => setTimeout(r, 2)); // reads and digests are real I/O here
      quiet = moved ? 0 : quiet + 1;
      if (quiet > 50) return;
    }
  };
  return { hub, make, run, files, advance: (ms: number) => void (now += ms) };
}

describe('Get from device (transfer.ts)', () => {
  it('moves a file whole and verified (F3)', async () => {
    const w = world('whole');
    const file = createPrng('file').bytes(9 * CHUNK + 1234);
    const content = await identity(file);
    const a = w.make(A);
    const b = w.make(B);
    w.files.get(A)!.set(content, new Blob([file as Uint8Array<ArrayBuffer>]));
    const v0 = b.get({ content, size: file.byteLength, sources: [A] });
    expect(v0.status).toBe('asking');
    let last = b.view(content);
    b.onChange((v) => (last = v));
    await w.run(() => last?.status === 'done' || last?.status === 'failed');
    expect(last?.status).toBe('done');
    expect(await sha(await bytesOf(last!.file!))).toBe(await sha(file));
    expect(a.stats.chunksOut).toBe(10);
    expect(b.stats.rejected).toBe(0);
    expect(a.stats.rejected).toBe(0);
  });

  it('keeps at most a window in flight: the sender waits for ACKs (F1)', { timeout: 30_000 }, async () => {
    const w = world('window');
    const file = createPrng('file').bytes(40 * CHUNK);
    const content = await identity(file);
    const a = w.make(A);
    w.files.get(A)!.set(content, new Blob([file as Uint8Array<ArrayBuffer>]));
    // B is a bare peer that asks and never ACKs
    const bare = w.hub.join(B);
    const got: number[] = [];
    bare.onReceive((_f, m) => {
      const d = decode(m);
      if (d?.type === T.CHUNK) got.push(d.offset + d.bytes.byteLength);
    });
    bare.send(A, encode({ type: T.GET, transfer: '11111111-1111-4111-8111-111111111111', content, size: file.byteLength, offset: 0, window: WINDOW }));
    await w.run(() => false, 3000);
    expect(Math.max(...got)).toBe(WINDOW);
    expect(a.stats.chunksOut).toBe(WINDOW / CHUNK);
    // one ACK: exactly one more chunk's worth of credit
    bare.send(A, encode({ type: T.ACK, transfer: '11111111-1111-4111-8111-111111111111', offset: CHUNK }));
    await w.run(() => false, 3000);
    expect(Math.max(...got)).toBe(WINDOW + CHUNK);
  });

  it('resumes after a cut from where it stopped, then from another device holding the content (F2)', async () => {
    const w = world('resume');
    const file = createPrng('file2').bytes(30 * CHUNK + 7);
    const content = await identity(file);
    const a = w.make(A);
    const b = w.make(B);
    const c = w.make(C);
    w.files.get(A)!.set(content, new Blob([file as Uint8Array<ArrayBuffer>]));
    w.files.get(C)!.set(content, new Blob([file as Uint8Array<ArrayBuffer>]));
    let last = b.get({ content, size: file.byteLength, sources: [A, C] });
    b.onChange((v) => (last = v));
    await w.run(() => last.received >= 8 * CHUNK);
    w.hub.setLink(A, B, false);
    w.hub.setLink(C, B, false);
    await w.run(() => false, 400);
    const at = last.received;
    expect(at).toBeGreaterThan(0);
    expect(at).toBeLessThan(file.byteLength);
    b.poke();
    expect(last.status).toBe('waiting');
    expect(last.message).toBe('The device went offline — resuming when it returns.');
    // A comes back
    w.hub.setLink(A, B, true);
    b.poke();
    await tick();
    await w.run(() => last.received >= at + 8 * CHUNK);
    expect(last.source).toBe(A);
    // A leaves for good; C has the same content
    w.hub.setLink(A, B, false);
    w.hub.setLink(C, B, true);
    b.poke();
    await tick();
    await w.run(() => last.status === 'done' || last.status === 'failed');
    expect(last.status).toBe('done');
    expect(last.source).toBe(C);
    expect(b.stats.resumed).toBeGreaterThanOrEqual(2);
    expect(await sha(await bytesOf(last.file!))).toBe(await sha(file));
    expect(a.stats.chunksOut + c.stats.chunksOut).toBeLessThan(31 + 2 * (WINDOW / CHUNK)); // resumed, not restarted
  });

  it('a source heard to leave while its chunks still travel: they are late, not hostile, and the transfer resumes (F4)', async () => {
    const w = world('late');
    const file = createPrng('file7').bytes(24 * CHUNK + 11);
    const content = await identity(file);
    const a = w.make(A);
    // presence and bytes travel apart (awareness vs the data channel): B hears A leave first
    let present = true;
    const b = w.make(B, { online: () => (present ? [A] : []) });
    w.files.get(A)!.set(content, new Blob([file as Uint8Array<ArrayBuffer>]));
    let last = b.get({ content, size: file.byteLength, sources: [A] });
    b.onChange((v) => (last = v));
    await w.run(() => last.received >= 4 * CHUNK);
    expect(w.hub.pending()).toBeGreaterThan(0); // A's window is on the wire
    present = false;
    b.poke();
    await w.run(() => false, 2000); // until nothing moves: A's reads are real I/O
    expect(last.status).toBe('waiting');
    expect(b.stats.late).toBeGreaterThan(0);
    expect(b.stats.rejected).toBe(0);
    // a stranger replaying the left attempt's id is still a stranger
    const stranger = w.hub.join(C);
    const before = b.stats.late;
    const firstId = '00000000-0000-4000-8000-000000000001';
    stranger.send(B, encode({ type: T.CHUNK, transfer: firstId, offset: last.received, bytes: new Uint8Array(CHUNK) }));
    await w.run(() => false, 2000);
    expect(b.stats.rejected).toBe(1);
    expect(b.stats.late).toBe(before);
    present = true;
    b.poke();
    await tick();
    await w.run(() => last.status === 'done' || last.status === 'failed');
    expect(last.message ?? last.status).toBe('done');
    expect(await sha(await bytesOf(last.file!))).toBe(await sha(file));
    expect(a.stats.served).toBe(2); // the first attempt, then the resumed one
    expect(b.stats.rejected).toBe(1);
  });

  it('a cancelled transfer: what the source had already sent is late, not hostile (F4)', async () => {
    const w = world('cancel');
    const file = createPrng('file8').bytes(20 * CHUNK);
    const content = await identity(file);
    w.make(A);
    const b = w.make(B);
    w.files.get(A)!.set(content, new Blob([file as Uint8Array<ArrayBuffer>]));
    let last = b.get({ content, size: file.byteLength, sources: [A] });
    b.onChange((v) => (last = v));
    await w.run(() => last.received >= 2 * CHUNK);
    expect(w.hub.pending()).toBeGreaterThan(0);
    await b.cancel(content);
    await w.run(() => false, 2000);
    expect(last.status).toBe('cancelled');
    expect(b.stats.late).toBeGreaterThan(0);
    expect(b.stats.rejected).toBe(0);
  });

  it('a corrupt sender: the tree root does not match, nothing is kept (F3)', async () => {
    const w = world('corrupt');
    const file = createPrng('file3').bytes(3 * CHUNK);
    const content = await identity(file);
    w.make(A, { corruptSends: () => true });
    const parts = memoryParts();
    const b = w.make(B, { parts });
    w.files.get(A)!.set(content, new Blob([file as Uint8Array<ArrayBuffer>]));
    let last = b.get({ content, size: file.byteLength, sources: [A] });
    b.onChange((v) => (last = v));
    await w.run(() => last.status === 'done' || last.status === 'failed');
    expect(last.status).toBe('failed');
    expect(last.message).toMatch(/damaged/);
    expect(last.file).toBeNull();
    expect(parts.kept.size).toBe(0);
    expect(b.stats.verifyFailed).toBe(1);
  });

  it('a file changed on that device (same size, other sampled bytes): refused by its content identity (F3)', async () => {
    const w = world('changed');
    const file = createPrng('file4').bytes(2 * CHUNK);
    const content = await identity(file);
    const changed = file.slice();
    changed[5] = changed[5]! ^ 1;
    w.make(A);
    const parts = memoryParts();
    const b = w.make(B, { parts });
    w.files.get(A)!.set(content, new Blob([changed]));
    let last = b.get({ content, size: file.byteLength, sources: [A] });
    b.onChange((v) => (last = v));
    await w.run(() => last.status === 'done' || last.status === 'failed');
    expect(last.status).toBe('failed');
    expect(last.message).toMatch(/changed on that device/);
    expect(parts.kept.size).toBe(0);
  });

  it('no source holds it: failed in words; hostile bytes are counted, never thrown (F4)', async () => {
    const w = world('hostile');
    const a = w.make(A);
    const b = w.make(B);
    const content = await identity(new Uint8Array([1, 2, 3]));
    let last = b.get({ content, size: 3, sources: [A] });
    b.onChange((v) => (last = v));
    await w.run(() => last.status === 'failed');
    expect(last.message).toBe('No device that holds this file can send it now.');
    const evil = w.hub.join(C);
    const junk = [
      new Uint8Array([0xf1, 1, T.CHUNK, 1, 2]),
      new Uint8Array([0xf1, 1, T.GET, 123]),
      new Uint8Array([0xf1, 9, T.ACK]),
      encode({ type: T.CHUNK, transfer: '22222222-2222-4222-8222-222222222222', offset: 0, bytes: new Uint8Array(10) }),
      encode({ type: T.END, transfer: '22222222-2222-4222-8222-222222222222', size: 3, root: '0'.repeat(64) }),
      encode({ type: T.ACK, transfer: '22222222-2222-4222-8222-222222222222', offset: 99 }),
    ];
    for (const j of junk) {
      evil.send(A, j);
      evil.send(B, j);
    }
    await w.run(() => false, 100);
    expect(a.stats.rejected).toBe(junk.length);
    expect(b.stats.rejected).toBe(junk.length);
  });
});

describe('Get from device: kept parts (F2)', () => {
  it('a part kept whole from before (a reload) is verified again from one END, not sent again', async () => {
    const w = world('kept');
    const file = createPrng('file5').bytes(3 * CHUNK + 99);
    const content = await identity(file);
    const a = w.make(A);
    const parts = memoryParts();
    const b1 = w.make(B, { parts });
    w.files.get(A)!.set(content, new Blob([file as Uint8Array<ArrayBuffer>]));
    let last = b1.get({ content, size: file.byteLength, sources: [A] });
    b1.onChange((v) => (last = v));
    await w.run(() => last.status === 'done');
    b1.destroy();
    w.hub.leave(B);
    const sent = a.stats.chunksOut;
    const b2 = w.make(B, { parts });
    let again = b2.get({ content, size: file.byteLength, sources: [A] });
    b2.onChange((v) => (again = v));
    await w.run(() => again.status === 'done' || again.status === 'failed');
    expect(again.message ?? again.status).toBe('done');
    expect(a.stats.chunksOut).toBe(sent);
    expect(await sha(await bytesOf(again.file!))).toBe(await sha(file));
  });

  it('a part kept in part (a reload mid-transfer) resumes from its last whole chunk', async () => {
    const w = world('reload');
    const file = createPrng('file6').bytes(12 * CHUNK + 5);
    const content = await identity(file);
    const a = w.make(A);
    const parts = memoryParts();
    const b1 = w.make(B, { parts });
    w.files.get(A)!.set(content, new Blob([file as Uint8Array<ArrayBuffer>]));
    let last = b1.get({ content, size: file.byteLength, sources: [A] });
    b1.onChange((v) => (last = v));
    await w.run(() => last.received >= 5 * CHUNK);
    b1.destroy(); // the tab reloads: what was kept stays in the part store
    w.hub.leave(B);
    const kept = last.received;
    const b2 = w.make(B, { parts });
    let again = b2.get({ content, size: file.byteLength, sources: [A] });
    b2.onChange((v) => (again = v));
    await w.run(() => again.status === 'done' || again.status === 'failed');
    expect(again.message ?? again.status).toBe('done');
    expect(b2.stats.bytesIn).toBe(file.byteLength - kept);
    expect(b2.stats.resumed).toBe(1);
    expect(await sha(await bytesOf(again.file!))).toBe(await sha(file));
    void a;
  });
});
