// One round of tag/album acts the way a person at speed makes them (25 at a time, a third each:
// create a tag, rename one, add a file to an album), then `durable()`. Runs in the page
// (`page.evaluate(actRound, [from, m, { entries, album }])`): it closes over nothing.
// Returns how many acts were refused. Used by the bench and scripts/profile-acts.mjs.
export async function actRound([from, m, { entries, album }]) {
  const tdb = window.tabdrive;
  let bad = 0;
  const tags = [];
  const run = async (fn, n) => {
    for (let i = 0; i < n; i += 25) {
      const rs = await Promise.all(Array.from({ length: Math.min(25, n - i) }, (_, j) => fn(from + i + j)));
      bad += rs.filter((r) => !r.ok).length;
    }
  };
  const third = Math.floor(m / 3);
  await run(async (i) => {
    const r = await tdb.actions.createTag({ name: `act-${i}` });
    if (r.ok) tags.push(r.value.uuid);
    return r;
  }, m - 2 * third);
  await run((i) => tdb.actions.updateTag(tags[i % tags.length], { name: `act-${i}-renamed` }), third);
  await run((i) => (entries.length && album ? tdb.actions.addToAlbum(album, entries[i % entries.length]) : Promise.resolve({ ok: false })), third);
  await tdb.durable();
  return bad;
}
