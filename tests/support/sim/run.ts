/**
 * One simulated run for a seed: random operations on every model by 2–6 devices with skewed,
 * jumping and backwards clocks over a lossy, duplicating, reordering, partitioning network,
 * with kills, restarts and a late joiner — then heal and check the invariants.
 */
import type { SqlJsStatic } from 'sql.js';
import type { Fields, SharedChange } from '../../../src/core/change.ts';
import { hlcDevice, hlcWall } from '../../../src/core/hlc.ts';
import { isOwnedModel, MODELS, type OwnedModelName } from '../../../src/core/models.ts';
import { createPrng, type Prng } from '../../../src/core/prng.ts';
import { albumEntryUuid, contentUuid, tagLinkUuid, userMetadataUuid, uuidV4 } from '../../../src/core/uuid.ts';
import { allAcks, createExtractor, forEachEntry, metaMap, ownedMapName, parseAck } from '../../../src/sync/doc.ts';
import { HORIZON_KEY } from '../../../src/sync/engine.ts';
import { MAX_DRIFT, SimDevice, SYNCED_TABLES, World } from './world.ts';

export interface RunOptions {
  readonly steps?: number;
}

export interface RunReport {
  readonly seed: number;
  readonly devices: number;
  readonly steps: number;
  readonly kills: number;
  readonly failures: string[];
  /** shared-log entries devices wrote back after concurrent compactions (engine E7) */
  readonly restored: number;
  /** tombstones pruned (compaction.ts C10), and deletes written again because a device that
   *  never saw one wrote the record again (engine E8) */
  readonly pruned: number;
  readonly reasserted: number;
  /** end state and traffic of the run (digests, network counters, stamps issued): equal
   *  fingerprints for one seed mean the run replayed exactly */
  readonly fingerprint: string;
}

const COLORS = ['#e03131', '#2f9e44', '#1971c2', '#f08c00', null];
const NAMES = ['Vacation', 'Work', 'Family', 'Receipts', 'Music'];

