// "Rotate invite" (sync/rotation.ts, transport/seal.ts): sealing, following a rotation,
// hostile records, concurrent rotations. Real Yjs documents and real WebCrypto; the document
// travels between devices by Yjs updates, as it does over any transport.
import { describe, expect, it } from 'vitest';
import * as Y from 'yjs';
import { createHlcClock } from '../../src/core/hlc.ts';
import { metaMap } from '../../src/sync/doc.ts';
import { createRotation, fingerprint, KEY_PREFIX, ROTATION_PREFIX, sealContext, type Members, type Rotation } from '../../src/sync/rotation.ts';
import { newSecret } from '../../src/transport/room.ts';
import { b64, newDeviceKeys, open, seal, SealError, type DeviceKeys } from '../../src/transport/seal.ts';

const LIBRARY = crypto.randomUUID();

describe('seal', () => {
  it('opens for its recipient only, with the same context, untampered', async () => {
    const [a, b] = [await newDeviceKeys(), await newDeviceKeys()];
    const [da, db] = [crypto.randomUUID(), crypto.randomUUID()];
    const sealed = await seal([{ device: da, publicKey: a.publicKey }, { device: db, publicKey: b.publicKey }], 'the new secret', 'ctx');
    expect(sealed.env.map((e) => e.d)).toEqual([da, db]);
    expect(await open(a, da, { epk: sealed.epk, env: sealed.env[0]! }, 'ctx')).toBe('the new secret');
    expect(await open(b, db, { epk: sealed.epk, env: sealed.env[1]! }, 'ctx')).toBe('the new secret');
    // another device's envelope, another context, another device id, a flipped byte
    await expect(open(b, db, { epk: sealed.epk, env: sealed.env[0]! }, 'ctx')).rejects.toBeInstanceOf(SealError);
    await expect(open(a, da, { epk: sealed.epk, env: sealed.env[0]! }, 'other')).rejects.toBeInstanceOf(SealError);
    await expect(open(a, db, { epk: sealed.epk, env: sealed.env[0]! }, 'ctx')).rejects.toBeInstanceOf(SealError);
    const c = Uint8Array.from(atob(sealed.env[0]!.c.replace(/-/g, '+').replace(/_/g, '/')), (x) => x.charCodeAt(0));
    c[3]! ^= 1;
    await expect(open(a, da, { epk: sealed.epk, env: { ...sealed.env[0]!, c: b64(c) } }, 'ctx')).rejects.toBeInstanceOf(SealError);
    await expect(open(a, da, { epk: 'p256:' + 'A'.repeat(87), env: sealed.env[0]! }, 'ctx')).rejects.toBeInstanceOf(SealError);
  });
});

interface Dev {
  readonly uuid: string;
  readonly doc: Y.Doc;
  readonly keys: DeviceKeys;
  secret: string;
  moved: string | null;
  stranded: boolean;
  /** the next move fails (the registry could not be written) */
  failNextMove?: boolean;
  rotation: Rotation;
}

/** A device: its own document, clock and key; `members` is what its database would hold. */
async function device(secret: string, members: () => Members, uuid = crypto.randomUUID()): Promise<Dev> {
  const doc = new Y.Doc();
  const keys = await newDeviceKeys();
  let t = 1_800_000_000_000;
  const clock = createHlcClock({ device: uuid, now: () => (t += 1) });
  const d: Dev = { uuid, doc, keys, secret, moved: null, stranded: false, rotation: null as unknown as Rotation };
  const make = (): Rotation =>
    createRotation({
      doc,
      library: LIBRARY,
      self: uuid,
      keys,
      secret: d.secret,
      members: () => Promise.resolve(members()),
      setMeta: (k, v) => Promise.resolve(void doc.transact(() => metaMap(doc).set(k, v), 'local')),
      stamp: () => clock.next(),
      newSecret,
      move: (s) => {
        if (d.failNextMove) {
          d.failNextMove = false;
          return Promise.reject(new Error('registry not writable'));
        }
        d.moved = s;
        return Promise.resolve();
      },
      stranded: (s) => void (d.stranded = s),
    });
  d.rotation = make();
  await d.rotation.publishKey();
  // a device that moved starts over on its new secret, as the tab restarts
  Object.defineProperty(d, 'restart', { value: () => ((d.secret = d.moved ?? d.secret), (d.moved = null), (d.rotation = make())) });
  return d;
}
const restart = (d: Dev): void => (d as unknown as { restart: () => void }).restart();
/** Everything each of `devs` has reaches all of them (one round of state exchange). */
function sync(...devs: Dev[]): void {
  const merged = Y.mergeUpdates(devs.map((d) => Y.encodeStateAsUpdate(d.doc)));
  for (const d of devs) Y.applyUpdate(d.doc, merged, 'remote');
}

