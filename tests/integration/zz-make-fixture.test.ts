// TEMPORARY: produces tests/fixtures/release-0.1.json with the release-0.1 code (commit d9b6ff9).
import { IDBFactory } from 'fake-indexeddb';
import initSqlJs from 'sql.js';
import { writeFileSync } from 'node:fs';
import * as Y from 'yjs';
import { test } from 'vitest';
import { createHlcClock } from '../../src/core/hlc.ts';
import { createInProcessStorage } from '../../src/storage/client.ts';
import { createStorageEngine } from '../../src/storage/engine.ts';
import { createSyncEngine } from '../../src/sync/engine.ts';
import { createIntents } from '../../src/sync/intents.ts';
import { createMemoryNetwork } from '../../src/transport/memory.ts';
import { createPrng } from '../../src/core/prng.ts';
import { uuidV4 } from '../../src/core/uuid.ts';

const enc = (v: unknown): unknown => {
  if (v instanceof Uint8Array) return { $bytes: Buffer.from(v).toString('base64') };
  if (Array.isArray(v)) return v.map(enc);
  if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, enc(x)]));
  return v;
};

async function dump(idb: IDBFactory, name: string): Promise<unknown> {
  const db = await new Promise<IDBDatabase>((res, rej) => { const r = idb.open(name); r.onsuccess = () => res(r.result); r.onerror = () => rej(r.error); });
  const out: Record<string, unknown> = { name, version: db.version };
  for (const s of Array.from(db.objectStoreNames)) {
    const t = db.transaction(s, 'readonly').objectStore(s);
    const keys = await new Promise<IDBValidKey[]>((res) => { const r = t.getAllKeys(); r.onsuccess = () => res(r.result); });
    const vals = await new Promise<unknown[]>((res) => { const r = t.getAll(); r.onsuccess = () => res(r.result); });
    out[s] = { keyPath: t.keyPath, records: keys.map((k, i) => [k, enc(vals[i])]) };
  }
  db.close();
  return out;
}