export async function runSeed(SQL: SqlJsStatic, seed: number, opts: RunOptions = {}): Promise<RunReport> {
  const p = createPrng(`sim:${seed}`);
  const faults = { drop: p.pick([0, 0.05, 0.2]), duplicate: p.pick([0, 0.05, 0.2]), reorder: p.pick([0, 0.3, 1]), delay: p.pick([0, 0, 0.1]) };
  const world = new World(SQL, p, faults);
  world.pageRows = p.pick([1, 3, 2000]);
  // automatic compaction (engine.ts E6), often and at random moments: its own prng, so the
  // rest of a seed's schedule draws what it drew before
  const pc = createPrng(`sim-compact:${seed}`);
  world.autoCompact = { every: pc.pick([0, 1, 2, 5, 64]), delayMs: pc.pick([0, 500, 3000]) };
  const uuid = (): string => uuidV4(p.bytes(16));
  const n = p.int(2, 6);
  for (let i = 0; i < n; i++) {
    const skew = i === n - 1 && p.chance(0.3) ? 86_400_000 : p.int(-120_000, 120_000); // one may be a day ahead
    await world.addDevice(uuid(), skew);
  }
  // the pruning horizon (compaction.ts C10): the default (nobody is left out in a run's
  // minutes), or short enough that a device kept apart for a while is pruned past; its own
  // prng, so the rest of a seed's schedule draws what it drew before
  const horizon = createPrng(`sim-horizon:${seed}`).pick([null, null, 0.0005, 0.002]);
  if (horizon !== null) await world.devices[0]!.live!.engine.setMeta(HORIZON_KEY, horizon);
  const known = { tags: [] as string[], albums: [] as string[], contents: [] as string[] };
  const library = uuid(); // the library record every device renames (issue 13: its name, LWW)
  const drawn = p.int(30, 90); // always drawn, so a shorter run replays the same prefix
  const steps = Math.min(drawn, opts.steps ?? drawn);
  let kills = 0;
  let lateJoiner: SimDevice | null = null;

  const ownRow = async (d: SimDevice, table: string, id: string): Promise<Fields | null> => {
    const r = (await d.rows(`SELECT * FROM ${table} WHERE uuid = ?`, [id]))[0];
    return r ?? null;
  };
  const synced = (model: OwnedModelName, row: Fields): Fields => Object.fromEntries(Object.keys(MODELS[model].fields).map((f) => [f, row[f] ?? null]));
  // A person's act as the intents make it: on what this device shows. An edit or a delete is
  // of a record it holds, and an edit of a record it holds a tombstone for is refused before
  // anything is written (intents `refuseDeleted`) — once that tombstone is pruned from the
  // document (compaction.ts C10) it would come back as a partial record.
  const act = async (d: SimDevice, c: SharedChange | Promise<SharedChange>): Promise<void> => {
    const x = await c;
    if (x.op !== 'delete' && (await d.rows('SELECT 1 FROM tombstones WHERE model = ? AND uuid = ?', [x.model, x.uuid])).length) return;
    if (x.op !== 'insert' && !(await d.rows(`SELECT 1 FROM ${MODELS[x.model].table} WHERE uuid = ?`, [x.uuid])).length) return;
    await d.write([x]);
  };
  const allEntries = async (d: SimDevice): Promise<string[]> => (await d.rows('SELECT uuid FROM entries')).map((r) => String(r['uuid']));

  for (let step = 0; step < steps; step++) {
    world.time += p.int(0, 3000);
    const live = world.live();
    const r = p.next();
    if (r < 0.1) {
      world.net.deliver(p.int(1, 20));
      await world.idle();
      continue;
    }
    if (r < 0.14) {
      const [a, b] = [p.pick(world.devices), p.pick(world.devices)];
      world.net.setLink(a.id, b.id, p.chance(0.5));
      continue;
    }
    if (r < 0.17) {
      world.net.isolate(p.pick(world.devices).id, p.chance(0.5));
      continue;
    }
    if (r < 0.21) {
      const d = p.pick(world.devices);
      if (d.live && live.length > 1) {
        // Pages in flight: pulls planned, some messages delivered, some pages being applied
        for (const x of live) x.live!.stream.poke();
        world.hub.deliver(p.int(0, 6));
        for (let i = p.int(0, 3); i > 0; i--) await Promise.resolve();
        if (p.chance(0.5)) {
          // Kill in the middle of a write: the update may already be on the network while
          // its commit (and the clock lease) is still in flight.
          const t = d.shared('tag', uuid(), 'insert', { canonical_name: 'x', display_name: 'X', namespace: null, tag_type: 'standard', color: null, privacy_level: 'normal', search_weight: 1, created_by_device: d.id });
          const inFlight = d.live.engine.write([t]).catch(() => undefined);
          for (let i = p.int(0, 6); i > 0; i--) await Promise.resolve();
          world.net.deliver(p.int(0, 3));
          await d.kill();
          void inFlight;
          if (p.chance(0.5)) {
            d.skew -= p.int(0, 5000); // restarted at once, with a wall clock that stepped back
            await d.start();
          }
        } else await d.kill();
        kills++;
      } else if (!d.live) await d.start();
      continue;
    }
    if (r < 0.23) {
      p.pick(world.devices).skew += p.int(-30_000, 30_000); // clocks jump, also backwards
      continue;
    }
    if (r < 0.24 && !lateJoiner && world.devices.length < 7) {
      lateJoiner = await world.addDevice(uuid(), p.int(-60_000, 60_000));
      continue;
    }
    if (!live.length) continue;
    const d = p.pick(live);
    const op = p.int(0, 19);
    const entries = await allEntries(d);
    switch (op) {
      case 0: {
        await d.write([d.owned('device', d.id, { name: `Dev ${p.int(1, 99)}`, slug: 'dev', os: 'Linux', browser: 'Chrome', created_at: 1 })]);
        break;
      }
      case 1: {
        const loc = uuid();
        const root = uuid();
        const changes = [d.owned('entry', root, entry(loc, null, 'root', 'dir'))];
        for (let i = 0; i < p.int(0, 6); i++) changes.push(d.owned('entry', uuid(), entry(loc, root, `f${i}.txt`, 'file')));
        const vols = await d.rows('SELECT uuid FROM volumes WHERE _owner = ?', [d.id]);
        const vol = vols.length && p.chance(0.7) ? String(p.pick(vols)['uuid']) : null;
        changes.push(d.owned('location', loc, { device_uuid: d.id, volume_uuid: vol, entry_uuid: root, name: `L${p.int(1, 99)}`, path: '/x', index_mode: 'deep', total_file_count: changes.length - 1, total_byte_size: 0, last_scan_at: null }));
        await d.write(p.chance(0.5) ? changes : changes.reverse());
        break;
      }
      case 2: {
        const mine = await d.rows('SELECT uuid FROM locations WHERE _owner = ?', [d.id]);
        if (mine.length) await d.write([d.tombstone('location', String(p.pick(mine)['uuid']))]);
        break;
      }
      case 3: {
        const mine = await d.rows('SELECT uuid FROM entries WHERE _owner = ?', [d.id]);
        if (!mine.length) break;
        const id = String(p.pick(mine)['uuid']);
        const row = await ownRow(d, 'entries', id);
        if (!row) break;
        await d.write([p.chance(0.3) ? d.tombstone('entry', id) : d.owned('entry', id, { ...synced('entry', row), size: p.int(0, 1e6), name: `renamed${p.int(1, 9)}.txt` })]);
        break;
      }
      case 4: {
        const id = p.chance(0.3) && known.tags.length ? p.pick(known.tags) : uuid();
        if (!known.tags.includes(id)) known.tags.push(id);
        const name = p.pick(NAMES);
        await act(d, d.shared('tag', id, 'insert', { canonical_name: name.toLowerCase(), display_name: name, namespace: null, tag_type: 'standard', color: p.pick(COLORS), privacy_level: 'normal', search_weight: 100, created_by_device: d.id }));
        break;
      }
      case 5:
      case 6: {
        if (!known.tags.length) break;
        const fields: Fields = p.chance(0.5) ? { color: p.pick(COLORS) } : p.chance(0.5) ? { display_name: `${p.pick(NAMES)}!` } : { namespace: `ns${p.int(1, 3)}`, search_weight: p.int(0, 9) };
        await act(d, await d.sharedAbove('tag', p.pick(known.tags), 'update', fields)); // edited as seen (DESIGN §5.1)
        break;
      }
      case 7: {
        if (known.tags.length) await act(d, d.shared('tag', p.pick(known.tags), 'delete'));
        break;
      }
      case 8: {
        const id = uuid();
        known.albums.push(id);
        await act(d, d.shared('album', id, 'insert', { name: `Album ${p.int(1, 9)}`, description: null, created_by_device: d.id }));
        break;
      }
      case 9: {
        if (!known.albums.length || !entries.length) break;
        const album = p.pick(known.albums);
        const e = p.pick(entries);
        await act(d, d.shared('album_entry', albumEntryUuid(album, e), p.chance(0.7) ? 'insert' : 'update', p.chance(0.7) ? { album_uuid: album, entry_uuid: e, added_at: world.time, active: true } : { active: p.chance(0.5) }));
        break;
      }
      case 10: {
        // a tag on a file or on a content identity (all copies of a file)
        const onContent = known.contents.length > 0 && p.chance(0.3);
        if (!known.tags.length || (!entries.length && !onContent)) break;
        const tag = p.pick(known.tags);
        const target = onContent ? p.pick(known.contents) : p.pick(entries);
        const link = tagLinkUuid(tag, target);
        await act(d, p.chance(0.6)
          ? d.shared('tag_link', link, 'insert', { tag_uuid: tag, target_uuid: target, target_kind: onContent ? 'content' : 'entry', source: 'user', applied_by_device: d.id, active: true })
          : d.shared('tag_link', link, 'update', { active: p.chance(0.5) }));
        break;
      }
      case 11:
      case 12: {
        // notes and favourite, often on the same file from several devices
        const onContent = known.contents.length > 0 && p.chance(0.2);
        if (!entries.length && !onContent) break;
        const target = onContent ? p.pick(known.contents) : p.pick(entries);
        const fields: Fields = op === 11 ? { notes: `note ${p.int(1, 999)}` } : { favorite: p.chance(0.5) };
        const id = userMetadataUuid(target);
        await act(d, p.chance(0.5)
          ? d.shared('user_metadata', id, 'insert', { entry_uuid: onContent ? null : target, content_uuid: onContent ? target : null, notes: null, favorite: false, hidden: false, custom_data: null, ...fields })
          : d.shared('user_metadata', id, 'update', fields));
        break;
      }
      case 13: {
        const hash = `h${p.int(1, 20)}`;
        const id = contentUuid(hash);
        known.contents.push(id);
        await act(d, d.shared('content_identity', id, 'insert', { content_hash: hash, mime_type: 'text/plain', kind: 'text', total_size: 10 }));
        break;
      }
      case 14: {
        if (known.albums.length && p.chance(0.3)) await act(d, d.shared('album', p.pick(known.albums), 'delete'));
        else if (known.albums.length) await act(d, await d.sharedAbove('album', p.pick(known.albums), 'update', { name: `Renamed ${p.int(1, 9)}` }));
        break;
      }
      case 15: {
        await d.live!.engine.compact();
        break;
      }
      case 17: {
        // a hostile member: an entry of its own stream written into another device's location;
        // every device must reject it the same way, whatever arrives first (DESIGN §5.6)
        const theirs = await d.rows('SELECT uuid FROM locations WHERE _owner <> ?', [d.id]);
        if (!theirs.length) break;
        await d.write([d.owned('entry', uuid(), entry(String(p.pick(theirs)['uuid']), null, `planted${p.int(1, 9)}.txt`, 'file'))]);
        break;
      }
      case 18: {
        // the library's name, renamed as seen (concurrent renames converge on the last); a
        // delete of it is invalid on every device (the record is undeletable)
        if (p.chance(0.1)) await d.write([d.shared('library', library, 'delete')]);
        else await d.write([await d.sharedAbove('library', library, 'update', { name: `Library ${p.int(1, 99)}` })]);
        break;
      }
      case 19: {
        // a member forgets another device (issue 13), which may be live, paused behind a
        // partition, killed, or come back later and keep writing its own rows: none of them
        // may come back anywhere (core/apply.ts I7)
        const others = world.devices.filter((x) => x !== d);
        if (!others.length || !p.chance(0.4)) break;
        const gone = p.pick(others);
        await d.write([d.shared('forgotten_device', gone.id, 'insert', { forgotten_by: d.id, forgotten_at: world.time })]);
        break;
      }
      case 16: {
        // volumes: add, update capacity, or delete one of this device's
        const mine = await d.rows('SELECT uuid FROM volumes WHERE _owner = ?', [d.id]);
        const k = p.next();
        if (!mine.length || k < 0.4) {
          await d.write([d.owned('volume', uuid(), { device_uuid: d.id, name: `Vol ${p.int(1, 9)}`, kind: p.pick(['browser', 'picked', 'sample']), total_capacity: p.int(0, 1e9), available_capacity: null })]);
        } else {
          const id = String(p.pick(mine)['uuid']);
          const row = await ownRow(d, 'volumes', id);
          if (!row) break;
          await d.write([k < 0.8 ? d.owned('volume', id, { ...synced('volume', row), available_capacity: p.int(0, 1e9) }) : d.tombstone('volume', id)]);
        }
        break;
      }
    }
    if (p.chance(0.5)) {
      world.net.deliver(p.int(0, 10));
      await world.idle();
    }
  }

  await world.heal();
  // A late joiner that never saw anything must end equal too (backfill through compaction).
  const fresh = await world.addDevice(uuid(), 0);
  await world.heal();
  void fresh;
  // one more compaction once everything is known, so that what forgotten devices left in the
  // document must be gone from every document after healing (compaction.ts C7)
  const compactor = world.live().find((x) => x.id !== fresh.id);
  if (compactor) {
    await compactor.live!.engine.compact();
    await world.heal();
  }
  const failures = await checkInvariants(world);
  if (compactor) failures.push(...(await forgottenLeftovers(world)));
  if (world.healRounds < 0) {
    const busy = world.live().map((d) => {
      const s = d.live!.engine.stats();
      return `${d.id.slice(0, 8)} restored ${s.restored} pruned ${s.pruned} reasserted ${s.reasserted} compactions ${s.autoCompactions} stream ${d.live!.stream.busy() ? 'busy' : 'idle'}`;
    });
    failures.push(`the network never became quiescent after healing (20 rounds): net ${world.net.pending()}, timers ${world.timers.pending()}, hub ${world.hub.pending()}, marks agree ${world.marksAgree()}; ${busy.join('; ')}`);
  }
  const live = world.live();
  const restored = live.reduce((n, d) => n + d.live!.engine.stats().restored, 0);
  const pruned = live.reduce((n, d) => n + d.live!.engine.stats().pruned, 0);
  const reasserted = live.reduce((n, d) => n + d.live!.engine.stats().reasserted, 0);
  const fingerprint = JSON.stringify({
    digest: live.length ? await live[0]!.digest() : null,
    net: world.net.stats(),
    issued: world.devices.map((d) => d.history.map((h) => h.length)),
    heal: world.healRounds,
  });
  await world.dispose();
  return { seed, devices: world.devices.length, steps, kills, failures, restored, pruned, reasserted, fingerprint };
}

