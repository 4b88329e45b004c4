/**
 * A standard CDN tier in front (issue 9 §2): the shipped deploy/nginx.conf between clients and a
 * real origin. A model is pulled through nginx twice; the second pull must come from nginx's cache
 * (X-Cache-Status), Range requests included; channels must not outlive their TTL.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startOrigin, type OriginServer } from '../../src/cdn/origin/server.ts';
import { collectFiles, publish } from '../../src/cdn/origin/publish-client.ts';
import { fixture } from '../fixtures.ts';
import { nginxBinary, renderDeployConfig, startNginx, type NginxHandle } from '../support/nginx.ts';
import { sha256Hex } from '../../src/util/hash.ts';

const haveNginx = nginxBinary() !== undefined;

describe('deploy/nginx.conf in front of the origin', { skip: haveNginx ? false : 'nginx not installed (.ci/run installs it)' }, () => {
  let dir: string;
  let origin: OriginServer;
  let nginx: NginxHandle;
  let token: string;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'mcdn-nginx-test-'));
    origin = await startOrigin({ dataDir: join(dir, 'origin'), port: 0, encodings: ['zstd'] });
    token = origin.registry.createToken('nginx-test').token;
    const files = await collectFiles([fixture('models', 'onnx', 'ppocr_mobile_v2_cls.onnx')]);
    await publish({ server: origin.url, token, name: 'cls', version: '1.0.0', channel: 'latest', files });
    const originHost = new URL(origin.url).host;
    nginx = await startNginx((port) => renderDeployConfig({ origin: originHost, port, cacheDir: join(dir, 'nginx-cache') }));
  });

  after(async () => {
    await nginx?.stop();
    await origin?.close();
    await rm(dir, { recursive: true, force: true });
  });

  async function pullThrough(base: string): Promise<{ statuses: string[]; sha256: string[] }> {
    const statuses: string[] = [];
    const ch = await fetch(`${base}/v1/models/cls/channels/latest`);
    assert.equal(ch.status, 200);
    const { version } = (await ch.json()) as { version: string };
    const env = (await (await fetch(`${base}/v1/models/cls/versions/${version}/manifest`)).json()) as { payload: string };
    const manifest = JSON.parse(Buffer.from(env.payload, 'base64').toString('utf8')) as { files: { packed?: { blob: string }; sha256: string; path: string }[] };
    const sha: string[] = [];
    for (const f of manifest.files) {
      const blob = f.packed?.blob ?? f.sha256;
      const r = await fetch(`${base}/v1/blobs/${blob}`);
      assert.equal(r.status, 200);
      statuses.push(r.headers.get('x-cache-status') ?? 'none');
      const body = Buffer.from(await r.arrayBuffer());
      assert.equal(sha256Hex(body), blob);
      sha.push(sha256Hex(body));
    }
    return { statuses, sha256: sha };
  }

  it('serves the second pull from its cache, byte-identical', async () => {
    const first = await pullThrough(nginx.url);
    assert.ok(first.statuses.every((s) => s === 'MISS'), `first pull: ${first.statuses}`);
    const second = await pullThrough(nginx.url);
    assert.ok(second.statuses.every((s) => s === 'HIT'), `second pull: ${second.statuses}`);
    assert.deepEqual(second.sha256, first.sha256);
  });

  it('answers Range requests from cached slices', async () => {
    const env = (await (await fetch(`${nginx.url}/v1/models/cls/versions/1.0.0/manifest`)).json()) as { payload: string };
    const m = JSON.parse(Buffer.from(env.payload, 'base64').toString('utf8')) as { files: { sha256: string; size: number }[] };
    const raw = m.files[0]!;
    const whole = Buffer.from(await (await fetch(`${origin.url}/v1/blobs/${raw.sha256}`)).arrayBuffer());
    const get = (range: string) => fetch(`${nginx.url}/v1/blobs/${raw.sha256}`, { headers: { range } });
    const a = await get('bytes=1000-200999');
    assert.equal(a.status, 206);
    assert.deepEqual(Buffer.from(await a.arrayBuffer()), whole.subarray(1000, 201000));
    const b = await get('bytes=5000-9999');
    assert.equal(b.status, 206);
    assert.equal(b.headers.get('x-cache-status'), 'HIT');
    assert.deepEqual(Buffer.from(await b.arrayBuffer()), whole.subarray(5000, 10000));
    assert.match(await nginx.accessLog(), /GET \/v1\/blobs\//);
  });

  it('never keeps a channel past its TTL', async () => {
    const files = await collectFiles([fixture('models', 'onnx', 'ppocr_mobile_v2_cls.onnx')]);
    const first = (await (await fetch(`${nginx.url}/v1/models/cls/channels/latest`)).json()) as { version: string };
    await publish({ server: origin.url, token, name: 'cls', version: '1.0.1', channel: 'latest', files });
    const ttl = Number(/max-age=(\d+)/.exec((await fetch(`${origin.url}/v1/models/cls/channels/latest`)).headers.get('cache-control') ?? '')?.[1]);
    assert.ok(ttl > 0 && ttl <= 60, `channel TTL ${ttl}`);
    await new Promise((r) => setTimeout(r, (ttl + 1) * 1000));
    const now = (await (await fetch(`${nginx.url}/v1/models/cls/channels/latest`)).json()) as { version: string };
    assert.equal(first.version === '1.0.1' || now.version === '1.0.1', true);
    assert.equal(now.version, '1.0.1');
  });
});
