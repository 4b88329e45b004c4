/**
 * Metrics and logs of the real servers: an origin and an edge on loopback, a model published and
 * pulled through the edge; then both /metrics endpoints are scraped and their counters checked
 * against what happened (requests per route, body bytes, edge hits/misses/fills, origin egress,
 * demand reports), and every request's id is echoed and found in the JSON logs.
 */
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { after, before, test } from 'node:test';
import { pull } from '../src/cdn/client/index.ts';
import { startEdge, type EdgeServer } from '../src/cdn/edge/server.ts';
import { createLogger } from '../src/cdn/logging/logger.ts';
import { collectFiles, publish } from '../src/cdn/origin/publish-client.ts';
import { startOrigin, type OriginServer } from '../src/cdn/origin/server.ts';
import { sample } from './support/prom.ts';

let dir: string;
let origin: OriginServer;
let edge: EdgeServer;
const logs: { origin: Record<string, unknown>[]; edge: Record<string, unknown>[] } = { origin: [], edge: [] };

function sink(into: Record<string, unknown>[]): Writable {
  return new Writable({
    write(chunk: Buffer, _e, cb) {
      for (const l of chunk.toString('utf8').split('\n')) if (l.trim()) into.push(JSON.parse(l) as Record<string, unknown>);
      cb();
    },
  });
}

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'mcdn-obs-'));
  origin = await startOrigin({ dataDir: join(dir, 'origin'), host: '127.0.0.1', port: 0, logger: createLogger({ role: 'origin', level: 'info', destination: sink(logs.origin) }) });
  const token = origin.registry.createToken('t').token;
  const d = join(dir, 'src');
  await mkdir(d);
  await writeFile(join(d, 'model.bin'), Buffer.alloc(100_000, 3));
  await publish({ server: origin.url, token, name: 'obs', version: '1', files: await collectFiles([d]) });
  edge = await startEdge({
    origin: origin.url,
    region: 'obs-eu',
    cacheDir: join(dir, 'edge'),
    cacheSizeBytes: 10_000_000,
    port: 0,
    demandIntervalMs: 0,
    logger: createLogger({ role: 'edge', level: 'info', destination: sink(logs.edge), base: { region: 'obs-eu' } }),
  });
});