/**
 * Issue 11 item 6 (DESIGN §5.1): a device a day ahead creates a tag; others rename it after
 * seeing it — one of them across a restart — over a seeded faulty network. Every rename made
 * after seeing the previous one wins on every device, and every invariant of a random run
 * holds (no clock dragged ahead, stamps unique and increasing, convergence).
 */
export async function runSkewedRename(SQL: SqlJsStatic, seed: number): Promise<{ failures: string[] }> {
  const p = createPrng(`skewed-rename:${seed}`);
  const faults = { drop: p.pick([0, 0.05]), duplicate: p.pick([0, 0.1]), reorder: p.pick([0, 0.5]), delay: 0 };
  const world = new World(SQL, p, faults);
  const uuid = (): string => uuidV4(p.bytes(16));
  const ahead = await world.addDevice(uuid(), 86_400_000);
  const others = [await world.addDevice(uuid(), p.int(-120_000, 120_000)), await world.addDevice(uuid(), p.int(-120_000, 120_000))];
  const failures: string[] = [];
  const tag = uuid();
  const nameOn = async (d: SimDevice): Promise<unknown> => (await d.rows('SELECT display_name FROM tags WHERE uuid = ?', [tag]))[0]?.['display_name'];
  const everywhere = async (name: string, when: string): Promise<void> => {
    await world.heal();
    for (const d of world.live()) {
      const got = await nameOn(d);
      if (got !== name) failures.push(`${when}: ${d.id.slice(0, 8)} shows ${String(got)}, not ${name}`);
    }
  };
  const rename = async (d: SimDevice, name: string): Promise<void> => {
    world.time += p.int(1, 5000);
    await d.write([await d.sharedAbove('tag', tag, 'update', { display_name: name, canonical_name: name.toLowerCase() })]);
  };
  await ahead.write([ahead.shared('tag', tag, 'insert', { canonical_name: 'vacation', display_name: 'Vacation', namespace: null, tag_type: 'standard', color: null, privacy_level: 'normal', search_weight: 100, created_by_device: ahead.id })]);
  await everywhere('Vacation', 'created a day ahead');
  const [b, c] = [others[0]!, others[1]!];
  await rename(b, 'Holiday');
  await everywhere('Holiday', 'renamed after seeing it');
  await rename(b, 'Holidays'); // the same device again: above its own ahead-lane stamp
  await everywhere('Holidays', 'renamed twice');
  await b.kill();
  await b.start();
  await rename(b, 'Trips'); // after a restart: the lane resumes above what it issued
  await everywhere('Trips', 'renamed after a restart');
  await rename(c, 'Journeys');
  await everywhere('Journeys', 'renamed by a third device');
  await rename(ahead, 'Away'); // the device ahead edits after seeing the others' renames
  await everywhere('Away', 'renamed back on the device ahead');
  await rename(c, 'Travel');
  await everywhere('Travel', 'renamed again after that');
  failures.push(...(await checkInvariants(world)));
  // ahead-lane stamps this device issued are distinct (a shared key per change)
  for (const d of world.live()) {
    const mine: string[] = [];
    forEachEntry(d.live!.doc, (_v, k) => {
      if (hlcDevice(k) === d.id) mine.push(k);
    });
    if (new Set(mine).size !== mine.length) failures.push(`${d.id.slice(0, 8)}: a stamp issued twice`);
  }
  await world.dispose();
  return { failures };
}

