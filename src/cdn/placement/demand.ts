/**
 * Demand aggregation for placement: the origin feeds it the edges' demand reports
 * (`POST /v1/demand`: {region, from, to, items: [{model, version, blob, requests, bytes, hits}]})
 * and asks for per-region, per-model-version demand — raw counts in a sliding window (hour
 * buckets) and exponentially decayed rates (half-life) — plus each region's hour-of-day profile
 * for learning off-peak windows. Pure and in-memory, time passed in by the caller (ms since the
 * epoch); no I/O, no timers. Persisting it is the origin's job.
 */
import { inputError } from '../../errors.ts';

export const HOUR_MS = 3_600_000;
export const DAY_MS = 24 * HOUR_MS;
/** items per report and distinct keys tracked, to bound memory against a misbehaving edge */
export const MAX_REPORT_ITEMS = 100_000;
export const MAX_TRACKED_KEYS = 5_000_000;
/** report times beyond this (year 2286) are rejected as implausible */
export const MAX_TIME_MS = 1e13;

export interface DemandItem {
  model: string;
  version: string;
  blob?: string;
  requests: number;
  bytes: number;
  hits?: number;
}

export interface DemandReport {
  region: string;
  /** ms since the epoch */
  from: number;
  to: number;
  items: DemandItem[];
}

export interface DemandOptions {
  /** half-life of the decayed rate (default 24 h) */
  halfLifeMs?: number;
  /** sliding window for raw counts (default 7 days) */
  windowMs?: number;
  /** bucket width of the sliding window (default 1 h) */
  bucketMs?: number;
}

export interface DemandEntry {
  region: string;
  model: string;
  version: string;
  /** requests and bytes inside the sliding window */
  requests: number;
  bytes: number;
  hits: number;
  /** exponentially decayed request count at `now` (≈ requests per half-life × 1/ln 2) */
  decayedRequests: number;
  decayedBytes: number;
  /** last known object size (bytes / requests of the latest report) */
  size: number;
}

interface Cell {
  region: string;
  model: string;
  version: string;
  buckets: Map<number, { requests: number; bytes: number; hits: number }>;
  decReq: number;
  decBytes: number;
  decAt: number;
  size: number;
}

const NAME_RE = /^[A-Za-z0-9][A-Za-z0-9._:/@+-]{0,199}$/;

export class DemandAggregator {
  private readonly halfLife: number;
  private readonly window: number;
  private readonly bucket: number;
  private readonly cells = new Map<string, Cell>();
  /** region → requests per UTC hour of day (decayed like the rates) */
  private readonly hourly = new Map<string, { counts: Float64Array; at: number }>();

  constructor(opts: DemandOptions = {}) {
    this.halfLife = opts.halfLifeMs ?? DAY_MS;
    this.window = opts.windowMs ?? 7 * DAY_MS;
    this.bucket = opts.bucketMs ?? HOUR_MS;
    if (!(this.halfLife > 0 && this.window > 0 && this.bucket > 0)) throw inputError('BAD_DEMAND_OPTIONS', 'demand half-life, window and bucket must be positive');
  }

  private decay(dt: number): number {
    return dt <= 0 ? 1 : 2 ** (-dt / this.halfLife);
  }

