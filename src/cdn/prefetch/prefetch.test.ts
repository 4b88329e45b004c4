/**
 * Stage → push → off-peak prefetch → status → deploy, end to end on loopback with the real origin
 * (publish, pack, patch, sign), two real edges whose upstream is a logging proxy in front of the
 * origin, and real clients: nothing is fetched while the window is closed, --require-ready refuses
 * (and changes nothing) until the edges are ready, the deploy reaches the edges by push within 1 s,
 * and from the deploy until the clients finished pulling the new version, no byte of it leaves the
 * origin. Then unstage/deploy errors and the edges unpinning after the deploy.
 */
import assert from 'node:assert/strict';
import { mkdtemp, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { after, before, test } from 'node:test';
import { main } from '../../cli/main.ts';
import { pull } from '../client/index.ts';
import { startEdge, type EdgeServer } from '../edge/server.ts';
import { collectFiles, publish } from '../origin/publish-client.ts';
import { startOrigin, type OriginServer } from '../origin/server.ts';
import type { StagedVersion } from '../dashboard/api.ts';
import type { PlacementPins } from '../dashboard/aggregate.ts';
import { PIN_PREFIX } from './edge.ts';
import { readyManifest } from './sets.ts';
import { startLoggingProxy, type LoggingProxy } from './test-proxy.ts';

function modelBytes(n: number, seed: number): Buffer {
  const f = new Float32Array(Math.ceil(n / 4));
  let s = seed;
  for (let i = 0; i < f.length; i++) {
    s = (s * 1103515245 + 12345) >>> 0;
    f[i] = Math.round(Math.sin(i / 50) * 64 + ((s >>> 16) % 4)) / 64;
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

async function until(what: string, cond: () => boolean | Promise<boolean>, ms = 15_000): Promise<void> {
  const end = Date.now() + ms;
  const t0 = Date.now();
  if (process.env.PF_DEBUG) setImmediate(() => {});
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
  if (process.env.PF_DEBUG) console.error(`until ${what}: ${Date.now() - t0} ms`);
}

let dir: string;
let origin: OriginServer;
let proxy: LoggingProxy;
let token: string;
const edges: EdgeServer[] = [];
let windowOpen = false;
const v1 = modelBytes(200_000, 1);
const v2 = Buffer.from(v1);
for (let i = 9000; i < 11000; i++) v2[i] ^= 0x21;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'mcdn-prefetch-'));
  origin = await startOrigin({ dataDir: join(dir, 'origin'), host: '127.0.0.1', port: 0, encodings: ['zstd'] });
  token = origin.registry.createToken('prefetch').token;
  for (const [version, bytes, channel] of [['1.0', v1, 'latest'], ['1.1', v2, null]] as const) {
    const d = join(dir, `src-${version}`);
    await mkdir(d);
    await writeFile(join(d, 'model.bin'), bytes);
    await writeFile(join(d, 'config.json'), JSON.stringify({ version, hidden: 64 }));
    const r = await publish({ server: origin.url, token, name: 'demo', version, channel, files: await collectFiles([d]) });
    assert.equal(r.job?.status, 'done');
  }
  proxy = await startLoggingProxy(origin.url);
  for (const region of ['eu-west', 'us-east']) {
    edges.push(
      await startEdge({
        origin: proxy.url,
        region,
        cacheDir: join(dir, `edge-${region}`),
        cacheSizeBytes: 64 << 20,
        port: 0,
        demandIntervalMs: 0,
        memoryBytes: 0,
        log: (m) => process.env.PF_DEBUG && console.error(region, m),
        prefetch: { isOffPeak: () => windowOpen, rateBytesPerSec: 50e6, sseBackoffMs: { min: 50, max: 500 } },
      }),
    );
  }
});

after(async () => {
  for (const e of edges) await e.close();
  await proxy?.close();
  await origin?.close();
  await rm(dir, { recursive: true, force: true });
});

