/**
 * Chunk-level dedup end to end (issue 10 §2): the origin stores every version as chunks; a client
 * that already holds one model fetches only the chunks it lacks for another — here the same
 * weights re-sharded (face-api's two-shard release vs. its one-file release) published under a
 * different name — in a few ranged requests, and rebuilds every file byte-exact.
 */
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startOrigin, type OriginServer } from '../../src/cdn/origin/server.ts';
import { collectFiles, publish, getJob } from '../../src/cdn/origin/publish-client.ts';
import { pull } from '../../src/cdn/client/index.ts';
import { fixture } from '../fixtures.ts';
import { sha256Hex } from '../../src/util/hash.ts';

describe('chunk-level dedup through origin and client', () => {
  let dir: string;
  let origin: OriginServer;
  let token: string;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'mcdn-dedup-'));
    origin = await startOrigin({ dataDir: join(dir, 'origin'), port: 0, encodings: [] });
    token = origin.registry.createToken('t').token;
  });
  after(async () => {
    await origin?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('publishing re-sharded weights stores almost nothing new, and a client holding the old release fetches almost nothing', async () => {
    const sharded = await collectFiles([fixture('models', 'tfjs', 'ssd-mobilenetv1-u8-sharded')]);
    const single = await collectFiles([fixture('models', 'tfjs', 'ssd-mobilenetv1-u8')]);
    const a = await publish({ server: origin.url, token, name: 'face-ssd-old', version: '0.8.9', files: sharded });
    const b = await publish({ server: origin.url, token, name: 'face-ssd', version: '1.7.15', files: single });
    const jb = await getJob(origin.url, b.jobId);
    assert.ok(jb.dedup, 'job status reports dedup figures');
    assert.ok(jb.dedup.newBytes <= jb.dedup.totalBytes * 0.01, `second publish: ${jb.dedup.newBytes} new of ${jb.dedup.totalBytes}`);
    void a;

    const home = join(dir, 'client-home');
    const first = await pull({ ref: 'face-ssd-old@0.8.9', server: origin.url, outDir: join(dir, 'old'), home });
    assert.ok(first.files.every((f) => f.route === 'packed' || f.route === 'raw'));
    const second = await pull({ ref: 'face-ssd@1.7.15', server: origin.url, outDir: join(dir, 'new'), home });
    const bin = second.files.find((f) => f.path.endsWith('.bin'))!;
    assert.equal(bin.route, 'chunks');
    assert.ok(second.fetchedBytes <= second.totalBytes * 0.02, `second pull fetched ${second.fetchedBytes} of ${second.totalBytes}`);
    for (const f of second.files) assert.equal(sha256Hex(await readFile(join(dir, 'new', f.path))), f.sha256);
  });
});
