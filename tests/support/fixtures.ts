// Shared helpers for Node suites: a fake clock, deterministic uuids and HLCs, change builders.
import type { Change, Fields, OwnedChange, OwnedState, SharedChange } from '../../src/core/change.ts';
import { createHlcClock, type HlcClock } from '../../src/core/hlc.ts';
import type { OwnedModelName, SharedModelName } from '../../src/core/models.ts';
import { createPrng } from '../../src/core/prng.ts';
import { uuidV4 } from '../../src/core/uuid.ts';

export function uuidFactory(seed: string): () => string {
  const p = createPrng(seed);
  return () => uuidV4(p.bytes(16));
}

export function fakeTime(start = 1_750_000_000_000): { now: () => number; advance: (ms: number) => void; set: (t: number) => void } {
  let t = start;
  return { now: () => t, advance: (ms) => void (t += ms), set: (v) => void (t = v) };
}

export interface TestDevice {
  readonly uuid: string;
  readonly clock: HlcClock;
  owned(model: OwnedModelName, uuid: string, data: Fields): OwnedState;
  tombstone(model: OwnedModelName, uuid: string): OwnedChange;
  shared(model: SharedModelName, uuid: string, op: SharedChange['op'], fields?: Fields): SharedChange;
}

export function testDevice(uuid: string, now: () => number): TestDevice {
  const clock = createHlcClock({ device: uuid, now });
  return {
    uuid,
    clock,
    owned: (model, id, data) => ({ kind: 'owned', model, owner: uuid, uuid: id, hlc: clock.next(), data }),
    tombstone: (model, id) => ({ kind: 'owned', model, owner: uuid, uuid: id, hlc: clock.next(), deleted: true }),
    shared: (model, id, op, fields = {}) => ({ kind: 'shared', model, uuid: id, hlc: clock.next(), op, fields }),
  };
}

export const deviceData = (name: string): Fields => ({ name, slug: name.toLowerCase(), os: 'Linux', browser: 'Chromium', created_at: 1 });
export const locationData = (owner: string, name: string, root: string | null = null): Fields => ({
  device_uuid: owner, volume_uuid: null, entry_uuid: root, name, path: `/${name}`, index_mode: 'deep',
  total_file_count: 0, total_byte_size: 0, last_scan_at: null,
});
export const entryData = (location: string, name: string, parent: string | null = null, kind: 'file' | 'dir' = 'file'): Fields => ({
  location_uuid: location, parent_uuid: parent, name, kind, extension: kind === 'file' ? (name.split('.').pop() ?? null) : null,
  size: kind === 'file' ? 1234 : 0, created_at: 1, modified_at: 2, content_uuid: null,
  taken_at: null, width: null, height: null, camera_make: null, camera_model: null,
});
export const tagFields = (name: string, by: string, extra: Fields = {}): Fields => ({
  canonical_name: name.toLowerCase(), display_name: name, namespace: null, tag_type: 'standard', color: '#3b82f6',
  privacy_level: 'normal', search_weight: 100, created_by_device: by, ...extra,
});

export type { Change };
