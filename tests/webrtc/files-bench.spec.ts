// Files bench, run by `npm run bench -- --only files` (FILES_BENCH=1); `npm test` skips it:
// timings are measured in the bench, never asserted in a test. Two figures, each beside its
// baseline in the same run:
//  - "Get from device" of a FILES_BENCH_MB (200) MB file between two browsers over WebRTC,
//    beside a bare RTCDataChannel between the SAME two pages sending as many bytes with
//    bufferedAmount flow control (64 KiB messages, the chunked channel's frame size);
//  - indexing a folder of FILES_BENCH_IMAGES (10k) small JPEGs with thumbnails (files/s,
//    thumbnails/s until the last is kept) beside indexing the same folder without them.
// Prints Markdown rows and writes FILES_BENCH_OUT (JSON).
import type { BrowserContext, Page } from '@playwright/test';
import { mkdirSync, mkdtempSync, openSync, rmSync, writeFileSync, writeSync, closeSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, newProfile, test, waitReady, type Profile } from '../e2e/support/browser.ts';

test.skip(!process.env['FILES_BENCH'], 'bench: set FILES_BENCH=1');
test.describe.configure({ mode: 'serial' });

const SIGNALING = 'ws://127.0.0.1:4192';
const MB = Number(process.env['FILES_BENCH_MB'] ?? 200);
const IMAGES = Number(process.env['FILES_BENCH_IMAGES'] ?? 10_000);
const rows: string[] = [];
const out: Record<string, unknown> = {};
let profiles: Profile[] = [];
let contexts: BrowserContext[] = [];
let tmp: string;
test.beforeEach(() => {
  tmp = mkdtempSync(join(tmpdir(), 'tabdrive-files-bench-'));
});
test.afterEach(async () => {
  for (const c of contexts) await c.close().catch(() => undefined);
  for (const p of profiles) p.remove();
  profiles = [];
  contexts = [];
  rmSync(tmp, { recursive: true, force: true });
});
test.afterAll(() => {
  writeFileSync(process.env['FILES_BENCH_OUT'] ?? 'test-results/files-bench.json', JSON.stringify(out, null, 2));
  console.log('\n| files figure | tabdrive | baseline (same run) | target |\n|---|---|---|---|');
  for (const r of rows) console.log(r);
});
const f = (x: number): string => (x >= 100 ? x.toFixed(0) : x.toFixed(1));

async function browser(url: string): Promise<Page> {
  const profile = newProfile();
  const context = await profile.launch();
  profiles.push(profile);
  contexts.push(context);
  // the main thread's long tasks (sender and receiver must stay responsive)
  await context.addInitScript(() => {
    const lt = { longest: 0, total: 0 };
    (window as unknown as { longtasks: typeof lt }).longtasks = lt;
    new PerformanceObserver((l) => {
      for (const e of l.getEntries()) {
        lt.longest = Math.max(lt.longest, e.duration);
        lt.total += e.duration;
      }
    }).observe({ type: 'longtask', buffered: true });
  });
  const page = context.pages()[0] ?? (await context.newPage());
  await page.goto(url);
  if (new URL(url).hash.startsWith('#/join/')) await page.getByRole('dialog', { name: 'Join this library?' }).getByRole('button', { name: 'Join' }).click();
  await waitReady(page);
  return page;
}

