/**
 * A Server-Sent Events subscriber over node:http for the edge's push channel from the origin: parses
 * the event stream (event/data/id/retry fields, comments, CRLF or LF lines) and reconnects after a
 * drop with exponential backoff and jitter (reset once a connection delivered an event) — never a
 * tight polling loop. A stream silent for longer than `idleTimeoutMs` (the origin sends heartbeats)
 * counts as dropped. It knows nothing about what the events mean.
 */
import http from 'node:http';
import https from 'node:https';

export interface SseEvent {
  event: string;
  data: string;
  id?: string;
}

export interface SseOptions {
  url: string;
  onEvent: (e: SseEvent) => void;
  /** called on every (re)connect and drop, for logs and tests */
  onStatus?: (s: { connected: boolean; attempt: number; error?: string }) => void;
  minBackoffMs?: number;
  maxBackoffMs?: number;
  idleTimeoutMs?: number;
  headers?: Record<string, string>;
}

export const SSE_MIN_BACKOFF_MS = 500;
export const SSE_MAX_BACKOFF_MS = 30_000;
export const SSE_IDLE_TIMEOUT_MS = 45_000;
/** Longest single event accepted (a bigger one drops the connection). */
export const SSE_MAX_EVENT_BYTES = 16 << 20;

/** Incremental SSE parser (WHATWG HTML §9.2.6): feed text, get complete events. */
export class SseParser {
  private buf = '';
  private event = '';
  private data: string[] = [];
  private id: string | undefined;
  private size = 0;
  retryMs: number | undefined;

  /** the previous chunk ended in CR: a LF starting the next one belongs to it */
  private afterCR = false;

  feed(text: string, emit: (e: SseEvent) => void): void {
    if (this.afterCR && text.startsWith('\n')) text = text.slice(1);
    this.afterCR = false;
    this.buf += text;
    this.size += text.length;
    if (this.size > SSE_MAX_EVENT_BYTES) throw new Error(`event larger than ${SSE_MAX_EVENT_BYTES} bytes`);
    let nl: number;
    while ((nl = this.buf.search(/\r\n|\r|\n/)) >= 0) {
      const line = this.buf.slice(0, nl);
      const sepLen = this.buf.startsWith('\r\n', nl) ? 2 : 1;
      if (this.buf[nl] === '\r' && sepLen === 1 && nl === this.buf.length - 1) this.afterCR = true;
      this.buf = this.buf.slice(nl + sepLen);
      this.line(line, emit);
    }
  }

  private line(line: string, emit: (e: SseEvent) => void): void {
    if (line === '') {
      if (this.data.length > 0) emit({ event: this.event || 'message', data: this.data.join('\n'), ...(this.id !== undefined ? { id: this.id } : {}) });
      this.event = '';
      this.data = [];
      this.size = this.buf.length;
      return;
    }
    if (line.startsWith(':')) return;
    const c = line.indexOf(':');
    const field = c < 0 ? line : line.slice(0, c);
    let value = c < 0 ? '' : line.slice(c + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    if (field === 'event') this.event = value;
    else if (field === 'data') this.data.push(value);
    else if (field === 'id' && !value.includes('\0')) this.id = value;
    else if (field === 'retry' && /^[0-9]+$/.test(value)) this.retryMs = Number(value);
  }
}

export interface SseSubscription {
  close(): void;
  readonly connected: boolean;
}

export function subscribeSse(opts: SseOptions): SseSubscription {
  const minB = opts.minBackoffMs ?? SSE_MIN_BACKOFF_MS;
  const maxB = opts.maxBackoffMs ?? SSE_MAX_BACKOFF_MS;
  const idle = opts.idleTimeoutMs ?? SSE_IDLE_TIMEOUT_MS;
  let closed = false;
  let connected = false;
  let attempt = 0;
  let req: http.ClientRequest | undefined;
  let timer: NodeJS.Timeout | undefined;
  let serverRetry: number | undefined;

  const schedule = (error?: string) => {
    connected = false;
    req = undefined;
    if (closed) return;
    attempt++;
    opts.onStatus?.({ connected: false, attempt, ...(error ? { error } : {}) });
    const base = Math.min(maxB, Math.max(minB, serverRetry ?? 0) * 2 ** Math.min(attempt - 1, 16));
    const wait = base / 2 + Math.random() * (base / 2);
    timer = setTimeout(connect, wait);
    timer.unref();
  };

  const connect = () => {
    if (closed) return;
    const u = new URL(opts.url);
    const mod = u.protocol === 'https:' ? https : http;
    let done = false;
    const fail = (why: string) => {
      if (done) return;
      done = true;
      r.destroy();
      schedule(why);
    };
    const r = mod.get(u, { headers: { accept: 'text/event-stream', 'cache-control': 'no-store', ...(opts.headers ?? {}) } }, (res) => {
      if (res.statusCode !== 200 || !String(res.headers['content-type'] ?? '').startsWith('text/event-stream')) {
        res.resume();
        fail(`HTTP ${res.statusCode}`);
        return;
      }
      connected = true;
      opts.onStatus?.({ connected: true, attempt });
      const parser = new SseParser();
      res.setEncoding('utf8');
      res.setTimeout(idle, () => fail(`no data for ${idle} ms`));
      res.on('data', (chunk: string) => {
        try {
          parser.feed(chunk, (e) => {
            attempt = 0;
            opts.onEvent(e);
          });
          serverRetry = parser.retryMs;
        } catch (e) {
          fail((e as Error).message);
        }
      });
      res.on('end', () => fail('stream ended'));
      res.on('error', (e) => fail(e.message));
      res.on('close', () => fail('stream closed'));
    });
    r.on('error', (e) => fail(e.message));
    req = r;
  };

  connect();
  return {
    get connected() {
      return connected;
    },
    close() {
      closed = true;
      if (timer) clearTimeout(timer);
      req?.destroy();
    },
  };
}
