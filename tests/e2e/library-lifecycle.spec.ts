// A library over months (issue 13), through the interface (DESIGN §8 names): the library's
// name, undo for deletes, forgetting a device. Tabs of one browser (`?signaling=`).
import type { Locator, Page } from '@playwright/test';
import { expect, freshBrowserPerTest, openApp, test } from './support/browser.ts';

const browser = freshBrowserPerTest();

const nav = (p: Page): Locator => p.getByRole('navigation', { name: 'Library' });
const pause = (p: Page): Promise<void> => nav(p).page().getByRole('button', { name: 'Pause sync' }).click();

async function renameLibrary(p: Page, name: string): Promise<void> {
  await nav(p).getByRole('button', { name: 'Rename library' }).click();
  await nav(p).getByRole('textbox', { name: 'Library name' }).fill(name);
  await nav(p).getByRole('button', { name: 'Save' }).click();
  await expect(nav(p).getByRole('textbox', { name: 'Library name' })).toHaveCount(0);
}

test.describe('the library name', () => {
  test('is shown, renamed with "Rename library" and reaches the other tab; concurrent renames converge', async ({ baseURL }) => {
    const a = await openApp(browser.context, baseURL!);
    const b = await openApp(browser.context, baseURL!);
    const library = await a.evaluate(() => window.tabdrive.library);
    // no name yet: the short id, on both
    for (const p of [a, b]) await expect(nav(p).getByRole('heading', { name: `Library ${library.slice(0, 8)}` })).toBeVisible();

    await renameLibrary(a, 'Family photos');
    for (const p of [a, b]) await expect(nav(p).getByRole('heading', { name: 'Family photos' })).toBeVisible();

    // An empty name is refused with a message, and changes nothing.
    await nav(b).getByRole('button', { name: 'Rename library' }).click();
    await nav(b).getByRole('textbox', { name: 'Library name' }).fill('   ');
    await nav(b).getByRole('button', { name: 'Save' }).click();
    await expect(b.getByText('A library needs a name.')).toBeVisible();
    await nav(b).getByRole('button', { name: 'Cancel' }).click();

    // Apart, each renames it; the later rename wins on both once they meet again.
    await pause(a);
    await pause(b);
    await renameLibrary(a, 'Alpha');
    await renameLibrary(b, 'Beta');
    await expect(nav(a).getByRole('heading', { name: 'Alpha' })).toBeVisible();
    await pause(a);
    await pause(b);
    for (const p of [a, b]) await expect(nav(p).getByRole('heading', { name: 'Beta' })).toBeVisible();

    // It survives a reload (it is in the database, not in the page).
    await a.reload();
    await a.waitForFunction(() => window.tabdrive?.device?.uuid);
    await expect(nav(a).getByRole('heading', { name: 'Beta' })).toBeVisible();
  });
});
