/**
 * The origin's prefetch state in SQLite, on the registry's database handle (tables `prefetch_*`,
 * created if missing — no registry migration): staged versions (staged → deployed | unstaged), the
 * edges that subscribed or reported, and each edge's readiness per prefetch item (bytes total/done).
 * Synchronous and small; it decides nothing (origin.ts does) and does no HTTP.
 */
import type Database from 'better-sqlite3';

export type StageStatus = 'staged' | 'deployed' | 'unstaged';

export interface StageRow {
  name: string;
  version: string;
  status: StageStatus;
  stagedAt: number;
  /** set once deployed */
  channel: string | null;
  deployedAt: number | null;
  updatedAt: number;
  /** per-edge readiness frozen when it was deployed or unstaged (JSON), null while staged */
  final: string | null;
}

export interface EdgeRow {
  edge: string;
  region: string;
  lastSeen: number;
  /** the off-peak window the edge uses, as text ("01:00-06:00 Europe/Paris"), or null */
  window: string | null;
  rateBytesPerSec: number | null;
  pinCapacityBytes: number | null;
}

export interface ReadinessRow {
  edge: string;
  region: string;
  /** prefetch item id: stage:NAME@V, plan:NAME@V, predict:NAME@V */
  item: string;
  name: string;
  version: string;
  totalBytes: number;
  doneBytes: number;
  ready: boolean;
  error: string | null;
  updatedAt: number;
}

const SCHEMA = `
CREATE TABLE IF NOT EXISTS prefetch_stages (
  name TEXT NOT NULL,
  version TEXT NOT NULL,
  status TEXT NOT NULL CHECK (status IN ('staged', 'deployed', 'unstaged')),
  staged_at INTEGER NOT NULL,
  channel TEXT,
  deployed_at INTEGER,
  updated_at INTEGER NOT NULL,
  final TEXT,
  PRIMARY KEY (name, version)
);
CREATE TABLE IF NOT EXISTS prefetch_edges (
  edge TEXT PRIMARY KEY,
  region TEXT NOT NULL,
  last_seen INTEGER NOT NULL,
  window TEXT,
  rate INTEGER,
  pin_capacity INTEGER
);
CREATE TABLE IF NOT EXISTS prefetch_readiness (
  edge TEXT NOT NULL,
  region TEXT NOT NULL,
  item TEXT NOT NULL,
  name TEXT NOT NULL,
  version TEXT NOT NULL,
  total_bytes INTEGER NOT NULL,
  done_bytes INTEGER NOT NULL,
  ready INTEGER NOT NULL,
  error TEXT,
  updated_at INTEGER NOT NULL,
  PRIMARY KEY (edge, item)
);
CREATE INDEX IF NOT EXISTS prefetch_readiness_version ON prefetch_readiness(name, version);
`;

type Row = Record<string, unknown>;

const stageFrom = (r: Row): StageRow => ({
  name: r['name'] as string,
  version: r['version'] as string,
  status: r['status'] as StageStatus,
  stagedAt: r['staged_at'] as number,
  channel: (r['channel'] as string | null) ?? null,
  deployedAt: (r['deployed_at'] as number | null) ?? null,
  updatedAt: r['updated_at'] as number,
  final: (r['final'] as string | null) ?? null,
});

const edgeFrom = (r: Row): EdgeRow => ({
  edge: r['edge'] as string,
  region: r['region'] as string,
  lastSeen: r['last_seen'] as number,
  window: (r['window'] as string | null) ?? null,
  rateBytesPerSec: (r['rate'] as number | null) ?? null,
  pinCapacityBytes: (r['pin_capacity'] as number | null) ?? null,
});

const readinessFrom = (r: Row): ReadinessRow => ({
  edge: r['edge'] as string,
  region: r['region'] as string,
  item: r['item'] as string,
  name: r['name'] as string,
  version: r['version'] as string,
  totalBytes: r['total_bytes'] as number,
  doneBytes: r['done_bytes'] as number,
  ready: r['ready'] === 1,
  error: (r['error'] as string | null) ?? null,
  updatedAt: r['updated_at'] as number,
});

export class PrefetchState {
  constructor(readonly db: Database.Database) {
    db.exec(SCHEMA);
  }

