/**
 * Thin node:http adapters over the pure pieces: send JSON, send an error (via errorResponse), read a
 * size-limited JSON body, and send a file region with the conditional/Range plan applied
 * (`sendFile`: positioned reads into a small pool of reused 1 MiB buffers, two in flight per
 * response — about half the CPU per byte of fs.createReadStream, whose fresh buffers cost page
 * faults). The origin and the edge both use these; no routing or registry knowledge here.
 */
import { createReadStream } from 'node:fs';
import { open as openFile, type FileHandle } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { pipeline } from 'node:stream/promises';
import { Readable } from 'node:stream';
import { McdnError, fromSystemError, inputError } from '../../errors.ts';
import { errorResponse, httpError } from './errors.ts';
import { planResponse, type ResponsePlan } from './etag.ts';
import type { ByteRange } from './range.ts';

/** Read size for file responses: big reads keep syscalls and event-loop turns per GB low. */
export const FILE_READ_CHUNK = 1 << 20;

export function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}, head = false): void {
  const buf = Buffer.from(JSON.stringify(body));
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': String(buf.length), ...headers });
  res.end(head ? undefined : buf);
}

export function sendError(res: ServerResponse, e: unknown, head = false): void {
  const { status, body } = errorResponse(e);
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const headers: Record<string, string> = { 'cache-control': 'no-store' };
  if (status === 401) headers['www-authenticate'] = 'Bearer realm="modelcdn"';
  sendJson(res, status, body, headers, head);
}

/** Read a JSON request body of at most `limit` bytes (413 beyond; 400 if not JSON). */
export async function readJsonBody(req: IncomingMessage, limit: number): Promise<unknown> {
  const declared = Number(req.headers['content-length'] ?? NaN);
  if (Number.isFinite(declared) && declared > limit) {
    req.resume();
    throw httpError(413, 'BODY_TOO_LARGE', 'input', `request body of ${declared} bytes exceeds the limit of ${limit}`);
  }
  const parts: Buffer[] = [];
  let n = 0;
  for await (const c of req as AsyncIterable<Buffer>) {
    n += c.length;
    if (n > limit) {
      req.resume();
      throw httpError(413, 'BODY_TOO_LARGE', 'input', `request body exceeds the limit of ${limit} bytes`);
    }
    parts.push(c);
  }
  try {
    return JSON.parse(Buffer.concat(parts).toString('utf8'));
  } catch {
    throw inputError('BODY_NOT_JSON', 'request body is not valid JSON');
  }
}

export interface RepresentationInfo {
  etag: string;
  size: number;
  contentType: string;
  cacheControl: string;
  contentEncoding?: string;
  vary?: string;
}

/** Headers and status for a representation after preconditions and Range. */
export function representationHeaders(plan: ResponsePlan, info: RepresentationInfo): Record<string, string> {
  const h: Record<string, string> = { ...plan.headers, 'cache-control': info.cacheControl };
  if (plan.status === 200 || plan.status === 206) h['content-type'] = info.contentType;
  if (info.contentEncoding) h['content-encoding'] = info.contentEncoding;
  if (info.vary) h['vary'] = info.vary;
  if (plan.status === 416 || plan.status === 412) h['content-length'] = '0';
  return h;
}

/** The byte range to send; when there is no body (304, 412, 416, HEAD, an empty range) the head alone is sent and undefined returned. */
function bodyRange(req: IncomingMessage, res: ServerResponse, plan: ResponsePlan, headers: ReturnType<typeof representationHeaders>): ByteRange | undefined {
  if (plan.status === 304 || plan.status === 412 || plan.status === 416 || req.method === 'HEAD' || !plan.range || plan.range.end === plan.range.start) {
    res.writeHead(plan.status, headers);
    res.end();
    return undefined;
  }
  return plan.range;
}

/**
 * Answer GET/HEAD for a representation whose bytes come from `open(range)` (a file region or any
 * byte stream). Returns the plan that was applied.
 */
export async function sendRepresentation(
  req: IncomingMessage,
  res: ServerResponse,
  info: RepresentationInfo,
  open: (start: number, end: number) => Promise<AsyncIterable<Uint8Array> | NodeJS.ReadableStream>,
): Promise<ResponsePlan> {
  const plan = planResponse(req.headers, info.etag, info.size);
  const headers = representationHeaders(plan, info);
  const range = bodyRange(req, res, plan, headers);
  if (!range) return plan;
  const src = await open(range.start, range.end);
  res.writeHead(plan.status, headers);
  const readable = src instanceof Readable ? src : Readable.from(src as AsyncIterable<Uint8Array>);
  try {
    await pipeline(readable, res);
  } catch {
    // the client went away or the source failed mid-body: the connection is already closed
    readable.destroy();
    res.destroy();
  }
  return plan;
}

