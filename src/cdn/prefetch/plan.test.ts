/**
 * Demand-based placement, predictive prefetch, learned off-peak windows and tiered fetch with the
 * real origin: edges' demand reports (POST /v1/demand) become a plan with a reason per placement
 * (`modelcdn plan --server`), a region whose clients still run an old version while another region
 * already pulls the new one gets the new version and the patch predicted, the quiet hours of a
 * region's history become its window, an edge with a parent fetches its prefetch set through the
 * parent (which keeps a copy) instead of the origin, and a second edge in the region takes it from
 * its sibling.
 */
import assert from 'node:assert/strict';
import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { after, before, test } from 'node:test';
import { main } from '../../cli/main.ts';
import { startEdge, type EdgeServer } from '../edge/server.ts';
import { collectFiles, publish } from '../origin/publish-client.ts';
import { startOrigin, type OriginServer } from '../origin/server.ts';
import type { EdgeSetMessage } from './origin.ts';

function modelBytes(n: number, seed: number): Buffer {
  const f = new Float32Array(Math.ceil(n / 4));
  let s = seed;
  for (let i = 0; i < f.length; i++) {
    s = (s * 1103515245 + 12345) >>> 0;
    f[i] = Math.round(Math.cos(i / 40 + seed) * 32 + ((s >>> 16) % 8)) / 32;
  }
  return Buffer.from(f.buffer, 0, n);
}

async function run(argv: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const mk = (f: (s: string) => void) => new Writable({ write: (c, _e, cb) => (f(String(c)), cb()) });
  const code = await main(argv, { stdout: mk((s) => (out += s)), stderr: mk((s) => (err += s)) });
  return { code, out, err };
}

async function until(what: string, cond: () => boolean, ms = 15_000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

let dir: string;
let origin: OriginServer;
let parent: EdgeServer | undefined;
let child: EdgeServer | undefined;
let sibling: EdgeServer | undefined;
const HOUR = 3_600_000;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'mcdn-plan-'));
  origin = await startOrigin({ dataDir: join(dir, 'origin'), host: '127.0.0.1', port: 0, encodings: [] });
  const token = origin.registry.createToken('plan').token;
  const base = modelBytes(120_000, 3);
  const next = Buffer.from(base);
  for (let i = 4000; i < 4800; i++) next[i] ^= 0x11;
  for (const [name, version, bytes] of [['popular', '1.0', base], ['other', '2.0', modelBytes(80_000, 5)], ['popular', '1.1', next]] as const) {
    const d = join(dir, `src-${name}-${version}`);
    await mkdir(d);
    await writeFile(join(d, 'model.bin'), bytes);
    const r = await publish({ server: origin.url, token, name, version, files: await collectFiles([d]) });
    assert.equal(r.job?.status, 'done');
  }
  // a day of hourly demand reports; eu-paris is quiet from 02:00 to 07:00 UTC
  const now = Date.now();
  const end = Math.floor(now / HOUR) * HOUR;
  const post = async (body: unknown) => {
    const r = await fetch(`${origin.url}/v1/demand`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    assert.equal(r.status, 202);
  };
  for (let h = 24; h >= 1; h--) {
    const from = end - h * HOUR;
    const hour = new Date(from).getUTCHours();
    const quiet = hour >= 2 && hour < 7;
    await post({ region: 'eu-paris', from, to: from + HOUR, items: [{ model: 'popular', version: '1.0', requests: quiet ? 0 : 3, bytes: quiet ? 0 : 3 * 60_000, hits: 0 }] });
    await post({
      region: 'us-east',
      from,
      to: from + HOUR,
      items: [
        { model: 'popular', version: '1.0', requests: 1, bytes: 60_000, hits: 0 },
        { model: 'popular', version: '1.1', requests: 2, bytes: 120_000, hits: 0 },
        { model: 'other', version: '2.0', requests: 2, bytes: 80_000, hits: 0 },
      ],
    });
  }
});

after(async () => {
  await sibling?.close();
  await child?.close();
  await parent?.close();
  await origin?.close();
  await rm(dir, { recursive: true, force: true });
});

