// A tab left out of pruning comes back (issue 13 item 2: "devices that return after being
// pruned past must converge, no resurrected deletes"; compaction.ts C10, engine.ts E8, doc.ts
// D8). Tab C pauses sync and renames a tag; tab A deletes it; the horizon (a few seconds here,
// through the test hook: the inspector allows 1 hour at least) leaves C out, and A prunes the
// tombstone without it. C resumes: its rename lands on a tag A and B hold deleted, they refuse
// it and write the delete again — kept until every tab has seen it — and the tag is gone on C
// too, for good.
import type { Page } from '@playwright/test';
import { converged, count, expect, freshBrowserPerTest, openApp, test } from './support/browser.ts';

const browser = freshBrowserPerTest();

const stats = (p: Page) =>
  p.evaluate(async () => {
    const s = await window.tabdrive.stats();
    return { pruned: s.pruned, reasserted: s.reasserted, past: s.lastGate?.past ?? [] };
  });
test('a tab left out by the horizon comes back with a rename of a tag deleted and pruned meanwhile: the tag stays deleted in every tab', async ({ baseURL }) => {
  const a = await openApp(browser.context, baseURL!);
  const b = await openApp(browser.context, baseURL!);
  const c = await openApp(browser.context, baseURL!);
  const tag = await a.evaluate(async () => {
    const r = await window.tabdrive.actions!.createTag({ name: 'Doomed' });
    if (!r.ok) throw new Error(r.error.message);
    return r.value.uuid;
  });
  await converged([a, b, c]);
  const HORIZON_S = 5;
  await a.evaluate((days) => window.tabdrive.setHorizonDays!(days), HORIZON_S / 86_400);
  await converged([a, b, c]);

  await c.evaluate(() => window.tabdrive.pause(true));
  await c.evaluate(async (uuid) => {
    const r = await window.tabdrive.actions!.updateTag(uuid, { name: 'Renamed while apart' });
    if (!r.ok) throw new Error(r.error.message);
  }, tag);
  await a.evaluate(async (uuid) => {
    const r = await window.tabdrive.actions!.deleteTag(uuid);
    if (!r.ok) throw new Error(r.error.message);
  }, tag);
  // C's last ack grows older than the horizon: A and B prune the tombstone without it
  await expect.poll(async () => (await stats(a)).pruned + (await stats(b)).pruned, { timeout: 40_000 }).toBeGreaterThanOrEqual(1);
  const left = [await stats(a), await stats(b)];
  expect(left.some((s) => s.past.length > 0)).toBe(true);
  expect(await count(c, 'SELECT count(*) FROM tags WHERE uuid = ?', [tag])).toBe(1); // C never saw the delete

  await c.evaluate(() => window.tabdrive.pause(false));
  // the rename reaches tabs that hold the tag deleted: they write the delete again (E8)
  await expect.poll(async () => (await stats(a)).reasserted + (await stats(b)).reasserted, { timeout: 30_000 }).toBeGreaterThanOrEqual(1);
  await converged([a, b, c]);
  for (const p of [a, b, c]) expect(await count(p, 'SELECT count(*) FROM tags WHERE uuid = ?', [tag])).toBe(0);
  // that delete is pruned too once all three have it, and nothing brings the tag back
  const prunedBefore = left[0]!.pruned + left[1]!.pruned;
  await expect.poll(async () => (await Promise.all([a, b, c].map(stats))).reduce((n, s) => n + s.pruned, 0), { timeout: 40_000 }).toBeGreaterThan(prunedBefore);
  await a.waitForTimeout(3000);
  await converged([a, b, c]);
  for (const p of [a, b, c]) expect(await count(p, 'SELECT count(*) FROM tags WHERE uuid = ?', [tag])).toBe(0);
  const written = (await Promise.all([a, b, c].map(stats))).reduce((n, s) => n + s.reasserted, 0);
  console.log(`[figure] pruned past and back: deletes written again ${written}, tombstones pruned ${(await Promise.all([a, b, c].map(stats))).reduce((n, s) => n + s.pruned, 0)}`);
  expect(written).toBeLessThanOrEqual(2); // A and B at most once each: no loop
});
