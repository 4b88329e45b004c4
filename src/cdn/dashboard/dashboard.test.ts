/**
 * Dashboard server parts on a real registry (temp SQLite): stage sizes and savings, edge demand
 * buckets and hit ratios, the placement matrix, the egress series, static serving (types, ETag/304,
 * refused paths, missing build), and the routes + SSE stream over a real node:http server.
 */
import assert from 'node:assert/strict';
import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import http, { type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { Registry } from '../registry/registry.ts';
import { matchRoute } from '../origin/router.ts';
import { splitUrlPath } from '../http/validate.ts';
import { createMetrics } from '../metrics/metrics.ts';
import type { DashboardSnapshot, EdgesView, ModelsView } from './api.ts';
import { bucketSecondsFor, costView, edgeSummaries, modelsView, placementView } from './aggregate.ts';
import { DEFAULT_PRICES } from '../../sim/prices.ts';
import { ByteSeries } from './egress.ts';
import { formatEvent } from './sse.ts';
import { staticHandler } from './static.ts';
import { createDashboard, type Dashboard } from './routes.ts';

const h = (c: string) => c.repeat(64);
const SIG = { keyId: 'k', payload: new Uint8Array([1]), signature: 's' };

let dir: string;
let reg: Registry;

function publishVersion(r: Registry, name: string, version: string, files: { path: string; size: number; sha256: string }[], options?: Record<string, unknown>): number {
  const job = r.createJob('publish', name, version);
  const v = r.createPendingVersion({ name, version, channel: 'latest', files: files.map((f) => ({ ...f, format: 'unknown' })), jobId: job.id, ...(options ? { options } : {}) });
  return v.id;
}

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'mcdn-dash-'));
  reg = new Registry(join(dir, 'reg.sqlite'));
  // demo@1.0: weights 1000 B packed to 400, config 100 B (packing does not shrink it: 120)
  const v1 = publishVersion(reg, 'demo', '1.0', [
    { path: 'model.bin', size: 1000, sha256: h('a') },
    { path: 'config.json', size: 100, sha256: h('c') },
  ]);
  reg.putArtifact({ sourceSha256: h('a'), kind: 'packed', blob: h('1'), size: 400, codec: 'mcz' });
  reg.putArtifact({ sourceSha256: h('c'), kind: 'packed', blob: h('2'), size: 120, codec: 'mcz' });
  reg.finalizeVersion(v1, SIG);
  // demo@1.1: new weights (patch 50 B from 1.0's), same config
  const v2 = publishVersion(reg, 'demo', '1.1', [
    { path: 'model.bin', size: 1000, sha256: h('b') },
    { path: 'config.json', size: 100, sha256: h('c') },
  ]);
  reg.putArtifact({ sourceSha256: h('b'), kind: 'packed', blob: h('3'), size: 410, codec: 'mcz' });
  reg.putPatch({ fromSha256: h('a'), toSha256: h('b'), blob: h('4'), size: 50, method: 'tensor', beneficial: true });
  reg.finalizeVersion(v2, SIG);
  // demo@1.2 still pending
  publishVersion(reg, 'demo', '1.2', [{ path: 'model.bin', size: 999, sha256: h('d') }]);
  // other@1: no patch possible, one file
  const o1 = publishVersion(reg, 'other', '1', [{ path: 'w.safetensors', size: 5000, sha256: h('e') }]);
  reg.putArtifact({ sourceSha256: h('e'), kind: 'packed', blob: h('5'), size: 3000, codec: 'mcz' });
  // an INT8 variant the origin produced beside the file (registry migration 2 allows such kinds)
  reg.putArtifact({ sourceSha256: h('e'), kind: 'int8' as never, blob: h('7'), size: 1250, codec: null });
  reg.finalizeVersion(o1, SIG);
  // q8@1: published with --optimize int8 (the 4000 B original was replaced by a 1000 B INT8 file)
  const q1 = publishVersion(reg, 'q8', '1', [{ path: 'm.onnx', size: 1000, sha256: h('f') }, { path: 'cfg.json', size: 10, sha256: h('9') }], {
    optimize: 'int8',
    original: [{ path: 'm.onnx', size: 4000, sha256: h('8') }],
  });
  reg.putArtifact({ sourceSha256: h('f'), kind: 'packed', blob: h('6'), size: 700, codec: 'mcz' });
  reg.finalizeVersion(q1, SIG);
});

