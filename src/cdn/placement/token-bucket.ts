/**
 * Token bucket for prefetch bandwidth caps (`--prefetch-rate 50MB/s`): `rate` bytes per second
 * refill up to `burst`; `take(n, now)` consumes n bytes and returns how many ms the caller must
 * wait before sending them (the bucket may go into debt, so large chunks still pass, paced).
 * Pure: the caller supplies the clock; no timers.
 */
import { inputError } from '../../errors.ts';
import { parseBytes } from '../../cli/output.ts';

export class TokenBucket {
  private tokens: number;
  private last: number | undefined;

  constructor(
    readonly rateBytesPerSec: number,
    readonly burstBytes = rateBytesPerSec,
  ) {
    if (!(rateBytesPerSec > 0) || !Number.isFinite(rateBytesPerSec)) throw inputError('BAD_RATE', `rate must be a positive number of bytes per second, got ${rateBytesPerSec}`);
    if (!(burstBytes > 0)) throw inputError('BAD_RATE', `burst must be positive, got ${burstBytes}`);
    this.tokens = burstBytes;
  }

  private refill(now: number): void {
    if (this.last !== undefined && now > this.last) this.tokens = Math.min(this.burstBytes, this.tokens + ((now - this.last) / 1000) * this.rateBytesPerSec);
    if (this.last === undefined || now > this.last) this.last = now;
  }

  /** bytes that may be sent now without waiting */
  available(now: number): number {
    this.refill(now);
    return Math.max(0, this.tokens);
  }

  /** consume n bytes; returns the wait in ms before they may be sent (0 if within budget) */
  take(n: number, now: number): number {
    this.refill(now);
    this.tokens -= n;
    return this.tokens >= 0 ? 0 : (-this.tokens / this.rateBytesPerSec) * 1000;
  }
}

/** "50MB/s", "1.5GiB/s", "800kB/s", "1000000" (bytes/s) → bytes per second. */
export function parseRate(s: string): number {
  const m = /^\s*(.+?)\s*(?:\/\s*s(?:ec)?)?\s*$/i.exec(s);
  const v = m ? parseBytes(m[1]!) : NaN;
  if (!(v > 0)) throw inputError('BAD_RATE', `rate '${s}' is not a byte rate such as 50MB/s`, { rate: s });
  return v;
}
