/**
 * Metrics on a real node:http server: request counters, body bytes (strings, buffers, streams)
 * and latency per route after real requests; edge cache counters read at scrape time; two
 * servers in one process keep separate registries; the exposition parses as Prometheus text.
 */
import assert from 'node:assert/strict';
import http, { type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { after, before, test } from 'node:test';
import { sample } from '../../../test/support/prom.ts';
import { createMetrics, statusClass, type CacheCounters, type Metrics } from './metrics.ts';
import { routeIdOf } from './route-id.ts';

let metrics: Metrics;
let server: Server;
let url: string;
const stats: CacheCounters = { hits: 0, misses: 0, coalesced: 0, bypasses: 0, upstreamFetches: 0, usedBytes: 0, capacityBytes: 1000, pinnedBytes: 0, entries: 0 };

before(async () => {
  metrics = createMetrics('edge');
  metrics.attachCache(() => stats);
  server = http.createServer((req, res) => {
    const t0 = performance.now();
    const bytes = metrics.begin(res);
    let route = 'unmatched';
    res.on('close', () => metrics.observeRequest({ method: req.method ?? 'GET', route, status: res.statusCode, ms: performance.now() - t0, bytes: bytes() }));
    if (req.url === '/metrics') {
      route = 'metrics';
      void metrics.handle(req, res);
    } else if (req.url === '/text') {
      route = 'text';
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.write('héllo ');
      res.end('world');
    } else if (req.url === '/stream') {
      route = 'stream';
      res.writeHead(200);
      void pipeline(Readable.from([Buffer.alloc(1000), Buffer.alloc(24)]), res);
    } else {
      res.writeHead(404);
      res.end('nope');
    }
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

after(async () => {
  server.closeAllConnections();
  await new Promise<void>((r) => server.close(() => r()));
});

async function scrape(): Promise<string> {
  const r = await fetch(`${url}/metrics`);
  assert.equal(r.status, 200);
  assert.match(r.headers.get('content-type')!, /^text\/plain; version=0\.0\.4/);
  return r.text();
}

test('request counters, bytes and latency move with real requests', async () => {
  const before = await scrape();
  assert.equal(sample(before, 'modelcdn_http_requests_total', { route: 'text' }), undefined);
  for (let i = 0; i < 3; i++) assert.equal(await (await fetch(`${url}/text`)).text(), 'héllo world');
  await (await fetch(`${url}/stream`)).arrayBuffer();
  await (await fetch(`${url}/missing`)).arrayBuffer();
  await new Promise((r) => setTimeout(r, 20)); // 'close' events
  const text = await scrape();
  assert.equal(sample(text, 'modelcdn_http_requests_total', { route: 'text', method: 'GET', status: '2xx', role: 'edge' }), 3);
  assert.equal(sample(text, 'modelcdn_http_response_bytes_total', { route: 'text' }), 3 * Buffer.byteLength('héllo world'));
  assert.equal(sample(text, 'modelcdn_http_response_bytes_total', { route: 'stream' }), 1024);
  assert.equal(sample(text, 'modelcdn_http_requests_total', { route: 'unmatched', status: '4xx' }), 1);
  assert.equal(sample(text, 'modelcdn_http_request_duration_seconds_count', { route: 'text' }), 3);
  assert.ok(sample(text, 'modelcdn_http_requests_total', { route: 'metrics' })! >= 1, 'the first scrape was counted');
  assert.ok(sample(text, 'process_resident_memory_bytes') !== undefined || sample(text, 'nodejs_heap_size_used_bytes') !== undefined, 'default process metrics');
});

test('edge cache counters are read at scrape time', async () => {
  Object.assign(stats, { hits: 7, misses: 3, coalesced: 2, upstreamFetches: 3, usedBytes: 600, entries: 2, evictions: 4 });
  metrics.addEvictions(1);
  metrics.addPrefetchBytes(5000);
  let prefetched = 100;
  metrics.attachPrefetch(() => prefetched);
  metrics.observeDeploy(0.3);
  metrics.observeRequest({ method: 'POST', route: 'deployVersion', status: 200, ms: 40, bytes: 10 });
  metrics.observeRequest({ method: 'POST', route: 'deployVersion', status: 409, ms: 5, bytes: 10 });
  const text = await scrape();
  assert.equal(sample(text, 'modelcdn_cache_hits_total'), 7);
  assert.equal(sample(text, 'modelcdn_cache_misses_total'), 3);
  assert.equal(sample(text, 'modelcdn_cache_fills_total'), 3);
  assert.equal(sample(text, 'modelcdn_cache_coalesced_waits_total'), 2);
  assert.equal(sample(text, 'modelcdn_cache_evictions_total'), 5);
  assert.equal(sample(text, 'modelcdn_cache_used_bytes'), 600);
  assert.equal(sample(text, 'modelcdn_cache_capacity_bytes'), 1000);
  assert.equal(sample(text, 'modelcdn_prefetch_bytes_total'), 5100);
  assert.equal(sample(text, 'modelcdn_deploy_latency_seconds_count'), 2, 'refused deploys are not counted');
  assert.equal(sample(text, 'modelcdn_deploy_latency_seconds_bucket', { le: '0.05' }), 1);
  stats.hits = 9;
  prefetched = 300;
  const again = await scrape();
  assert.equal(sample(again, 'modelcdn_cache_hits_total'), 9, 'no double counting across scrapes');
  assert.equal(sample(again, 'modelcdn_prefetch_bytes_total'), 5300);
});

test('two servers in one process keep separate registries', async () => {
  const a = createMetrics('origin', { defaultMetrics: false });
  const b = createMetrics('origin', { defaultMetrics: false });
  a.observeRequest({ method: 'GET', route: 'getBlob', status: 200, ms: 2, bytes: 10 });
  a.demandReport(4);
  assert.equal(sample((await a.render()).body, 'modelcdn_http_requests_total', { route: 'getBlob' }), 1);
  assert.equal(sample((await a.render()).body, 'modelcdn_demand_items_total'), 4);
  assert.equal(sample((await b.render()).body, 'modelcdn_http_requests_total', { route: 'getBlob' }), undefined);
  assert.equal(sample((await b.render()).body, 'modelcdn_cache_hits_total'), undefined, 'cache metrics exist on edges only');
});

test('status classes', () => {
  assert.equal(statusClass(206), '2xx');
  assert.equal(statusClass(416), '4xx');
  assert.equal(statusClass(0), 'other');
});

test('edge route ids match the origin operation ids and never echo raw paths', () => {
  const cases: [string, string][] = [
    ['/', 'web'],
    ['/assets/app.js', 'web'],
    ['/healthz', 'health'],
    ['/metrics', 'metrics'],
    ['/.well-known/modelcdn/public-key', 'publicKey'],
    [`/v1/blobs/${'a'.repeat(64)}`, 'getBlob'],
    ['/v1/models', 'listModels'],
    ['/v1/models/demo', 'getModel'],
    ['/v1/models/demo/channels/latest', 'getChannel'],
    ['/v1/models/demo/versions/1.0/manifest', 'getManifest'],
    ['/v1/models/demo/versions/1.0/files/a/b.bin?x=1', 'getFile'],
    ['/v1/edge/status', 'edgeStatus'],
    ['/v1/edge/stats', 'edgeStats'],
    ['/v1/whatever/../../etc/passwd', 'unmatched'],
    ['/random', 'unmatched'],
  ];
  for (const [url, id] of cases) assert.equal(routeIdOf(url), id, url);
});
