import { describe, expect, it } from 'vitest';
import { matchMoves, type Appeared, type Vanished } from '../../../src/core/folder.ts';

const gone = (uuid: string, path: string, content: string | null = 'c1', size = 10): Vanished => ({ uuid, path, size, content });
const here = (path: string, content: string | null = 'c1', size = 10): Appeared => ({ path, size, content });

describe('matchMoves (identity across renames and moves)', () => {
  it('a renamed file and a file moved to another folder keep their entries', () => {
    expect(matchMoves([gone('u1', 'a/beach.jpg')], [here('a/sea.jpg')])).toEqual([{ uuid: 'u1', from: 'a/beach.jpg', to: 'a/sea.jpg' }]);
    expect(matchMoves([gone('u1', 'a/beach.jpg')], [here('b/c/beach.jpg')])).toEqual([{ uuid: 'u1', from: 'a/beach.jpg', to: 'b/c/beach.jpg' }]);
  });

  it('needs the same content and the same size', () => {
    expect(matchMoves([gone('u1', 'a.jpg', 'c1')], [here('b.jpg', 'c2')])).toEqual([]);
    expect(matchMoves([gone('u1', 'a.jpg', 'c1', 10)], [here('b.jpg', 'c1', 11)])).toEqual([]);
  });

  it('never carries over unread or empty files', () => {
    expect(matchMoves([gone('u1', 'a.txt', null)], [here('b.txt', null)])).toEqual([]);
    expect(matchMoves([gone('u1', 'a.txt', 'empty', 0)], [here('b.txt', 'empty', 0)])).toEqual([]);
  });

  it('a copy is new: only a vanished file can give its identity away', () => {
    // beach.jpg is still there (not vanished), so "copy of beach.jpg" matches nothing
    expect(matchMoves([], [here('copy of beach.jpg')])).toEqual([]);
    // moved and copied at once: the one with the same name is the moved file
    expect(matchMoves([gone('u1', 'beach.jpg')], [here('copy of beach.jpg'), here('trip/beach.jpg')])).toEqual([
      { uuid: 'u1', from: 'beach.jpg', to: 'trip/beach.jpg' },
    ]);
  });

  it('two vanished copies and one appeared: the most alike wins, the other is removed', () => {
    const v = [gone('u1', 'x/a.jpg'), gone('u2', 'y/b.jpg')];
    // same name first
    expect(matchMoves(v, [here('z/b.jpg')])).toEqual([{ uuid: 'u2', from: 'y/b.jpg', to: 'z/b.jpg' }]);
    // then same folder
    expect(matchMoves(v, [here('y/c.jpg')])).toEqual([{ uuid: 'u2', from: 'y/b.jpg', to: 'y/c.jpg' }]);
    // then path order
    expect(matchMoves(v, [here('z/c.jpg')])).toEqual([{ uuid: 'u1', from: 'x/a.jpg', to: 'z/c.jpg' }]);
  });

  it('a renamed folder of copies pairs each file with its namesake', () => {
    const v = [gone('u1', 'old/1.jpg'), gone('u2', 'old/2.jpg'), gone('u3', 'old/3.jpg')];
    const a = [here('new/3.jpg'), here('new/1.jpg'), here('new/2.jpg')];
    expect(matchMoves(v, a)).toEqual([
      { uuid: 'u1', from: 'old/1.jpg', to: 'new/1.jpg' },
      { uuid: 'u2', from: 'old/2.jpg', to: 'new/2.jpg' },
      { uuid: 'u3', from: 'old/3.jpg', to: 'new/3.jpg' },
    ]);
  });

  it('is deterministic whatever order the scan listed files in', () => {
    const v = [gone('u1', 'p/a.jpg'), gone('u2', 'q/a.jpg'), gone('u3', 'r/x.jpg', 'c2')];
    const a = [here('s/a.jpg'), here('t/a.jpg'), here('r/y.jpg', 'c2'), here('u/a.jpg')];
    const expected = matchMoves(v, a);
    expect(expected).toEqual([
      { uuid: 'u3', from: 'r/x.jpg', to: 'r/y.jpg' },
      { uuid: 'u1', from: 'p/a.jpg', to: 's/a.jpg' },
      { uuid: 'u2', from: 'q/a.jpg', to: 't/a.jpg' },
    ]);
    for (let i = 0; i < 6; i++) {
      const shuffled = <T>(xs: T[]) => xs.map((x, j) => [((j + 1) * (i + 3)) % 7, x] as const).sort((p, q) => p[0] - q[0]).map((p) => p[1]);
      expect(matchMoves(shuffled(v), shuffled(a))).toEqual(expected);
    }
  });
});
