/**
 * The origin's registry: models, versions (pending → ready, atomically), files, channels, derived
 * artifacts, patches, signed manifests, publish tokens (only their sha256 is stored), background
 * jobs, resumable upload sessions and edge demand reports — in one SQLite file (better-sqlite3,
 * WAL). Synchronous and small; it stores no blob bytes (those live in a BlobStore) and does no HTTP.
 */
import Database from 'better-sqlite3';
import { randomBytes, timingSafeEqual } from 'node:crypto';
import { McdnError } from '../../errors.ts';
import { sha256Hex } from '../../util/hash.ts';
import { MIGRATIONS, SCHEMA_VERSION } from './schema.ts';

export type VersionStatus = 'pending' | 'ready' | 'failed';
export type ArtifactKind = 'raw' | 'packed' | 'zstd' | 'br' | 'gzip' | 'chunks' | 'int8';
export type JobStatus = 'queued' | 'running' | 'done' | 'failed';

export interface VersionRow {
  id: number;
  modelId: number;
  name: string;
  version: string;
  status: VersionStatus;
  createdAt: number;
  readyAt: number | null;
  channel: string | null;
  options: Record<string, unknown>;
  jobId: string | null;
}

export interface FileRow {
  path: string;
  size: number;
  sha256: string;
  format: string;
}

export interface ArtifactRow {
  sourceSha256: string;
  kind: ArtifactKind;
  blob: string;
  size: number;
  codec: string | null;
}

export interface PatchRow {
  fromSha256: string;
  toSha256: string;
  blob: string | null;
  size: number | null;
  method: string;
  beneficial: boolean;
}

export interface TokenRow {
  id: string;
  name: string;
  createdAt: number;
  lastUsedAt: number | null;
  revokedAt: number | null;
}

export interface JobRow {
  id: string;
  kind: string;
  model: string | null;
  version: string | null;
  status: JobStatus;
  step: string | null;
  done: number;
  total: number;
  error: string | null;
  errorCode: string | null;
  createdAt: number;
  updatedAt: number;
  finishedAt: number | null;
}

export interface UploadRow {
  id: string;
  tokenId: string | null;
  sha256: string;
  size: number;
  received: number;
  status: 'open' | 'complete';
  createdAt: number;
  updatedAt: number;
}

export interface DemandItem {
  model?: string | null;
  version?: string | null;
  blob?: string | null;
  requests: number;
  bytes: number;
  hits: number;
}

/** Token format: `mcdn_<id>_<secret>`; the id is public (list/revoke), the secret is never stored. */
export const TOKEN_PREFIX = 'mcdn_';

function now(): number {
  return Date.now();
}

type Row = Record<string, unknown>;

function versionFrom(r: Row): VersionRow {
  return {
    id: r['id'] as number,
    modelId: r['model_id'] as number,
    name: r['name'] as string,
    version: r['version'] as string,
    status: r['status'] as VersionStatus,
    createdAt: r['created_at'] as number,
    readyAt: (r['ready_at'] as number | null) ?? null,
    channel: (r['channel'] as string | null) ?? null,
    options: JSON.parse((r['options'] as string) || '{}') as Record<string, unknown>,
    jobId: (r['job_id'] as string | null) ?? null,
  };
}

function jobFrom(r: Row): JobRow {
  return {
    id: r['id'] as string,
    kind: r['kind'] as string,
    model: r['model'] as string | null,
    version: r['version'] as string | null,
    status: r['status'] as JobStatus,
    step: r['step'] as string | null,
    done: r['done'] as number,
    total: r['total'] as number,
    error: r['error'] as string | null,
    errorCode: r['error_code'] as string | null,
    createdAt: r['created_at'] as number,
    updatedAt: r['updated_at'] as number,
    finishedAt: r['finished_at'] as number | null,
  };
}

function uploadFrom(r: Row): UploadRow {
  return {
    id: r['id'] as string,
    tokenId: r['token_id'] as string | null,
    sha256: r['sha256'] as string,
    size: r['size'] as number,
    received: r['received'] as number,
    status: r['status'] as 'open' | 'complete',
    createdAt: r['created_at'] as number,
    updatedAt: r['updated_at'] as number,
  };
}

const VERSION_SELECT = `SELECT v.*, m.name AS name FROM versions v JOIN models m ON m.id = v.model_id`;

export class Registry {
  readonly db: Database.Database;
  private readonly lastUseWritten = new Map<string, number>();

