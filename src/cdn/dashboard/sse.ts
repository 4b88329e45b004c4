/**
 * Server-sent events (text/event-stream, WHATWG HTML §9.2): a hub of open responses, `send` to all,
 * a comment heartbeat so proxies keep idle streams open, and `close` that ends every stream (servers
 * call it on shutdown). Knows nothing about what is sent.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';

export const SSE_HEARTBEAT_MS = 15_000;
/** Most concurrent event streams per server (each holds a socket). */
export const MAX_SSE_CLIENTS = 256;

export function formatEvent(event: string, data: unknown, id?: number): string {
  const lines = JSON.stringify(data).split('\n').map((l) => `data: ${l}`);
  return `${id !== undefined ? `id: ${id}\n` : ''}event: ${event}\n${lines.join('\n')}\n\n`;
}

export class SseHub {
  private readonly clients = new Set<ServerResponse>();
  private heartbeat: NodeJS.Timeout | undefined;
  private seq = 0;
  onCountChange: ((n: number) => void) | undefined;

  get size(): number {
    return this.clients.size;
  }

  /** take over `res` as an event stream; returns false (and answers 503) when full */
  open(req: IncomingMessage, res: ServerResponse): boolean {
    if (this.clients.size >= MAX_SSE_CLIENTS) {
      res.writeHead(503, { 'content-type': 'text/plain; charset=utf-8', 'retry-after': '10' });
      res.end('too many event streams\n');
      return false;
    }
    res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-store',
      connection: 'keep-alive',
      'x-accel-buffering': 'no',
    });
    res.write('retry: 3000\n\n');
    req.socket.setNoDelay(true);
    req.socket.setTimeout(0);
    this.clients.add(res);
    const drop = () => {
      if (this.clients.delete(res)) this.onCountChange?.(this.clients.size);
    };
    res.on('close', drop);
    req.on('close', drop);
    this.heartbeat ??= setInterval(() => {
      for (const c of this.clients) c.write(': keep-alive\n\n');
    }, SSE_HEARTBEAT_MS).unref();
    this.onCountChange?.(this.clients.size);
    return true;
  }

  sendTo(res: ServerResponse, event: string, data: unknown): void {
    res.write(formatEvent(event, data, ++this.seq));
  }

  send(event: string, data: unknown): void {
    if (this.clients.size === 0) return;
    const msg = formatEvent(event, data, ++this.seq);
    for (const c of this.clients) c.write(msg);
  }

  close(): void {
    if (this.heartbeat) clearInterval(this.heartbeat);
    this.heartbeat = undefined;
    for (const c of this.clients) c.end();
    this.clients.clear();
  }
}
