/**
 * The edge cache's persistent index in SQLite (better-sqlite3): one row per complete, verified blob
 * (size, per-block sha256 list, file fingerprint, access stats, pin flag) and one row per cached
 * metadata response (for stale-if-error across restarts). Access statistics are batched in memory
 * and flushed periodically. Only this file talks SQL; it never touches blob files.
 */
import Database from 'better-sqlite3';

export interface BlobRow {
  hash: string;
  size: number;
  blockSize: number;
  /** concatenated 32-byte sha256 digests of each block */
  blocks: Buffer;
  /** file fingerprint recorded when the file was last verified: `ino:size:mtimeMs:ctimeMs` */
  fingerprint: string;
  createdMs: number;
  lastAccessMs: number;
  hits: number;
  pinned: boolean;
}

export interface MetaRow {
  key: string;
  status: number;
  headers: Record<string, string>;
  body: Buffer;
  fetchedMs: number;
  maxAgeS: number;
}

export class EdgeIndexDb {
  private readonly db: Database.Database;
  private readonly pendingAccess = new Map<string, { lastAccessMs: number; hits: number }>();

  constructor(path: string) {
    this.db = new Database(path);
    this.db.pragma('journal_mode = WAL');
    this.db.pragma('synchronous = NORMAL');
    this.db.exec(`
      CREATE TABLE IF NOT EXISTS blobs (
        hash TEXT PRIMARY KEY,
        size INTEGER NOT NULL,
        block_size INTEGER NOT NULL,
        blocks BLOB NOT NULL,
        fingerprint TEXT NOT NULL,
        created_ms INTEGER NOT NULL,
        last_access_ms INTEGER NOT NULL,
        hits INTEGER NOT NULL DEFAULT 0,
        pinned INTEGER NOT NULL DEFAULT 0
      );
      CREATE TABLE IF NOT EXISTS meta (
        key TEXT PRIMARY KEY,
        status INTEGER NOT NULL,
        headers TEXT NOT NULL,
        body BLOB NOT NULL,
        fetched_ms INTEGER NOT NULL,
        max_age_s INTEGER NOT NULL
      );
      CREATE TABLE IF NOT EXISTS pins (hash TEXT PRIMARY KEY, reason TEXT NOT NULL, created_ms INTEGER NOT NULL);
    `);
  }

  allBlobs(): BlobRow[] {
    const rows = this.db.prepare('SELECT * FROM blobs ORDER BY last_access_ms ASC').all() as Record<string, unknown>[];
    return rows.map((r) => ({
      hash: r.hash as string,
      size: Number(r.size),
      blockSize: Number(r.block_size),
      blocks: r.blocks as Buffer,
      fingerprint: r.fingerprint as string,
      createdMs: Number(r.created_ms),
      lastAccessMs: Number(r.last_access_ms),
      hits: Number(r.hits),
      pinned: Number(r.pinned) === 1,
    }));
  }

  putBlob(r: BlobRow): void {
    this.db
      .prepare(
        `INSERT OR REPLACE INTO blobs (hash, size, block_size, blocks, fingerprint, created_ms, last_access_ms, hits, pinned)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      )
      .run(r.hash, r.size, r.blockSize, r.blocks, r.fingerprint, r.createdMs, r.lastAccessMs, r.hits, r.pinned ? 1 : 0);
  }

  setFingerprint(hash: string, fingerprint: string): void {
    this.db.prepare('UPDATE blobs SET fingerprint = ? WHERE hash = ?').run(fingerprint, hash);
  }

  deleteBlob(hash: string): void {
    this.pendingAccess.delete(hash);
    this.db.prepare('DELETE FROM blobs WHERE hash = ?').run(hash);
  }

  /** record a hit; written by `flush` */
  touch(hash: string, nowMs: number): void {
    const p = this.pendingAccess.get(hash);
    if (p) {
      p.lastAccessMs = nowMs;
      p.hits++;
    } else this.pendingAccess.set(hash, { lastAccessMs: nowMs, hits: 1 });
  }

  flush(): void {
    if (this.pendingAccess.size === 0) return;
    const stmt = this.db.prepare('UPDATE blobs SET last_access_ms = ?, hits = hits + ? WHERE hash = ?');
    const tx = this.db.transaction(() => {
      for (const [hash, p] of this.pendingAccess) stmt.run(p.lastAccessMs, p.hits, hash);
    });
    tx();
    this.pendingAccess.clear();
  }

  pins(): Map<string, string> {
    const rows = this.db.prepare('SELECT hash, reason FROM pins').all() as { hash: string; reason: string }[];
    return new Map(rows.map((r) => [r.hash, r.reason]));
  }

  setPin(hash: string, reason: string | undefined): void {
    if (reason === undefined) this.db.prepare('DELETE FROM pins WHERE hash = ?').run(hash);
    else this.db.prepare('INSERT OR REPLACE INTO pins (hash, reason, created_ms) VALUES (?, ?, ?)').run(hash, reason, Date.now());
  }

  getMeta(key: string): MetaRow | undefined {
    const r = this.db.prepare('SELECT * FROM meta WHERE key = ?').get(key) as Record<string, unknown> | undefined;
    if (!r) return undefined;
    return {
      key,
      status: Number(r.status),
      headers: JSON.parse(r.headers as string) as Record<string, string>,
      body: r.body as Buffer,
      fetchedMs: Number(r.fetched_ms),
      maxAgeS: Number(r.max_age_s),
    };
  }

  putMeta(m: MetaRow): void {
    this.db
      .prepare('INSERT OR REPLACE INTO meta (key, status, headers, body, fetched_ms, max_age_s) VALUES (?, ?, ?, ?, ?, ?)')
      .run(m.key, m.status, JSON.stringify(m.headers), m.body, m.fetchedMs, m.maxAgeS);
  }

  close(): void {
    this.flush();
    this.db.close();
  }
}