  constructor(path: string) {
    try {
      this.db = new Database(path);
    } catch (e) {
      throw new McdnError('REGISTRY_OPEN_FAILED', 'io', `cannot open registry database ${path}: ${(e as Error).message}`, { cause: e });
    }
    this.db.pragma('journal_mode = WAL');
    this.db.pragma('synchronous = NORMAL');
    this.db.pragma('foreign_keys = ON');
    this.db.pragma('busy_timeout = 5000');
    this.migrate();
  }

  private migrate(): void {
    const current = this.db.pragma('user_version', { simple: true }) as number;
    if (current > SCHEMA_VERSION) {
      throw new McdnError('REGISTRY_TOO_NEW', 'config', `registry schema version ${current} is newer than this modelcdn supports (${SCHEMA_VERSION})`, {
        remedy: 'upgrade modelcdn',
      });
    }
    for (let v = current; v < SCHEMA_VERSION; v++) {
      this.db.transaction(() => {
        this.db.exec(MIGRATIONS[v]!);
        this.db.pragma(`user_version = ${v + 1}`);
      })();
    }
  }

  schemaVersion(): number {
    return this.db.pragma('user_version', { simple: true }) as number;
  }

  close(): void {
    this.db.close();
  }

  // ---- models and versions ----

  listModels(): { name: string; latest: string | null; versions: number }[] {
    return this.db
      .prepare(
        `SELECT m.name AS name,
           (SELECT v2.version FROM channels c JOIN versions v2 ON v2.id = c.version_id WHERE c.model_id = m.id AND c.name = 'latest') AS latest,
           (SELECT COUNT(*) FROM versions v WHERE v.model_id = m.id AND v.status = 'ready') AS versions
         FROM models m
         WHERE EXISTS (SELECT 1 FROM versions v WHERE v.model_id = m.id AND v.status = 'ready')
         ORDER BY m.name`,
      )
      .all() as { name: string; latest: string | null; versions: number }[];
  }

  modelId(name: string): number | undefined {
    const r = this.db.prepare(`SELECT id FROM models WHERE name = ?`).get(name) as { id: number } | undefined;
    return r?.id;
  }

  /** Versions of a model, oldest first; by default only ready ones. */
  listVersions(name: string, opts: { all?: boolean } = {}): VersionRow[] {
    const rows = this.db
      .prepare(`${VERSION_SELECT} WHERE m.name = ? ${opts.all ? '' : `AND v.status = 'ready'`} ORDER BY COALESCE(v.ready_at, v.created_at), v.id`)
      .all(name) as Row[];
    return rows.map(versionFrom);
  }

  getVersion(name: string, version: string): VersionRow | undefined {
    const r = this.db.prepare(`${VERSION_SELECT} WHERE m.name = ? AND v.version = ?`).get(name, version) as Row | undefined;
    return r ? versionFrom(r) : undefined;
  }

  getVersionById(id: number): VersionRow | undefined {
    const r = this.db.prepare(`${VERSION_SELECT} WHERE v.id = ?`).get(id) as Row | undefined;
    return r ? versionFrom(r) : undefined;
  }

  pendingVersions(): VersionRow[] {
    return (this.db.prepare(`${VERSION_SELECT} WHERE v.status = 'pending' ORDER BY v.id`).all() as Row[]).map(versionFrom);
  }

  /**
   * Create a pending (invisible) version with its file list, in one transaction. A version that
   * already exists (pending or ready) is a conflict; a failed one is replaced.
   */
  createPendingVersion(input: { name: string; version: string; channel: string | null; files: FileRow[]; options?: Record<string, unknown>; jobId: string }): VersionRow {
    const t = now();
    const id = this.db.transaction(() => {
      this.db.prepare(`INSERT OR IGNORE INTO models (name, created_at) VALUES (?, ?)`).run(input.name, t);
      const modelId = this.modelId(input.name)!;
      const existing = this.db.prepare(`SELECT id, status FROM versions WHERE model_id = ? AND version = ?`).get(modelId, input.version) as
        | { id: number; status: VersionStatus }
        | undefined;
      if (existing && existing.status !== 'failed') {
        throw new McdnError('VERSION_EXISTS', 'conflict', `${input.name}@${input.version} already exists (${existing.status})`, {
          remedy: 'publish under a new version; versions are immutable',
        });
      }
      if (existing) this.db.prepare(`DELETE FROM versions WHERE id = ?`).run(existing.id);
      const info = this.db
        .prepare(`INSERT INTO versions (model_id, version, status, created_at, channel, options, job_id) VALUES (?, ?, 'pending', ?, ?, ?, ?)`)
        .run(modelId, input.version, t, input.channel, JSON.stringify(input.options ?? {}), input.jobId);
      const vid = Number(info.lastInsertRowid);
      const ins = this.db.prepare(`INSERT INTO files (version_id, ord, path, size, sha256, format) VALUES (?, ?, ?, ?, ?, ?)`);
      input.files.forEach((f, i) => ins.run(vid, i, f.path, f.size, f.sha256, f.format));
      return vid;
    })();
    return this.getVersionById(id)!;
  }

