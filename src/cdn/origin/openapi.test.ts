/**
 * docs/openapi.json matches the real origin: every route is documented (and nothing else), and real
 * responses of the main routes have a documented status code and validate against the documented
 * schema (a small JSON-Schema subset checker: type, required, properties, items, enum, const,
 * pattern, bounds, additionalProperties, $ref).
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sha256Hex } from '../../util/hash.ts';
import { startOrigin, type OriginServer } from './server.ts';
import { publish } from './publish-client.ts';

type Schema = Record<string, unknown>;
const DOC = JSON.parse(readFileSync(new URL('../../../docs/openapi.json', import.meta.url), 'utf8')) as {
  openapi: string;
  paths: Record<string, Record<string, { operationId: string; responses: Record<string, { content?: Record<string, { schema: Schema }> }> }>>;
  components: { schemas: Record<string, Schema> };
};

function typeOf(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  if (typeof v === 'number') return Number.isInteger(v) ? 'integer' : 'number';
  return typeof v;
}

/** Validate `v` against a JSON-Schema subset; returns a list of problems (empty when valid). */
export function check(schema: Schema, v: unknown, at = '$'): string[] {
  if (typeof schema['$ref'] === 'string') {
    const name = (schema['$ref'] as string).replace('#/components/schemas/', '');
    const target = DOC.components.schemas[name];
    if (!target) return [`${at}: unresolved $ref ${schema['$ref'] as string}`];
    return check(target, v, at);
  }
  const errs: string[] = [];
  if ('const' in schema && v !== schema['const']) errs.push(`${at}: expected ${JSON.stringify(schema['const'])}`);
  if (Array.isArray(schema['enum']) && !(schema['enum'] as unknown[]).includes(v)) errs.push(`${at}: ${JSON.stringify(v)} not in enum`);
  if (schema['type'] !== undefined) {
    const types = Array.isArray(schema['type']) ? (schema['type'] as string[]) : [schema['type'] as string];
    const t = typeOf(v);
    if (!types.includes(t) && !(t === 'integer' && types.includes('number'))) return [...errs, `${at}: type ${t}, expected ${types.join('|')}`];
  }
  if (typeof v === 'string' && typeof schema['pattern'] === 'string' && !new RegExp(schema['pattern'] as string).test(v)) errs.push(`${at}: does not match ${schema['pattern'] as string}`);
  if (typeof v === 'number') {
    if (typeof schema['minimum'] === 'number' && v < (schema['minimum'] as number)) errs.push(`${at}: below minimum`);
    if (typeof schema['maximum'] === 'number' && v > (schema['maximum'] as number)) errs.push(`${at}: above maximum`);
  }
  if (Array.isArray(v)) {
    if (typeof schema['minItems'] === 'number' && v.length < (schema['minItems'] as number)) errs.push(`${at}: too few items`);
    if (schema['items']) v.forEach((x, i) => errs.push(...check(schema['items'] as Schema, x, `${at}[${i}]`)));
  }
  if (typeOf(v) === 'object') {
    const o = v as Record<string, unknown>;
    for (const r of (schema['required'] as string[] | undefined) ?? []) if (!(r in o)) errs.push(`${at}: missing required '${r}'`);
    const props = (schema['properties'] as Record<string, Schema> | undefined) ?? {};
    for (const [k, x] of Object.entries(o)) {
      if (props[k]) errs.push(...check(props[k]!, x, `${at}.${k}`));
      else if (typeof schema['additionalProperties'] === 'object') errs.push(...check(schema['additionalProperties'] as Schema, x, `${at}.${k}`));
    }
  }
  return errs;
}

let dir: string;
let origin: OriginServer;
let token: string;
let blob: string;

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'mcdn-openapi-'));
  origin = await startOrigin({ dataDir: join(dir, 'data'), port: 0, encodings: ['gzip'] });
  token = origin.registry.createToken('t').token;
  const f = join(dir, 'tiny.json');
  writeFileSync(f, JSON.stringify({ hello: 'world'.repeat(200) }));
  blob = sha256Hex(readFileSync(f));
  await publish({ server: origin.url, token, name: 'tiny', version: '1', files: [{ localPath: f, path: 'tiny.json', size: readFileSync(f).length }] });
});

after(async () => {
  await origin.close();
  rmSync(dir, { recursive: true, force: true });
});

const norm = (p: string) => p.replace(/\{[^}]+\}|:[A-Za-z]+|\*[A-Za-z]+/g, '{}');

test('every route of the server is documented, and every documented path exists', () => {
  assert.equal(DOC.openapi, '3.1.0');
  const docOps = new Map<string, string>();
  for (const [p, ops] of Object.entries(DOC.paths)) for (const [m, op] of Object.entries(ops)) docOps.set(`${m.toUpperCase()} ${norm(p)}`, op.operationId);
  const served = new Set<string>();
  for (const r of origin.routes) {
    for (const m of r.methods) {
      const key = `${m} ${norm(r.path)}`;
      served.add(key);
      if (m === 'HEAD' && !docOps.has(key)) continue; // HEAD of a GET route is implied
      assert.ok(docOps.has(key), `route ${key} is not in docs/openapi.json`);
      if (m !== 'HEAD') assert.equal(docOps.get(key), r.id, `operationId of ${key}`);
    }
  }
  for (const k of docOps.keys()) assert.ok(served.has(k), `documented ${k} is not served`);
});

