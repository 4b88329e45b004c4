/**
 * Request ids and JSON request logs on a real node:http server: a safe client id is echoed, an
 * unsafe or missing one is replaced by a fresh id, each finished request logs one JSON line with
 * that id, and server errors log at error level without leaking headers or query strings.
 */
import assert from 'node:assert/strict';
import http, { type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import { after, before, test } from 'node:test';
import { assignRequestId, createLogger, logRequest, REQUEST_ID_RE } from './logger.ts';

const lines: Record<string, unknown>[] = [];
const sink = new Writable({
  write(chunk: Buffer, _enc, cb) {
    for (const l of chunk.toString('utf8').split('\n')) if (l.trim()) lines.push(JSON.parse(l) as Record<string, unknown>);
    cb();
  },
});
let server: Server;
let url: string;

before(async () => {
  const log = createLogger({ role: 'origin', level: 'info', destination: sink, base: { region: 'test' } });
  server = http.createServer((req, res) => {
    const t0 = performance.now();
    const reqId = assignRequestId(req, res);
    const fail = req.url!.startsWith('/boom');
    res.on('finish', () => logRequest(log, { reqId, method: req.method!, route: fail ? 'boom' : 'ok', status: res.statusCode, ms: performance.now() - t0, bytes: 2 }, fail ? new Error('disk on fire') : undefined));
    res.writeHead(fail ? 500 : 200);
    res.end('ok');
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

after(async () => {
  server.closeAllConnections();
  await new Promise<void>((r) => server.close(() => r()));
});

const settle = () => new Promise((r) => setTimeout(r, 30));

test('a safe client request id is echoed and logged', async () => {
  const r = await fetch(`${url}/x?token=secret`, { headers: { 'x-request-id': 'abc-123.X_y', authorization: 'Bearer mcdn_s3cret' } });
  assert.equal(r.headers.get('x-request-id'), 'abc-123.X_y');
  await r.arrayBuffer();
  await settle();
  const l = lines.find((x) => x['reqId'] === 'abc-123.X_y')!;
  assert.ok(l, 'one log line carries the id');
  assert.equal(l['level'], 'info');
  assert.equal(l['msg'], 'request');
  assert.equal(l['role'], 'origin');
  assert.equal(l['region'], 'test');
  assert.equal(l['status'], 200);
  assert.equal(l['method'], 'GET');
  assert.equal(typeof l['time'], 'string');
  const raw = JSON.stringify(lines);
  assert.ok(!raw.includes('secret') && !raw.includes('mcdn_s3cret'), 'no query strings or credentials in logs');
});

test('missing or unsafe ids are replaced by a fresh one', async () => {
  const ids = new Set<string>();
  for (const given of [undefined, 'has space', 'x'.repeat(65), '<script>']) {
    const r = await fetch(`${url}/y`, { headers: given ? { 'x-request-id': given } : {} });
    await r.arrayBuffer();
    const id = r.headers.get('x-request-id')!;
    assert.match(id, REQUEST_ID_RE);
    assert.notEqual(id, given);
    ids.add(id);
  }
  assert.equal(ids.size, 4, 'every request gets its own id');
  await settle();
  for (const id of ids) assert.equal(lines.filter((l) => l['reqId'] === id).length, 1);
});

test('server errors log at error level with the error message', async () => {
  const r = await fetch(`${url}/boom`);
  await r.arrayBuffer();
  await settle();
  const l = lines.find((x) => x['reqId'] === r.headers.get('x-request-id'))!;
  assert.equal(l['level'], 'error');
  assert.equal(l['status'], 500);
  assert.deepEqual(l['error'], { message: 'disk on fire' });
});
