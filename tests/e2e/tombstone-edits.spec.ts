// A tab whose view is older than a delete edits the deleted record: its intent refuses before
// writing (sync/intents.ts `refuseDeleted`), so no orphan edit enters the sync document, where
// it would outlive the delete once compaction prunes it.
import type { Page } from '@playwright/test';
import { converged, count, expect, freshBrowserPerTest, openApp, test } from './support/browser.ts';

const browser = freshBrowserPerTest();

const sharedLog = (p: Page): Promise<number> => p.evaluate(async () => (await window.tabdrive.stats()).sharedLog);

test('tab A deletes a tag; tab B renaming or using it gets "was deleted", and neither document gains an entry', async ({ baseURL }) => {
  const a = await openApp(browser.context, baseURL!);
  const b = await openApp(browser.context, baseURL!);
  const { tag, file } = await a.evaluate(async () => {
    const made = await window.tabdrive.actions!.addSampleLocation('Trip', 5);
    if (!made.ok) throw new Error(made.error.message);
    const t = await window.tabdrive.actions!.createTag({ name: 'Vacation' });
    if (!t.ok) throw new Error(t.error.message);
    const [f] = await window.tabdrive.query("SELECT uuid FROM entries WHERE kind = 'file' LIMIT 1");
    return { tag: t.value.uuid, file: String(f!['uuid']) };
  });
  await converged([a, b]);
  expect(await count(b, 'SELECT count(*) FROM tags WHERE uuid = ?', [tag])).toBe(1);

  const deleted = await a.evaluate((t) => window.tabdrive.actions!.deleteTag(t), tag);
  expect(deleted.ok).toBe(true);
  await converged([a, b]);
  expect(await count(b, 'SELECT count(*) FROM tombstones WHERE model = ? AND uuid = ?', ['tag', tag])).toBe(1);
  const logs = [await sharedLog(a), await sharedLog(b)];

  // B's tab still shows the tag: its acts reach the intents as the UI would call them
  const results = await b.evaluate(async ([t, f]) => {
    const acts = window.tabdrive.actions!;
    return [await acts.updateTag(t, { name: 'Holidays' }), await acts.tagEntry(t, f), await acts.untagTargets(t, [f])];
  }, [tag, file] as const);
  for (const r of results) {
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.error).toEqual({ type: 'InvalidInput', message: `The tag ${tag} was deleted.` });
  }

  // nothing was written: the logs stay as they were on both, a while after (a write would
  // have reached A over BroadcastChannel within milliseconds)
  await b.waitForTimeout(1500);
  expect([await sharedLog(a), await sharedLog(b)]).toEqual(logs);
  await converged([a, b]);
  for (const p of [a, b]) {
    expect(await count(p, 'SELECT count(*) FROM tags')).toBe(0);
    expect(await count(p, 'SELECT count(*) FROM tag_links')).toBe(0);
  }
});