test('real responses have documented status codes and match the documented schemas', async () => {
  const auth = { authorization: `Bearer ${token}`, 'content-type': 'application/json' };
  const size = readFileSync(join(dir, 'tiny.json')).length;
  const upload = JSON.stringify({ sha256: blob, size });
  const cases: { path: string; docPath: string; method?: string; headers?: Record<string, string>; body?: string; status: number }[] = [
    { path: '/healthz', docPath: '/healthz', status: 200 },
    { path: '/openapi.json', docPath: '/openapi.json', status: 200 },
    { path: '/.well-known/modelcdn/public-key', docPath: '/.well-known/modelcdn/public-key', status: 200 },
    { path: '/v1/models', docPath: '/v1/models', status: 200 },
    { path: '/v1/models/tiny', docPath: '/v1/models/{name}', status: 200 },
    { path: '/v1/models/none', docPath: '/v1/models/{name}', status: 404 },
    { path: '/v1/models/a%2fb', docPath: '/v1/models/{name}', status: 400 },
    { path: '/v1/models/tiny/channels/latest', docPath: '/v1/models/{name}/channels/{channel}', status: 200 },
    { path: '/v1/models/tiny/channels/beta', docPath: '/v1/models/{name}/channels/{channel}', status: 404 },
    { path: '/v1/models/tiny/versions/1/manifest', docPath: '/v1/models/{name}/versions/{version}/manifest', status: 200 },
    { path: '/v1/models/tiny/versions/2/manifest', docPath: '/v1/models/{name}/versions/{version}/manifest', status: 404 },
    { path: '/v1/models/tiny/versions/1/files/tiny.json', docPath: '/v1/models/{name}/versions/{version}/files/{path}', status: 200 },
    { path: `/v1/blobs/${blob}`, docPath: '/v1/blobs/{sha256}', status: 200 },
    { path: `/v1/blobs/${blob}`, docPath: '/v1/blobs/{sha256}', headers: { range: 'bytes=0-3' }, status: 206 },
    { path: `/v1/blobs/${blob}`, docPath: '/v1/blobs/{sha256}', headers: { range: 'bytes=99999-' }, status: 416 },
    { path: `/v1/blobs/${blob}`, docPath: '/v1/blobs/{sha256}', headers: { 'if-none-match': `"${blob}"` }, status: 304 },
    { path: '/v1/blobs/nothex', docPath: '/v1/blobs/{sha256}', status: 400 },
    { path: '/v1/publish/uploads', docPath: '/v1/publish/uploads', method: 'POST', headers: auth, body: upload, status: 200 },
    { path: '/v1/publish/uploads', docPath: '/v1/publish/uploads', method: 'POST', body: upload, status: 401 },
    { path: '/v1/publish/versions', docPath: '/v1/publish/versions', method: 'POST', headers: auth, body: JSON.stringify({ name: 'tiny', version: '2', files: [{ path: 'tiny.json', size, sha256: blob }] }), status: 202 },
    { path: '/v1/publish/versions', docPath: '/v1/publish/versions', method: 'POST', headers: auth, body: JSON.stringify({ name: 'tiny', version: '1', files: [{ path: 'tiny.json', size, sha256: blob }] }), status: 409 },
    { path: '/v1/demand', docPath: '/v1/demand', method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ region: 'r1', from: 0, to: 1, items: [] }), status: 202 },
  ];
  let jobId: string | undefined;
  for (const c of cases) {
    const method = c.method ?? 'GET';
    const res = await fetch(origin.url + c.path, { method, headers: c.headers ?? {}, ...(c.body ? { body: c.body } : {}) });
    const where = `${method} ${c.path}`;
    assert.equal(res.status, c.status, `${where} → ${res.status}`);
    const op = DOC.paths[c.docPath]?.[method.toLowerCase()];
    assert.ok(op, `${where}: ${c.docPath} ${method} not documented`);
    const doc = op.responses[String(res.status)];
    assert.ok(doc, `${where}: status ${res.status} not documented`);
    const schema = doc.content?.['application/json']?.schema;
    if (schema && res.status !== 304) {
      const body = (await res.json()) as Record<string, unknown>;
      assert.deepEqual(check(schema, body), [], where);
      if (c.path === '/v1/publish/versions' && res.status === 202) jobId = body['jobId'] as string;
    } else await res.arrayBuffer();
  }
  assert.ok(jobId);
  const job = await fetch(`${origin.url}/v1/jobs/${jobId}`);
  assert.equal(job.status, 200);
  assert.deepEqual(check(DOC.paths['/v1/jobs/{id}']!['get']!.responses['200']!.content!['application/json']!.schema, await job.json()), []);
  // the manifest payload itself matches the Manifest schema
  const env = (await (await fetch(`${origin.url}/v1/models/tiny/versions/1/manifest`)).json()) as { payload: string };
  assert.deepEqual(check({ $ref: '#/components/schemas/Manifest' }, JSON.parse(Buffer.from(env.payload, 'base64').toString())), []);
  await origin.jobs.idle();
});

test('the checker itself rejects wrong shapes', () => {
  assert.ok(check({ $ref: '#/components/schemas/Channel' }, { name: 'a', channel: 'b' }).length > 0);
  assert.ok(check({ $ref: '#/components/schemas/Job' }, { id: 1 }).length > 0);
  assert.deepEqual(check({ $ref: '#/components/schemas/Channel' }, { name: 'a', channel: 'b', version: '1' }), []);
});
