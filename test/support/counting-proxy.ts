/** A loopback TCP proxy that counts the bytes flowing from its target back to clients. */
import { createConnection, createServer, type Server } from 'node:net';

export interface CountingProxy {
  url: string;
  /** bytes sent by the target (responses) */
  bytesDown(): number;
  connections(): number;
  close(): Promise<void>;
}

export async function startCountingProxy(target: string): Promise<CountingProxy> {
  const t = new URL(target);
  let down = 0;
  let conns = 0;
  const sockets = new Set<import('node:net').Socket>();
  const server: Server = createServer((client) => {
    conns++;
    const upstream = createConnection({ host: t.hostname, port: Number(t.port) });
    sockets.add(client);
    sockets.add(upstream);
    upstream.on('data', (d) => (down += d.length));
    client.pipe(upstream);
    upstream.pipe(client);
    const end = () => {
      client.destroy();
      upstream.destroy();
      sockets.delete(client);
      sockets.delete(upstream);
    };
    client.on('error', end).on('close', end);
    upstream.on('error', end).on('close', end);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as { port: number }).port;
  return {
    url: `http://127.0.0.1:${port}`,
    bytesDown: () => down,
    connections: () => conns,
    close: () =>
      new Promise((r) => {
        for (const s of sockets) s.destroy();
        server.close(() => r());
      }),
  };
}
