/**
 * Validation of inbound changes (DESIGN §5.7). Everything a peer, the sync document or the
 * journal hands us is `unknown` until `validateChange` accepts it. Never throws: bad input
 * is an `InvalidChange` value the caller counts and drops.
 */
import type { Change, FieldValue, Fields } from './change.ts';
import { isHlc } from './hlc.ts';
import { isOwnedModel, isSharedModel, MAX_TEXT, MODELS, type FieldSpec, type ModelSpec } from './models.ts';
import { err, ok, type Result, type Typed } from './result.ts';
import { isStreamModel } from './stream.ts';
import { isUuid } from './uuid.ts';

export interface InvalidChange extends Typed<'InvalidChange'> {
  readonly detail: string;
}

const bad = (detail: string): Result<never, InvalidChange> => err({ type: 'InvalidChange', detail });

const isRecord = (x: unknown): x is Record<string, unknown> =>
  typeof x === 'object' && x !== null && !Array.isArray(x);

/** Checks one field value against its spec; returns the normalized value or a reason. */
export function checkField(name: string, spec: FieldSpec, value: unknown): Result<FieldValue, string> {
  if (value === null || value === undefined) {
    return spec.nullable ? ok(null) : err(`${name}: required`);
  }
  switch (spec.type) {
    case 'text':
    case 'json': {
      if (typeof value !== 'string') return err(`${name}: expected text`);
      if (value.length > (spec.max ?? MAX_TEXT)) return err(`${name}: longer than ${spec.max ?? MAX_TEXT}`);
      if (spec.oneOf && !spec.oneOf.includes(value)) return err(`${name}: not one of ${spec.oneOf.join('|')}`);
      if (spec.pattern && !spec.pattern.test(value)) return err(`${name}: not of the form ${spec.pattern.source}`);
      if (spec.type === 'json') {
        try {
          JSON.parse(value);
        } catch {
          return err(`${name}: not JSON`);
        }
      }
      return ok(value);
    }
    case 'int':
      return typeof value === 'number' && Number.isSafeInteger(value) ? ok(value) : err(`${name}: expected integer`);
    case 'bool':
      if (typeof value === 'boolean') return ok(value ? 1 : 0);
      return value === 0 || value === 1 ? ok(value) : err(`${name}: expected boolean`);
    case 'uuid':
      return isUuid(value) ? ok(value) : err(`${name}: expected uuid`);
  }
}

/**
 * A name a newer schema could have given a field or model (models.ts names them so). Data
 * under such a name is a newer device's, not garbage: it is left out, not rejected, and
 * reported, so a device one schema behind applies what it knows and is told to update
 * instead of refusing the whole change (DESIGN §6 "A library over months").
 */
export const NEWER_NAME = /^[a-z][a-z0-9_]{0,62}$/;

/** What a newer schema sent that this one does not know: `model.field`, or `model`. */
export type OnNewer = (what: string) => void;

function checkFields(spec: ModelSpec, raw: unknown, requireAll: boolean, onNewer?: OnNewer): Result<Fields, string> {
  if (!isRecord(raw)) return err('fields: expected an object');
  const out: Record<string, FieldValue> = {};
  for (const key of Object.keys(raw)) {
    if (key in spec.fields) continue;
    if (!NEWER_NAME.test(key)) return err(`unknown field ${key.slice(0, 40)}`);
    onNewer?.(`${spec.name}.${key}`);
  }
  for (const [name, fs] of Object.entries(spec.fields)) {
    if (!(name in raw)) {
      if (requireAll && !fs.nullable) return err(`${name}: required`);
      if (requireAll) out[name] = null;
      continue;
    }
    const v = checkField(name, fs, raw[name]);
    if (!v.ok) return v;
    out[name] = v.value;
  }
  return ok(out);
}

/**
 * `onNewer` hears of fields (and shared models) a newer schema added: their values are left
 * out and the rest of the change is accepted. A shared change of a model this schema does
 * not know at all is still an InvalidChange (nothing here could store it), reported too.
 */
export function validateChange(x: unknown, onNewer?: OnNewer): Result<Change, InvalidChange> {
  if (!isRecord(x)) return bad('not an object');
  const { kind, model, uuid, hlc } = x;
  if (!isUuid(uuid)) return bad('uuid: expected uuid');
  if (!isHlc(hlc)) return bad('hlc: invalid');
  if (kind === 'owned') {
    if (!isOwnedModel(model)) return bad(`model: not a device-owned model (${String(model).slice(0, 40)})`);
    const owner = x['owner'];
    if (!isUuid(owner)) return bad('owner: expected uuid');
    const seq = x['seq'];
    let withSeq: { seq?: number } = {};
    if (seq !== undefined) {
      if (typeof seq !== 'number' || !Number.isSafeInteger(seq) || seq < 1) return bad('seq: expected a positive integer');
      if (!isStreamModel(model)) return bad(`seq: ${model} records do not travel in the stream`);
      withSeq = { seq };
    }
    if ('deleted' in x) {
      if (x['deleted'] !== true || ('data' in x && x['data'] !== undefined)) return bad('tombstone: malformed');
      return ok({ kind, model, owner, uuid, hlc, ...withSeq, deleted: true });
    }
    const data = checkFields(MODELS[model], x['data'], true, onNewer);
    if (!data.ok) return bad(`${model}.${data.error}`);
    return ok({ kind, model, owner, uuid, hlc, ...withSeq, data: data.value });
  }
  if (kind === 'shared') {
    if (!isSharedModel(model)) {
      if (typeof model === 'string' && NEWER_NAME.test(model) && !isOwnedModel(model)) onNewer?.(model);
      return bad(`model: not a shared model (${String(model).slice(0, 40)})`);
    }
    const op = x['op'];
    if (op === 'delete') {
      if (MODELS[model].undeletable) return bad(`${model} records cannot be deleted`);
      if (isRecord(x['fields']) && Object.keys(x['fields']).length > 0) return bad('delete carries fields');
      return ok({ kind, model, uuid, hlc, op, fields: {} });
    }
    if (op !== 'insert' && op !== 'update') return bad('op: expected insert|update|delete');
    let newer = false;
    const fields = checkFields(MODELS[model], x['fields'], op === 'insert', (what) => {
      newer = true;
      onNewer?.(what);
    });
    if (!fields.ok) return bad(`${model}.${fields.error}`);
    if (op === 'update' && Object.keys(fields.value).length === 0) return bad(newer ? 'update sets only fields of a newer schema' : 'update sets no field');
    return ok({ kind, model, uuid, hlc, op, fields: fields.value });
  }
  return bad('kind: expected owned|shared');
}
