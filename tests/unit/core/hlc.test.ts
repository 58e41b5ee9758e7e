import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { AHEAD_COUNTER, compareHlc, createHlcClock, decodeHlc, encodeHlc, hlcDevice, hlcWall, isAheadStamp } from '../../../src/core/hlc.ts';

const A = 'aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa';
const B = 'bbbbbbbb-bbbb-4bbb-8bbb-bbbbbbbbbbbb';
const uuidArb = fc.uuid().map((u) => u.toLowerCase());

describe('HLC encoding', () => {
  it('string order equals (wall, counter, device) order', () => {
    const part = fc.record({ wall: fc.integer({ min: 0, max: 0xffffffffffff }), counter: fc.integer({ min: 0, max: 0xffffff }), device: uuidArb });
    fc.assert(
      fc.property(part, part, (a, b) => {
        const ord = a.wall - b.wall || a.counter - b.counter || (a.device < b.device ? -1 : a.device > b.device ? 1 : 0);
        expect(compareHlc(encodeHlc(a), encodeHlc(b))).toBe(Math.sign(ord));
      }),
    );
  });

  it('round-trips and rejects anything else', () => {
    const h = encodeHlc({ wall: 1_750_000_000_123, counter: 7, device: A });
    expect(decodeHlc(h)).toEqual({ ok: true, value: { wall: 1_750_000_000_123, counter: 7, device: A } });
    expect(hlcDevice(h)).toBe(A);
    expect(hlcWall(h)).toBe(1_750_000_000_123);
    for (const bad of [null, 42, '', h.toUpperCase(), h + 'x', h.replace('-', '_'), { h }]) expect(decodeHlc(bad).ok).toBe(false);
  });
});

describe('HLC clock', () => {
  it('never goes backwards, whatever the wall clock does', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: -5_000, max: 5_000 }), { minLength: 1, maxLength: 200 }), (jumps) => {
        let t = 1_750_000_000_000;
        const clock = createHlcClock({ device: A, now: () => t });
        let last = '';
        for (const j of jumps) {
          t += j;
          const h = clock.next();
          expect(h > last).toBe(true);
          last = h;
        }
      }),
    );
  });

  it('after receiving a stamp, next() is above it (Spacedrive generate() is not)', () => {
    let t = 1_000_000;
    const clock = createHlcClock({ device: A, now: () => t });
    const remote = encodeHlc({ wall: t + 60_000, counter: 5, device: B });
    expect(clock.receive(remote)).toEqual({ adopted: true });
    expect(clock.next() > remote).toBe(true);
    t += 1; // wall clock still behind the adopted stamp
    expect(clock.next() > remote).toBe(true);
  });

  it('does not adopt a stamp more than maxDrift ahead, and reports how far ahead', () => {
    const t = 1_000_000;
    const clock = createHlcClock({ device: A, now: () => t, maxDriftMs: 300_000 });
    const before = clock.next();
    const dayAhead = encodeHlc({ wall: t + 86_400_000, counter: 0, device: B });
    expect(clock.receive(dayAhead)).toEqual({ adopted: false, reason: 'drift', aheadMs: 86_400_000 });
    const after = clock.next();
    expect(after > before).toBe(true);
    expect(hlcWall(after)).toBe(t);
    expect(clock.receive(encodeHlc({ wall: t + 299_000, counter: 0, device: B })).adopted).toBe(true);
  });

  it('restores from the last persisted stamp and continues after it', () => {
    const first = createHlcClock({ device: A, now: () => 5_000 });
    first.next();
    const last = first.next();
    const restored = createHlcClock({ device: A, now: () => 4_000, last }); // clock went back
    expect(restored.current()).toBe(last);
    expect(restored.next() > last).toBe(true);
  });

  it('carries a counter overflow into the wall part instead of wrapping', () => {
    const clock = createHlcClock({ device: A, now: () => 10, last: encodeHlc({ wall: 10, counter: 0xffffff, device: A }) });
    const h = clock.next();
    expect(decodeHlc(h)).toEqual({ ok: true, value: { wall: 11, counter: 0, device: A } });
  });

  it('stamps an edit above a far-ahead floor without moving the clock (the ahead lane)', () => {
    let t = 1_000_000;
    const clock = createHlcClock({ device: A, now: () => t, maxDriftMs: 300_000 });
    const far = encodeHlc({ wall: t + 86_400_000, counter: 7, device: B });
    expect(clock.receive(far).adopted).toBe(false);
    const before = clock.next();
    const e1 = clock.nextAbove(far);
    expect(e1 > far).toBe(true);
    expect(decodeHlc(e1)).toEqual({ ok: true, value: { wall: t + 86_400_000, counter: AHEAD_COUNTER, device: A } });
    expect(isAheadStamp(e1)).toBe(true);
    // the clock did not move: next() goes on from wall time, still strictly increasing
    const after = clock.next();
    expect(after > before && hlcWall(after) === t).toBe(true);
    expect(clock.current()! < far).toBe(true);
    // a second edit of the same record (its floor is now e1), and one of another record at the
    // same far floor: both above, all distinct
    const e2 = clock.nextAbove(e1);
    const e3 = clock.nextAbove(far);
    expect(e2 > e1 && e3 > e2).toBe(true);
    // a floor the clock is already above: plain next()
    t += 10;
    const plain = clock.nextAbove(before);
    expect(isAheadStamp(plain)).toBe(false);
    expect(plain > after).toBe(true);
    expect(clock.nextAbove(null) > plain).toBe(true);
  });

  it("keeps next()'s counter out of the ahead lane, so the lanes never issue the same stamp", () => {
    const clock = createHlcClock({ device: A, now: () => 10, last: encodeHlc({ wall: 10, counter: AHEAD_COUNTER - 1, device: A }) });
    expect(decodeHlc(clock.next())).toEqual({ ok: true, value: { wall: 11, counter: 0, device: A } });
    // adopting another device's ahead-lane stamp (now within drift) does not put next() in the lane
    const c2 = createHlcClock({ device: A, now: () => 10 });
    c2.receive(encodeHlc({ wall: 12, counter: AHEAD_COUNTER + 3, device: B }));
    expect(isAheadStamp(c2.next())).toBe(false);
  });

  it('resumes the ahead lane after a restart above what it issued there', () => {
    const t = 1_000_000;
    const far = encodeHlc({ wall: t + 86_400_000, counter: 0, device: B });
    const first = createHlcClock({ device: A, now: () => t });
    const issued = first.nextAbove(far);
    const restarted = createHlcClock({ device: A, now: () => t, last: first.current() });
    restarted.restoreAhead(issued);
    restarted.restoreAhead(encodeHlc({ wall: t + 90_000_000, counter: AHEAD_COUNTER, device: B })); // not ours: ignored
    restarted.restoreAhead(far); // not in the lane: ignored
    const again = restarted.nextAbove(far);
    expect(again > issued).toBe(true);
    expect(hlcWall(again)).toBe(t + 86_400_000);
  });

  it('a fresh clock has no current stamp', () => {
    expect(createHlcClock({ device: A, now: () => 1 }).current()).toBeNull();
  });
});
