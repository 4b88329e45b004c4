/**
 * Demand accounting at the edge: requests, bytes sent and cache hits per (model, version, blob),
 * reported to the origin every N seconds as `POST /v1/demand {region, from, to, items}`. Blob
 * requests name only a hash, so the recorder learns which model/version a blob belongs to from the
 * manifests that pass through the edge. A failed report is kept and merged into the next one (up
 * to a bounded number of distinct items). No HTTP serving here.
 */
import type { Upstream } from './upstream.ts';

export interface DemandItem {
  /** null for blobs not named by any manifest this edge has seen (chunk manifests, xorbs) */
  model: string | null;
  version: string | null;
  blob: string;
  requests: number;
  bytes: number;
  hits: number;
}

export interface DemandReport {
  region: string;
  from: string;
  to: string;
  items: DemandItem[];
}

/** Most distinct (model, version, blob) rows kept between two successful reports. */
export const MAX_DEMAND_ITEMS = 100_000;
/** Most blob → (model, version) mappings remembered from manifests. */
export const MAX_BLOB_OWNERS = 200_000;

export class DemandRecorder {
  private items = new Map<string, DemandItem>();
  private readonly owners = new Map<string, { model: string; version: string }>();
  private from = new Date();
  dropped = 0;

  /** remember which model/version each blob of a manifest belongs to */
  noteManifest(manifest: { name: string; version: string; files: { sha256: string; packed?: { blob: string }; encodings?: Record<string, { blob: string } | undefined>; patches?: { blob: string }[] }[] }): void {
    const own = { model: manifest.name, version: manifest.version };
    const set = (b: string | undefined) => {
      if (!b) return;
      if (this.owners.size >= MAX_BLOB_OWNERS && !this.owners.has(b)) this.owners.delete(this.owners.keys().next().value!);
      this.owners.set(b, own);
    };
    for (const f of manifest.files) {
      set(f.sha256);
      set(f.packed?.blob);
      for (const e of Object.values(f.encodings ?? {})) set(e?.blob);
      for (const p of f.patches ?? []) set(p.blob);
    }
  }

  ownerOf(blob: string): { model: string; version: string } | undefined {
    return this.owners.get(blob);
  }

  record(blob: string, bytes: number, hit: boolean, owner?: { model: string; version: string }): void {
    const o = owner ?? this.owners.get(blob);
    const key = `${o?.model ?? ''}\0${o?.version ?? ''}\0${blob}`;
    let it = this.items.get(key);
    if (!it) {
      if (this.items.size >= MAX_DEMAND_ITEMS) {
        this.dropped++;
        return;
      }
      it = { model: o?.model ?? null, version: o?.version ?? null, blob, requests: 0, bytes: 0, hits: 0 };
      this.items.set(key, it);
    }
    it.requests++;
    it.bytes += bytes;
    if (hit) it.hits++;
  }

  /** take the current window's report (the recorder starts a new window) */
  take(region: string): DemandReport {
    const to = new Date();
    const r: DemandReport = { region, from: this.from.toISOString(), to: to.toISOString(), items: [...this.items.values()] };
    this.items = new Map();
    this.from = to;
    return r;
  }

  /** put a report that could not be delivered back (merged into the current window) */
  restore(r: DemandReport): void {
    this.from = new Date(Math.min(Date.parse(r.from), this.from.getTime()));
    for (const it of r.items) {
      const key = `${it.model}\0${it.version}\0${it.blob}`;
      const cur = this.items.get(key);
      if (cur) {
        cur.requests += it.requests;
        cur.bytes += it.bytes;
        cur.hits += it.hits;
      } else if (this.items.size < MAX_DEMAND_ITEMS) this.items.set(key, { ...it });
      else this.dropped++;
    }
  }
}

/** Sends the recorder's window to the origin every `intervalMs`. */
export class DemandReporter {
  private timer: NodeJS.Timeout | undefined;
  sent = 0;
  failures = 0;
  private sending: Promise<void> | undefined;
  /** extra top-level fields sent with each report (the edge server adds `cache`: its bytes used vs budget, for the dashboard) */
  extra: (() => Record<string, unknown>) | undefined;

  constructor(
    private readonly recorder: DemandRecorder,
    private readonly upstream: Upstream,
    private readonly region: string,
    private readonly intervalMs: number,
    private readonly log: (m: string) => void = () => {},
  ) {}

  start(): void {
    if (this.intervalMs <= 0) return;
    this.timer = setInterval(() => void this.flush(), this.intervalMs);
    this.timer.unref();
  }

  /** send now (skips empty windows); never throws */
  flush(): Promise<void> {
    this.sending ??= (async () => {
      const report = this.recorder.take(this.region);
      if (report.items.length === 0) return;
      try {
        const status = await this.upstream.postJson('/v1/demand', this.extra ? { ...report, ...this.extra() } : report);
        if (status >= 200 && status < 300) this.sent++;
        else throw new Error(`HTTP ${status}`);
      } catch (e) {
        this.failures++;
        this.recorder.restore(report);
        this.log(`edge: demand report failed (${(e as Error).message}); kept for the next one`);
      }
    })().finally(() => {
      this.sending = undefined;
    });
    return this.sending;
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    await this.flush();
  }
}