test('stage → off-peak prefetch → status → deploy: instant swap, no byte of the new version leaves the origin', async () => {
  const [eu, us] = edges as [EdgeServer, EdgeServer];
  // a client in eu runs 1.0 (pulled through its edge)
  const outEu = join(dir, 'client-eu');
  const homeEu = join(dir, 'home-eu');
  const r0 = await pull({ ref: 'demo', server: eu.url, outDir: outEu, home: homeEu });
  assert.equal(r0.version, '1.0');
  await until('both edges on the push channel', () => origin.prefetch.subscribers() === 2 && edges.every((e) => e.prefetcher!.setsReceived > 0));

  // bad input: one clear error each, nothing staged
  const unknownModel = await run(['stage', 'nope@1.0', '--token', token, '--server', origin.url]);
  assert.equal(unknownModel.code, 4);
  assert.match(unknownModel.err, /model 'nope' does not exist/);
  const unknownVersion = await run(['stage', 'demo@9.9', '--token', token, '--server', origin.url]);
  assert.equal(unknownVersion.code, 4);
  assert.match(unknownVersion.err, /demo@9\.9 does not exist/);
  assert.equal((await run(['stage', 'demo', '--token', token, '--server', origin.url])).code, 2);
  assert.equal((await run(['stage', 'demo@1.1', '--token', 'mcdn_bad_token', '--server', origin.url])).code, 6);
  assert.equal(origin.prefetch.state.activeStages().length, 0);

  // stage while the window is closed: edges learn it by push but fetch nothing
  const st = await run(['stage', 'demo@1.1', '--token', token, '--server', origin.url, '--json']);
  assert.equal(st.code, 0, st.err);
  assert.equal(JSON.parse(st.out).status, 'staged');
  await until('the staged set reaches both edges', () => edges.every((e) => e.prefetcher!.status().items.some((i) => i.id === 'stage:demo@1.1')));
  await new Promise((r) => setTimeout(r, 300));
  for (const e of edges) assert.equal(e.prefetcher!.fetchedBytes, 0, 'nothing is fetched outside the off-peak window');
  const m = readyManifest(origin.registry, 'demo', '1.1')!;
  const v2Blobs = new Set<string>();
  for (const f of m.files) {
    v2Blobs.add(f.sha256);
    if (f.packed) v2Blobs.add(f.packed.blob);
    for (const e of Object.values(f.encodings ?? {})) if (e) v2Blobs.add(e.blob);
    for (const p of f.patches) v2Blobs.add(p.blob);
  }
  const euItem = eu.prefetcher!.status().items.find((i) => i.id === 'stage:demo@1.1')!;
  assert.ok(euItem.totalBytes > 0 && !euItem.ready);

  // status: both edges known, nothing ready; deploy --require-ready refuses and changes nothing
  const s0 = JSON.parse((await run(['status', 'demo@1.1', '--server', origin.url, '--json'])).out);
  assert.equal(s0.knownEdges, 2);
  assert.equal(s0.readyEdges, 0);
  const refused = await run(['deploy', 'demo@1.1', '--require-ready', '100%', '--token', token, '--server', origin.url]);
  assert.equal(refused.code, 8, refused.err);
  assert.match(refused.err, /ready on 0 of 2 edges/);
  assert.equal(origin.registry.channels('demo')['latest'], '1.0', 'a refused deploy changes nothing');
  assert.equal(origin.prefetch.state.getStage('demo', '1.1')!.status, 'staged');

  // the channel is cached at the edges (5 s TTL)
  const chan = async (e: EdgeServer) => ((await (await fetch(`${e.url}/v1/models/demo/channels/latest`)).json()) as { version: string }).version;
  assert.equal(await chan(eu), '1.0');
  assert.equal(await chan(us), '1.0');

  // deploy --wait waits for the edges; the window opens: both edges prefetch, pin, report ready, and the deploy goes through
  const deploying = run(['deploy', 'demo@1.1', '--require-ready', '100%', '--wait', '--token', token, '--server', origin.url, '--json']);
  await new Promise((r) => setTimeout(r, 200));
  assert.equal(origin.registry.channels('demo')['latest'], '1.0', 'deploy --wait is still waiting');
  windowOpen = true;
  for (const e of edges) e.prefetcher!.wake();
  const dep = await deploying;
  const tDeployed = Date.now();
  assert.equal(dep.code, 0, dep.err);
  const d = JSON.parse(dep.out);
  assert.equal(d.previous, '1.0');
  assert.equal(d.notifiedEdges, 2);
  assert.deepEqual(d.readiness, { readyEdges: 2, knownEdges: 2 });
  const deployedAt = Date.parse(d.deployedAt);
  // every edge learns within 1 s (its cached channel was dropped by the push)
  await until('edges serve the new channel', async () => (await chan(eu)) === '1.1' && (await chan(us)) === '1.1', 1000);
  assert.ok(Date.now() - tDeployed < 1000);

  const human = await run(['status', 'demo@1.1', '--server', origin.url]);
  assert.match(human.out, /deployed on latest — 2 of 2 edges ready/);
  assert.match(human.out, /eu-west.*ready/);
  const euPinned = [...v2Blobs].filter((h) => eu.cache.peek(h));
  assert.ok(euPinned.length >= 2, 'the packed artifact and the patch from 1.0 are cached in eu');
  const patchCached = m.files.some((f) => f.patches.some((p) => p.fromVersion === '1.0' && euPinned.includes(p.blob)));
  assert.ok(patchCached, 'the patch from the version clients use now was prefetched');

  // clients pull the new version: eu updates by patch, a new us client gets the packed file
  const r1 = await pull({ ref: 'demo', server: eu.url, outDir: outEu, home: homeEu });
  assert.equal(r1.version, '1.1');
  assert.ok((await readFile(join(outEu, 'model.bin'))).equals(v2));
  assert.equal(r1.files.find((f) => f.path === 'model.bin')!.route, 'patch');
  const r2 = await pull({ ref: 'demo', server: us.url, outDir: join(dir, 'client-us'), home: join(dir, 'home-us') });
  assert.equal(r2.version, '1.1');
  assert.ok((await readFile(join(dir, 'client-us', 'model.bin'))).equals(v2));

  const after = proxy.log.filter((r) => r.at >= deployedAt);
  const ofV2 = after.filter((r) => [...v2Blobs].some((h) => r.path.includes(h)) || r.path.includes('/versions/1.1/'));
  assert.deepEqual(ofV2, [], 'no byte of the staged version left the origin from deploy until the clients finished');
  const body = after.filter((r) => !r.path.startsWith('/v1/prefetch/')).reduce((a, r) => a + r.bytes, 0);
  assert.ok(body < 4096, `only small metadata crossed after the deploy (${body} bytes: ${after.map((r) => r.path).join(', ')})`);

  // deployed: the edges unpin it (it stays cached as ordinary, hot content)
  await until('edges unpin after the deploy', () => edges.every((e) => ![...e.cache.pins().values()].some((r) => r === `${PIN_PREFIX}stage:demo@1.1`)));
  const s1 = JSON.parse((await run(['status', 'demo@1.1', '--server', origin.url, '--json'])).out);
  assert.equal(s1.status, 'deployed');
  assert.equal(s1.channel, 'latest');
});