test('the origin plans placements from demand reports, with a reason each, and learns off-peak windows', async () => {
  const r = await run(['plan', '--server', origin.url, '--json']);
  assert.equal(r.code, 0, r.err);
  const p = JSON.parse(r.out) as { placements: { region: string; model: string; version: string; reason: string; size: number }[]; learnedWindows: Record<string, string | null> };
  const at = (region: string) => p.placements.filter((x) => x.region === region).map((x) => `${x.model}@${x.version}`).sort();
  assert.deepEqual(at('eu-paris'), ['other@2.0', 'popular@1.0', 'popular@1.1'], 'local demand, and what is requested elsewhere spread here');
  assert.match(p.placements.find((x) => x.region === 'eu-paris' && x.model === 'other')!.reason, /globally popular/);
  assert.ok(at('us-east').includes('other@2.0'));
  for (const x of p.placements) {
    assert.match(x.reason, /origin bytes saved/);
    assert.ok(x.size > 0, 'sizes come from the manifests');
  }
  assert.match(p.placements.find((x) => x.region === 'eu-paris' && x.version === '1.0')!.reason, /local demand/);
  assert.equal(p.learnedWindows['eu-paris'], '02:00-07:00 UTC');
  const rel = (JSON.parse(r.out) as { releases: Record<string, { releases: number; nextExpectedAt: string | null }> }).releases;
  assert.equal(rel['popular']!.releases, 2);
  assert.ok(rel['popular']!.nextExpectedAt, 'two releases give a cadence');
  assert.equal(rel['other']!.nextExpectedAt, null);
  const human = await run(['plan', '--server', origin.url, '--region', 'eu-paris']);
  assert.equal(human.code, 0, human.err);
  assert.match(human.out, /eu-paris: off-peak window 02:00-07:00 UTC/);
  assert.doesNotMatch(human.out, /us-east/);
  const bad = await run(['plan', '--server', origin.url, '--region', 'no place!']);
  assert.equal(bad.code, 2);
  assert.equal((await run(['plan', '--server', 'ftp://x', '--json'])).code, 2);
});

test('predictive prefetch: a region still on 1.0 gets 1.1 and the patch 1.0 → 1.1 predicted', async () => {
  const set = (await (await fetch(`${origin.url}/v1/prefetch/set?region=eu-paris`)).json()) as EdgeSetMessage;
  const pred = set.items.find((i) => i.kind === 'predict');
  assert.ok(pred, JSON.stringify(set.items.map((i) => i.id)));
  assert.equal(pred.id, 'predict:popular@1.1');
  assert.match(pred.reason, /us-east|1\/2 regions/);
  assert.ok(pred.blobs.some((b) => b.role === 'patch' && b.fromVersion === '1.0'), 'the patch its clients will need');
  assert.ok(pred.blobs.some((b) => b.role !== 'patch'), 'and the full artifact');
  assert.equal(set.learnedWindow?.text, '02:00-07:00 UTC');
  // us-east already pulls 1.1: nothing to predict there
  const us = (await (await fetch(`${origin.url}/v1/prefetch/set?region=us-east`)).json()) as EdgeSetMessage;
  assert.equal(us.items.filter((i) => i.kind === 'predict').length, 0);
  const bad = await fetch(`${origin.url}/v1/prefetch/set?region=../etc`);
  assert.equal(bad.status, 400);
});

test('tiered fetch: an edge with a parent prefetches its set through the parent, not the origin', async () => {
  parent = await startEdge({ origin: origin.url, region: 'eu-hub', cacheDir: join(dir, 'parent'), cacheSizeBytes: 32 << 20, port: 0, demandIntervalMs: 0, memoryBytes: 0 });
  child = await startEdge({
    origin: origin.url,
    parent: parent.url,
    region: 'eu-paris',
    cacheDir: join(dir, 'child'),
    cacheSizeBytes: 32 << 20,
    port: 0,
    demandIntervalMs: 0,
    memoryBytes: 0,
    prefetch: { window: { kind: 'always' }, pinCapacityBytes: 16 << 20 },
  });
  const pf = child.prefetcher!;
  await until('the set arrived and is prefetched', () => pf.setsReceived > 0 && pf.status().items.length >= 3 && pf.status().items.every((i) => i.ready));
  const items = pf.status().items;
  assert.deepEqual(items.map((i) => i.id).sort(), ['plan:other@2.0', 'plan:popular@1.0', 'predict:popular@1.1'], 'predicted 1.1 is listed once, as a prediction');
  const hashes = new Set<string>();
  const set = (await (await fetch(`${origin.url}/v1/prefetch/set?region=eu-paris`)).json()) as EdgeSetMessage;
  for (const it of set.items) for (const b of it.blobs) hashes.add(b.hash);
  for (const h of hashes) {
    assert.ok(child.cache.peek(h), 'cached at the child');
    assert.ok(child.cache.pins().get(h)?.startsWith('prefetch:'), 'pinned at the child');
    assert.ok(parent.cache.peek(h), 'the parent kept a copy (siblings behind it fetch from it)');
  }
  assert.ok((child.upstream.requestCount.get(parent.url) ?? 0) >= hashes.size, 'blob requests went to the parent');
  assert.equal(child.upstream.requestCount.get(origin.url) ?? 0, 0, 'none to the origin');
  // the readiness report reached the origin: this edge and its window are known there
  await until('readiness stored', () => origin.prefetch.state.readiness().some((r) => r.edge === 'eu-paris' && r.ready));
  const e = origin.prefetch.state.edges().find((x) => x.edge === 'eu-paris')!;
  assert.equal(e.window, 'always');
  assert.equal(e.pinCapacityBytes, 16 << 20);
});