test('make fixture', async () => {
  const SQL = await initSqlJs();
  const p = createPrng('fixture-0.1');
  const uuid = () => uuidV4(p.bytes(16));
  let t = 1_760_000_000_000;
  const net = createMemoryNetwork(p);
  const mk = async (id: string, name: string) => {
    const idb = new IDBFactory();
    const storageEngine = createStorageEngine({ sql: SQL, idb, now: () => t, imageDebounceMs: 1e9, imageMaxDelayMs: 1e9, imageEveryFrames: 1e9 });
    const storage = createInProcessStorage(storageEngine);
    const boot = await storage.call('open', { dbName: `tabdrive:lib:${id}`, deviceUuid: id });
    if (!boot.ok) throw new Error(boot.error.message);
    const clock = createHlcClock({ device: id, now: () => t, last: boot.value.hlc });
    const doc = new Y.Doc();
    doc.clientID = p.int(1, 0x7fffffff);
    const engine = createSyncEngine({ doc, storage, clock, device: id, now: () => t, schedule: (fn, ms) => { const h = setTimeout(fn, 1); void ms; return () => clearTimeout(h); } });
    engine.boot(boot.value.ydoc);
    net.join(id, doc);
    const readOwned = async (table: string, u: string) => { const r = await storage.call('query', { sql: `SELECT * FROM ${table} WHERE uuid = ?`, params: [u] }); return r.ok ? (r.value[0] ?? null) : null; };
    const intents = createIntents({ writer: engine, clock, device: id, now: () => t, randomUuid: uuid, deviceInfo: { os: 'Linux', browser: 'Chrome' }, readOwned });
    await intents.ensureDevice(name);
    return { id, idb, storage, engine, intents, storageEngine };
  };
  const A = await mk(uuid(), 'Chrome fixture-a');
  const B = await mk(uuid(), 'Chrome fixture-b');
  const sync = async () => { for (let i = 0; i < 3; i++) { net.syncAll(); net.deliver(); await A.engine.idle(); await B.engine.idle(); await new Promise((r) => setTimeout(r, 5)); } };
  t += 1000;
  const la = await A.intents.addSampleLocation('Photos', 300); if (!la.ok) throw new Error('la');
  const lb = await B.intents.addSampleLocation('Docs', 120); if (!lb.ok) throw new Error('lb');
  t += 1000;
  const folder = await A.intents.createFolderLocation('Picked'); if (!folder.ok) throw new Error('f');
  const ents = [0, 1, 2].map((i) => ({ uuid: uuid(), data: { location_uuid: folder.value.location, parent_uuid: folder.value.root, name: `file${i}.txt`, kind: 'file', extension: 'txt', size: 10 + i, created_at: t, modified_at: t, content_uuid: null } }));
  await A.intents.writeFolderEntries(ents, []);
  await A.intents.finishFolderLocation(folder.value.location, { files: 3, bytes: 33 });
  await sync();
  t += 1000;
  const aEntries = await A.storage.call('query', { sql: "SELECT uuid FROM entries WHERE kind = 'file' ORDER BY uuid LIMIT 5", params: [] });
  const bEntries = await B.storage.call('query', { sql: `SELECT uuid FROM entries WHERE kind = 'file' AND _owner = ? ORDER BY uuid LIMIT 3`, params: [B.id] });
  if (!aEntries.ok || !bEntries.ok) throw new Error('q');
  const tag = await A.intents.createTag({ name: 'Vacation', color: '#e03131' }); if (!tag.ok) throw new Error('t');
  const tagB = await B.intents.createTag({ name: 'Work', namespace: 'office' }); if (!tagB.ok) throw new Error('tb');
  const album = await A.intents.createAlbum('Trip 2024'); if (!album.ok) throw new Error('al');
  await A.storageEngine.snapshot(); // an image in the middle: later writes are frames to replay
  t += 1000;
  for (const r of aEntries.value) await A.intents.tagEntry(tag.value.uuid, String(r['uuid']));
  await A.intents.addToAlbum(album.value.uuid, String(aEntries.value[0]!['uuid']));
  await A.intents.setNotes(String(aEntries.value[1]!['uuid']), 'the beach at dawn');
  await A.intents.setFavorite(String(aEntries.value[2]!['uuid']), true);
  await B.intents.tagEntry(tagB.value.uuid, String(bEntries.value[0]!['uuid']));
  await B.intents.setNotes(String(bEntries.value[1]!['uuid']), 'from B');
  await A.intents.deleteEntry(String(aEntries.value[4]!['uuid']));
  await sync();
  await A.engine.idle();
  const digest = await A.storage.call('digest', {});
  const counts = await A.storage.call('query', { sql: 'SELECT (SELECT count(*) FROM entries) AS entries, (SELECT count(*) FROM locations) AS locations, (SELECT count(*) FROM tag_links) AS links, (SELECT count(*) FROM user_metadata) AS meta, (SELECT count(*) FROM tags) AS tags, (SELECT count(*) FROM tombstones) AS tombstones', params: [] });
  const bdigest = await B.storage.call('digest', {});
  if (!digest.ok || !counts.ok || !bdigest.ok) throw new Error('d');
  const fixture = { producedBy: 'release 0.1 (commit d9b6ff9): tests/integration make-fixture, two devices over the memory network', device: A.id, other: B.id, library: 'lib', digest: digest.value, otherDigest: bdigest.value, counts: counts.value[0], idb: await dump(A.idb, `tabdrive:lib:${A.id}`) };
  writeFileSync('tests/fixtures/release-0.1.json', JSON.stringify(fixture));
  console.log(JSON.stringify(counts.value[0]), JSON.stringify(digest.value) === JSON.stringify(bdigest.value));
}, 60_000);