after(async () => {
  await edge?.close();
  await origin?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

const scrape = async (base: string) => {
  const r = await fetch(`${base}/metrics`);
  assert.equal(r.status, 200);
  assert.match(r.headers.get('content-type')!, /^text\/plain/);
  return r.text();
};

test('counters on both servers move with real traffic', async () => {
  const o0 = await scrape(origin.url);
  const e0 = await scrape(edge.url);
  const blobs0 = sample(o0, 'modelcdn_http_requests_total', { route: 'getBlob', method: 'GET', status: '2xx' }) ?? 0;
  const egress0 = sample(o0, 'modelcdn_http_response_bytes_total', { route: 'getBlob' }) ?? 0;

  await pull({ ref: 'obs@1', server: edge.url, outDir: join(dir, 'a'), home: join(dir, 'ha') });
  await pull({ ref: 'obs@1', server: edge.url, outDir: join(dir, 'b'), home: join(dir, 'hb') });
  // the edge records a request's demand just after its last byte is written: let it land
  await new Promise((r) => setTimeout(r, 100));
  await edge.reporter.flush();
  await new Promise((r) => setTimeout(r, 50)); // 'close' events of the last responses

  const st = edge.cache.getStats();
  const e1 = await scrape(edge.url);
  assert.equal(sample(e1, 'modelcdn_cache_hits_total', { role: 'edge' }), st.hits);
  assert.equal(sample(e1, 'modelcdn_cache_misses_total'), st.misses);
  assert.equal(sample(e1, 'modelcdn_cache_fills_total'), st.upstreamFetches);
  assert.ok(st.hits > 0 && st.misses > 0);
  assert.equal(sample(e1, 'modelcdn_cache_used_bytes'), st.usedBytes);
  assert.equal(sample(e1, 'modelcdn_cache_capacity_bytes'), 10_000_000);
  assert.ok(sample(e1, 'modelcdn_cache_evictions_total') !== undefined);
  assert.ok(sample(e1, 'modelcdn_cache_coalesced_waits_total') !== undefined);
  assert.ok(sample(e1, 'modelcdn_prefetch_bytes_total') !== undefined);
  const edgeBlobReqs = (sample(e1, 'modelcdn_http_requests_total', { route: 'getBlob', status: '2xx' }) ?? 0) - (sample(e0, 'modelcdn_http_requests_total', { route: 'getBlob', status: '2xx' }) ?? 0);
  assert.equal(edgeBlobReqs, st.hits + st.misses, 'every blob lookup was one counted request');
  assert.ok((sample(e1, 'modelcdn_http_response_bytes_total', { route: 'getBlob' }) ?? 0) > 0);
  assert.ok((sample(e1, 'modelcdn_http_requests_total', { route: 'getManifest', status: '2xx' }) ?? 0) >= 2);

  const o1 = await scrape(origin.url);
  const originBlobReqs = (sample(o1, 'modelcdn_http_requests_total', { route: 'getBlob', method: 'GET', status: '2xx' }) ?? 0) - blobs0;
  assert.equal(originBlobReqs, st.upstreamFetches, 'the origin served exactly the edge fills');
  const egress = (sample(o1, 'modelcdn_http_response_bytes_total', { route: 'getBlob' }) ?? 0) - egress0;
  assert.ok(egress > 0);
  assert.equal(sample(o1, 'modelcdn_demand_reports_total'), 1);
  assert.ok((sample(o1, 'modelcdn_http_request_duration_seconds_count', { route: 'getBlob' }) ?? 0) >= originBlobReqs);
  // the dashboard's egress series counts the same bytes
  const dash = (await (await fetch(`${origin.url}/v1/dashboard/edges`)).json()) as { originEgress: { totalBytes: number }; edges: { region: string; cache: { capacityBytes: number } | null }[] };
  assert.equal(dash.originEgress.totalBytes, sample(o1, 'modelcdn_http_response_bytes_total', { route: 'getBlob' }) ?? 0);
  assert.equal(dash.edges.find((e) => e.region === 'obs-eu')?.cache?.capacityBytes, 10_000_000, 'the demand report carried the cache figures');
});

test('request ids are echoed by origin and edge and carried by their JSON logs', async () => {
  for (const [name, base] of [['origin', origin.url], ['edge', edge.url]] as const) {
    const mine = `test-${name}-42`;
    const r = await fetch(`${base}/v1/models`, { headers: { 'x-request-id': mine } });
    await r.arrayBuffer();
    assert.equal(r.headers.get('x-request-id'), mine);
    const fresh = await fetch(`${base}/v1/models/none-such`, { headers: { 'x-request-id': 'bad id!' } });
    await fresh.arrayBuffer();
    const id = fresh.headers.get('x-request-id')!;
    assert.match(id, /^[a-f0-9]{16}$/);
    await new Promise((res) => setTimeout(res, 50));
    const lines = logs[name];
    const l = lines.find((x) => x['reqId'] === mine);
    assert.ok(l, `${name} logged the request`);
    assert.equal(l['route'], 'listModels');
    assert.equal(l['status'], 200);
    assert.equal(l['role'], name);
    assert.equal(lines.find((x) => x['reqId'] === id)?.['status'], 404);
  }
  assert.ok(logs.edge.every((l) => l['region'] === 'obs-eu'));
});

test('a blob fetched without its manifest still lands in the demand report (owner unknown → null)', async () => {
  const v = origin.registry.getVersion('obs', '1')!;
  const raw = origin.registry.files(v.id)[0]!.sha256;
  const fresh = await startEdge({ origin: origin.url, region: 'obs-direct', cacheDir: join(dir, 'edge2'), cacheSizeBytes: 10_000_000, port: 0, demandIntervalMs: 0 });
  try {
    const r = await fetch(`${fresh.url}/v1/blobs/${raw}`);
    assert.equal(r.status, 200);
    await r.arrayBuffer();
    // the edge records the request just after its last byte is written
    for (let i = 0; i < 40 && fresh.reporter.sent === 0; i++) {
      await new Promise((res) => setTimeout(res, 25));
      await fresh.reporter.flush();
    }
    assert.equal(fresh.reporter.failures, 0);
    assert.equal(fresh.reporter.sent, 1);
    const rows = origin.registry.demandRows('obs-direct');
    assert.equal(rows.length, 1);
    assert.equal(rows[0]!.model, null);
    assert.equal(rows[0]!.blob, raw);
  } finally {
    await fresh.close();
  }
});