test('bad input to deploy and unstage: one clear error each, nothing half-applied', async () => {
  const base = ['--token', token, '--server', origin.url];
  const r1 = await run(['deploy', 'demo@7.0', ...base]);
  assert.equal(r1.code, 4);
  assert.match(r1.err, /demo@7\.0 does not exist/);
  const r2 = await run(['deploy', 'ghost@1.0', ...base]);
  assert.equal(r2.code, 4);
  assert.match(r2.err, /model 'ghost' does not exist/);
  const r3 = await run(['deploy', 'demo@1.0', '--require-ready', '150%', ...base]);
  assert.equal(r3.code, 2);
  assert.match(r3.err, /between 0% and 100%/);
  const r4 = await run(['deploy', 'demo@1.0', '--require-ready', '100%', ...base]);
  assert.equal(r4.code, 8);
  assert.match(r4.err, /not staged/);
  const r5 = await run(['deploy', 'demo@1.0', '--channel', 'Bad Channel', ...base]);
  assert.equal(r5.code, 2);
  assert.equal(origin.registry.channels('demo')['latest'], '1.1', 'no refused deploy moved the channel');
  const r6 = await run(['unstage', 'demo@1.0', ...base]);
  assert.equal(r6.code, 8);
  assert.match(r6.err, /not staged/);
  const r7 = await run(['status', 'demo@1.0', '--server', origin.url]);
  assert.equal(r7.code, 4);
  assert.match(r7.err, /has not been staged/);

  // stage then unstage: edges drop it from their sets and unpin
  assert.equal((await run(['stage', 'demo@1.0', ...base])).code, 0);
  await until('edges see the stage', () => edges.every((e) => e.prefetcher!.status().items.some((i) => i.id === 'stage:demo@1.0')));
  await until('edges ready', () => edges.every((e) => e.prefetcher!.status().items.find((i) => i.id === 'stage:demo@1.0')?.ready === true));
  await until('1.0 pinned', () => edges.every((e) => [...e.cache.pins().values()].includes(`${PIN_PREFIX}stage:demo@1.0`)));
  const un = await run(['unstage', 'demo@1.0', ...base, '--json']);
  assert.equal(un.code, 0, un.err);
  assert.equal(JSON.parse(un.out).status, 'unstaged');
  await until('edges unpin after unstage', () => edges.every((e) => ![...e.cache.pins().values()].includes(`${PIN_PREFIX}stage:demo@1.0`)));
  const list = JSON.parse((await run(['status', '--server', origin.url, '--json'])).out) as { stages: { version: string; status: string }[] };
  assert.deepEqual(list.stages.map((s) => `${s.version}:${s.status}`).sort(), ['1.0:unstaged', '1.1:deployed']);
  // the dashboard's providers: the same views, typed as the dashboard expects them
  const staged: StagedVersion[] = origin.prefetch.stages();
  assert.equal(staged.length, 2);
  assert.ok(staged.every((s) => s.edges.length === 2 && s.edges.every((e) => e.totalBytes >= e.readyBytes)));
  const pins: PlacementPins = origin.prefetch.placementPins();
  assert.ok(Array.isArray(pins));
});
