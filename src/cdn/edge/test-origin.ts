/**
 * A tiny, real node:http upstream for edge and client tests (not a mock of the edge: a second
 * server speaking the origin's read API for blobs and static metadata). Blobs are served with
 * Range/HEAD/ETag; it counts requests per blob, can pace its output (so partial fills can be
 * observed), corrupt a blob's bytes, cut connections after N bytes, or go offline. Test-only; the
 * real origin lives in src/cdn/origin.
 */
import { createHash } from 'node:crypto';
import http, { type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { parseRange } from '../http/range.ts';

export interface TestOrigin {
  url: string;
  blobs: Map<string, Buffer>;
  meta: Map<string, { body: Buffer | string; cacheControl?: string; status?: number }>;
  /** GET requests per blob hash */
  gets: Map<string, number>;
  demandReports: unknown[];
  /** bytes per write and delay between writes (0 = no pacing) */
  pace: { chunk: number; delayMs: number };
  /** serve these blobs with one byte flipped */
  corrupt: Set<string>;
  /** cut the next N blob responses after `cutAfter` bytes */
  cut: { remaining: number; after: number };
  /** the next N blob responses stop sending (connection kept open) after `after` bytes */
  stall: { remaining: number; after: number };
  offline: boolean;
  /** add a blob; returns its sha256 */
  add(data: Buffer): string;
  /** destroy every open connection (a crash mid-transfer) */
  dropConnections(): void;
  close(): Promise<void>;
}

export function randomBlob(size: number, seed = 1): Buffer {
  const n = Math.ceil(size / 4) * 4;
  const b = Buffer.allocUnsafe(n);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < n; i += 4) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    b.writeUInt32LE(x >>> 0, i);
  }
  return b.subarray(0, size);
}

export function sha256(b: Uint8Array): string {
  return createHash('sha256').update(b).digest('hex');
}

export async function startTestOrigin(): Promise<TestOrigin> {
  const sockets = new Set<import('node:net').Socket>();
  const o: TestOrigin = {
    url: '',
    blobs: new Map(),
    meta: new Map(),
    gets: new Map(),
    demandReports: [],
    pace: { chunk: 0, delayMs: 0 },
    corrupt: new Set(),
    cut: { remaining: 0, after: 0 },
    stall: { remaining: 0, after: 0 },
    offline: false,
    add(data) {
      const h = sha256(data);
      o.blobs.set(h, data);
      return h;
    },
    dropConnections() {
      for (const s of sockets) s.destroy();
    },
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };

  async function sendBody(res: ServerResponse, body: Buffer): Promise<void> {
    let cutAt = Infinity;
    if (o.cut.remaining > 0) {
      o.cut.remaining--;
      cutAt = o.cut.after;
    }
    let stallAt = Infinity;
    if (o.stall.remaining > 0) {
      o.stall.remaining--;
      stallAt = o.stall.after;
    }
    const step = o.pace.chunk > 0 ? o.pace.chunk : 1 << 20;
    let off = 0;
    while (off < body.length) {
      if (res.destroyed) return;
      const end = Math.min(body.length, off + step, cutAt, stallAt);
      if (end <= off && stallAt <= off) return; // hang: keep the connection open, send nothing more
      if (end <= off) {
        res.destroy();
        return;
      }
      const ok = res.write(body.subarray(off, end));
      off = end;
      if (off >= cutAt && off < body.length) {
        await new Promise((r) => setTimeout(r, 5));
        res.destroy();
        return;
      }
      if (!ok) {
        await new Promise<void>((r) => {
          const done = () => {
            res.off('drain', done);
            res.off('close', done);
            r();
          };
          res.on('drain', done);
          res.on('close', done);
        });
      }
      if (o.pace.delayMs > 0) await new Promise((r) => setTimeout(r, o.pace.delayMs));
    }
    res.end();
  }

  const server = http.createServer((req, res) => {
    if (o.offline) {
      req.socket.destroy();
      return;
    }
    const url = req.url ?? '/';
    if (req.method === 'POST' && url === '/v1/demand') {
      const parts: Buffer[] = [];
      req.on('data', (c: Buffer) => parts.push(c));
      req.on('end', () => {
        o.demandReports.push(JSON.parse(Buffer.concat(parts).toString('utf8')));
        res.writeHead(202).end();
      });
      return;
    }
    const m = /^\/v1\/blobs\/([0-9a-f]{64})$/.exec(url);
    if (m) {
      const hash = m[1]!;
      let blob = o.blobs.get(hash);
      if (!blob) {
        res.writeHead(404, { 'content-type': 'application/json' }).end('{"error":{"code":"BLOB_NOT_FOUND"}}');
        return;
      }
      if (req.method === 'GET') o.gets.set(hash, (o.gets.get(hash) ?? 0) + 1);
      if (o.corrupt.has(hash)) {
        blob = Buffer.from(blob);
        blob[blob.length >> 1] ^= 0xff;
      }
      const d = parseRange(req.headers.range, blob.length);
      const base = { etag: `"${hash}"`, 'accept-ranges': 'bytes', 'content-type': 'application/octet-stream', 'cache-control': 'public, max-age=31536000, immutable' };
      if (d.kind === 'unsatisfiable') {
        res.writeHead(416, { ...base, 'content-range': `bytes */${blob.length}` }).end();
        return;
      }
      const r = d.kind === 'partial' ? d.range : { start: 0, end: blob.length };
      const headers: Record<string, string> = { ...base, 'content-length': String(r.end - r.start) };
      if (d.kind === 'partial') headers['content-range'] = `bytes ${r.start}-${r.end - 1}/${blob.length}`;
      res.writeHead(d.kind === 'partial' ? 206 : 200, headers);
      if (req.method === 'HEAD') {
        res.end();
        return;
      }
      void sendBody(res, blob.subarray(r.start, r.end));
      return;
    }
    const meta = o.meta.get(url);
    if (meta) {
      const body = Buffer.from(meta.body);
      res.writeHead(meta.status ?? 200, { 'content-type': 'application/json', 'content-length': String(body.length), 'cache-control': meta.cacheControl ?? 'public, max-age=5' });
      res.end(body);
      return;
    }
    res.writeHead(404, { 'content-type': 'application/json' }).end('{"error":{"code":"NOT_FOUND"}}');
  });
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  o.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return o;
}