test('the push channel survives an origin restart: the edge reconnects with backoff and gets its set again', async () => {
  const pf = child!.prefetcher!;
  const before = pf.setsReceived;
  assert.equal(pf.status().connected, true);
  const port = Number(new URL(origin.url).port);
  await origin.close();
  await until('the edge noticed', () => !pf.status().connected, 5000);
  origin = await startOrigin({ dataDir: join(dir, 'origin'), host: '127.0.0.1', port, encodings: [] });
  await until('reconnected and the set re-sent', () => pf.status().connected && pf.setsReceived > before, 10_000);
  assert.equal(origin.prefetch.subscribers(), 1);
  // the set did not change: nothing was unpinned or fetched again
  assert.ok(pf.status().items.every((i) => i.ready));
});

test('malformed bodies and paths on the staging routes are 4xx, never 5xx, and change nothing', async () => {
  const fc = (await import('fast-check')).default;
  const token = origin.registry.createToken('fuzz').token;
  const channelsBefore = JSON.stringify(origin.registry.channels('popular'));
  const json = fc.oneof(fc.jsonValue(), fc.record({ name: fc.oneof(fc.string(), fc.constant('popular')), version: fc.oneof(fc.string(), fc.constant('9.9')), channel: fc.string(), requireReady: fc.oneof(fc.string(), fc.double()) }, { requiredKeys: [] }));
  const routes = ['/v1/stages', '/v1/deploy', '/v1/prefetch/readiness'];
  await fc.assert(
    fc.asyncProperty(fc.constantFrom(...routes), json, fc.boolean(), async (path, body, auth) => {
      const r = await fetch(origin.url + path, { method: 'POST', headers: { 'content-type': 'application/json', ...(auth ? { authorization: `Bearer ${token}` } : {}) }, body: JSON.stringify(body) });
      await r.arrayBuffer();
      assert.ok(r.status >= 400 && r.status < 500, `${path} ${JSON.stringify(body)} → ${r.status}`);
    }),
    { numRuns: 150 },
  );
  for (const p of ['/v1/stages/popular/..', '/v1/stages/%00/1', '/v1/stages/popular', '/v1/plan?region=%2e%2e', '/v1/prefetch/events?region=', '/v1/prefetch/set?region=a&edge=%20']) {
    const r = await fetch(origin.url + p);
    await r.arrayBuffer();
    assert.ok(r.status >= 400 && r.status < 500, `${p} → ${r.status}`);
  }
  assert.equal(JSON.stringify(origin.registry.channels('popular')), channelsBefore);
  assert.equal(origin.prefetch.state.activeStages().length, 0);
});

test('tiered fetch: a second edge in the region takes its prefetch set from its sibling (only-if-cached), not from upstream', async () => {
  const hitsBefore = child!.cache.getStats().hits;
  sibling = await startEdge({
    origin: origin.url,
    region: 'eu-paris',
    cacheDir: join(dir, 'sibling'),
    cacheSizeBytes: 32 << 20,
    port: 0,
    demandIntervalMs: 0,
    memoryBytes: 0,
    prefetch: { window: { kind: 'always' }, edgeId: 'eu-paris-b' },
  });
  const pf = sibling.prefetcher!;
  await until('sibling prefetched its set', () => pf.setsReceived > 0 && pf.status().items.length >= 3 && pf.status().items.every((i) => i.ready));
  assert.ok(pf.fetchedFromPeers > 0);
  assert.equal(pf.fetchedFromPeers, pf.fetchedBytes, 'every byte came from the sibling');
  assert.equal(sibling.upstream.requestCount.get(origin.url) ?? 0, 0, 'no blob request to the origin');
  assert.ok(child!.cache.getStats().hits > hitsBefore, 'served as hits at the sibling');
  // a sibling never fills on behalf of another: only-if-cached misses are 504
  const r = await fetch(`${child!.url}/v1/blobs/${'0'.repeat(64)}`, { headers: { 'cache-control': 'only-if-cached' } });
  assert.equal(r.status, 504);
  assert.equal((await r.json() as { error: { code: string } }).error.code, 'NOT_CACHED');
});