  setFileFormat(versionId: number, path: string, format: string): void {
    this.db.prepare(`UPDATE files SET format = ? WHERE version_id = ? AND path = ?`).run(format, versionId, path);
  }

  files(versionId: number): FileRow[] {
    return this.db.prepare(`SELECT path, size, sha256, format FROM files WHERE version_id = ? ORDER BY ord`).all(versionId) as FileRow[];
  }

  file(versionId: number, path: string): FileRow | undefined {
    return this.db.prepare(`SELECT path, size, sha256, format FROM files WHERE version_id = ? AND path = ?`).get(versionId, path) as FileRow | undefined;
  }

  /** Up to `k` ready versions of the model published before `versionId`, newest first. */
  previousReadyVersions(modelId: number, versionId: number, k: number): VersionRow[] {
    const rows = this.db
      .prepare(`${VERSION_SELECT} WHERE v.model_id = ? AND v.id != ? AND v.status = 'ready' ORDER BY v.ready_at DESC, v.id DESC LIMIT ?`)
      .all(modelId, versionId, k) as Row[];
    return rows.map(versionFrom);
  }

  /**
   * Make a version visible: store its signed manifest, mark it ready and move its channel — one
   * transaction, so readers see either nothing of it or all of it.
   */
  finalizeVersion(versionId: number, manifest: { keyId: string; payload: Uint8Array; signature: string }): void {
    const t = now();
    this.db.transaction(() => {
      const v = this.getVersionById(versionId);
      if (!v || v.status !== 'pending') throw new McdnError('VERSION_NOT_PENDING', 'conflict', `version ${versionId} is not pending`);
      this.db
        .prepare(`INSERT OR REPLACE INTO signatures (version_id, key_id, payload, signature, created_at) VALUES (?, ?, ?, ?, ?)`)
        .run(versionId, manifest.keyId, Buffer.from(manifest.payload), manifest.signature, t);
      this.db.prepare(`UPDATE versions SET status = 'ready', ready_at = ? WHERE id = ?`).run(t, versionId);
      if (v.channel) this.setChannelTx(v.modelId, v.channel, versionId, t);
    })();
  }

  /** Remove a version that never became ready (its files and signature go with it). */
  discardVersion(versionId: number): void {
    this.db.transaction(() => {
      const v = this.getVersionById(versionId);
      if (!v || v.status === 'ready') return;
      this.db.prepare(`DELETE FROM versions WHERE id = ?`).run(versionId);
    })();
  }

  getSignedManifest(versionId: number): { keyId: string; payload: Uint8Array; signature: string } | undefined {
    const r = this.db.prepare(`SELECT key_id, payload, signature FROM signatures WHERE version_id = ?`).get(versionId) as
      | { key_id: string; payload: Buffer; signature: string }
      | undefined;
    return r ? { keyId: r.key_id, payload: new Uint8Array(r.payload), signature: r.signature } : undefined;
  }

  // ---- channels ----

  private setChannelTx(modelId: number, channel: string, versionId: number, t: number): void {
    this.db
      .prepare(`INSERT INTO channels (model_id, name, version_id, updated_at) VALUES (?, ?, ?, ?) ON CONFLICT (model_id, name) DO UPDATE SET version_id = excluded.version_id, updated_at = excluded.updated_at`)
      .run(modelId, channel, versionId, t);
  }

  /** Point a channel at a ready version (deploy). */
  setChannel(name: string, channel: string, version: string): void {
    const v = this.getVersion(name, version);
    if (!v || v.status !== 'ready') throw new McdnError('VERSION_NOT_FOUND', 'not_found', `${name}@${version} is not a ready version`);
    this.setChannelTx(v.modelId, channel, v.id, now());
  }

