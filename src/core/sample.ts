/**
 * Deterministic sample locations for demos, tests and benchmarks: the same seed yields the
 * same tree (names, sizes, dates and entry uuids). Files are spread over category folders
 * and month/album sub-folders, about FOLDER_SIZE items per folder, with realistic names,
 * extensions and size distributions. A file's content hash depends only on its name and
 * size, so two devices with the same sample hold "the same files" (same content uuid).
 */
import type { Fields } from './change.ts';
import { createPrng, type Prng } from './prng.ts';
import { contentUuid, uuidV4 } from './uuid.ts';

export interface SampleOptions {
  readonly seed: string;
  /** number of files (folders come in addition) */
  readonly count: number;
  readonly owner: string;
  readonly locationUuid: string;
  readonly volumeUuid: string | null;
  readonly name: string;
  readonly now: number;
  /** set entries' content_uuid (every device derives the content identities from it) */
  readonly withContent?: boolean;
}

export interface SampleEntry {
  readonly uuid: string;
  readonly data: Fields;
  /** for files: the content hash (same name + size ⇒ same hash) */
  readonly contentHash: string | null;
}

export interface SampleLocation {
  readonly location: Fields;
  readonly root: string;
  /** parents always precede their children */
  readonly entries: readonly SampleEntry[];
}

const FOLDER_SIZE = 40;
const YEAR_MS = 365 * 24 * 3600 * 1000;
const WORDS = ['report', 'notes', 'budget', 'plan', 'invoice', 'draft', 'summary', 'letter', 'recipe', 'slides',
  'thesis', 'roadmap', 'minutes', 'contract', 'receipt', 'journal', 'ideas', 'outline', 'review', 'proposal'];
const QUALIFIERS = ['Q1', 'Q2', 'Q3', 'Q4', 'final', 'v2', 'old', 'new', '2023', '2024', 'team', 'home'];

interface Category {
  readonly folder: string;
  readonly weight: number;
  readonly sub: (i: number) => string;
  readonly file: (p: Prng, n: number) => { name: string; ext: string; size: number };
}

const between = (p: Prng, lo: number, hi: number): number => Math.round(lo * Math.pow(hi / lo, p.next()));
const pad = (n: number, w: number): string => String(n).padStart(w, '0');

const CATEGORIES: readonly Category[] = [
  { folder: 'Photos', weight: 40, sub: (i) => `${2020 + Math.floor(i / 12) % 6}-${pad((i % 12) + 1, 2)}`,
    file: (p, n) => { const ext = p.pick(['jpg', 'jpg', 'jpg', 'heic', 'png']); return { name: `IMG_${pad(1000 + n, 4)}.${ext}`, ext, size: between(p, 400_000, 9_000_000) }; } },
  { folder: 'Documents', weight: 20, sub: (i) => ['Work', 'Personal', 'Taxes', 'School', 'Travel'][i % 5]! + (i >= 5 ? ` ${Math.floor(i / 5) + 1}` : ''),
    file: (p, n) => { const ext = p.pick(['pdf', 'pdf', 'docx', 'md', 'txt', 'xlsx']); return { name: `${p.pick(WORDS)} ${p.pick(QUALIFIERS)} ${n}.${ext}`, ext, size: between(p, 2_000, 6_000_000) }; } },
  { folder: 'Music', weight: 15, sub: (i) => `Album ${pad(i + 1, 2)}`,
    file: (p, n) => { const ext = p.pick(['flac', 'mp3', 'mp3', 'm4a']); return { name: `track${pad((n % 99) + 1, 2)}-${n}.${ext}`, ext, size: between(p, 2_500_000, 45_000_000) }; } },
  { folder: 'Videos', weight: 8, sub: (i) => `Clips ${pad(i + 1, 2)}`,
    file: (p, n) => { const ext = p.pick(['mp4', 'mov', 'mkv']); return { name: `VID_${pad(2000 + n, 4)}.${ext}`, ext, size: between(p, 5_000_000, 2_000_000_000) }; } },
  { folder: 'Projects', weight: 12, sub: (i) => `project-${pad(i + 1, 3)}`,
    file: (p, n) => { const ext = p.pick(['ts', 'rs', 'json', 'md', 'svelte', 'py']); return { name: `${p.pick(WORDS)}_${n}.${ext}`, ext, size: between(p, 200, 60_000) }; } },
  { folder: 'Archive', weight: 5, sub: (i) => `${2018 + (i % 7)}`,
    file: (p, n) => { const ext = p.pick(['zip', 'tar.gz', '7z']); return { name: `backup-${2018 + (n % 7)}-${pad((n % 12) + 1, 2)}-${n}.${ext}`, ext, size: between(p, 1_000_000, 4_000_000_000) }; } },
];
const TOTAL_WEIGHT = CATEGORIES.reduce((s, c) => s + c.weight, 0);

