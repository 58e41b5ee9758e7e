// Compaction never changes what a device materializes (src/sync/compaction.ts C1–C4): for
// random shared logs — inserts, partial updates, deletes, and entries that do not validate —
// a device applying the compacted log ends with exactly the rows and tombstones of a device
// applying the whole log, whatever the order, and two devices plan the same drop set.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import * as Y from 'yjs';
import { applyChanges } from '../../src/core/apply.ts';
import { createMemoryApplyStore } from '../../src/core/apply-store.ts';
import { encodeHlc } from '../../src/core/hlc.ts';
import { compactDoc, planCompaction } from '../../src/sync/compaction.ts';
import { createExtractor, LOCAL_ORIGIN, sharedLogSize, sharedMap } from '../../src/sync/doc.ts';

const DEVICES = ['0aaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa', '0bbbbbbb-bbbb-4bbb-8bbb-bbbbbbbbbbbb'];
const TAGS = ['1aaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa', '1bbbbbbb-bbbb-4bbb-8bbb-bbbbbbbbbbbb', '1ccccccc-cccc-4ccc-8ccc-cccccccccccc'];
const FULL = {
  canonical_name: 'a', display_name: 'A', namespace: null, tag_type: 'standard', color: null,
  privacy_level: 'normal', search_weight: 1, created_by_device: DEVICES[0]!,
};

const entry = fc.record({
  wall: fc.integer({ min: 0, max: 50 }),
  device: fc.constantFrom(...DEVICES),
  tag: fc.constantFrom(...TAGS),
  op: fc.constantFrom('insert', 'update', 'update', 'update', 'delete', 'invalid'),
  color: fc.constantFrom('#111111', '#222222', null),
  name: fc.constantFrom('x', 'y'),
  which: fc.subarray(['color', 'display_name', 'namespace'], { minLength: 1 }),
});

type Entry = typeof entry extends fc.Arbitrary<infer T> ? T : never;

function docOf(log: Entry[]): Y.Doc {
  const doc = new Y.Doc();
  doc.clientID = 1;
  const counters = new Map<string, number>();
  doc.transact(() => {
    for (const e of log) {
      const k = `${e.wall}:${e.device}`;
      const counter = counters.get(k) ?? 0;
      counters.set(k, counter + 1);
      const hlc = encodeHlc({ wall: 1_750_000_000_000 + e.wall, counter, device: e.device });
      const pick: Record<string, unknown> = { color: e.color, display_name: e.name, namespace: e.name };
      const fields =
        e.op === 'insert' ? { ...FULL, color: e.color, display_name: e.name }
        : e.op === 'update' ? Object.fromEntries(e.which.map((f) => [f, pick[f]]))
        : e.op === 'invalid' ? { color: 42 } // does not validate: never applied, never supersedes
        : {};
      sharedMap(doc).set(hlc, { model: 'tag', uuid: e.tag, op: e.op === 'invalid' ? 'update' : e.op, fields });
    }
  });
  return doc;
}

function materialize(doc: Y.Doc, order: <T>(xs: T[]) => T[]) {
  const store = createMemoryApplyStore();
  for (const c of order(createExtractor(doc).all().changes)) applyChanges(store, [c]);
  // `_hlcs` is JSON whose key order follows arrival order: compare it parsed
  const tags = [...(store.tables.get('tags')?.values() ?? [])]
    .map((r): Record<string, unknown> => ({ ...r, _hlcs: Object.entries(JSON.parse(String(r['_hlcs'])) as Record<string, string>).sort() }))
    .sort((a, b) => String(a['uuid']).localeCompare(String(b['uuid'])));
  return { tags, tombstones: [...store.tombstones.entries()].sort() };
}

describe('compaction (property)', () => {
  it('the compacted log materializes exactly like the whole log, in any order', () => {
    fc.assert(
      fc.property(fc.array(entry, { maxLength: 30 }), fc.func(fc.integer()), (log, key) => {
        const whole = docOf(log);
        const compacted = docOf(log);
        const plan = planCompaction(whole);
        expect(compactDoc(compacted, LOCAL_ORIGIN)).toEqual(plan);
        expect(sharedLogSize(compacted)).toBe(sharedLogSize(whole) - plan.drop.length);
        const shuffled = <T,>(xs: T[]): T[] => xs.map((x, i) => [key(i), x] as const).sort((a, b) => a[0] - b[0]).map(([, x]) => x);
        const expected = materialize(whole, (xs) => xs);
        expect(materialize(compacted, (xs) => xs)).toEqual(expected);
        expect(materialize(compacted, shuffled)).toEqual(expected);
        expect(planCompaction(compacted).drop).toEqual([]); // nothing more to drop
      }),
      { seed: Number(process.env['FC_SEED'] ?? 20261124), numRuns: Number(process.env['FC_NUM_RUNS'] ?? 300) },
    );
  });
});
