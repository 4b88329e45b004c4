/**
 * An in-memory time series of byte counts in fixed buckets (a ring of the last N buckets): the
 * origin records the body bytes of every blob/file response here, the dashboard charts it as
 * "origin egress over time". Pure (time is passed in); no I/O, no timers.
 */
import type { EgressSeries } from './api.ts';

export const DEFAULT_EGRESS_BUCKET_SECONDS = 10;
export const DEFAULT_EGRESS_BUCKETS = 360;

export class ByteSeries {
  private readonly buckets = new Map<number, number>();
  total = 0;

  constructor(
    readonly bucketSeconds = DEFAULT_EGRESS_BUCKET_SECONDS,
    readonly maxBuckets = DEFAULT_EGRESS_BUCKETS,
  ) {}

  add(bytes: number, nowMs: number): void {
    if (!(bytes > 0)) return;
    this.total += bytes;
    const b = Math.floor(nowMs / 1000 / this.bucketSeconds);
    this.buckets.set(b, (this.buckets.get(b) ?? 0) + bytes);
    if (this.buckets.size > this.maxBuckets) {
      const oldest = Math.min(...this.buckets.keys());
      this.buckets.delete(oldest);
    }
  }

  /** buckets from the first recorded one to now, zero-filled, oldest first */
  series(nowMs: number): EgressSeries {
    const keys = [...this.buckets.keys()];
    const t: number[] = [];
    const bytes: number[] = [];
    if (keys.length > 0) {
      const last = Math.floor(nowMs / 1000 / this.bucketSeconds);
      const first = Math.max(Math.min(...keys), last - this.maxBuckets + 1);
      for (let b = first; b <= last; b++) {
        t.push(b * this.bucketSeconds);
        bytes.push(this.buckets.get(b) ?? 0);
      }
    }
    return { t, bytes, bucketSeconds: this.bucketSeconds, totalBytes: this.total };
  }
}
