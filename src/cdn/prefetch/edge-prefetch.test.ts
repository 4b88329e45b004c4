/**
 * The edge prefetcher's mechanics against a real test upstream (src/cdn/edge/test-origin.ts) and a
 * real blob cache: the token-bucket cap paces a download; a download stopped by the window closing
 * keeps its part file and resumes with Range (no byte fetched twice), also across a prefetcher
 * restart; corrupt bytes are refused by the cache; blobs leave their pins when they leave the set;
 * the SSE parser yields the same events however the stream is split; the window settings parse
 * with one clear error per bad input.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import fc from 'fast-check';
import { EdgeBlobCache } from '../edge/blob-cache.ts';
import { randomBlob, startTestOrigin, type TestOrigin } from '../edge/test-origin.ts';
import { Upstream } from '../edge/upstream.ts';
import { TokenBucket } from '../placement/index.ts';
import { PIN_PREFIX, Prefetcher, parseWindowSetting } from './edge.ts';
import { fetchBlobResumable, partPath } from './fetcher.ts';
import type { EdgeSetMessage } from './origin.ts';
import { SseParser, type SseEvent } from './sse-client.ts';

let dir: string;
let up: TestOrigin;
let upstream: Upstream;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'mcdn-pf-edge-'));
  up = await startTestOrigin();
  upstream = new Upstream({ origin: up.url });
});

after(async () => {
  upstream.close();
  await up.close();
  await rm(dir, { recursive: true, force: true });
});

async function until(what: string, cond: () => boolean, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

function setOf(items: { id: string; blobs: { hash: string; size: number }[] }[]): EdgeSetMessage {
  return {
    edge: 'e1',
    region: 'r1',
    learnedWindow: null,
    peers: [],
    items: items.map((it) => ({
      id: it.id,
      kind: 'stage',
      name: 'm',
      version: it.id.split('@')[1] ?? '1',
      reason: 'test',
      blobs: it.blobs.map((b) => ({ ...b, role: 'packed', path: 'model.bin' })),
      totalBytes: it.blobs.reduce((a, b) => a + b.size, 0),
    })),
  };
}

test('the rate cap paces a download (token bucket)', async () => {
  const data = randomBlob(600_000, 7);
  const hash = up.add(data);
  const d = join(dir, 'rate');
  await import('node:fs/promises').then((f) => f.mkdir(d, { recursive: true }));
  const t0 = performance.now();
  const r = await fetchBlobResumable({ upstream, dir: d, hash, size: data.length, bucket: new TokenBucket(1_000_000, 100_000) });
  const s = (performance.now() - t0) / 1000;
  assert.equal(r.have, data.length);
  // 100 kB burst, then 1 MB/s: at least 0.5 s for 600 kB (and not absurdly slow)
  assert.ok(s >= 0.45, `took ${s.toFixed(2)} s, the cap allows no less than 0.5 s`);
  assert.ok(s < 3, `took ${s.toFixed(2)} s`);
});

test('a download stopped by the window keeps its part and resumes with Range; nothing is fetched twice; corrupt bytes are refused', async () => {
  const data = randomBlob(1_500_000, 11);
  const hash = up.add(data);
  up.pace = { chunk: 64 << 10, delayMs: 15 };
  const cache = new EdgeBlobCache({ dir: join(dir, 'cache1'), capacityBytes: 32 << 20, upstream, memoryBytes: 0 });
  await cache.open();
  let open = true;
  let p = new Prefetcher({ cache, upstream, region: 'r1', subscribe: false, isOffPeak: () => open });
  await p.start();
  p.applySet(setOf([{ id: 'stage:m@2', blobs: [{ hash, size: data.length }] }]));
  await until('some bytes', () => p.fetchedBytes > 300_000);
  open = false; // the window closes mid-blob
  await until('download stopped', () => p.status().downloading === null, 5000);
  const first = p.fetchedBytes;
  assert.ok(first < data.length, 'stopped before the end');
  const part = await stat(partPath(p.dir, hash));
  assert.equal(part.size, first, 'what arrived is kept');
  const item = p.status().items[0]!;
  assert.equal(item.ready, false);
  assert.equal(item.doneBytes, first);
  assert.equal(cache.peek(hash), undefined);
  // a restart while the window is closed: the new prefetcher finds the part
  await p.close();
  p = new Prefetcher({ cache, upstream, region: 'r1', subscribe: false, isOffPeak: () => open });
  await p.start();
  p.applySet(setOf([{ id: 'stage:m@2', blobs: [{ hash, size: data.length }] }]));
  assert.equal(p.status().items[0]!.doneBytes, first);
  open = true;
  p.wake();
  await until('blob cached', () => cache.peek(hash) !== undefined);
  assert.equal(first + p.fetchedBytes, data.length, 'resumed where it stopped: no byte twice');
  assert.equal(cache.pins().get(hash), `${PIN_PREFIX}stage:m@2`);
  await until('reported ready', () => p.status().items[0]!.ready);

  // bytes that do not hash to their name never enter the cache
  const bad = randomBlob(200_000, 12);
  const badHash = up.add(bad);
  up.corrupt.add(badHash);
  up.pace = { chunk: 0, delayMs: 0 };
  p.applySet(setOf([{ id: 'stage:m@2', blobs: [{ hash, size: data.length }] }, { id: 'stage:m@3', blobs: [{ hash: badHash, size: bad.length }] }]));
  await until('failure recorded', () => p.status().items[1]!.error !== null);
  assert.match(p.status().items[1]!.error!, /hash/);
  assert.equal(cache.peek(badHash), undefined);
  await assert.rejects(stat(partPath(p.dir, badHash)));

  // leaving the set unpins (the blob stays cached as ordinary content)
  p.applySet(setOf([]));
  assert.equal(cache.pins().has(hash), false);
  assert.ok(cache.peek(hash));
  await p.close();
  await cache.close();
});

test('a blob already cached is pinned at once, even outside the window, and counts as ready', async () => {
  const data = randomBlob(50_000, 13);
  const hash = up.add(data);
  const cache = new EdgeBlobCache({ dir: join(dir, 'cache2'), capacityBytes: 8 << 20, upstream, memoryBytes: 0 });
  await cache.open();
  await cache.prefetch(hash);
  const p = new Prefetcher({ cache, upstream, region: 'r1', subscribe: false, isOffPeak: () => false });
  await p.start();
  p.applySet(setOf([{ id: 'plan:m@1', blobs: [{ hash, size: data.length }] }]));
  assert.equal(cache.pins().get(hash), `${PIN_PREFIX}plan:m@1`);
  assert.deepEqual(
    p.status().items.map((i) => [i.id, i.ready, i.doneBytes]),
    [['plan:m@1', true, data.length]],
  );
  assert.equal(p.fetchedBytes, 0);
  await p.close();
  await cache.close();
});

test('SSE parser: the same events however the stream is split (LF, CRLF, CR), comments and retry', () => {
  const events: SseEvent[] = [
    { event: 'state', data: '{"a":1}' },
    { event: 'channel', data: 'line1\nline2', id: '7' },
    { event: 'message', data: '' + 'x'.repeat(300) },
  ];
  const encode = (nl: string) =>
    `retry: 1500${nl}: ping${nl}${nl}` +
    events.map((e) => `${e.event === 'message' ? '' : `event: ${e.event}${nl}`}${e.id ? `id: ${e.id}${nl}` : ''}${e.data.split('\n').map((l) => `data: ${l}${nl}`).join('')}${nl}`).join('');
  fc.assert(
    fc.property(fc.constantFrom('\n', '\r\n', '\r'), fc.array(fc.nat(), { maxLength: 8 }), (nl, cuts) => {
      const text = encode(nl);
      const points = [...new Set(cuts.map((c) => c % (text.length + 1)))].sort((a, b) => a - b);
      const p = new SseParser();
      const got: SseEvent[] = [];
      let last = 0;
      for (const c of [...points, text.length]) {
        p.feed(text.slice(last, c), (e) => got.push(e));
        last = c;
      }
      // ids persist from the event that set them (WHATWG last-event-id semantics)
      assert.deepEqual(
        got.map((e) => [e.event, e.data]),
        events.map((e) => [e.event, e.data]),
      );
      assert.equal(got[1]!.id, '7');
      assert.equal(p.retryMs, 1500);
    }),
    { numRuns: 200 },
  );
});

test('window settings: fixed, learn, always; bad windows and zones give one clear error', () => {
  assert.deepEqual(parseWindowSetting('always', undefined), { kind: 'always' });
  assert.deepEqual(parseWindowSetting(undefined, undefined), { kind: 'learn' });
  const w = parseWindowSetting('01:00-06:00', 'Europe/Paris');
  assert.equal(w.kind, 'fixed');
  const p = new Prefetcher({ cache: {} as EdgeBlobCache, upstream, region: 'r', dir: join(dir, 'unused'), subscribe: false, window: w, now: () => Date.UTC(2026, 0, 15, 1, 30) });
  assert.equal(p.offPeak(), true, '01:30 UTC is 02:30 in Paris (winter): inside');
  assert.equal(p.offPeak(Date.UTC(2026, 0, 15, 5, 30)), false, '05:30 UTC is 06:30 in Paris: outside');
  assert.equal(p.offPeak(Date.UTC(2026, 6, 15, 3, 30)), true, '03:30 UTC is 05:30 in Paris (summer): inside');
  assert.throws(() => parseWindowSetting('01:00-06:00', 'Mars/Olympus'), { code: 'BAD_TIMEZONE' });
  assert.throws(() => parseWindowSetting(undefined, 'Nowhere/Land'), { code: 'BAD_TIMEZONE' });
  assert.throws(() => parseWindowSetting('1am-6am', 'UTC'), { code: 'BAD_WINDOW' });
  assert.throws(() => parseWindowSetting('03:00-03:00', 'UTC'), { code: 'BAD_WINDOW' });
});

test('edge command: a bad window, zone, rate or pin share is one clear error before anything starts', async () => {
  const { main } = await import('../../cli/main.ts');
  const { Writable } = await import('node:stream');
  const cases: [string[], RegExp][] = [
    [['--offpeak', '25:00-01:00'], /off-peak window '25:00-01:00' is not HH:MM-HH:MM/],
    [['--offpeak', '01:00-06:00', '--tz', 'Mars/Olympus'], /unknown time zone 'Mars\/Olympus'/],
    [['--offpeak', '04:00-04:00'], /is empty/],
    [['--prefetch-rate', 'fast'], /rate 'fast' is not a byte rate/],
    [['--pin-share', '1.5'], /--pin-share must be within 0..1/],
  ];
  for (const [flags, re] of cases) {
    let err = '';
    const sink = (f: (s: string) => void) => new Writable({ write: (c, _e, cb) => (f(String(c)), cb()) });
    const code = await main(['edge', '--origin', up.url, '--cache-dir', join(dir, 'cli-edge'), '--port', '0', ...flags], { stdout: sink(() => {}), stderr: sink((s) => (err += s)) });
    assert.equal(code, 2, `${flags.join(' ')}: ${err}`);
    assert.match(err, re);
    assert.equal(err.trim().split('\n').length, 1, 'one line');
  }
});

test('staged manifests are read into the metadata cache at once and renewed before they expire; a channel push marks channels stale', async () => {
  const calls: string[] = [];
  const meta = {
    async get(key: string) {
      calls.push(`get ${key}`);
      return { status: 200 };
    },
    invalidate(key: string) {
      calls.push(`invalidate ${key}`);
    },
  };
  const cache = new EdgeBlobCache({ dir: join(dir, 'cache3'), capacityBytes: 8 << 20, upstream, memoryBytes: 0 });
  await cache.open();
  const p = new Prefetcher({ cache, upstream, meta, region: 'r1', subscribe: false, isOffPeak: () => false, manifestWarmMs: 40 });
  await p.start();
  p.applySet(setOf([{ id: 'stage:m@2', blobs: [] }]));
  const key = '/v1/models/m/versions/2/manifest';
  await until('first read', () => calls.includes(`get ${key}`));
  await until('renewed', () => calls.includes(`invalidate ${key}`) && calls.filter((c) => c === `get ${key}`).length >= 2);
  p.onChannel({ name: 'm', channel: 'latest', version: '2' });
  assert.ok(calls.includes('invalidate /v1/models/m/channels/latest'));
  assert.ok(calls.includes('invalidate /v1/models/m'));
  await p.close();
  await cache.close();
});