/** A file's content is one of the hashes op 13 makes shared records of, chosen by its name (no
 *  draw of the PRNG: a seed's operations stay what they were): every device derives content
 *  identities from the entries it holds, beside and under the shared ones (migration 8). */
function entry(location: string, parent: string | null, name: string, kind: 'file' | 'dir'): Fields {
  const content = kind === 'file' ? contentUuid(`h${([...name].reduce((s, c) => s + c.charCodeAt(0), 0) % 20) + 1}`) : null;
  return { location_uuid: location, parent_uuid: parent, name, kind, extension: kind === 'file' ? 'txt' : null, size: 1, created_at: 1, modified_at: 1, content_uuid: content };
}

/** Shrinks a failing seed to the shortest prefix of its operations that still fails. */
export async function shrinkSeed(SQL: SqlJsStatic, seed: number, steps: number): Promise<{ steps: number; failures: string[] }> {
  let lo = 0;
  let hi = steps;
  let best = (await runSeed(SQL, seed, { steps })).failures;
  while (lo + 1 < hi) {
    const mid = (lo + hi) >> 1;
    const r = await runSeed(SQL, seed, { steps: mid });
    if (r.failures.length) {
      hi = mid;
      best = r.failures;
    } else lo = mid;
  }
  return { steps: hi, failures: best };
}

