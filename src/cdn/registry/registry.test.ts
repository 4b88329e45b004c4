import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { McdnError } from '../../errors.ts';
import { sha256Hex } from '../../util/hash.ts';
import { Registry } from './registry.ts';
import { SCHEMA_VERSION } from './schema.ts';

function withDb(f: (path: string) => void) {
  const dir = mkdtempSync(join(tmpdir(), 'mcdn-reg-'));
  try {
    f(join(dir, 'r.db'));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const file = (path: string, s: string) => ({ path, size: s.length, sha256: sha256Hex(s), format: 'unknown' });

test('migrations run once and record the schema version; a newer database is refused', () => {
  withDb((p) => {
    const r = new Registry(p);
    assert.equal(r.schemaVersion(), SCHEMA_VERSION);
    assert.equal(r.db.pragma('journal_mode', { simple: true }), 'wal');
    r.close();
    const again = new Registry(p);
    assert.equal(again.schemaVersion(), SCHEMA_VERSION);
    again.close();
    const raw = new Database(p);
    raw.pragma(`user_version = ${SCHEMA_VERSION + 1}`);
    raw.close();
    assert.throws(() => new Registry(p), (e: McdnError) => e.code === 'REGISTRY_TOO_NEW');
  });
});

test('a pending version is invisible; finalize makes it ready and moves the channel in one step', () => {
  withDb((p) => {
    const r = new Registry(p);
    const j = r.createJob('publish', 'm', '1');
    const v = r.createPendingVersion({ name: 'm', version: '1', channel: 'latest', files: [file('a.bin', 'aaa'), file('b.txt', 'b')], jobId: j.id });
    assert.equal(v.status, 'pending');
    assert.deepEqual(r.listModels(), []);
    assert.deepEqual(r.listVersions('m'), []);
    assert.deepEqual(r.channels('m'), {});
    assert.deepEqual(r.files(v.id).map((f) => f.path), ['a.bin', 'b.txt']);
    assert.throws(() => r.createPendingVersion({ name: 'm', version: '1', channel: null, files: [], jobId: 'x' }), (e: McdnError) => e.code === 'VERSION_EXISTS' && e.category === 'conflict');
    r.finalizeVersion(v.id, { keyId: 'k', payload: new Uint8Array([1, 2, 3]), signature: 'sig' });
    assert.deepEqual(r.listModels(), [{ name: 'm', latest: '1', versions: 1 }]);
    assert.deepEqual(r.channels('m'), { latest: '1' });
    assert.deepEqual(r.getSignedManifest(v.id), { keyId: 'k', payload: new Uint8Array([1, 2, 3]), signature: 'sig' });
    assert.throws(() => r.finalizeVersion(v.id, { keyId: 'k', payload: new Uint8Array(), signature: 's' }), (e: McdnError) => e.code === 'VERSION_NOT_PENDING');
    // a second version, discarded: nothing of it remains and the channel stays
    const v2 = r.createPendingVersion({ name: 'm', version: '2', channel: 'latest', files: [file('a.bin', 'xyz')], jobId: 'j2' });
    r.discardVersion(v2.id);
    assert.equal(r.getVersion('m', '2'), undefined);
    assert.deepEqual(r.files(v2.id), []);
    assert.deepEqual(r.channels('m'), { latest: '1' });
    // discarding a ready version does nothing
    r.discardVersion(v.id);
    assert.equal(r.getVersion('m', '1')?.status, 'ready');
    // previous versions for patches, newest first
    const v3 = r.createPendingVersion({ name: 'm', version: '3', channel: 'latest', files: [file('a.bin', 'zzz')], jobId: 'j3' });
    assert.deepEqual(r.previousReadyVersions(v3.modelId, v3.id, 3).map((x) => x.version), ['1']);
    r.setChannel('m', 'stable', '1');
    assert.throws(() => r.setChannel('m', 'stable', '3'), (e: McdnError) => e.code === 'VERSION_NOT_FOUND');
    r.close();
  });
});

test('tokens: only a hash is stored; revoked and malformed tokens do not verify', () => {
  withDb((p) => {
    const r = new Registry(p);
    const t = r.createToken('ci');
    const stored = r.db.prepare('SELECT * FROM tokens').all() as Record<string, unknown>[];
    assert.ok(!JSON.stringify(stored).includes(t.token.split('_').at(-1)!));
    assert.equal(r.verifyToken(t.token), t.id);
    assert.ok(r.listTokens()[0]!.lastUsedAt !== null);
    assert.equal(r.verifyToken(t.token + 'x'), undefined);
    assert.equal(r.verifyToken(''), undefined);
    assert.equal(r.verifyToken('x'.repeat(1000)), undefined);
    assert.equal(r.revokeToken(t.id), true);
    assert.equal(r.revokeToken(t.id), false);
    assert.equal(r.verifyToken(t.token), undefined);
    r.close();
  });
});

test('artifacts, patches, uploads, jobs and demand round-trip', () => {
  withDb((p) => {
    const r = new Registry(p);
    const h = sha256Hex('src');
    r.putArtifact({ sourceSha256: h, kind: 'zstd', blob: sha256Hex('z'), size: 5, codec: 'zstd' });
    assert.equal(r.artifacts(h)[0]!.blob, sha256Hex('z'));
    r.putPatch({ fromSha256: sha256Hex('a'), toSha256: h, blob: null, size: null, method: 'binary', beneficial: false });
    assert.equal(r.getPatch(sha256Hex('a'), h)?.beneficial, false);
    const u = r.createUpload(h, 10, null, false);
    assert.equal(r.findOpenUpload(h, 10)?.id, u.id);
    r.setUploadReceived(u.id, 10, true);
    assert.equal(r.findOpenUpload(h, 10), undefined);
    const j = r.createJob('publish', 'm', '1');
    r.updateJob(j.id, { status: 'running', step: 'pack', done: 5, total: 10 });
    assert.equal(r.getJob(j.id)?.step, 'pack');
    r.updateJob(j.id, { status: 'failed', error: 'boom', errorCode: 'X' });
    assert.ok(r.getJob(j.id)?.finishedAt);
    assert.equal(r.insertDemand({ region: 'eu', from: 1, to: 2, items: [{ model: 'm', requests: 3, bytes: 4, hits: 1 }] }), 1);
    assert.equal(r.demandRows('eu')[0]!.requests, 3);
    r.close();
  });
});

test('migration 2 keeps existing artifacts and accepts new artifact kinds', async () => {
  const { MIGRATIONS } = await import('./schema.ts');
  withDb((p) => {
    const raw = new Database(p);
    raw.exec(MIGRATIONS[0]!);
    raw.pragma('user_version = 1');
    raw.prepare(`INSERT INTO artifacts (source_sha256, kind, blob, size, codec, created_at) VALUES (?, 'zstd', ?, 5, 'zstd', 1)`).run(sha256Hex('s'), sha256Hex('z'));
    assert.throws(() => raw.prepare(`INSERT INTO artifacts (source_sha256, kind, blob, size, codec, created_at) VALUES (?, 'chunks', ?, 5, NULL, 1)`).run(sha256Hex('s'), sha256Hex('c')));
    raw.close();
    const r = new Registry(p);
    assert.equal(r.schemaVersion(), SCHEMA_VERSION);
    assert.equal(r.artifacts(sha256Hex('s'))[0]!.blob, sha256Hex('z'));
    r.db.prepare(`INSERT INTO artifacts (source_sha256, kind, blob, size, codec, created_at) VALUES (?, 'chunks', ?, 5, NULL, 1)`).run(sha256Hex('s'), sha256Hex('c'));
    assert.equal(r.artifacts(sha256Hex('s')).length, 2);
    assert.equal(r.blobKnown(sha256Hex('c')), true);
    r.close();
  });
});