/** A bare RTCDataChannel from `a` to `b` (SDP handed over by the test): ms to move `bytes`. */
async function rawChannel(a: Page, b: Page, bytes: number): Promise<number> {
  type W = Window & { pc?: RTCPeerConnection; rx?: Promise<number> };
  // no trickle: each side's description once its candidates are gathered
  const offer = await a.evaluate(async () => {
    const w = window as W;
    w.pc = new RTCPeerConnection({ iceServers: [] });
    const dc = w.pc.createDataChannel('bench', { ordered: true });
    dc.binaryType = 'arraybuffer';
    (w as unknown as { dc: RTCDataChannel }).dc = dc;
    await w.pc.setLocalDescription(await w.pc.createOffer());
    const pc = w.pc;
    if (pc.iceGatheringState !== 'complete') await new Promise<void>((r) => pc.addEventListener('icegatheringstatechange', () => pc.iceGatheringState === 'complete' && r()));
    return pc.localDescription!.toJSON();
  });
  const answer = await b.evaluate(async ([o, total]) => {
    const w = window as W;
    w.pc = new RTCPeerConnection({ iceServers: [] });
    w.rx = new Promise<number>((resolve) => {
      w.pc!.ondatachannel = (e) => {
        let got = 0;
        e.channel.binaryType = 'arraybuffer';
        e.channel.onmessage = (m: MessageEvent<ArrayBuffer>) => {
          got += m.data.byteLength;
          if (got >= total) resolve(performance.now());
        };
      };
    });
    await w.pc.setRemoteDescription(o);
    await w.pc.setLocalDescription(await w.pc.createAnswer());
    const pc = w.pc;
    if (pc.iceGatheringState !== 'complete') await new Promise<void>((r) => pc.addEventListener('icegatheringstatechange', () => pc.iceGatheringState === 'complete' && r()));
    return pc.localDescription!.toJSON();
  }, [offer, bytes] as const);
  await a.evaluate(async (ans) => {
    const w = window as unknown as W & { dc: RTCDataChannel };
    await w.pc!.setRemoteDescription(ans);
    if (w.dc.readyState !== 'open') await new Promise((r) => w.dc.addEventListener('open', r));
  }, answer);
  // both clocks are performance.now() of different pages: time the whole on A, ended by B's ack
  const start = Date.now();
  await a.evaluate(async (total) => {
    const dc = (window as unknown as { dc: RTCDataChannel }).dc;
    const msg = new Uint8Array(64 * 1024);
    dc.bufferedAmountLowThreshold = 1024 * 1024;
    let sent = 0;
    while (sent < total) {
      if (dc.bufferedAmount > 4 * 1024 * 1024) await new Promise((r) => dc.addEventListener('bufferedamountlow', r, { once: true }));
      dc.send(msg);
      sent += msg.byteLength;
    }
  }, bytes);
  await b.evaluate(() => (window as W).rx);
  const ms = Date.now() - start;
  await a.evaluate(() => (window as W).pc?.close());
  await b.evaluate(() => (window as W).pc?.close());
  return ms;
}

test(`Get from device: a ${MB} MB file over WebRTC beside a bare data channel`, async ({ baseURL }) => {
  test.setTimeout(900_000);
  const bytes = MB * 1024 * 1024;
  const a = await browser(`${baseURL}/?signaling=${SIGNALING}`);
  const root = join(tmp, 'Big');
  mkdirSync(root);
  const fd = openSync(join(root, 'movie.bin'), 'w');
  for (let at = 0; at < bytes; at += 8 * 1024 * 1024) writeSync(fd, randomBytes(Math.min(8 * 1024 * 1024, bytes - at)));
  closeSync(fd);
  await a.getByRole('navigation', { name: 'Library' }).getByLabel('Folder', { exact: true }).setInputFiles(root);
  await expect(a.getByRole('navigation', { name: 'Library' }).getByRole('status')).toContainText(': 1 files', { timeout: 120_000 });
  const box = a.getByRole('textbox', { name: 'Invite link' });
  if (!(await box.isVisible())) await a.getByRole('button', { name: 'Invite', exact: true }).click();
  const b = await browser(`${baseURL}/?signaling=${SIGNALING}${new URL(await box.inputValue()).hash}`);
  await b.getByRole('navigation', { name: 'Library' }).getByRole('list', { name: 'Locations' }).getByRole('button', { name: /Big/ }).first().click({ timeout: 60_000 });
  const files = b.getByRole('main', { name: 'Files' }).getByRole('list', { name: 'Files' });
  await files.getByRole('button', { name: /movie\.bin/ }).click();

  const rawMs = await rawChannel(a, b, bytes);
  type LT = { longtasks: { longest: number; total: number } };
  const reset = () => {
    const lt = (window as unknown as LT).longtasks;
    lt.longest = 0;
    lt.total = 0;
  };
  await a.evaluate(reset);
  await b.evaluate(reset);
  const t0 = Date.now();
  await b.getByRole('complementary', { name: 'Inspector' }).getByRole('button', { name: 'Get from device' }).click();
  await expect(b.getByRole('dialog', { name: 'Preview' })).toBeVisible({ timeout: 600_000 });
  const getMs = Date.now() - t0;
  const st = await b.evaluate(() => window.tabdrive.filesStats?.().transfers);
  expect(st?.verifyFailed).toBe(0);
  expect(st?.bytesIn).toBe(bytes);
  const ltA = await a.evaluate(() => (window as unknown as LT).longtasks);
  const ltB = await b.evaluate(() => (window as unknown as LT).longtasks);
  const get = bytes / 1024 / 1024 / (getMs / 1000);
  const raw = bytes / 1024 / 1024 / (rawMs / 1000);
  out['transfer'] = { mb: MB, getMs, rawMs, getMBs: get, rawMBs: raw, longtasks: { sender: ltA, receiver: ltB } };
  rows.push(`| Get from device, ${MB} MB over WebRTC (MB/s, to verified) | ${f(get)} MB/s (${f(getMs / 1000)} s) | bare RTCDataChannel: ${f(raw)} MB/s (${f(rawMs / 1000)} s); ratio ${(get / raw).toFixed(2)} | ≥ 0.5 of bare |`);
  rows.push(`| … main thread during it: longest task (total of long tasks) | sender ${f(ltA.longest)} ms (${f(ltA.total)} ms), receiver ${f(ltB.longest)} ms (${f(ltB.total)} ms) | — | responsive |`);
});

