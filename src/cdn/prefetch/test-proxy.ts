/**
 * Test-only: an HTTP proxy on loopback that forwards every request to one target and logs, per
 * request, the method, path, status and response body bytes (streams such as SSE included, counted
 * as they flow). Lets a test say exactly which bytes left the origin, and when.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface LoggedRequest {
  method: string;
  path: string;
  status: number;
  bytes: number;
  at: number;
}

export interface LoggingProxy {
  url: string;
  log: LoggedRequest[];
  close(): Promise<void>;
}

export async function startLoggingProxy(target: string): Promise<LoggingProxy> {
  const t = new URL(target);
  const log: LoggedRequest[] = [];
  const agent = new http.Agent({ keepAlive: true });
  const server = http.createServer((req, res) => {
    const entry: LoggedRequest = { method: req.method ?? 'GET', path: req.url ?? '/', status: 0, bytes: 0, at: Date.now() };
    log.push(entry);
    const up = http.request({ host: t.hostname, port: Number(t.port), method: req.method, path: req.url, headers: req.headers, agent }, (ur) => {
      entry.status = ur.statusCode ?? 0;
      res.writeHead(ur.statusCode ?? 502, ur.headers);
      ur.on('data', (c: Buffer) => (entry.bytes += c.length));
      ur.pipe(res);
      res.on('close', () => ur.destroy());
    });
    up.on('error', () => res.destroy());
    req.pipe(up);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    log,
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        agent.destroy();
        server.close(() => r());
      }),
  };
}
