/**
 * Structured JSON logs (pino) for the servers, and request ids: every request gets one — the
 * client's `x-request-id` when it is a safe token, a fresh random id otherwise — echoed in the
 * response header and carried by every log line about that request. One `request` line per finished
 * request (method, route id, status, ms, bytes). Never logs headers, bodies, tokens or query strings.
 * Does not route or measure (metrics live in ../metrics).
 */
import { randomBytes } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { pino, type Logger, type DestinationStream, type LevelWithSilent } from 'pino';

export type { Logger } from 'pino';

/** Accepted client request ids: what the origin already accepts (safe in headers and logs). */
export const REQUEST_ID_RE = /^[A-Za-z0-9._-]{1,64}$/;
export const REQUEST_ID_HEADER = 'x-request-id';

export interface LoggerOptions {
  role: 'origin' | 'edge';
  level?: LevelWithSilent;
  /** default: stderr (stdout belongs to command output) */
  destination?: DestinationStream;
  /** extra fields on every line (e.g. region) */
  base?: Record<string, unknown>;
}

/** MODELCDN_LOG_LEVEL wins; under `node --test` only errors are logged unless asked for. */
export function defaultLogLevel(): LevelWithSilent {
  const env = process.env['MODELCDN_LOG_LEVEL'];
  if (env && ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'].includes(env)) return env as LevelWithSilent;
  return process.env['NODE_TEST_CONTEXT'] ? 'error' : 'info';
}

export function createLogger(opts: LoggerOptions): Logger {
  return pino(
    {
      level: opts.level ?? defaultLogLevel(),
      base: { role: opts.role, pid: process.pid, ...opts.base },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
    },
    opts.destination ?? pino.destination({ fd: 2, sync: false }),
  );
}

/** The request's id (client-supplied if safe, else new), set on the response header. */
export function assignRequestId(req: IncomingMessage, res: ServerResponse): string {
  const given = req.headers[REQUEST_ID_HEADER];
  const id = typeof given === 'string' && REQUEST_ID_RE.test(given) ? given : randomBytes(8).toString('hex');
  if (!res.headersSent) res.setHeader(REQUEST_ID_HEADER, id);
  return id;
}

export interface RequestLogFields {
  reqId: string;
  method: string;
  route: string;
  status: number;
  ms: number;
  bytes: number;
}

/** One line per finished request: info for < 500, error for server errors. */
export function logRequest(log: Logger, f: RequestLogFields, err?: unknown): void {
  const line = { reqId: f.reqId, method: f.method, route: f.route, status: f.status, ms: Math.round(f.ms * 10) / 10, bytes: f.bytes };
  if (f.status >= 500) log.error({ ...line, error: err instanceof Error ? { message: err.message, code: (err as { code?: string }).code } : undefined }, 'request failed');
  else log.info(line, 'request');
}