after(async () => {
  reg.close();
  await rm(dir, { recursive: true, force: true });
});

describe('aggregation', () => {
  test('sizes at every stage and bytes saved', () => {
    const v = modelsView(reg);
    assert.deepEqual(v.models.map((m) => m.name), ['demo', 'other', 'q8']);
    assert.deepEqual(v.models[1]!.versions[0]!.sizes, { original: 5000, int8: 1250, packed: 3000, patch: null });
    const q = v.models[2]!.versions[0]!;
    assert.deepEqual(q.sizes, { original: 4010, int8: 1010, packed: 710, patch: null });
    assert.equal(q.savedBytes, 4010 - 710);
    const demo = v.models[0]!;
    assert.equal(demo.latest, '1.1');
    const [a, b, c] = demo.versions;
    assert.equal(a!.version, '1.0');
    assert.deepEqual(a!.sizes, { original: 1100, int8: null, packed: 400 + 100, patch: null });
    assert.equal(a!.savedBytes, 600);
    assert.equal(a!.files, 2);
    assert.deepEqual(a!.channels, []);
    assert.equal(b!.version, '1.1');
    assert.deepEqual(b!.channels, ['latest']);
    assert.deepEqual(b!.sizes.patch, { fromVersion: '1.0', bytes: 50, patchedFiles: 1, unchangedFiles: 1, fullFiles: 0 });
    assert.equal(b!.sizes.packed, 510);
    assert.equal(b!.savedBytes, 1100 - 50);
    assert.ok(Math.abs(b!.savedRatio - 1050 / 1100) < 1e-9);
    assert.equal(c!.status, 'pending');
    assert.equal(c!.sizes.packed, null, 'a pending version has no packed size yet');
    assert.equal(c!.savedBytes, 0);
    assert.equal(c!.sizes.patch?.fromVersion, '1.1');
    assert.deepEqual(v.totals, { models: 3, versions: 4, originalBytes: 1100 + 1100 + 5000 + 4010, savedBytes: 600 + 1050 + 2000 + 3300 });
  });

  test('edge demand: totals, hit ratio and time buckets', () => {
    const t0 = Date.UTC(2026, 0, 1, 12, 0, 0);
    reg.insertDemand({ region: 'eu', from: t0 - 30_000, to: t0, items: [{ model: 'demo', version: '1.0', blob: h('1'), requests: 4, bytes: 1600, hits: 1 }] });
    reg.insertDemand({ region: 'eu', from: t0, to: t0 + 600_000, items: [{ model: 'demo', version: '1.1', blob: h('4'), requests: 10, bytes: 500, hits: 10 }] });
    reg.insertDemand({ region: 'us', from: t0, to: t0 + 600_000, items: [{ model: 'other', version: '1', blob: h('5'), requests: 2, bytes: 6000, hits: 0 }] });
    const caches = new Map([['ap', { usedBytes: 5, capacityBytes: 10, entries: 1, pinnedBytes: 0, reportedAt: new Date(t0).toISOString() }]]);
    const { bucketSeconds, edges } = edgeSummaries(reg, t0 + 3_600_000, 7200, caches);
    assert.equal(bucketSeconds, bucketSecondsFor(3600));
    assert.deepEqual(edges.map((e) => e.region), ['ap', 'eu', 'us'], 'an edge known only from its cache figures is listed too');
    const eu = edges[1]!;
    assert.equal(eu.requests, 14);
    assert.equal(eu.hits, 11);
    assert.equal(eu.hitRatio, 11 / 14);
    assert.equal(eu.reports, 2);
    assert.equal(eu.series.t.length, 2);
    assert.deepEqual(eu.series.hitRatio, [0.25, 1]);
    assert.deepEqual(eu.series.requests, [4, 10]);
    assert.ok(eu.series.t[0]! <= t0 / 1000 && eu.series.t[0]! > t0 / 1000 - bucketSeconds);
    assert.equal(edges[0]!.hitRatio, null);
    assert.equal(edges[0]!.cache?.capacityBytes, 10);
    // outside the window: nothing
    assert.equal(edgeSummaries(reg, t0 + 10 * 86_400_000, 3600, new Map()).edges.length, 0);
  });

  test('placement matrix: demand per region × model, pins laid over it', () => {
    const t = Date.UTC(2026, 0, 1, 13, 0, 0);
    const p = placementView(reg, t, 86_400, undefined, ['ap']);
    assert.equal(p.planned, false);
    assert.deepEqual(p.regions, ['ap', 'eu', 'us']);
    assert.deepEqual(p.models, ['demo', 'other']);
    assert.deepEqual(p.cells.find((c) => c.region === 'eu' && c.model === 'demo'), { region: 'eu', model: 'demo', requests: 14, bytes: 2100, pinnedBytes: 0 });
    const q = placementView(reg, t, 86_400, [{ region: 'ap', model: 'other', pinnedBytes: 3000 }]);
    assert.equal(q.planned, true);
    assert.equal(q.cells.find((c) => c.region === 'ap')?.pinnedBytes, 3000);
  });

  test('cost: deliveries priced as raw files, as packed/patched forms, and as measured origin egress', () => {
    const t = Date.UTC(2026, 0, 1, 13, 0, 0);
    const caches = new Map([['eu', { usedBytes: 2e9, capacityBytes: 4e9, entries: 3, pinnedBytes: 0, reportedAt: new Date(t).toISOString() }]]);
    const c = costView(reg, t, 86_400, 700, caches, DEFAULT_PRICES);
    // eu: 1600 B of a 400 B packed form of a 1000 B file + 500 B of a 50 B patch to a 1000 B file; us: 6000 B of 3000/5000
    assert.equal(c.servedBytes, 1600 + 500 + 6000);
    assert.equal(c.originalBytes, 4000 + 10_000 + 10_000);
    assert.deepEqual(c.scenarios.map((x) => [x.id, x.originEgressBytes]), [['raw-origin', 24_000], ['optimized-origin', 8100], ['modelcdn', 700]]);
    assert.ok(Math.abs(c.scenarios[0]!.usd - (24_000 / 1e9) * DEFAULT_PRICES.originEgressPerGB) < 1e-12);
    assert.ok(Math.abs(c.edgeStorageUsdPerMonth - 2 * DEFAULT_PRICES.edgeStoragePerGBMonth) < 1e-9);
  });

  test('bucket widths stay readable and bounded', () => {
    assert.equal(bucketSecondsFor(10), 5);
    assert.equal(bucketSecondsFor(3600), 30);
    assert.equal(bucketSecondsFor(86_400), 900);
    for (const s of [1, 59, 601, 7777, 1e6, 1e8]) assert.ok(s / bucketSecondsFor(s) <= 120, `span ${s}`);
  });

  test('egress series: zero-filled buckets, bounded ring', () => {
    const s = new ByteSeries(10, 5);
    s.add(100, 1_000_000);
    s.add(50, 1_005_000);
    s.add(0, 1_020_000);
    s.add(7, 1_030_000);
    const r = s.series(1_031_000);
    assert.deepEqual(r.t, [1000, 1010, 1020, 1030]);
    assert.deepEqual(r.bytes, [150, 0, 0, 7]);
    assert.equal(r.totalBytes, 157);
    for (let i = 0; i < 20; i++) s.add(1, 2_000_000 + i * 10_000);
    assert.ok(s.series(2_200_000).t.length <= 5);
  });

  test('SSE framing', () => {
    assert.equal(formatEvent('snapshot', { a: 1 }, 3), 'id: 3\nevent: snapshot\ndata: {"a":1}\n\n');
  });
});

