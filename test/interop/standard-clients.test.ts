/**
 * Standard clients (issue 9 §3), real tools against a real origin and edge on loopback:
 * `curl --compressed` of a raw model file yields exactly its bytes through origin and edge;
 * Debian's `zstd -d` decodes our zstd streams; `wget -c` resumes a partial download.
 */
import assert from 'node:assert/strict';
import { execFile, spawnSync } from 'node:child_process';
import { promisify } from 'node:util';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startOrigin, type OriginServer } from '../../src/cdn/origin/server.ts';
import { startEdge, type EdgeServer } from '../../src/cdn/edge/server.ts';
import { collectFiles, publish } from '../../src/cdn/origin/publish-client.ts';
import { packFile } from '../../src/codec/index.ts';
import { fixture } from '../fixtures.ts';
import { sha256Hex } from '../../src/util/hash.ts';

// servers run in this process: child tools must be awaited, never run with a *Sync call
const run = promisify(execFile);
const have = (bin: string) => spawnSync('sh', ['-c', `command -v ${bin}`]).status === 0;
const MODEL = fixture('models', 'onnx', 'silero_vad_v5.onnx');

describe('standard clients against origin and edge', () => {
  let dir: string;
  let origin: OriginServer;
  let edge: EdgeServer;
  let modelSha: string;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'mcdn-clients-'));
    origin = await startOrigin({ dataDir: join(dir, 'origin'), port: 0 });
    const token = origin.registry.createToken('t').token;
    await publish({ server: origin.url, token, name: 'vad', version: '5.0.0', channel: 'latest', files: await collectFiles([MODEL]) });
    edge = await startEdge({ origin: origin.url, region: 'test', cacheDir: join(dir, 'edge'), cacheSizeBytes: 1e9, port: 0, demandIntervalMs: 0 });
    modelSha = sha256Hex(await readFile(MODEL));
  });
  after(async () => {
    await edge?.close();
    await origin?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('curl --compressed gets the exact model bytes through origin and edge, compressed on the wire', { skip: !have('curl') }, async () => {
    for (const base of [origin.url, edge.url]) {
      for (const enc of ['zstd', 'br', 'gzip']) {
        const out = join(dir, `curl-${enc}`);
        const { stdout: headers } = await run('curl', ['-sS', '--fail', '--compressed', '-H', `Accept-Encoding: ${enc}`, '-D', '-', '-o', out, `${base}/v1/models/vad/versions/5.0.0/files/silero_vad_v5.onnx`], { encoding: 'utf8' });
        assert.match(headers, new RegExp(`content-encoding: ${enc}`, 'i'), `${base} ${enc}`);
        assert.equal(sha256Hex(await readFile(out)), modelSha, `${base} ${enc}`);
      }
    }
  });

  it("Debian's zstd -d decodes the origin's zstd variant and our `pack --codec zstd` output", { skip: !have('zstd') }, async () => {
    const z = await fetch(`${origin.url}/v1/models/vad/versions/5.0.0/files/silero_vad_v5.onnx`, { headers: { 'accept-encoding': 'zstd' } });
    assert.equal(z.headers.get('content-encoding'), 'zstd');
    // fetch does not decode zstd on Node 20: the body is the raw zstd stream
    const zfile = join(dir, 'variant.zst');
    await writeFile(zfile, Buffer.from(await z.arrayBuffer()));
    assert.equal(sha256Hex((await run('zstd', ['-d', '-c', zfile], { encoding: 'buffer', maxBuffer: 1 << 26 })).stdout), modelSha);
    const packed = join(dir, 'packed.zst');
    await packFile(MODEL, packed, { codec: 'zstd' });
    assert.equal(sha256Hex((await run('zstd', ['-d', '-c', packed], { encoding: 'buffer', maxBuffer: 1 << 26 })).stdout), modelSha);
  });

  it('wget -c resumes a partial download from the edge and from the origin', { skip: !have('wget') }, async () => {
    const whole = await readFile(MODEL);
    for (const base of [edge.url, origin.url]) {
      const out = join(dir, `wget-${base.endsWith(String(edge.port)) ? 'edge' : 'origin'}`);
      await writeFile(out, whole.subarray(0, 700_001));
      await run('wget', ['-q', '-c', '-O', out, `${base}/v1/blobs/${modelSha}`]);
      assert.equal(sha256Hex(await readFile(out)), modelSha);
    }
  });
});
