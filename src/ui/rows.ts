/**
 * A list read again after a commit, with the rows that did not change kept as the very objects
 * the views already show. The lists of the library's tags and albums are read whole after every
 * commit that touches them, and a keyed `{#each}` over a `$state.raw` list re-renders a row only
 * when its object is a different one: with fresh objects every commit re-rendered every row
 * (thousands of tags, in the sidebar and in the filter's choices), so each tag act cost time in
 * proportion to the number of tags (decision 0019). Rows are flat records of primitives.
 */
export function keepUnchanged<T extends object>(prev: readonly T[], next: readonly T[], key: (row: T) => string): readonly T[] {
  if (!prev.length) return next;
  const old = new Map<string, T>();
  for (const r of prev) old.set(key(r), r);
  let same = prev.length === next.length;
  const out = next.map((r, i) => {
    const o = old.get(key(r));
    const kept = o !== undefined && sameFields(o, r) ? o : r;
    if (kept !== prev[i]) same = false;
    return kept;
  });
  return same ? prev : out;
}

function sameFields(a: object, b: object): boolean {
  const ka = Object.keys(a);
  if (ka.length !== Object.keys(b).length) return false;
  for (const k of ka) if (!Object.is((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k])) return false;
  return true;
}