  getStage(name: string, version: string): StageRow | undefined {
    const r = this.db.prepare(`SELECT * FROM prefetch_stages WHERE name = ? AND version = ?`).get(name, version) as Row | undefined;
    return r ? stageFrom(r) : undefined;
  }

  /** staged versions, plus those deployed or unstaged after `since` (for the dashboard's history) */
  listStages(opts: { since?: number } = {}): StageRow[] {
    const rows = this.db
      .prepare(`SELECT * FROM prefetch_stages WHERE status = 'staged' OR updated_at >= ? ORDER BY staged_at, name, version`)
      .all(opts.since ?? Number.MAX_SAFE_INTEGER) as Row[];
    return rows.map(stageFrom);
  }

  activeStages(): StageRow[] {
    return (this.db.prepare(`SELECT * FROM prefetch_stages WHERE status = 'staged' ORDER BY staged_at, name, version`).all() as Row[]).map(stageFrom);
  }

  /** mark staged (again); returns false when it already was staged */
  stage(name: string, version: string, t: number): boolean {
    const cur = this.getStage(name, version);
    if (cur?.status === 'staged') return false;
    this.db
      .prepare(
        `INSERT INTO prefetch_stages (name, version, status, staged_at, updated_at) VALUES (?, ?, 'staged', ?, ?)
         ON CONFLICT (name, version) DO UPDATE SET status = 'staged', staged_at = excluded.staged_at, channel = NULL, deployed_at = NULL, final = NULL, updated_at = excluded.updated_at`,
      )
      .run(name, version, t, t);
    return true;
  }

  /** end a stage; `final` is the per-edge readiness at that moment (JSON), kept for the record */
  setStageStatus(name: string, version: string, status: 'deployed' | 'unstaged', t: number, opts: { channel?: string; final?: string } = {}): void {
    this.db
      .prepare(
        `UPDATE prefetch_stages SET status = ?, channel = COALESCE(?, channel), deployed_at = CASE WHEN ? = 'deployed' THEN ? ELSE deployed_at END, final = ?, updated_at = ? WHERE name = ? AND version = ?`,
      )
      .run(status, opts.channel ?? null, status, t, opts.final ?? null, t, name, version);
  }

  touchEdge(e: { edge: string; region: string; window?: string | null; rateBytesPerSec?: number | null; pinCapacityBytes?: number | null }, t: number): void {
    this.db
      .prepare(
        `INSERT INTO prefetch_edges (edge, region, last_seen, window, rate, pin_capacity) VALUES (?, ?, ?, ?, ?, ?)
         ON CONFLICT (edge) DO UPDATE SET region = excluded.region, last_seen = excluded.last_seen,
           window = COALESCE(excluded.window, window), rate = COALESCE(excluded.rate, rate), pin_capacity = COALESCE(excluded.pin_capacity, pin_capacity)`,
      )
      .run(e.edge, e.region, t, e.window ?? null, e.rateBytesPerSec ?? null, e.pinCapacityBytes ?? null);
  }

  edges(): EdgeRow[] {
    return (this.db.prepare(`SELECT * FROM prefetch_edges ORDER BY region, edge`).all() as Row[]).map(edgeFrom);
  }

  /** replace one edge's readiness rows with its latest report (one transaction) */
  putReadiness(edge: string, region: string, items: Omit<ReadinessRow, 'edge' | 'region' | 'updatedAt'>[], t: number): void {
    const del = this.db.prepare(`DELETE FROM prefetch_readiness WHERE edge = ?`);
    const ins = this.db.prepare(
      `INSERT INTO prefetch_readiness (edge, region, item, name, version, total_bytes, done_bytes, ready, error, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    );
    this.db.transaction(() => {
      del.run(edge);
      for (const it of items) ins.run(edge, region, it.item, it.name, it.version, it.totalBytes, it.doneBytes, it.ready ? 1 : 0, it.error, t);
    })();
  }

  readiness(name?: string, version?: string): ReadinessRow[] {
    const rows = (
      name !== undefined && version !== undefined
        ? this.db.prepare(`SELECT * FROM prefetch_readiness WHERE name = ? AND version = ? ORDER BY region, edge, item`).all(name, version)
        : this.db.prepare(`SELECT * FROM prefetch_readiness ORDER BY region, edge, item`).all()
    ) as Row[];
    return rows.map(readinessFrom);
  }
}