test(`thumbnails while indexing ${IMAGES} images beside indexing without thumbnails`, async ({ baseURL }) => {
  test.setTimeout(900_000);
  const a = await browser(`${baseURL}/?signaling=`);
  // one small JPEG made by Chromium, each copy made unique by bytes after its end marker
  // (decoders stop at EOI; the content identity differs, so each gets its own thumbnail)
  const jpeg = Buffer.from(await a.evaluate(async () => {
    const c = new OffscreenCanvas(320, 240);
    const g = c.getContext('2d')!;
    g.fillStyle = '#396'; g.fillRect(0, 0, 320, 240);
    g.fillStyle = '#fc3'; g.fillRect(80, 60, 160, 120);
    return [...new Uint8Array(await (await c.convertToBlob({ type: 'image/jpeg', quality: 0.8 })).arrayBuffer())];
  }));
  const root = join(tmp, 'Photos');
  for (let d = 0; d < IMAGES / 100; d++) {
    mkdirSync(join(root, `roll${d}`), { recursive: true });
    for (let i = 0; i < 100; i++) writeFileSync(join(root, `roll${d}`, `img-${d}-${i}.jpg`), Buffer.concat([jpeg, Buffer.from(`#${d}-${i}#`)]));
  }
  const index = async (page: Page): Promise<{ indexMs: number; thumbsMs: number; made: number }> => {
    await page.bringToFront();
    const t0 = Date.now();
    await page.getByRole('navigation', { name: 'Library' }).getByLabel('Folder', { exact: true }).setInputFiles(root);
    await page.waitForFunction((n) => document.querySelector('nav [role="status"]')?.textContent?.includes(`${n.toLocaleString('en')} files`), IMAGES, { timeout: 600_000, polling: 100 });
    const indexMs = Date.now() - t0;
    await page.waitForFunction(() => (window.tabdrive.thumbnailStats?.().queued ?? 0) === 0, null, { timeout: 600_000, polling: 100 });
    return { indexMs, thumbsMs: Date.now() - t0, made: (await page.evaluate(() => window.tabdrive.thumbnailStats?.().made)) ?? 0 };
  };
  const plainPage = await browser(`${baseURL}/?signaling=&no-thumbnails`);
  const plain = await index(plainPage);
  const withThumbs = await index(a);
  expect(withThumbs.made).toBe(IMAGES);
  out['thumbnails'] = { images: IMAGES, plain, withThumbs };
  rows.push(`| indexing ${IMAGES.toLocaleString('en')} small JPEGs with thumbnails (files/s; thumbnails/s to the last kept) | ${f(IMAGES / (withThumbs.indexMs / 1000))} files/s (${f(withThumbs.indexMs / 1000)} s); ${f(withThumbs.made / (withThumbs.thumbsMs / 1000))} thumbnails/s (${f(withThumbs.thumbsMs / 1000)} s) | without thumbnails: ${f(IMAGES / (plain.indexMs / 1000))} files/s (${f(plain.indexMs / 1000)} s) | — |`);
});
