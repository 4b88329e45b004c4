/**
 * docs/openapi.json against the real servers: an origin and an edge on loopback, two published
 * versions pulled through the edge, then real responses of the main routes (origin and edge, good
 * and error cases) validated against the document's schemas with the subset validator in
 * test/support/openapi.ts — including the dashboard's routes, whose OpenAPI objects live beside
 * their types (src/cdn/dashboard/openapi.ts) and must equal what docs/openapi.json says. The
 * validator itself is checked on failing values first, so a passing run means something.
 */
import assert from 'node:assert/strict';
import { mkdtemp, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { startEdge, type EdgeServer } from '../src/cdn/edge/server.ts';
import { startOrigin, type OriginServer } from '../src/cdn/origin/server.ts';
import { collectFiles, publish } from '../src/cdn/origin/publish-client.ts';
import { pull } from '../src/cdn/client/index.ts';
import { DASHBOARD_PATHS, DASHBOARD_SCHEMAS } from '../src/cdn/dashboard/openapi.ts';
import { checkResponse, matchPathTemplate, validate } from './support/openapi.ts';
import { REPO_ROOT } from './fixtures.ts';

type Doc = Record<string, unknown>;
let doc: Doc;
let dir: string;
let origin: OriginServer;
let edge: EdgeServer;
let jobId: string;
let token: string;

function bytes(n: number, seed: number): Buffer {
  const f = new Float32Array(n / 4);
  for (let i = 0; i < f.length; i++) f[i] = Math.round(Math.sin((i + seed) / 40) * 50) / 50;
  return Buffer.from(f.buffer);
}

before(async () => {
  doc = JSON.parse(await readFile(join(REPO_ROOT, 'docs/openapi.json'), 'utf8')) as Doc;
  dir = await mkdtemp(join(tmpdir(), 'mcdn-openapi-'));
  origin = await startOrigin({ dataDir: join(dir, 'origin'), host: '127.0.0.1', port: 0 });
  token = origin.registry.createToken('t').token;
  const v1 = bytes(64_000, 0);
  const v2 = Buffer.from(v1);
  v2.fill(7, 1000, 1400);
  for (const [version, b] of [['1.0', v1], ['1.1', v2]] as const) {
    const d = join(dir, `src-${version}`);
    await mkdir(d);
    await writeFile(join(d, 'model.bin'), b);
    await writeFile(join(d, 'config.json'), JSON.stringify({ version }));
    const r = await publish({ server: origin.url, token, name: 'spec-model', version, files: await collectFiles([d]) });
    assert.equal(r.job?.status, 'done');
    jobId = r.jobId;
  }
  edge = await startEdge({ origin: origin.url, region: 'spec-eu', cacheDir: join(dir, 'edge'), cacheSizeBytes: 50 << 20, port: 0, demandIntervalMs: 0 });
  await pull({ ref: 'spec-model@1.0', server: edge.url, outDir: join(dir, 'out'), home: join(dir, 'home') });
  await pull({ ref: 'spec-model@1.1', server: edge.url, outDir: join(dir, 'out'), home: join(dir, 'home') });
  await new Promise((r) => setTimeout(r, 100)); // demand is recorded just after a response's last byte
  await edge.reporter.flush();
});

after(async () => {
  await edge?.close();
  await origin?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

async function check(base: string, path: string, init: RequestInit & { expect?: number } = {}): Promise<unknown> {
  const method = init.method ?? 'GET';
  const r = await fetch(base + path, init);
  if (init.expect !== undefined) assert.equal(r.status, init.expect, `${method} ${path}`);
  const body: unknown = await r.json();
  const errs = checkResponse(doc, path.split('?')[0]!, method, r.status, body);
  assert.deepEqual(errs, [], `${method} ${path} → ${r.status} does not match docs/openapi.json:\n${errs.join('\n')}`);
  return body;
}

test('the validator rejects what the schemas forbid (so passing runs mean something)', () => {
  const health = { $ref: '#/components/schemas/Health' };
  assert.deepEqual(validate(doc, health, { ok: true, role: 'origin' }), []);
  assert.ok(validate(doc, health, { ok: 'yes', role: 'origin' }).some((e) => e.includes('$.ok')));
  assert.ok(validate(doc, health, { ok: true, role: 'cdn' }).some((e) => e.includes('enum')));
  assert.ok(validate(doc, health, { role: 'edge' }).some((e) => e.includes("missing required 'ok'")));
  assert.ok(validate(doc, { type: 'integer' }, 1.5).length > 0);
  assert.ok(validate(doc, { oneOf: [{ type: 'string' }, { type: 'null' }] }, 3).length > 0);
  assert.ok(validate(doc, { frobnicate: true }, 3).some((e) => e.includes('unsupported keyword')));
  assert.equal(matchPathTemplate(doc, '/v1/models/a/versions/1/files/dir/x.bin'), '/v1/models/{name}/versions/{version}/files/{path}');
});

test('origin: real responses of the read routes match the document', async () => {
  const b = origin.url;
  await check(b, '/healthz', { expect: 200 });
  const list = (await check(b, '/v1/models', { expect: 200 })) as { models: { name: string }[] };
  assert.ok(list.models.some((m) => m.name === 'spec-model'));
  await check(b, '/v1/models/spec-model', { expect: 200 });
  await check(b, '/v1/models/spec-model/channels/latest', { expect: 200 });
  await check(b, '/v1/models/spec-model/versions/1.1/manifest', { expect: 200 });
  await check(b, '/.well-known/modelcdn/public-key', { expect: 200 });
  await check(b, `/v1/jobs/${jobId}`, { expect: 200 });
  const spec = (await check(b, '/openapi.json', { expect: 200 })) as { openapi: string };
  assert.equal(spec.openapi, doc['openapi']);
});

test('origin: error responses match the document', async () => {
  const b = origin.url;
  await check(b, '/v1/models/no-such-model', { expect: 404 });
  await check(b, '/v1/models/spec-model/channels/nope', { expect: 404 });
  await check(b, '/v1/models/spec-model/versions/9.9/manifest', { expect: 404 });
  await check(b, '/v1/jobs/nope', { expect: 404 });
  await check(b, '/v1/publish/versions', { method: 'POST', body: '{}', headers: { 'content-type': 'application/json' }, expect: 401 });
  await check(b, '/v1/demand', { method: 'POST', body: JSON.stringify({ region: 'bad region!', from: 0, to: 1, items: [] }), headers: { 'content-type': 'application/json' }, expect: 400 });
});

test('origin: a demand report is accepted as documented', async () => {
  const body = { region: 'spec-us', from: new Date(Date.now() - 1000).toISOString(), to: new Date().toISOString(), items: [{ model: 'spec-model', version: '1.1', blob: 'a'.repeat(64), requests: 2, bytes: 10, hits: 1 }] };
  const reqErrs = validate(doc, { $ref: '#/components/schemas/DemandReport' }, body);
  assert.deepEqual(reqErrs, [], 'the request body itself follows the schema');
  await check(origin.url, '/v1/demand', { method: 'POST', body: JSON.stringify(body), headers: { 'content-type': 'application/json' }, expect: 202 });
});

test('edge: the same read API matches the document', async () => {
  const b = edge.url;
  await check(b, '/healthz', { expect: 200 });
  await check(b, '/v1/models', { expect: 200 });
  await check(b, '/v1/models/spec-model', { expect: 200 });
  await check(b, '/v1/models/spec-model/channels/latest', { expect: 200 });
  await check(b, '/v1/models/spec-model/versions/1.0/manifest', { expect: 200 });
  await check(b, '/v1/models/no-such-model', { expect: 404 });
});

test('dashboard: docs/openapi.json carries the dashboard objects as written beside their types', () => {
  const paths = doc['paths'] as Record<string, unknown>;
  const schemas = (doc['components'] as { schemas: Record<string, unknown> }).schemas;
  for (const [p, v] of Object.entries(DASHBOARD_PATHS)) assert.deepEqual(paths[p], v, `docs/openapi.json paths['${p}'] differs from src/cdn/dashboard/openapi.ts`);
  for (const [n, v] of Object.entries(DASHBOARD_SCHEMAS)) assert.deepEqual(schemas[n], v, `docs/openapi.json schema ${n} differs from src/cdn/dashboard/openapi.ts`);
});

test('dashboard: real responses (with demand, cache figures and a staged version) match the document', async () => {
  const staged = await fetch(`${origin.url}/v1/stages`, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: JSON.stringify({ name: 'spec-model', version: '1.1' }) });
  assert.equal(staged.status, 201);
  const snap = (await check(origin.url, '/v1/dashboard', { expect: 200 })) as { edges: { edges: { region: string; cache: unknown; series: { t: number[] } }[] }; staging: { staged: unknown[] }; models: { models: unknown[] } };
  const eu = snap.edges.edges.find((e) => e.region === 'spec-eu')!;
  assert.ok(eu.cache, 'cache figures arrived with the demand report');
  assert.ok(eu.series.t.length >= 1);
  assert.equal(snap.staging.staged.length, 1);
  assert.equal(snap.models.models.length, 1);
  await check(origin.url, '/v1/dashboard?window=3600', { expect: 200 });
  await check(origin.url, '/v1/dashboard/models', { expect: 200 });
  await check(origin.url, '/v1/dashboard/edges', { expect: 200 });
  await check(origin.url, '/v1/dashboard/edges?window=5', { expect: 400 });
  await check(origin.url, '/v1/dashboard/staging', { expect: 200 });
  await check(origin.url, '/v1/dashboard/placement', { expect: 200 });
  const ev = await fetch(`${origin.url}/v1/events`);
  assert.equal(ev.headers.get('content-type'), 'text/event-stream; charset=utf-8');
  await ev.body!.cancel();
  const m = await fetch(`${origin.url}/metrics`);
  assert.match(m.headers.get('content-type')!, /^text\/plain/);
  await m.arrayBuffer();
});

test('edge: its status route matches the EdgeStatus schema', async () => {
  const body = (await (await fetch(`${edge.url}/v1/edge/status`)).json()) as unknown;
  assert.deepEqual(validate(doc, { $ref: '#/components/schemas/EdgeStatus' }, body), []);
});
