#!/usr/bin/env node
// Regenerates the README's screenshots (docs/screenshots/*.png) from the production build in
// Chromium: two devices (tabs) of one library with sample data, tags, an album, a favourite
// and notes made through the app. `npm run build && node scripts/screenshots.mjs`
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { chromium } from 'playwright-core';
import { ensureChromium } from './lib/chromium.mjs';
import { assertNoPageErrors, watchContext } from './lib/page-errors.mjs';

const root = resolve(import.meta.dirname, '..');
const out = join(root, 'docs', 'screenshots');
const port = Number(process.env.SHOTS_PORT ?? 4176);
const base = `http://127.0.0.1:${port}/?signaling=`;
mkdirSync(out, { recursive: true });

// its own process group, so that stopping it also stops the vite process npx starts
const server = spawn('npx', ['vite', 'preview', '--host', '127.0.0.1', '--port', String(port), '--strictPort'], { cwd: root, stdio: 'ignore', detached: true });
const profile = mkdtempSync(join(tmpdir(), 'tabdrive-shots-'));
try {
  for (let i = 0; i < 100; i++) {
    if (await fetch(base).then((r) => r.ok, () => false)) break;
    await new Promise((r) => setTimeout(r, 200));
  }
  const ctx = await chromium.launchPersistentContext(profile, {
    executablePath: ensureChromium(), headless: true, viewport: { width: 1360, height: 820 }, colorScheme: 'light',
    args: ['--no-sandbox', '--disable-gpu', '--no-first-run'],
  });
  const watch = watchContext(ctx); // a page that threw is not what the README should show
  const open = async () => {
    const p = await ctx.newPage();
    await p.goto(base);
    await p.waitForFunction(() => window.tabdrive?.device?.uuid);
    await p.evaluate(() => window.tabdrive.ready);
    return p;
  };
  const a = await open();
  const b = await open();
  const act = (p, fn, arg) => p.evaluate(fn, arg);
  await act(a, () => window.tabdrive.actions.renameDevice('Laptop · Chrome'));
  await act(b, () => window.tabdrive.actions.renameDevice('Desktop · Chrome'));
  await act(a, () => window.tabdrive.actions.addSampleLocation('Photos', 2400));
  await act(b, () => window.tabdrive.actions.addSampleLocation('Projects', 800));
  const tag = async (p, name, color, ns) => (await act(p, (x) => window.tabdrive.actions.createTag(x), { name, color, namespace: ns })).value.uuid;
  const vacation = await tag(a, 'Vacation', '#2f9e44', null);
  const family = await tag(a, 'Family', '#e03131', null);
  await tag(b, 'Receipts', '#f08c00', 'finance');
  await tag(a, 'Receipts', '#3b5bdb', null); // same name, another device: shown side by side
  const album = (await act(b, () => window.tabdrive.actions.createAlbum('Summer 2024'))).value.uuid;
  const files = await act(a, () => window.tabdrive.query("SELECT uuid FROM entries WHERE kind = 'file' AND extension = 'jpg' ORDER BY name LIMIT 12"));
  for (const [i, f] of files.entries()) {
    await act(a, ([t, e]) => window.tabdrive.actions.tagEntry(t, e), [i % 3 ? vacation : family, f.uuid]);
    if (i < 6) await act(b, ([al, e]) => window.tabdrive.actions.addToAlbum(al, e), [album, f.uuid]);
  }
  const pick = files[0].uuid;
  await act(a, (e) => window.tabdrive.actions.setFavorite(e, true), pick);
  await act(b, (e) => window.tabdrive.actions.setNotes(e, 'Sunset at the pier — print this one for the hallway.'), pick);
  await a.waitForTimeout(1500);

  // 1. the library: a tag's files, one selected with its tags, favourite, notes, albums
  await a.getByRole('list', { name: 'Tags' }).getByRole('button', { name: /Family/ }).click();
  const name = (await act(a, (e) => window.tabdrive.query('SELECT name FROM entries WHERE uuid = ?', [e]), pick))[0].name;
  await a.getByRole('list', { name: 'Files' }).getByRole('button', { name }).first().click();
  await a.waitForTimeout(400);
  await a.screenshot({ path: join(out, 'library.png') });

  // 2. grid view of a folder, dark theme
  await a.getByRole('combobox', { name: 'Theme' }).selectOption('dark');
  await a.getByRole('list', { name: 'Locations' }).getByRole('button', { name: /Photos/ }).click();
  await a.getByRole('list', { name: 'Files' }).getByRole('button').first().dblclick();
  await a.getByRole('list', { name: 'Files' }).getByRole('button').first().dblclick();
  await a.getByRole('button', { name: 'Grid' }).click();
  await a.waitForTimeout(400);
  await a.screenshot({ path: join(out, 'grid-dark.png') });
  await a.getByRole('combobox', { name: 'Theme' }).selectOption('light');

  // 3. the sync inspector on the other device after some live changes
  await b.bringToFront();
  await b.getByRole('button', { name: 'Sync inspector' }).click();
  for (let i = 0; i < 12; i++) {
    await act(a, ([t, e]) => window.tabdrive.actions.tagEntry(t, e), [family, files[(i % 11) + 1].uuid]);
    await a.waitForTimeout(120);
  }
  await b.waitForTimeout(4000);
  await b.screenshot({ path: join(out, 'sync-inspector.png') });

  // 4. a phone-width window
  await b.getByRole('button', { name: 'Sync inspector' }).click();
  await b.setViewportSize({ width: 390, height: 844 });
  await b.getByRole('searchbox', { name: 'Search files' }).fill('IMG');
  await b.waitForTimeout(500);
  await b.screenshot({ path: join(out, 'phone.png') });
  await ctx.close();
  assertNoPageErrors([watch], 'the screenshots');
  console.log(`screenshots written to ${out}`);
} finally {
  process.kill(-server.pid);
  rmSync(profile, { recursive: true, force: true });
}
