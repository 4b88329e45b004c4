/**
 * The origin registry's SQLite schema as an ordered list of migrations; `PRAGMA user_version` holds
 * how many have been applied. Append new migrations (staging, placement, chunk references) at the
 * end; never edit an applied one. Timestamps are integer milliseconds since the epoch.
 */
export const MIGRATIONS: readonly string[] = [
  // 1: models, versions, files, channels, artifacts, patches, signatures, tokens, jobs, uploads, demand
  `
  CREATE TABLE models (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    created_at INTEGER NOT NULL
  );
  CREATE TABLE versions (
    id INTEGER PRIMARY KEY,
    model_id INTEGER NOT NULL REFERENCES models(id),
    version TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('pending', 'ready', 'failed')),
    created_at INTEGER NOT NULL,
    ready_at INTEGER,
    channel TEXT,
    options TEXT NOT NULL DEFAULT '{}',
    job_id TEXT,
    UNIQUE (model_id, version)
  );
  CREATE TABLE files (
    version_id INTEGER NOT NULL REFERENCES versions(id) ON DELETE CASCADE,
    ord INTEGER NOT NULL,
    path TEXT NOT NULL,
    size INTEGER NOT NULL,
    sha256 TEXT NOT NULL,
    format TEXT NOT NULL DEFAULT 'unknown',
    PRIMARY KEY (version_id, path)
  );
  CREATE INDEX files_sha256 ON files(sha256);
  CREATE TABLE channels (
    model_id INTEGER NOT NULL REFERENCES models(id),
    name TEXT NOT NULL,
    version_id INTEGER NOT NULL REFERENCES versions(id),
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (model_id, name)
  );
  -- derived blobs of one source file's bytes, keyed by the source's sha256 (shared across versions)
  CREATE TABLE artifacts (
    source_sha256 TEXT NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('raw', 'packed', 'zstd', 'br', 'gzip')),
    blob TEXT NOT NULL,
    size INTEGER NOT NULL,
    codec TEXT,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (source_sha256, kind)
  );
  -- a patch turns the file with from_sha256 into the file with to_sha256; beneficial = 0 records
  -- "tried, no patch beats the packed file" so it is not computed again
  CREATE TABLE patches (
    from_sha256 TEXT NOT NULL,
    to_sha256 TEXT NOT NULL,
    blob TEXT,
    size INTEGER,
    method TEXT NOT NULL,
    beneficial INTEGER NOT NULL,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (from_sha256, to_sha256)
  );
  CREATE TABLE signatures (
    version_id INTEGER PRIMARY KEY REFERENCES versions(id) ON DELETE CASCADE,
    key_id TEXT NOT NULL,
    payload BLOB NOT NULL,
    signature TEXT NOT NULL,
    created_at INTEGER NOT NULL
  );
  CREATE TABLE tokens (
    id TEXT PRIMARY KEY,
    hash TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    last_used_at INTEGER,
    revoked_at INTEGER
  );
  CREATE TABLE jobs (
    id TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    model TEXT,
    version TEXT,
    status TEXT NOT NULL CHECK (status IN ('queued', 'running', 'done', 'failed')),
    step TEXT,
    done INTEGER NOT NULL DEFAULT 0,
    total INTEGER NOT NULL DEFAULT 0,
    error TEXT,
    error_code TEXT,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    finished_at INTEGER
  );
  CREATE TABLE uploads (
    id TEXT PRIMARY KEY,
    token_id TEXT,
    sha256 TEXT NOT NULL,
    size INTEGER NOT NULL,
    received INTEGER NOT NULL DEFAULT 0,
    status TEXT NOT NULL CHECK (status IN ('open', 'complete')),
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
  );
  CREATE INDEX uploads_sha ON uploads(sha256, size);
  CREATE TABLE demand (
    id INTEGER PRIMARY KEY,
    received_at INTEGER NOT NULL,
    region TEXT NOT NULL,
    period_from INTEGER NOT NULL,
    period_to INTEGER NOT NULL,
    model TEXT,
    version TEXT,
    blob TEXT,
    requests INTEGER NOT NULL,
    bytes INTEGER NOT NULL,
    hits INTEGER NOT NULL
  );
  CREATE INDEX demand_region_time ON demand(region, period_to);
  CREATE INDEX demand_model ON demand(model, version);
  `,
  // 2: artifact kinds are open-ended (chunk manifests, INT8 variants…): the CHECK only bounds the name
  `
  CREATE TABLE artifacts_v2 (
    source_sha256 TEXT NOT NULL,
    kind TEXT NOT NULL CHECK (length(kind) BETWEEN 1 AND 32),
    blob TEXT NOT NULL,
    size INTEGER NOT NULL,
    codec TEXT,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (source_sha256, kind)
  );
  INSERT INTO artifacts_v2 (source_sha256, kind, blob, size, codec, created_at)
    SELECT source_sha256, kind, blob, size, codec, created_at FROM artifacts;
  DROP TABLE artifacts;
  ALTER TABLE artifacts_v2 RENAME TO artifacts;
  CREATE INDEX artifacts_blob ON artifacts(blob);
  `,
];

export const SCHEMA_VERSION = MIGRATIONS.length;