export async function checkInvariants(world: World): Promise<string[]> {
  const failures: string[] = [];
  const devices = world.live();
  const digests = await Promise.all(devices.map((d) => d.digest()));
  const first = JSON.stringify(digests[0]);
  digests.forEach((dg, i) => {
    if (JSON.stringify(dg) !== first) {
      const diff = SYNCED_TABLES.filter((t) => dg[t] !== digests[0]![t]);
      failures.push(`digest of ${devices[i]!.id.slice(0, 8)} differs from ${devices[0]!.id.slice(0, 8)} in ${diff.join(', ')}`);
    }
  });
  // The stream: every device holds every owner's rows up to the same watermark, each row and
  // delete with the seq its owner gave it.
  if (!world.marksAgree()) failures.push(`watermarks differ: ${devices.map((d) => JSON.stringify(d.live!.stream.marks())).join(' ')}`);
  const seqs = await Promise.all(devices.map(async (d) => JSON.stringify(await Promise.all(['volumes', 'locations', 'entries'].map((t) => d.rows(`SELECT uuid, _owner, _seq FROM ${t} ORDER BY uuid`))))));
  seqs.forEach((x, i) => {
    if (x !== seqs[0]) failures.push(`row seqs of ${devices[i]!.id.slice(0, 8)} differ from ${devices[0]!.id.slice(0, 8)}`);
  });
  // Owned records' tombstones agree everywhere. A shared record's need not: once every device
  // has seen its delete, the tombstone leaves the document (compaction.ts C10), and a device
  // that never held the record never learns of it. What must hold is that no device has a
  // record any device deleted (no delete resurrected, below).
  const all = await Promise.all(devices.map((d) => d.rows('SELECT model, uuid, hlc, owner, seq FROM tombstones ORDER BY model, uuid')));
  const tombSets = all.map((ts) => ts.filter((t) => isOwnedModel(t['model'])));
  tombSets.forEach((t, i) => {
    if (JSON.stringify(t) !== JSON.stringify(tombSets[0])) failures.push(`tombstones of ${devices[i]!.id.slice(0, 8)} differ`);
  });
  const deletedAnywhere = new Map<string, { model: string; uuid: string }>();
  for (const ts of all) for (const t of ts) if (!isOwnedModel(t['model'])) deletedAnywhere.set(`${String(t['model'])}:${String(t['uuid'])}`, { model: String(t['model']), uuid: String(t['uuid']) });
  for (const d of devices) {
    for (const { model, uuid } of deletedAnywhere.values()) {
      const table = MODELS[model as keyof typeof MODELS].table;
      if ((await d.rows(`SELECT 1 FROM ${table} WHERE uuid = ?`, [uuid])).length) failures.push(`${d.id.slice(0, 8)}: ${model} ${uuid.slice(0, 8)}, deleted elsewhere, is present (resurrected)`);
    }
  }
  for (const d of devices) {
    for (const t of await d.rows('SELECT model, uuid FROM tombstones')) {
      const table = MODELS[t['model'] as keyof typeof MODELS].table;
      if ((await d.rows(`SELECT 1 FROM ${table} WHERE uuid = ?`, [t['uuid']!])).length) failures.push(`${d.id.slice(0, 8)}: deleted ${String(t['model'])} ${String(t['uuid'])} is present`);
    }
    for (const table of ['volumes', 'locations', 'entries']) {
      const unnumbered = await d.rows(`SELECT uuid FROM ${table} WHERE _seq IS NULL`);
      if (unnumbered.length) failures.push(`${d.id.slice(0, 8)}: ${table} rows without their owner's seq`);
    }
    for (const table of ['devices', 'volumes', 'locations', 'entries']) {
      const bad = await d.rows(`SELECT uuid FROM ${table} WHERE substr(_hlc, 21) <> _owner`);
      if (bad.length) failures.push(`${d.id.slice(0, 8)}: ${table} rows stamped by someone else than their owner`);
    }
    if ((await d.rows('SELECT 1 FROM devices WHERE uuid <> _owner')).length) failures.push(`${d.id.slice(0, 8)}: a device row not owned by itself`);
    if ((await d.rows('SELECT 1 FROM locations WHERE device_uuid <> _owner')).length) failures.push(`${d.id.slice(0, 8)}: a location not owned by its device`);
    if ((await d.rows('SELECT 1 FROM entries e JOIN locations l ON l.uuid = e.location_uuid WHERE l._owner <> e._owner')).length)
      failures.push(`${d.id.slice(0, 8)}: an entry owned by another device than its location`);
    // A forgotten device owns nothing anywhere (I7), whatever it wrote or relayed afterwards.
    for (const f of await d.rows('SELECT uuid FROM forgotten_devices')) {
      const left = await d.rows('SELECT uuid FROM devices WHERE uuid = ?1 UNION ALL SELECT uuid FROM volumes WHERE _owner = ?1 UNION ALL SELECT uuid FROM locations WHERE _owner = ?1 UNION ALL SELECT uuid FROM entries WHERE _owner = ?1 UNION ALL SELECT uuid FROM pending_owned WHERE owner = ?1', [f['uuid']!]);
      if (left.length) failures.push(`${d.id.slice(0, 8)}: forgotten device ${String(f['uuid']).slice(0, 8)} still owns ${left.length} rows`);
    }
    // Migration 8: a content identity is derived for every content an entry names, and a
    // derived one (no field stamps) goes with the last entry naming it.
    if ((await d.rows("SELECT 1 FROM content_identities c WHERE c._hlcs = '{}' AND NOT EXISTS (SELECT 1 FROM entries e WHERE e.content_uuid = c.uuid)")).length)
      failures.push(`${d.id.slice(0, 8)}: a derived content identity no entry names`);
    if ((await d.rows('SELECT 1 FROM entries e WHERE e.content_uuid IS NOT NULL AND NOT EXISTS (SELECT 1 FROM content_identities c WHERE c.uuid = e.content_uuid)')).length)
      failures.push(`${d.id.slice(0, 8)}: an entry's content without its content identity`);
    // DESIGN §5.6: what waits for a location is checked as soon as that location is held.
    if ((await d.rows('SELECT 1 FROM pending_owned p JOIN locations l ON l.uuid = p.location_uuid')).length)
      failures.push(`${d.id.slice(0, 8)}: an entry still waits for a location it holds`);
    // Idempotence: everything in the document applied again changes nothing.
    const all = createExtractor(d.live!.doc).all();
    const again = await d.live!.storage.call('commit', { changes: all.changes, hlc: null });
    if (!again.ok) failures.push(`${d.id.slice(0, 8)}: re-apply failed: ${again.error.message}`);
    else if (again.value.applied !== 0) failures.push(`${d.id.slice(0, 8)}: re-applying the document changed ${again.value.applied} rows`);
    // Acks are well-formed (a stamp, in a segment also the segment and a time: doc.ts D7),
    // and each device acknowledged its own key only.
    allAcks(d.live!.doc).forEach((v, k) => {
      if (!parseAck(v)) failures.push(`${d.id.slice(0, 8)}: ack of ${k.slice(0, 8)} is malformed`);
      if (!world.devices.some((x) => x.id === k)) failures.push(`${d.id.slice(0, 8)}: ack under unknown key ${k.slice(0, 12)}`);
    });
    // No clock dragged into the future by a skewed peer.
    const cur = d.live!.clock.current();
    if (cur && hlcWall(cur) > d.now() + MAX_DRIFT + 60_000) failures.push(`${d.id.slice(0, 8)}: clock dragged ${hlcWall(cur) - d.now()} ms ahead`);
  }
  for (const d of world.devices) {
    d.history.forEach((issued, k) => {
      for (let i = 1; i < issued.length; i++) if (!(issued[i]! > issued[i - 1]!)) failures.push(`${d.id.slice(0, 8)}: HLC went backwards in incarnation ${k}`);
      const boot = d.bootClocks[k];
      if (boot && issued[0] && !(issued[0] > boot)) failures.push(`${d.id.slice(0, 8)}: first stamp after restart ${k} not above the persisted clock`);
      for (let j = 0; j < k; j++) {
        const esc = d.escaped[j];
        if (esc && issued[0] && !(issued[0] > esc)) failures.push(`${d.id.slice(0, 8)}: incarnation ${k} reissued stamps at or below ${esc}, which incarnation ${j} had sent`);
      }
      for (const h of issued) if (hlcDevice(h) !== d.id) failures.push(`${d.id.slice(0, 8)}: issued a stamp of another device`);
    });
    // The ahead lane (nextAbove): strictly increasing, and never at or below a stamp an
    // earlier incarnation had let out (its lease, E3).
    d.historyAhead.forEach((issued, k) => {
      for (let i = 1; i < issued.length; i++) if (!(issued[i]! > issued[i - 1]!)) failures.push(`${d.id.slice(0, 8)}: ahead lane went backwards in incarnation ${k}`);
      for (let j = 0; j < k; j++) {
        const esc = d.escapedAhead[j];
        if (esc && issued[0] && !(issued[0] > esc)) failures.push(`${d.id.slice(0, 8)}: incarnation ${k} reissued ahead-lane stamps at or below ${esc}`);
      }
    });
  }
  return failures;
}

/** What a forgotten device left in a live device's document after a compaction (C7). */
async function forgottenLeftovers(world: World): Promise<string[]> {
  const failures: string[] = [];
  for (const d of world.live()) {
    const doc = d.live!.doc;
    for (const f of await d.rows('SELECT uuid FROM forgotten_devices')) {
      const id = String(f['uuid']);
      const left = [allAcks(doc).has(id) ? 'ack' : '', metaMap(doc).has(`schema:${id}`) || metaMap(doc).has(`key:${id}`) || metaMap(doc).has(`layout:${id}`) ? 'meta' : '',
        doc.share.has(ownedMapName(id)) && doc.getMap(ownedMapName(id)).size ? 'records' : ''].filter(Boolean);
      if (left.length) failures.push(`${d.id.slice(0, 8)}: forgotten device ${id.slice(0, 8)} left its ${left.join(', ')} in the document after compaction`);
    }
  }
  return failures;
}

export type { Prng };