  channels(name: string): Record<string, string> {
    const rows = this.db
      .prepare(`SELECT c.name AS channel, v.version AS version FROM channels c JOIN models m ON m.id = c.model_id JOIN versions v ON v.id = c.version_id WHERE m.name = ? ORDER BY c.name`)
      .all(name) as { channel: string; version: string }[];
    return Object.fromEntries(rows.map((r) => [r.channel, r.version]));
  }

  // ---- artifacts and patches ----

  putArtifact(a: ArtifactRow): void {
    this.db
      .prepare(`INSERT OR REPLACE INTO artifacts (source_sha256, kind, blob, size, codec, created_at) VALUES (?, ?, ?, ?, ?, ?)`)
      .run(a.sourceSha256, a.kind, a.blob, a.size, a.codec, now());
  }

  artifacts(sourceSha256: string): ArtifactRow[] {
    return (this.db.prepare(`SELECT * FROM artifacts WHERE source_sha256 = ?`).all(sourceSha256) as Row[]).map((r) => ({
      sourceSha256: r['source_sha256'] as string,
      kind: r['kind'] as ArtifactKind,
      blob: r['blob'] as string,
      size: r['size'] as number,
      codec: r['codec'] as string | null,
    }));
  }

  putPatch(p: PatchRow): void {
    this.db
      .prepare(`INSERT OR REPLACE INTO patches (from_sha256, to_sha256, blob, size, method, beneficial, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)`)
      .run(p.fromSha256, p.toSha256, p.blob, p.size, p.method, p.beneficial ? 1 : 0, now());
  }

  getPatch(fromSha256: string, toSha256: string): PatchRow | undefined {
    const r = this.db.prepare(`SELECT * FROM patches WHERE from_sha256 = ? AND to_sha256 = ?`).get(fromSha256, toSha256) as Row | undefined;
    if (!r) return undefined;
    return {
      fromSha256: r['from_sha256'] as string,
      toSha256: r['to_sha256'] as string,
      blob: r['blob'] as string | null,
      size: r['size'] as number | null,
      method: r['method'] as string,
      beneficial: r['beneficial'] === 1,
    };
  }

  /** Is this blob referenced by a ready version (as a file, artifact, or patch)? Reads of unreferenced blobs are still allowed (content-addressed). */
  blobKnown(hash: string): boolean {
    return (
      this.db.prepare(`SELECT 1 FROM files WHERE sha256 = ? UNION SELECT 1 FROM artifacts WHERE blob = ? UNION SELECT 1 FROM patches WHERE blob = ? LIMIT 1`).get(hash, hash, hash) !==
      undefined
    );
  }

  // ---- tokens ----

  /** Create a publish token; the returned secret is shown once and only its hash is stored. */
  createToken(name: string): { id: string; token: string } {
    const id = randomBytes(6).toString('hex');
    const secret = randomBytes(32).toString('base64url');
    const token = `${TOKEN_PREFIX}${id}_${secret}`;
    this.db.prepare(`INSERT INTO tokens (id, hash, name, created_at) VALUES (?, ?, ?, ?)`).run(id, sha256Hex(token), name, now());
    return { id, token };
  }

  listTokens(): TokenRow[] {
    return (this.db.prepare(`SELECT id, name, created_at, last_used_at, revoked_at FROM tokens ORDER BY created_at, id`).all() as Row[]).map((r) => ({
      id: r['id'] as string,
      name: r['name'] as string,
      createdAt: r['created_at'] as number,
      lastUsedAt: r['last_used_at'] as number | null,
      revokedAt: r['revoked_at'] as number | null,
    }));
  }

  revokeToken(id: string): boolean {
    return this.db.prepare(`UPDATE tokens SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL`).run(now(), id).changes > 0;
  }

  /** The token's id if it is valid and not revoked; undefined otherwise. */
  verifyToken(token: string): string | undefined {
    if (typeof token !== 'string' || !token.startsWith(TOKEN_PREFIX) || token.length > 200) return undefined;
    const h = sha256Hex(token);
    const r = this.db.prepare(`SELECT id, hash, revoked_at FROM tokens WHERE hash = ?`).get(h) as { id: string; hash: string; revoked_at: number | null } | undefined;
    if (!r || r.revoked_at !== null) return undefined;
    if (!timingSafeEqual(Buffer.from(r.hash), Buffer.from(h))) return undefined;
    // record use at most once a minute per token (reads behind --private check a token per request)
    const t = now();
    if (t - (this.lastUseWritten.get(r.id) ?? 0) > 60_000) {
      this.lastUseWritten.set(r.id, t);
      this.db.prepare(`UPDATE tokens SET last_used_at = ? WHERE id = ?`).run(t, r.id);
    }
    return r.id;
  }

