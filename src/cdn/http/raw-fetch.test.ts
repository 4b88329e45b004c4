import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { McdnError } from '../../errors.ts';
import { Upstream } from '../edge/upstream.ts';
import { RawBlobResponse, releaseReadBuffer } from './raw-fetch.ts';

async function serve(body: Buffer, chunked = false): Promise<{ url: string; close: () => Promise<void> }> {
  const server = http.createServer((_req, res) => {
    if (chunked) {
      res.writeHead(200, { 'content-type': 'application/octet-stream' }); // no length: chunked
      res.write(body.subarray(0, 1000));
      res.end(body.subarray(1000));
    } else {
      res.writeHead(200, { 'content-length': String(body.length) });
      res.end(body);
    }
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, close: () => new Promise((r) => server.close(() => r())) };
}

function get(url: string): Promise<RawBlobResponse> {
  const u = new URL(url + '/blob');
  return new Promise((resolve, reject) => {
    const r: RawBlobResponse = new RawBlobResponse(u, u.pathname, {}, 5000, (e) => (e ? reject(e) : resolve(r)));
  });
}

test('raw fetch: a consumer that attaches its listener late still gets every byte, from the first', async () => {
  const body = randomBytes((1 << 20) + 333);
  const s = await serve(body);
  try {
    const r = await get(s.url);
    assert.equal(r.statusCode, 200);
    await new Promise((res) => setTimeout(res, 50)); // other work between the head and the listener
    const parts: Buffer[] = [];
    await new Promise<void>((resolve, reject) => {
      r.on('data', (c: Buffer) => {
        parts.push(Buffer.from(c));
        releaseReadBuffer(c); // memory back to the pool at once: later reads reuse it
      });
      r.on('end', resolve);
      r.on('error', reject);
    });
    assert.ok(Buffer.concat(parts).equals(body));
  } finally {
    await s.close();
  }
});

test('raw fetch: async iteration delivers the body in order with backpressure', async () => {
  const body = randomBytes((2 << 20) + 17);
  const s = await serve(body);
  try {
    const r = await get(s.url);
    const parts: Buffer[] = [];
    for await (const c of r) {
      parts.push(Buffer.from(c));
      await new Promise((res) => setImmediate(res)); // a slow consumer
    }
    assert.ok(Buffer.concat(parts).equals(body));
  } finally {
    await s.close();
  }
});

test('edge upstream: blob GETs use the raw fetcher, and fall back to node:http for a chunked upstream', async () => {
  const body = randomBytes(300_000);
  for (const chunked of [false, true]) {
    const s = await serve(body, chunked);
    const up = new Upstream({ origin: s.url });
    try {
      const r = await up.request('/blob', { blob: true });
      assert.equal(r.status, 200);
      assert.equal(r.body instanceof RawBlobResponse, !chunked, chunked ? 'node:http after RAW_UNSUPPORTED' : 'the raw fetcher');
      const parts: Buffer[] = [];
      for await (const c of r.body) parts.push(Buffer.from(c));
      assert.ok(Buffer.concat(parts).equals(body));
    } finally {
      up.close();
      await s.close();
    }
  }
  // an upstream that is down: one clear error with the edge's code
  const up = new Upstream({ origin: 'http://127.0.0.1:9' });
  await assert.rejects(up.request('/blob', { blob: true }), (e: unknown) => e instanceof McdnError && e.code === 'UPSTREAM_UNREACHABLE');
  up.close();
});