describe('rotation', () => {
  it('members move to the sealed secret; a forgotten device, one without a key and an old-link holder are stranded', async () => {
    const s0 = newSecret();
    const known = new Set<string>();
    const forgotten = new Set<string>();
    const members = (): Members => ({ known, forgotten });
    const [a, b, c, e] = [await device(s0, members), await device(s0, members), await device(s0, members), await device(s0, members)];
    const noKey = crypto.randomUUID();
    for (const d of [a, b, c]) known.add(d.uuid);
    known.add(noKey); // a device of an older build: no published key
    forgotten.add(c.uuid);
    sync(a, b, c); // e only has the old link: it meets the document later
    const record = await a.rotation.rotate();
    const bytes = String(metaMap(a.doc).get(`${ROTATION_PREFIX}${record.hlc}`)).length;
    console.log(`[figure] a rotation record sealed to ${record.env.length} devices: ${bytes} B, of which ${JSON.stringify(record.env[0]).length + 1} B an envelope`);
    expect(new Set(a.rotation.lastSealedTo)).toEqual(new Set([a.uuid, b.uuid]));
    expect(record.env.map((x) => x.d).sort()).toEqual([a.uuid, b.uuid].sort());
    sync(a, b, c, e);
    expect((await a.rotation.check()).kind).toBe('moved');
    expect(await fingerprint(LIBRARY, a.moved!)).toBe(record.to);
    expect(JSON.stringify(metaMap(a.doc).toJSON())).not.toContain(a.moved!);
    // a move that fails (registry not writable) leaves b where it was; the next check moves it
    b.failNextMove = true;
    await expect(b.rotation.check()).rejects.toThrow('registry not writable');
    expect(b.moved).toBeNull();
    expect((await b.rotation.check()).kind).toBe('moved');
    expect(b.moved).toBe(a.moved);
    expect((await c.rotation.check()).kind).toBe('stranded');
    expect(c.stranded).toBe(true);
    expect((await e.rotation.check()).kind).toBe('stranded');
    expect(e.moved).toBeNull();
    // after the move, a device on the new secret sees no rotation away from it: it stays
    restart(b);
    expect((await b.rotation.check()).kind).toBe('stay');
  });

  it('hostile records are counted and ignored: malformed, by a non-member, by a forgotten device, an envelope that does not open', async () => {
    const s0 = newSecret();
    const known = new Set<string>();
    const forgotten = new Set<string>();
    const members = (): Members => ({ known, forgotten });
    const [a, b, outsider, gone] = [await device(s0, members), await device(s0, members), await device(s0, members), await device(s0, members)];
    known.add(a.uuid).add(b.uuid).add(gone.uuid);
    forgotten.add(gone.uuid);
    sync(a, b, outsider, gone);
    // a real rotation by a…
    const good = await a.rotation.rotate();
    // …then, stamped later (so each would win were it valid): an outsider's and a forgotten
    // device's well-formed rotations sealed to b, and a member's with a garbage envelope for b
    await outsider.rotation.rotate();
    await gone.rotation.rotate();
    sync(a, b, outsider, gone);
    const from = await fingerprint(LIBRARY, s0);
    const evilSecret = newSecret();
    const to = await fingerprint(LIBRARY, evilSecret);
    const hlc = `${'f'.repeat(12)}-000000-${a.uuid}`; // a's stamp, the highest of all
    const sealed = await seal([{ device: b.uuid, publicKey: outsider.keys.publicKey }], evilSecret, sealContext(LIBRARY, hlc, from, to));
    metaMap(b.doc).set(`${ROTATION_PREFIX}${hlc}`, JSON.stringify({ v: 1, from, to, by: a.uuid, epk: sealed.epk, env: sealed.env }));
    // malformed: not JSON, wrong version, stamp of another device than `by`, a key that is no HLC
    metaMap(b.doc).set(`${ROTATION_PREFIX}${'e'.repeat(12)}-000000-${a.uuid}`, '{not json');
    metaMap(b.doc).set(`${ROTATION_PREFIX}${'e'.repeat(12)}-000001-${a.uuid}`, JSON.stringify({ v: 9, from, to, by: a.uuid, epk: sealed.epk, env: [] }));
    metaMap(b.doc).set(`${ROTATION_PREFIX}${'e'.repeat(12)}-000002-${b.uuid}`, JSON.stringify({ v: 1, from, to, by: a.uuid, epk: sealed.epk, env: sealed.env }));
    metaMap(b.doc).set(`${ROTATION_PREFIX}garbage`, 42);
    metaMap(b.doc).set(`${KEY_PREFIX}${a.uuid}x`, 'not a key');
    const r = await b.rotation.check();
    expect(r.kind).toBe('moved');
    expect(await fingerprint(LIBRARY, b.moved!)).toBe(good.to);
    expect(b.rotation.stats).toEqual({ invalid: 4, notMember: 2, badEnvelope: 1, moved: 1, badKey: 0 });
    // checking again counts nothing twice
    await b.rotation.check();
    expect(b.rotation.stats.invalid).toBe(4);
  });

  it('a member whose published key is no P-256 point is left out; the others still get the new secret', async () => {
    const s0 = newSecret();
    const known = new Set<string>();
    const members = (): Members => ({ known, forgotten: new Set() });
    const [a, b, bad] = [await device(s0, members), await device(s0, members), await device(s0, members)];
    for (const d of [a, b, bad]) known.add(d.uuid);
    metaMap(bad.doc).set(`${KEY_PREFIX}${bad.uuid}`, `p256:${'A'.repeat(87)}`); // well formed, not a point
    sync(a, b, bad);
    const record = await a.rotation.rotate();
    expect(record.env.map((e) => e.d).sort()).toEqual([a.uuid, b.uuid].sort());
    expect(a.rotation.stats.badKey).toBe(1);
    sync(a, b, bad);
    expect((await b.rotation.check()).kind).toBe('moved');
    expect((await bad.rotation.check()).kind).toBe('stranded');
  });

  it('two concurrent rotations converge on one: highest HLC wins, the loser and its followers move to it', async () => {
    const s0 = newSecret();
    const known = new Set<string>();
    const members = (): Members => ({ known, forgotten: new Set() });
    const [a, b, c] = [await device(s0, members), await device(s0, members), await device(s0, members)];
    for (const d of [a, b, c]) known.add(d.uuid);
    sync(a, b, c);
    // a and b rotate without seeing each other's record; each moves to its own
    const ra = await a.rotation.rotate();
    const rb = await b.rotation.rotate();
    expect((await a.rotation.check()).kind).toBe('moved');
    expect((await b.rotation.check()).kind).toBe('moved');
    restart(a);
    restart(b);
    expect(a.secret).not.toBe(b.secret);
    const winner = ra.hlc > rb.hlc ? a : b;
    const loser = winner === a ? b : a;
    const winnerSecret = winner.secret;
    // the documents meet (a device that holds both, or the two groups meeting anywhere)
    sync(a, b, c);
    expect((await winner.rotation.check()).kind).toBe('stay');
    expect((await loser.rotation.check()).kind).toBe('moved');
    expect(loser.moved).toBe(winnerSecret);
    expect((await c.rotation.check()).kind).toBe('moved');
    expect(c.moved).toBe(winnerSecret);
    // and a later rotation from the winner's secret is followed through the chain
    restart(loser);
    restart(c);
    const next = await winner.rotation.rotate();
    sync(a, b, c);
    expect((await loser.rotation.check()).kind).toBe('moved');
    expect(await fingerprint(LIBRARY, loser.moved!)).toBe(next.to);
  });
});