  /** Validate and add one edge report. Counts are attributed to the report's end time. */
  record(r: DemandReport): void {
    if (typeof r !== 'object' || r === null) throw inputError('BAD_DEMAND_REPORT', 'demand report must be an object');
    if (typeof r.region !== 'string' || !NAME_RE.test(r.region)) throw inputError('BAD_DEMAND_REPORT', `demand report: bad region name '${String(r.region).slice(0, 60)}'`);
    if (typeof r.from !== 'number' || typeof r.to !== 'number' || !(r.from >= 0 && r.to <= MAX_TIME_MS && r.from <= r.to)) {
      throw inputError('BAD_DEMAND_REPORT', `demand report from ${r.region}: 'from' and 'to' must be times in ms since the epoch with from ≤ to`);
    }
    if (!Array.isArray(r.items)) throw inputError('BAD_DEMAND_REPORT', `demand report from ${r.region}: 'items' must be an array`);
    if (r.items.length > MAX_REPORT_ITEMS) throw inputError('DEMAND_REPORT_TOO_LARGE', `demand report from ${r.region} has ${r.items.length} items, more than ${MAX_REPORT_ITEMS}`);
    r.items.forEach((it, i) => {
      if (typeof it?.model !== 'string' || !NAME_RE.test(it.model) || typeof it.version !== 'string' || !NAME_RE.test(it.version)) {
        throw inputError('BAD_DEMAND_REPORT', `demand report from ${r.region}: item ${i} needs a model and a version name`);
      }
      for (const f of ['requests', 'bytes'] as const) {
        if (typeof it[f] !== 'number' || !Number.isFinite(it[f]) || it[f] < 0) throw inputError('BAD_DEMAND_REPORT', `demand report from ${r.region}: item ${i} (${it.model}@${it.version}) has a bad '${f}'`);
      }
      if (it.hits !== undefined && (typeof it.hits !== 'number' || !Number.isFinite(it.hits) || it.hits < 0 || it.hits > it.requests)) {
        throw inputError('BAD_DEMAND_REPORT', `demand report from ${r.region}: item ${i} (${it.model}@${it.version}) has hits outside 0..requests`);
      }
    });
    const t = r.to;
    const b = Math.floor(t / this.bucket) * this.bucket;
    let total = 0;
    for (const it of r.items) {
      const key = `${r.region}\u0000${it.model}\u0000${it.version}`;
      let c = this.cells.get(key);
      if (!c) {
        if (this.cells.size >= MAX_TRACKED_KEYS) throw inputError('DEMAND_TOO_MANY_KEYS', `demand aggregator tracks ${MAX_TRACKED_KEYS} region/model/version keys already`);
        c = { region: r.region, model: it.model, version: it.version, buckets: new Map(), decReq: 0, decBytes: 0, decAt: t, size: 0 };
        this.cells.set(key, c);
      }
      const bk = c.buckets.get(b) ?? { requests: 0, bytes: 0, hits: 0 };
      bk.requests += it.requests;
      bk.bytes += it.bytes;
      bk.hits += it.hits ?? 0;
      c.buckets.set(b, bk);
      const d = this.decay(t - c.decAt);
      c.decReq = c.decReq * d + it.requests;
      c.decBytes = c.decBytes * d + it.bytes;
      c.decAt = Math.max(c.decAt, t);
      if (it.requests > 0) c.size = it.bytes / it.requests;
      total += it.requests;
    }
    // hour-of-day profile: spread the report's requests evenly over the hours it covers
    let h = this.hourly.get(r.region);
    if (!h) {
      h = { counts: new Float64Array(24), at: t };
      this.hourly.set(r.region, h);
    }
    const d = this.decay(t - h.at);
    for (let i = 0; i < 24; i++) h.counts[i]! *= d;
    h.at = Math.max(h.at, t);
    const span = Math.max(1, r.to - r.from);
    if (span >= DAY_MS) {
      for (let i = 0; i < 24; i++) h.counts[i]! += total / 24; // a day or more: no hour-of-day signal
    } else {
      const steps = Math.max(1, Math.ceil(span / HOUR_MS)); // ≤ 24
      for (let s = 0; s < steps; s++) {
        const at = r.from + (s + 0.5) * (span / steps);
        h.counts[new Date(at).getUTCHours()]! += total / steps;
      }
    }
  }

  /** Every region × model × version with demand in the window at `now` (old buckets are pruned). */
  snapshot(now: number): DemandEntry[] {
    const out: DemandEntry[] = [];
    const cutoff = now - this.window;
    for (const [key, c] of this.cells) {
      let requests = 0;
      let bytes = 0;
      let hits = 0;
      for (const [t, bk] of c.buckets) {
        if (t + this.bucket <= cutoff) {
          c.buckets.delete(t);
          continue;
        }
        if (t > now) continue;
        requests += bk.requests;
        bytes += bk.bytes;
        hits += bk.hits;
      }
      const d = this.decay(now - c.decAt);
      if (c.buckets.size === 0 && c.decReq * d < 1e-6) {
        this.cells.delete(key);
        continue;
      }
      out.push({ region: c.region, model: c.model, version: c.version, requests, bytes, hits, decayedRequests: c.decReq * d, decayedBytes: c.decBytes * d, size: c.size });
    }
    out.sort((a, b) => b.decayedRequests - a.decayedRequests || a.region.localeCompare(b.region) || a.model.localeCompare(b.model) || a.version.localeCompare(b.version));
    return out;
  }

  regions(): string[] {
    return [...this.hourly.keys()].sort();
  }

  /** A region's requests by UTC hour of day (decayed), for off-peak learning. */
  hourOfDayProfile(region: string): Float64Array {
    return Float64Array.from(this.hourly.get(region)?.counts ?? new Float64Array(24));
  }
}
