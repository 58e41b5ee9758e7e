/**
 * Per-table digest over synced columns (DESIGN §5.8): equal digests ⇔ equal synced rows (up
 * to hash collisions). Order-independent — each row hashes to 64 bits (two 32-bit lanes of
 * a murmur-style mix over a canonical encoding) and the digest is their sum mod 2^64 plus the
 * row count — so a device can stream rows in any order, and bookkeeping (`_hlc`, `_hlcs`,
 * `_owner`) and local-only columns never affect it.
 */
import type { Row } from './apply-store.ts';
import { MODELS, syncedColumns, type ModelName } from './models.ts';

const canonical = (v: unknown): string => {
  if (v === null || v === undefined) return 'n';
  if (typeof v === 'boolean') return `i${v ? 1 : 0}`;
  if (typeof v === 'number') return `i${v}`;
  const s = typeof v === 'string' ? v : JSON.stringify(v);
  return `s${s.length}:${s}`;
};

function hash2(s: string): [number, number] {
  let h1 = 0xdeadbeef ^ s.length;
  let h2 = 0x41c6ce57 ^ s.length;
  for (let i = 0; i < s.length; i++) {
    const ch = s.charCodeAt(i);
    h1 = Math.imul(h1 ^ ch, 2654435761);
    h2 = Math.imul(h2 ^ ch, 1597334677);
  }
  h1 = Math.imul(h1 ^ (h1 >>> 16), 2246822507) ^ Math.imul(h2 ^ (h2 >>> 13), 3266489909);
  h2 = Math.imul(h2 ^ (h2 >>> 16), 2246822507) ^ Math.imul(h1 ^ (h1 >>> 13), 3266489909);
  return [h1 >>> 0, h2 >>> 0];
}

/** Columns added after the first schema (`since`): null there hashes as if the column did not
 *  exist, so a row that does not use it has the digest devices of the previous schema compute. */
const LATER = new Set(Object.values(MODELS).flatMap((m) => Object.entries(m.fields).filter(([, f]) => f.since !== undefined).map(([c]) => `${m.name}.${c}`)));

export function rowHash(model: ModelName, row: Row): [number, number] {
  let s = model;
  for (const col of syncedColumns(model)) {
    const v = row[col];
    if ((v === null || v === undefined) && LATER.has(`${model}.${col}`)) continue;
    s += '|' + canonical(v);
  }
  return hash2(s);
}

export interface Digest {
  add(model: ModelName, row: Row): void;
  value(): string;
}

export function createDigest(): Digest {
  let lo = 0;
  let hi = 0;
  let count = 0;
  return {
    add(model, row) {
      const [a, b] = rowHash(model, row);
      const sum = lo + a;
      lo = sum >>> 0;
      hi = (hi + b + (sum > 0xffffffff ? 1 : 0)) >>> 0;
      count++;
    },
    value: () => `${count}:${hi.toString(16).padStart(8, '0')}${lo.toString(16).padStart(8, '0')}`,
  };
}