/** A stable 64-bit-ish content hash of a sample file (depends on name and size only). */
export function sampleContentHash(name: string, size: number): string {
  let h1 = 0x811c9dc5, h2 = 0x01000193;
  const s = `${name}:${size}`;
  for (let i = 0; i < s.length; i++) {
    h1 = Math.imul(h1 ^ s.charCodeAt(i), 16777619);
    h2 = Math.imul(h2 ^ s.charCodeAt(i), 2246822519);
  }
  return `sample-${(h1 >>> 0).toString(16).padStart(8, '0')}${(h2 >>> 0).toString(16).padStart(8, '0')}`;
}

export function generateSampleLocation(o: SampleOptions): SampleLocation {
  const entries: SampleEntry[] = [];
  const gen = streamSampleLocation(o);
  for (let r = gen.next(); ; r = gen.next()) {
    if (r.done) return { location: r.value, root: entries[0]!.uuid, entries };
    entries.push(r.value);
  }
}

/**
 * The same tree, one entry at a time (parents first; the root first of all), so a location of
 * a million files is written in batches without ever holding it whole. Returns the location
 * record (its totals) when done.
 */
export function* streamSampleLocation(o: SampleOptions): Generator<SampleEntry, Fields, void> {
  const p = createPrng(`${o.seed}:${o.locationUuid}`);
  const newUuid = (): string => uuidV4(p.bytes(16));
  const entries: SampleEntry[] = []; // entries made by the current step, yielded at its end
  const oldest = o.now - 3 * YEAR_MS;
  const dir = (name: string, parent: string | null): string => {
    const uuid = newUuid();
    const t = oldest + Math.floor(p.next() * 3 * YEAR_MS);
    entries.push({
      uuid,
      contentHash: null,
      data: { location_uuid: o.locationUuid, parent_uuid: parent, name, kind: 'dir', extension: null, size: 0,
        created_at: t, modified_at: t, content_uuid: null },
    });
    return uuid;
  };
  const root = dir(o.name, null);
  yield* entries.splice(0);
  const catDirs = new Map<number, string>();
  const subDirs = new Map<string, string>();
  const perCat = new Array<number>(CATEGORIES.length).fill(0);
  let bytes = 0;
  for (let n = 0; n < o.count; n++) {
    let r = p.next() * TOTAL_WEIGHT;
    let ci = 0;
    while (ci < CATEGORIES.length - 1 && r >= CATEGORIES[ci]!.weight) r -= CATEGORIES[ci++]!.weight;
    const cat = CATEGORIES[ci]!;
    const k = perCat[ci]!++;
    let catDir = catDirs.get(ci);
    if (!catDir) catDirs.set(ci, (catDir = dir(cat.folder, root)));
    const subKey = `${ci}:${Math.floor(k / FOLDER_SIZE)}`;
    let sub = subDirs.get(subKey);
    if (!sub) subDirs.set(subKey, (sub = dir(cat.sub(Math.floor(k / FOLDER_SIZE)), catDir)));
    const f = cat.file(p, k);
    const created = oldest + Math.floor(p.next() * 3 * YEAR_MS);
    const modified = Math.min(o.now, created + Math.floor(p.next() * 30 * 24 * 3600 * 1000));
    const hash = sampleContentHash(f.name, f.size);
    bytes += f.size;
    entries.push({
      uuid: newUuid(),
      contentHash: hash,
      data: { location_uuid: o.locationUuid, parent_uuid: sub, name: f.name, kind: 'file', extension: f.ext,
        size: f.size, created_at: created, modified_at: modified, content_uuid: o.withContent ? contentUuid(hash) : null },
    });
    yield* entries.splice(0);
  }
  const location: Fields = {
    device_uuid: o.owner,
    volume_uuid: o.volumeUuid,
    entry_uuid: root,
    name: o.name,
    path: `sample://${o.seed}/${o.name}`,
    index_mode: 'deep',
    total_file_count: o.count,
    total_byte_size: bytes,
    last_scan_at: o.now,
  };
  return location;
}
