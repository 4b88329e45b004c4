/**
 * Serves the prebuilt front-end (web/dist, made by `npm run build`) with correct content types,
 * strong ETags, `no-cache` revalidation, and a Content-Security-Policy that allows this host only
 * (no outside scripts, fonts or connections). Paths: `/` (the page given as `index`) and
 * `/assets/<name>` (one segment, no traversal possible). A missing build answers 404 with the
 * command that makes it (not a 5xx: the API keeps working without the page). Does not build anything and serves nothing outside the dist folder.
 */
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';

export const WEB_DIST = fileURLToPath(new URL('../../../web/dist/', import.meta.url));

export const CONTENT_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.map': 'application/json; charset=utf-8',
  '.txt': 'text/plain; charset=utf-8',
};

export const CSP = "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'";

const ASSET_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

export function contentTypeOf(name: string): string {
  const dot = name.lastIndexOf('.');
  return (dot >= 0 && CONTENT_TYPES[name.slice(dot)]) || 'application/octet-stream';
}

export interface StaticOptions {
  root?: string;
  /** the page served at `/` */
  index: string;
}

/** Returns a handler that serves the request if it is for the front-end and says whether it did. */
export function staticHandler(opts: StaticOptions): (req: IncomingMessage, res: ServerResponse) => Promise<boolean> {
  const root = opts.root ?? WEB_DIST;
  const cache = new Map<string, { body: Buffer; etag: string }>();
  const load = async (name: string) => {
    const c = cache.get(name);
    if (c) return c;
    const body = await readFile(join(root, name));
    const e = { body, etag: `"${createHash('sha256').update(body).digest('hex').slice(0, 32)}"` };
    cache.set(name, e);
    return e;
  };
  return async (req, res) => {
    const method = req.method ?? 'GET';
    if (method !== 'GET' && method !== 'HEAD') return false;
    const path = (req.url ?? '/').split('?')[0]!;
    let name: string;
    if (path === '/' || path === '/index.html') name = opts.index;
    else if (path.startsWith('/assets/') && ASSET_NAME.test(path.slice(8))) name = `assets/${path.slice(8)}`;
    else return false;
    let f;
    try {
      f = await load(name);
    } catch {
      if (name !== opts.index) return false;
      const msg = `The dashboard is not built. Run \`npm run build\` (writes web/dist) and reload.\n`;
      res.writeHead(404, { 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-store', 'content-length': String(Buffer.byteLength(msg)) });
      res.end(method === 'HEAD' ? undefined : msg);
      return true;
    }
    const headers: Record<string, string> = {
      'content-type': contentTypeOf(name),
      'cache-control': 'no-cache',
      etag: f.etag,
      'x-content-type-options': 'nosniff',
    };
    if (name.endsWith('.html')) {
      headers['content-security-policy'] = CSP;
      headers['referrer-policy'] = 'no-referrer';
    }
    const inm = req.headers['if-none-match'];
    if (typeof inm === 'string' && inm.split(',').some((t) => t.trim() === f.etag)) {
      res.writeHead(304, headers);
      res.end();
      return true;
    }
    headers['content-length'] = String(f.body.length);
    res.writeHead(200, headers);
    res.end(method === 'HEAD' ? undefined : f.body);
    return true;
  };
}
