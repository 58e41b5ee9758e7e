/**
 * The syncable models (DESIGN §4): the single source of truth for what each table holds,
 * who may write it, which columns travel and which stay local.
 *
 * Invariants owned here:
 *  - every synced row is keyed by `uuid`; rows refer to each other by uuid only;
 *  - a model is either device-owned (replicated as state, written only by its owner) or
 *    shared (replicated as HLC-stamped field changes, any device may write);
 *  - local-only columns are never sent and are reset to `localDefaults` on receipt;
 *  - `dependsOn` lists the models whose rows this model refers to; apply order follows it.
 *
 * The SQL schema (src/storage/migrations.ts) mirrors these definitions; a test checks that
 * every synced and local column listed here exists in the migrated database.
 */

export type FieldType = 'text' | 'int' | 'bool' | 'uuid' | 'json';

export interface FieldSpec {
  readonly type: FieldType;
  /** May be null (or absent in a shared insert). Required fields must be present and non-null. */
  readonly nullable?: boolean;
  /** For text/json: longest accepted value in characters. Defaults to MAX_TEXT. */
  readonly max?: number;
  /** For text: the value must be one of these. */
  readonly oneOf?: readonly string[];
  /** For text: the whole value must match (anchor it). */
  readonly pattern?: RegExp;
  /** The migration that added the column (migration 1, generated from MODELS, leaves it out). */
  readonly since?: number;
}

export type Ownership = 'device' | 'shared';

export interface ModelSpec {
  readonly name: ModelName;
  readonly table: string;
  readonly ownership: Ownership;
  readonly dependsOn: readonly ModelName[];
  /** Synced fields, excluding `uuid` (always present, always a uuid). */
  readonly fields: Readonly<Record<string, FieldSpec>>;
  /** Local-only columns and the value they take when a row is received or replayed. */
  readonly localDefaults: Readonly<Record<string, string | number | null>>;
  /** Shared records that can never be deleted (a delete is rejected as invalid). */
  readonly undeletable?: true;
  /** SQL condition of the rows a device derives itself (never sent): digests leave them out,
   *  each device deriving them from what the digests do cover. */
  readonly derivedRows?: string;
}

export const MAX_TEXT = 4096;
/** A tag colour: `#rrggbb`, nothing else (it becomes a CSS value). */
export const TAG_COLOR = /^#[0-9a-fA-F]{6}$/;
export const MAX_NOTES = 65536;

export const MODEL_NAMES = [
  'device',
  'volume',
  'location',
  'entry',
  'content_identity',
  'tag',
  'album',
  'album_entry',
  'tag_link',
  'user_metadata',
  'library',
  'forgotten_device',
] as const;
export type ModelName = (typeof MODEL_NAMES)[number];

export const OWNED_MODELS = ['device', 'volume', 'location', 'entry'] as const;
export type OwnedModelName = (typeof OWNED_MODELS)[number];
export const SHARED_MODELS = [
  'content_identity',
  'tag',
  'album',
  'album_entry',
  'tag_link',
  'user_metadata',
  'library',
  'forgotten_device',
] as const;
export type SharedModelName = (typeof SHARED_MODELS)[number];

const text = (extra: Omit<FieldSpec, 'type'> = {}): FieldSpec => ({ type: 'text', ...extra });
const int = (extra: Omit<FieldSpec, 'type'> = {}): FieldSpec => ({ type: 'int', ...extra });
const uuid = (extra: Omit<FieldSpec, 'type'> = {}): FieldSpec => ({ type: 'uuid', ...extra });
const bool = (extra: Omit<FieldSpec, 'type'> = {}): FieldSpec => ({ type: 'bool', ...extra });
const nullable = { nullable: true } as const;

