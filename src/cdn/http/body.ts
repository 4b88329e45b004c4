/**
 * Draining HTTP response bodies, shared by the client's downloads, the edge's cache fills, the
 * prefetcher and the edge's upstream proxy: skipping the bytes before a range when a server answered
 * 200 to a Range request (`skipper`), and writing a body through sequential batched writes with
 * backpressure (`pumpToWriter`). No file or socket of its own: callers pass the write.
 */

/** What `pumpToWriter` needs from a response body (node:http IncomingMessage and the raw fetcher fit). */
export interface PausableBody {
  on(event: 'data', cb: (chunk: Buffer) => void): unknown;
  on(event: 'end' | 'close', cb: () => void): unknown;
  on(event: 'error', cb: (e: Error) => void): unknown;
  pause(): unknown;
  resume(): unknown;
  isPaused(): boolean;
  destroy(e?: Error): unknown;
}

/**
 * A function that drops the first `skip` bytes of a stream of chunks: it returns each chunk's part
 * after them (the chunk itself once they are gone), or undefined for a chunk that lies wholly inside.
 */
export function skipper(skip: number): (chunk: Buffer) => Buffer | undefined {
  return (c) => {
    if (skip === 0) return c;
    if (c.length <= skip) {
      skip -= c.length;
      return undefined;
    }
    const rest = c.subarray(skip);
    skip = 0;
    return rest;
  };
}

export interface PumpOptions {
  /** bytes to drop first (a server that ignored Range) */
  skip?: number;
  /** take at most this many bytes (after the skip), then stop reading and destroy the body */
  limit?: number;
  /** pause the body while this many received bytes wait for the write in flight */
  maxPending: number;
  /** each taken chunk, in order, before it is queued; returning an Error aborts the pump with it */
  onChunk?: (chunk: Buffer) => Error | void;
  /** write one batch (in order; never two at once); a rejection aborts the pump with its error */
  write: (batch: Buffer[], bytes: number) => Promise<void>;
}

/**
 * Drain `body` into `opts.write`: chunks that arrive while a write is in flight are batched into the
 * next one, and the body is paused while more than `maxPending` bytes wait. Resolves when the body
 * ended — or broke off: a reset or stall is not an error here, the caller checks how much arrived —
 * and every taken byte is written. Rejects (and destroys the body) with the first error of
 * `onChunk` or `write`.
 */
export function pumpToWriter(body: PausableBody, opts: PumpOptions): Promise<void> {
  const skip = skipper(opts.skip ?? 0);
  const limit = opts.limit ?? Infinity;
  return new Promise<void>((resolve, reject) => {
    let pending: Buffer[] = [];
    let pendingBytes = 0;
    let taken = 0;
    let writing = false;
    let ended = false;
    let settled = false;
    const fail = (e: unknown) => {
      if (settled) return;
      settled = true;
      body.destroy();
      reject(e);
    };
    const flush = () => {
      if (writing || settled) return;
      if (pendingBytes === 0) {
        if (ended) {
          settled = true;
          resolve();
        } else if (body.isPaused()) body.resume();
        return;
      }
      const batch = pending;
      const bytes = pendingBytes;
      pending = [];
      pendingBytes = 0;
      writing = true;
      // nothing waits now: receive the next batch while this one is written (network and disk overlap)
      if (!ended && body.isPaused()) body.resume();
      opts.write(batch, bytes).then(() => {
        writing = false;
        flush();
      }, fail);
    };
    const stop = () => {
      ended = true;
      flush();
    };
    body.on('data', (raw: Buffer) => {
      if (settled || ended) return;
      let c = skip(raw);
      if (!c) return;
      if (taken + c.length > limit) c = c.subarray(0, limit - taken);
      if (c.length > 0) {
        const err = opts.onChunk?.(c);
        if (err) return fail(err);
        taken += c.length;
        pending.push(c);
        pendingBytes += c.length;
        if (pendingBytes >= opts.maxPending) body.pause();
      }
      if (taken >= limit) {
        ended = true;
        body.destroy(); // everything wanted arrived: a reset from here on is not a failure
      }
      flush();
    });
    body.on('end', stop);
    body.on('error', stop);
    body.on('close', stop);
  });
}
