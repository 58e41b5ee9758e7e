// The library's pruning horizon (issue 13 item 2, compaction.ts C10) in the sync inspector:
// tags one tab created and another deleted leave no delete entry in either tab's shared log
// once both have seen them, the inspector counts what was pruned; the horizon set on one tab
// (through the inspector, refused in words when it is not a number of days from 1 hour to
// 3650) is shown on the other, and so is one set through `tabdrive.actions.setPruningHorizon`.
import type { Page } from '@playwright/test';
import { converged, count, expect, freshBrowserPerTest, openApp, test } from './support/browser.ts';

const browser = freshBrowserPerTest();

const stats = (p: Page) =>
  p.evaluate(async () => {
    const s = await window.tabdrive.stats();
    return { sharedLog: s.sharedLog, pruned: s.pruned, reasserted: s.reasserted, lastGate: s.lastGate };
  });
const inspector = async (p: Page) => {
  await p.getByRole('button', { name: 'Sync inspector' }).click();
  return p.getByRole('dialog', { name: 'Sync inspector' });
};

test('20 tags made in one tab and deleted in another are pruned from both logs; the horizon set in one tab shows in the other', async ({ baseURL }) => {
  const a = await openApp(browser.context, baseURL!);
  const b = await openApp(browser.context, baseURL!);
  await converged([a, b]);
  const before = [(await stats(a)).sharedLog, (await stats(b)).sharedLog];

  const tags = await a.evaluate(async () => {
    const out: string[] = [];
    for (let i = 0; i < 20; i++) {
      const r = await window.tabdrive.actions!.createTag({ name: `Tag ${i}` });
      if (!r.ok) throw new Error(r.error.message);
      out.push(r.value.uuid);
    }
    return out;
  });
  await expect.poll(() => count(b, 'SELECT count(*) FROM tags'), { timeout: 20_000 }).toBe(20);
  await b.evaluate(async (tags) => {
    for (const t of tags) {
      const r = await window.tabdrive.actions!.deleteTag(t);
      if (!r.ok) throw new Error(r.error.message);
    }
  }, tags);
  await converged([a, b]);
  for (const p of [a, b]) expect((await stats(p)).sharedLog).toBeGreaterThanOrEqual(before[0]! + 20); // the 20 deletes at least

  // by themselves (no "Compact now", 40 changes are below the threshold): once both tabs acked
  // the segment, a compaction carries B's deletes into a segment of its own; once both acked
  // that one, the next prunes them (compaction.ts C10)
  const panelA = await inspector(a);
  for (const [i, p] of [a, b].entries()) await expect.poll(async () => (await stats(p)).sharedLog, { timeout: 30_000 }).toBeLessThanOrEqual(before[i]!);
  const [sa, sb] = [await stats(a), await stats(b)];
  console.log(`after pruning: A ${JSON.stringify(sa)}; B ${JSON.stringify(sb)}`);
  expect(sa.pruned + sb.pruned).toBeGreaterThanOrEqual(20);
  expect(sa.reasserted + sb.reasserted).toBe(0);
  // deleted everywhere, and it stays so
  await converged([a, b]);
  for (const p of [a, b]) expect(await count(p, 'SELECT count(*) FROM tags')).toBe(0);

  // the tab that pruned says so, and that its compaction waited for nobody and left nobody out
  const pruner = sa.pruned >= sb.pruned ? a : b;
  const panelP = pruner === a ? panelA : await inspector(b);
  const pruning = panelP.getByRole('region', { name: 'Pruning' });
  await expect(pruning.getByTestId('pruned')).toHaveText(`${Math.max(sa.pruned, sb.pruned)} tombstones by this device's compactions`);
  await expect(pruning.getByTestId('reasserted')).toContainText('0 deletes');
  await expect(pruning.getByTestId('pruning-waiting')).toHaveText('none');
  await expect(pruning.getByTestId('pruning-past')).toHaveText('none');

  // the horizon: 30 days by default on both, under Devices too (apart from the closed tabs' setting)
  const panelB = pruner === b ? panelP : await inspector(b);
  for (const panel of [panelA, panelB]) await expect(panel.getByTestId('pruning-horizon')).toContainText('Now 30 days');
  for (const p of [a, b]) await expect(p.getByTestId('devices-pruning-horizon')).toContainText('devices unseen for 30 days');

  // refused in words, nothing written
  const field = panelA.getByRole('textbox', { name: 'Pruning horizon' });
  const setIt = panelA.getByRole('button', { name: 'Set horizon' });
  for (const [typed, why] of [
    ['soon', '“soon” is not a number of days (between 1 hour and 3650 days).'],
    ['0', 'The horizon must be at least 1 hour (between 1 hour and 3650 days).'],
    ['5000', 'The horizon can be at most 3650 days, ten years (between 1 hour and 3650 days).'],
  ] as const) {
    await field.fill(typed);
    await setIt.click();
    await expect(panelA.getByRole('alert')).toHaveText(why);
  }
  await b.waitForTimeout(500);
  await expect(panelB.getByTestId('pruning-horizon')).toContainText('Now 30 days');

  // A sets 45 days; B shows it without reopening anything
  await field.fill('45');
  await setIt.click();
  await expect(panelA.getByRole('alert')).toHaveCount(0);
  await expect(panelA.getByTestId('pruning-horizon')).toContainText('Now 45 days');
  await expect(panelB.getByTestId('pruning-horizon')).toContainText('Now 45 days');
  await expect(panelB.getByRole('textbox', { name: 'Pruning horizon' })).toHaveValue('45');
  await expect(b.getByTestId('devices-pruning-horizon')).toContainText('devices unseen for 45 days');

  // through the devtools API: the intents' Result shape; B in hours, A follows
  const refused = await b.evaluate(() => window.tabdrive.actions!.setPruningHorizon(-1));
  expect(refused).toEqual({ ok: false, error: { type: 'InvalidInput', message: 'The horizon must be at least 1 hour (between 1 hour and 3650 days).' } });
  expect(await b.evaluate(() => window.tabdrive.actions!.setPruningHorizon(0.5))).toEqual({ ok: true, value: 0.5 });
  await expect(panelA.getByTestId('pruning-horizon')).toContainText('Now 12 hours');
  await expect(panelA.getByRole('textbox', { name: 'Pruning horizon' })).toHaveValue('12');
  await expect(panelA.getByRole('combobox', { name: 'Pruning horizon unit' })).toHaveValue('hours');

  // a reload keeps it (it is in the document)
  await a.reload();
  await a.evaluate(() => window.tabdrive.ready);
  await expect(a.getByTestId('devices-pruning-horizon')).toContainText('devices unseen for 12 hours');
});