  // ---- jobs ----

  createJob(kind: string, model: string | null, version: string | null): JobRow {
    const id = `job_${randomBytes(8).toString('hex')}`;
    const t = now();
    this.db.prepare(`INSERT INTO jobs (id, kind, model, version, status, created_at, updated_at) VALUES (?, ?, ?, ?, 'queued', ?, ?)`).run(id, kind, model, version, t, t);
    return this.getJob(id)!;
  }

  getJob(id: string): JobRow | undefined {
    const r = this.db.prepare(`SELECT * FROM jobs WHERE id = ?`).get(id) as Row | undefined;
    return r ? jobFrom(r) : undefined;
  }

  updateJob(id: string, patch: { status?: JobStatus; step?: string; done?: number; total?: number; error?: string; errorCode?: string }): void {
    const j = this.getJob(id);
    if (!j) return;
    const t = now();
    const status = patch.status ?? j.status;
    this.db
      .prepare(`UPDATE jobs SET status = ?, step = ?, done = ?, total = ?, error = ?, error_code = ?, updated_at = ?, finished_at = ? WHERE id = ?`)
      .run(
        status,
        patch.step ?? j.step,
        patch.done ?? j.done,
        patch.total ?? j.total,
        patch.error ?? j.error,
        patch.errorCode ?? j.errorCode,
        t,
        status === 'done' || status === 'failed' ? t : null,
        id,
      );
  }

  // ---- uploads ----

  createUpload(sha256: string, size: number, tokenId: string | null, complete: boolean): UploadRow {
    const id = `up_${randomBytes(12).toString('hex')}`;
    const t = now();
    this.db
      .prepare(`INSERT INTO uploads (id, token_id, sha256, size, received, status, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`)
      .run(id, tokenId, sha256, size, complete ? size : 0, complete ? 'complete' : 'open', t, t);
    return this.getUpload(id)!;
  }

  getUpload(id: string): UploadRow | undefined {
    const r = this.db.prepare(`SELECT * FROM uploads WHERE id = ?`).get(id) as Row | undefined;
    return r ? uploadFrom(r) : undefined;
  }

  findOpenUpload(sha256: string, size: number): UploadRow | undefined {
    const r = this.db.prepare(`SELECT * FROM uploads WHERE sha256 = ? AND size = ? AND status = 'open' ORDER BY created_at DESC LIMIT 1`).get(sha256, size) as Row | undefined;
    return r ? uploadFrom(r) : undefined;
  }

  setUploadReceived(id: string, received: number, complete = false): void {
    this.db.prepare(`UPDATE uploads SET received = ?, status = ?, updated_at = ? WHERE id = ?`).run(received, complete ? 'complete' : 'open', now(), id);
  }

  deleteUpload(id: string): void {
    this.db.prepare(`DELETE FROM uploads WHERE id = ?`).run(id);
  }

  staleUploads(olderThanMs: number): UploadRow[] {
    return (this.db.prepare(`SELECT * FROM uploads WHERE updated_at < ?`).all(now() - olderThanMs) as Row[]).map(uploadFrom);
  }

  // ---- demand ----

  insertDemand(report: { region: string; from: number; to: number; items: DemandItem[] }): number {
    const t = now();
    const ins = this.db.prepare(
      `INSERT INTO demand (received_at, region, period_from, period_to, model, version, blob, requests, bytes, hits) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    );
    this.db.transaction(() => {
      for (const it of report.items) ins.run(t, report.region, report.from, report.to, it.model ?? null, it.version ?? null, it.blob ?? null, it.requests, it.bytes, it.hits);
    })();
    return report.items.length;
  }

  demandRows(region?: string): (DemandItem & { region: string; from: number; to: number; receivedAt: number })[] {
    const rows = (region ? this.db.prepare(`SELECT * FROM demand WHERE region = ? ORDER BY id`).all(region) : this.db.prepare(`SELECT * FROM demand ORDER BY id`).all()) as Row[];
    return rows.map((r) => ({
      region: r['region'] as string,
      from: r['period_from'] as number,
      to: r['period_to'] as number,
      receivedAt: r['received_at'] as number,
      model: r['model'] as string | null,
      version: r['version'] as string | null,
      blob: r['blob'] as string | null,
      requests: r['requests'] as number,
      bytes: r['bytes'] as number,
      hits: r['hits'] as number,
    }));
  }
}