/** Open [start, end) of a file as a stream with large reads. */
export function fileRegion(path: string, start: number, end: number): NodeJS.ReadableStream {
  return createReadStream(path, { start, end: end - 1, highWaterMark: FILE_READ_CHUNK });
}

/** Buffers per response in flight (double buffering: one being read while one is being sent). */
export const FILE_BUFFERS_PER_RESPONSE = 2;
/** Idle buffers kept for reuse (bounded: 32 MiB). */
export const FILE_BUFFER_POOL_MAX = 32;
/**
 * Bytes of 1 MiB buffers in flight across all responses; beyond it (hundreds of concurrent
 * downloads) a response gets small 64 KiB buffers instead, so memory stays bounded.
 */
export const FILE_BUFFER_BUDGET = 128 * 1024 * 1024;
export const SMALL_FILE_BUFFER = 64 * 1024;
const pool: Buffer[] = [];
let bigInUse = 0;

function takeBuffers(): Buffer[] {
  if (bigInUse + FILE_BUFFERS_PER_RESPONSE * FILE_READ_CHUNK > FILE_BUFFER_BUDGET) {
    return Array.from({ length: FILE_BUFFERS_PER_RESPONSE }, () => Buffer.allocUnsafeSlow(SMALL_FILE_BUFFER));
  }
  bigInUse += FILE_BUFFERS_PER_RESPONSE * FILE_READ_CHUNK;
  return Array.from({ length: FILE_BUFFERS_PER_RESPONSE }, () => pool.pop() ?? Buffer.allocUnsafeSlow(FILE_READ_CHUNK));
}

function giveBuffers(bufs: Buffer[]): void {
  for (const b of bufs) {
    if (b.length !== FILE_READ_CHUNK) continue;
    bigInUse -= FILE_READ_CHUNK;
    if (pool.length < FILE_BUFFER_POOL_MAX) pool.push(b);
  }
}

/** Bytes of large file buffers currently lent to responses (tests, metrics). */
export function fileBuffersInUse(): number {
  return bigInUse;
}

/**
 * Answer GET/HEAD for a file on disk (`info.size` must be its size): preconditions and Range from
 * the request, then the bytes via `pumpFile`. A file that cannot be opened becomes an error before
 * any header is sent.
 */
export async function sendFile(req: IncomingMessage, res: ServerResponse, info: RepresentationInfo, path: string): Promise<ResponsePlan> {
  const plan = planResponse(req.headers, info.etag, info.size);
  const headers = representationHeaders(plan, info);
  const range = bodyRange(req, res, plan, headers);
  if (!range) return plan;
  let fh: FileHandle;
  try {
    fh = await openFile(path, 'r');
  } catch (e) {
    throw fromSystemError(e, path);
  }
  try {
    res.writeHead(plan.status, headers);
    await pumpFile(fh, res, range.start, range.end);
  } finally {
    await fh.close().catch(() => {});
  }
  return plan;
}

/**
 * Write bytes [start, end) of an open file to `res` and end it. Each buffer is reused only after
 * its write completed (or the connection closed, which cancels pending writes). A file that turns
 * out shorter than planned destroys the response (the client sees a truncated body, never padding).
 */
export async function pumpFile(fh: FileHandle, res: ServerResponse, start: number, end: number): Promise<void> {
  const bufs = takeBuffers();
  const inflight: (Promise<void> | undefined)[] = bufs.map(() => undefined);
  let closed = res.destroyed;
  const closedP = new Promise<void>((r) => {
    res.once('close', () => {
      closed = true;
      r();
    });
  });
  const settle = (p: Promise<void> | undefined) => (p ? Promise.race([p, closedP]) : undefined);
  try {
    let pos = start;
    let i = 0;
    while (pos < end && !closed) {
      const k = i++ % bufs.length;
      await settle(inflight[k]);
      if (closed) break;
      const b = bufs[k]!;
      const { bytesRead } = await fh.read(b, 0, Math.min(b.length, end - pos), pos);
      if (bytesRead === 0) throw new McdnError('FILE_SHRANK', 'io', `file ended at ${pos} bytes, expected ${end}`);
      pos += bytesRead;
      inflight[k] = new Promise<void>((resolve) => {
        res.write(bytesRead === b.length ? b : b.subarray(0, bytesRead), () => resolve());
      });
    }
    await Promise.all(inflight.map(settle));
    if (!closed) res.end();
  } catch (e) {
    res.destroy();
    await closedP;
    if (!(e instanceof McdnError)) throw e;
  } finally {
    // every write either completed or was cancelled by the close: the buffers are free again
    giveBuffers(bufs);
  }
}