async function listen(handler: http.RequestListener): Promise<{ server: Server; url: string }> {
  const server = http.createServer(handler);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` };
}

describe('static front-end', () => {
  let srv: { server: Server; url: string };
  let root: string;
  before(async () => {
    root = join(dir, 'dist');
    await mkdir(join(root, 'assets'), { recursive: true });
    await writeFile(join(root, 'index.html'), '<!doctype html><title>x</title>');
    await writeFile(join(root, 'assets', 'app.js'), 'console.log(1)');
    await writeFile(join(root, 'assets', 'style.css'), 'body{}');
    const serve = staticHandler({ root, index: 'index.html' });
    const missing = staticHandler({ root: join(dir, 'nope'), index: 'index.html' });
    srv = await listen(async (req, res) => {
      const s = req.url?.startsWith('/missing') ? await missing({ ...req, url: req.url.slice(8) || '/', method: req.method } as http.IncomingMessage, res) : await serve(req, res);
      if (!s) {
        res.writeHead(404);
        res.end();
      }
    });
  });
  after(() => srv.server.close());

  test('content types, CSP on pages, ETag revalidation', async () => {
    const page = await fetch(`${srv.url}/`);
    assert.equal(page.status, 200);
    assert.equal(page.headers.get('content-type'), 'text/html; charset=utf-8');
    assert.match(page.headers.get('content-security-policy')!, /default-src 'self'/);
    assert.equal(page.headers.get('cache-control'), 'no-cache');
    const js = await fetch(`${srv.url}/assets/app.js`);
    assert.equal(js.headers.get('content-type'), 'text/javascript; charset=utf-8');
    assert.equal(await js.text(), 'console.log(1)');
    assert.equal((await fetch(`${srv.url}/assets/style.css`)).headers.get('content-type'), 'text/css; charset=utf-8');
    const again = await fetch(`${srv.url}/assets/app.js`, { headers: { 'if-none-match': js.headers.get('etag')! } });
    assert.equal(again.status, 304);
  });

  test('only the dist folder, one segment under /assets', async () => {
    const raw = await new Promise<number>((resolve, reject) => {
      http.get({ host: '127.0.0.1', port: new URL(srv.url).port, path: '/assets/../index.html' }, (res) => {
        res.resume();
        resolve(res.statusCode!);
      }).on('error', reject);
    });
    assert.equal(raw, 404, 'a raw dot-dot path is not normalized into the dist root');
    for (const p of ['/assets/%2e%2e%2fpackage.json', '/assets/a/b.js', '/assets/.hidden', '/assets/nope.js', '/other']) {
      const r = await fetch(`${srv.url}${p}`);
      assert.equal(r.status, 404, p);
    }
  });

  test('a missing build answers 404 with the command that makes it', async () => {
    const r = await fetch(`${srv.url}/missing/`);
    assert.equal(r.status, 404);
    assert.match(await r.text(), /npm run build/);
  });
});

describe('routes and live events', () => {
  let dash: Dashboard;
  let srv: { server: Server; url: string };
  before(async () => {
    const metrics = createMetrics('origin', { defaultMetrics: false });
    dash = createDashboard({ registry: reg, metrics, pollMs: 50, windowSeconds: 30 * 86_400 });
    metrics.observeRequest({ method: 'GET', route: 'getBlob', status: 200, ms: 1, bytes: 4096 });
    metrics.observeRequest({ method: 'GET', route: 'getModel', status: 200, ms: 1, bytes: 99 });
    srv = await listen((req, res) => {
      const m = matchRoute(dash.routes, req.method ?? 'GET', splitUrlPath(req.url!.split('?')[0]!));
      if (m.kind !== 'match') {
        res.writeHead(404);
        res.end();
        return;
      }
      (async () => m.route.handler(req, res, m.params, new URL(req.url!, 'http://x')))().catch((e: Error) => {
        res.writeHead(400);
        res.end(e.message);
      });
    });
  });
  after(() => {
    dash.close();
    srv.server.closeAllConnections();
    srv.server.close();
  });

  test('JSON views', async () => {
    const s = (await (await fetch(`${srv.url}/v1/dashboard`)).json()) as DashboardSnapshot;
    assert.equal(s.role, 'origin');
    assert.equal(s.models.totals.models, 3);
    assert.equal(s.edges.originEgress.totalBytes, 4096, 'only blob/file bodies count as egress');
    assert.deepEqual(s.staging, { available: false, staged: [] });
    const m = (await (await fetch(`${srv.url}/v1/dashboard/models`)).json()) as ModelsView;
    assert.deepEqual(m, s.models);
    const e = (await (await fetch(`${srv.url}/v1/dashboard/edges?window=3600`)).json()) as EdgesView;
    assert.equal(e.windowSeconds, 3600);
    assert.equal((await fetch(`${srv.url}/v1/dashboard/edges?window=5`)).status, 400);
  });

  test('staging and placement providers feed their views (documented fields only)', () => {
    const d = createDashboard({
      registry: reg,
      staging: () => [
        {
          name: 'demo', version: '1.1', status: 'staged', stagedAt: new Date(0).toISOString(), deployedAt: null, totalBytes: 500, readyEdges: 1, knownEdges: 2,
          edges: [
            { edge: 'eu-1', region: 'eu', readyBytes: 500, totalBytes: 500, ready: true, connected: true, window: '01:00-06:00 UTC' },
            { edge: 'us-1', region: 'us', readyBytes: 120, totalBytes: 500, ready: false, connected: false },
          ],
          readiness: 0.5,
        } as never,
      ],
      placementPins: () => [{ region: 'eu', model: 'demo', pinnedBytes: 500 }],
    });
    const s = d.snapshot();
    d.close();
    assert.equal(s.staging.available, true);
    assert.deepEqual(s.staging.staged[0]!.edges[1], { edge: 'us-1', region: 'us', readyBytes: 120, totalBytes: 500, ready: false, connected: false });
    assert.equal('window' in s.staging.staged[0]!.edges[0]!, false);
    assert.equal('readiness' in s.staging.staged[0]!, false);
    assert.equal(s.placement.planned, true);
    assert.equal(s.placement.cells.find((c) => c.region === 'eu' && c.model === 'demo')?.pinnedBytes, 500);
  });

  test('the event stream sends a snapshot at once and another when demand arrives', async () => {
    const ac = new AbortController();
    const r = await fetch(`${srv.url}/v1/events`, { signal: ac.signal });
    assert.equal(r.headers.get('content-type'), 'text/event-stream; charset=utf-8');
    const reader = r.body!.getReader();
    const dec = new TextDecoder();
    let buf = '';
    const nextSnapshot = async (): Promise<DashboardSnapshot> => {
      for (;;) {
        const i = buf.indexOf('\n\n');
        if (i >= 0) {
          const frame = buf.slice(0, i);
          buf = buf.slice(i + 2);
          const data = frame.split('\n').filter((l) => l.startsWith('data: ')).map((l) => l.slice(6)).join('\n');
          if (frame.includes('event: snapshot')) return JSON.parse(data) as DashboardSnapshot;
          continue;
        }
        const { value, done } = await reader.read();
        if (done) throw new Error('stream ended');
        buf += dec.decode(value, { stream: true });
      }
    };
    const first = await nextSnapshot();
    const before = first.edges.edges.find((x) => x.region === 'sse')?.requests ?? 0;
    reg.insertDemand({ region: 'sse', from: Date.now() - 1000, to: Date.now(), items: [{ model: 'demo', version: '1.1', blob: h('4'), requests: 3, bytes: 150, hits: 2 }] });
    dash.noteDemandReport({ region: 'sse', cache: { usedBytes: 150, capacityBytes: 1000, entries: 1, pinnedBytes: 0 } });
    const second = await nextSnapshot();
    const sse = second.edges.edges.find((x) => x.region === 'sse')!;
    assert.equal(sse.requests - before, 3);
    assert.equal(sse.cache?.usedBytes, 150);
    ac.abort();
  });
});