export const MODELS: Readonly<Record<ModelName, ModelSpec>> = {
  device: {
    name: 'device',
    table: 'devices',
    ownership: 'device',
    dependsOn: [],
    fields: {
      name: text({ max: 200 }),
      slug: text({ max: 200 }),
      os: text({ max: 200 }),
      browser: text({ max: 200 }),
      created_at: int(),
    },
    localDefaults: { is_online: 0, last_seen: null },
  },
  volume: {
    name: 'volume',
    table: 'volumes',
    ownership: 'device',
    dependsOn: ['device'],
    fields: {
      device_uuid: uuid(),
      name: text({ max: 200 }),
      kind: text({ oneOf: ['browser', 'picked', 'sample'] }),
      total_capacity: int(nullable),
      available_capacity: int(nullable),
    },
    localDefaults: { is_online: 0, tracked_at: null },
  },
  location: {
    name: 'location',
    table: 'locations',
    ownership: 'device',
    dependsOn: ['device', 'volume'],
    fields: {
      device_uuid: uuid(),
      volume_uuid: uuid(nullable),
      entry_uuid: uuid(nullable),
      name: text({ max: 200 }),
      path: text(),
      index_mode: text({ oneOf: ['shallow', 'content', 'deep'] }),
      total_file_count: int(),
      total_byte_size: int(),
      last_scan_at: int(nullable),
    },
    localDefaults: { scan_state: 'pending', error_message: null },
  },
  entry: {
    name: 'entry',
    table: 'entries',
    ownership: 'device',
    dependsOn: ['location', 'content_identity'],
    fields: {
      location_uuid: uuid(),
      parent_uuid: uuid(nullable),
      name: text({ max: 1024 }),
      kind: text({ oneOf: ['file', 'dir'] }),
      extension: text({ max: 64, ...nullable }),
      size: int(),
      created_at: int(nullable),
      modified_at: int(nullable),
      content_uuid: uuid(nullable),
      // media metadata read at indexing (EXIF, image headers): migration 6
      taken_at: int({ ...nullable, since: 6 }),
      width: int({ ...nullable, since: 6 }),
      height: int({ ...nullable, since: 6 }),
      camera_make: text({ max: 200, ...nullable, since: 6 }),
      camera_model: text({ max: 200, ...nullable, since: 6 }),
    },
    localDefaults: { indexed_at: null },
  },
  content_identity: {
    name: 'content_identity',
    table: 'content_identities',
    ownership: 'shared',
    dependsOn: [],
    // derived from the entries a device holds (migration 8); shared records are the stamped ones
    derivedRows: "_hlcs = '{}'",
    fields: {
      content_hash: text({ max: 128 }),
      mime_type: text({ max: 200, ...nullable }),
      kind: text({ max: 64, ...nullable }),
      total_size: int(),
    },
    localDefaults: {},
  },
  tag: {
    name: 'tag',
    table: 'tags',
    ownership: 'shared',
    dependsOn: [],
    fields: {
      canonical_name: text({ max: 200 }),
      display_name: text({ max: 200 }),
      namespace: text({ max: 200, ...nullable }),
      tag_type: text({ oneOf: ['standard', 'organizational', 'privacy', 'system'] }),
      // Rendered as a CSS value on every device: only `#rrggbb` (a member could otherwise
      // set `red;position:fixed;inset:0` or a `url(…)` fetched by every device).
      color: text({ max: 7, pattern: TAG_COLOR, ...nullable }),
      privacy_level: text({ oneOf: ['normal', 'archive', 'hidden'] }),
      search_weight: int(),
      created_by_device: uuid(),
    },
    localDefaults: {},
  },
  album: {
    name: 'album',
    table: 'albums',
    ownership: 'shared',
    dependsOn: [],
    fields: {
      name: text({ max: 200 }),
      description: text({ max: MAX_TEXT, ...nullable }),
      created_by_device: uuid(),
    },
    localDefaults: {},
  },
  album_entry: {
    name: 'album_entry',
    table: 'album_entries',
    ownership: 'shared',
    dependsOn: ['album', 'entry'],
    fields: {
      album_uuid: uuid(),
      entry_uuid: uuid(),
      added_at: int(),
      active: bool(),
    },
    localDefaults: {},
  },
  tag_link: {
    name: 'tag_link',
    table: 'tag_links',
    ownership: 'shared',
    dependsOn: ['tag', 'entry', 'content_identity'],
    fields: {
      tag_uuid: uuid(),
      target_uuid: uuid(),
      target_kind: text({ oneOf: ['entry', 'content'] }),
      source: text({ oneOf: ['user', 'import', 'sync'] }),
      applied_by_device: uuid(),
      active: bool(),
    },
    localDefaults: {},
  },
  user_metadata: {
    name: 'user_metadata',
    table: 'user_metadata',
    ownership: 'shared',
    dependsOn: ['entry', 'content_identity'],
    fields: {
      entry_uuid: uuid(nullable),
      content_uuid: uuid(nullable),
      notes: text({ max: MAX_NOTES, ...nullable }),
      favorite: bool(),
      hidden: bool(),
      custom_data: { type: 'json', nullable: true, max: MAX_TEXT },
    },
    localDefaults: {},
  },
  // The library itself, one record keyed by the library's uuid: its name, last writer wins.
  // Never deleted: a delete would silence every later rename for good (tombstones are sticky).
  library: {
    name: 'library',
    table: 'libraries',
    ownership: 'shared',
    dependsOn: [],
    fields: {
      name: text({ max: 200 }),
    },
    localDefaults: {},
    undeletable: true,
  },
  // A device some member forgot (uuid = that device). Applying it removes the device and all
  // it owns and rejects whatever it owns that arrives later, from any peer (core/apply.ts I7).
  // Never deleted: a forget cannot be taken back (the device rejoins as a new one).
  forgotten_device: {
    name: 'forgotten_device',
    table: 'forgotten_devices',
    ownership: 'shared',
    dependsOn: [],
    fields: {
      forgotten_by: uuid(),
      forgotten_at: int(),
    },
    localDefaults: {},
    undeletable: true,
  },
};

export const isModelName = (x: unknown): x is ModelName =>
  typeof x === 'string' && (MODEL_NAMES as readonly string[]).includes(x);
export const isOwnedModel = (x: unknown): x is OwnedModelName =>
  typeof x === 'string' && (OWNED_MODELS as readonly string[]).includes(x);
export const isSharedModel = (x: unknown): x is SharedModelName =>
  typeof x === 'string' && (SHARED_MODELS as readonly string[]).includes(x);

/** Synced column names of a model, `uuid` first, in a stable order (digest, wire, SQL). */
export const syncedColumns = (model: ModelName): readonly string[] => [
  'uuid',
  ...Object.keys(MODELS[model].fields),
];

/** Models ordered so that every model comes after the models it depends on. */
export const MODELS_IN_DEPENDENCY_ORDER: readonly ModelName[] = (() => {
  const out: ModelName[] = [];
  const visit = (m: ModelName, path: readonly ModelName[]): void => {
    if (out.includes(m)) return;
    if (path.includes(m)) throw new Error(`model dependency cycle: ${[...path, m].join(' → ')}`);
    for (const d of MODELS[m].dependsOn) visit(d, [...path, m]);
    out.push(m);
  };
  // Visit in declaration order so the result is deterministic on every device.
  for (const m of MODEL_NAMES) visit(m, []);
  return out;
})();
