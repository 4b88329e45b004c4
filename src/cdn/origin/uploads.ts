/**
 * Resumable uploads into the blob store. A session is created for one blob (sha256 + size); the
 * client PUTs bytes at `Upload-Offset` (must equal what the server holds); after an interruption it
 * asks (GET, or creates the session again — same sha256+size returns the open session) and continues
 * from the returned offset. When the last byte arrives the part file is hashed into the store
 * (mismatch → the session is dropped, nothing stored; a store failure keeps the bytes, and an empty
 * PUT at the final offset retries). Bytes beyond the declared size are refused.
 * Knows the registry and the store, not the routes.
 */
import { createReadStream, createWriteStream } from 'node:fs';
import { rm, stat } from 'node:fs/promises';
import type { IncomingMessage } from 'node:http';
import { join } from 'node:path';
import { Transform, type TransformCallback } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { McdnError, isMcdnError } from '../../errors.ts';
import type { BlobStore } from '../../store/index.ts';
import type { Registry, UploadRow } from '../registry/registry.ts';
import { httpError } from '../http/errors.ts';

export interface UploadStatus {
  id: string;
  sha256: string;
  size: number;
  offset: number;
  complete: boolean;
}

export function uploadStatus(u: UploadRow): UploadStatus {
  return { id: u.id, sha256: u.sha256, size: u.size, offset: u.received, complete: u.status === 'complete' };
}

export class Uploads {
  private readonly busy = new Set<string>();

  constructor(
    private readonly registry: Registry,
    private readonly store: BlobStore,
    private readonly dir: string,
    private readonly maxUploadBytes: number,
  ) {}

  partPath(id: string): string {
    return join(this.dir, `${id}.part`);
  }

  /** Create (or resume) a session. A blob already in the store yields a complete session at once. */
  async create(sha256: string, size: number, tokenId: string | null): Promise<{ status: UploadStatus; created: boolean }> {
    if (!Number.isSafeInteger(size) || size < 0) throw httpError(400, 'BAD_UPLOAD_SIZE', 'input', `upload size must be a non-negative integer`);
    if (size > this.maxUploadBytes) {
      throw httpError(413, 'UPLOAD_TOO_LARGE', 'input', `upload of ${size} bytes exceeds this origin's limit of ${this.maxUploadBytes} bytes`, 'ask the operator to raise --max-upload');
    }
    const existing = await this.store.stat(sha256);
    if (existing) {
      if (existing.size !== size) throw httpError(400, 'UPLOAD_SIZE_MISMATCH', 'input', `blob ${sha256} is stored with ${existing.size} bytes, not ${size}`);
      return { status: uploadStatus(this.registry.createUpload(sha256, size, tokenId, true)), created: false };
    }
    const open = this.registry.findOpenUpload(sha256, size);
    if (open) return { status: uploadStatus(open), created: false };
    const u = this.registry.createUpload(sha256, size, tokenId, false);
    if (size === 0) return { status: await this.finish(u), created: true };
    return { status: uploadStatus(u), created: true };
  }

  get(id: string): UploadStatus {
    const u = this.registry.getUpload(id);
    if (!u) throw new McdnError('UPLOAD_NOT_FOUND', 'not_found', `upload session ${id.slice(0, 40)} does not exist`, { remedy: 'create a new upload session' });
    return uploadStatus(u);
  }

  /** Append the request body at `offset`. */
  async append(id: string, offset: number, req: IncomingMessage): Promise<UploadStatus> {
    const u = this.registry.getUpload(id);
    if (!u) {
      req.resume();
      throw new McdnError('UPLOAD_NOT_FOUND', 'not_found', `upload session ${id.slice(0, 40)} does not exist`);
    }
    if (u.status === 'complete') {
      req.resume();
      return uploadStatus(u);
    }
    if (!Number.isSafeInteger(offset) || offset !== u.received) {
      req.resume();
      throw new McdnError('UPLOAD_OFFSET_MISMATCH', 'conflict', `upload ${id} holds ${u.received} bytes; the PUT started at ${offset}`, {
        details: { httpStatus: 409, offset: u.received },
        remedy: `resume at offset ${u.received}`,
      });
    }
    const declared = Number(req.headers['content-length'] ?? NaN);
    if (u.received === u.size && !(declared > 0)) {
      // all bytes are here but storing them failed earlier (e.g. object storage was down): retry
      req.resume();
      return await this.finish(u);
    }
    if (Number.isFinite(declared) && offset + declared > u.size) {
      req.resume();
      throw httpError(413, 'UPLOAD_EXCEEDS_SIZE', 'input', `PUT of ${declared} bytes at offset ${offset} goes past the declared size ${u.size}`);
    }
    if (this.busy.has(id)) {
      req.resume();
      throw new McdnError('UPLOAD_BUSY', 'conflict', `upload ${id} is receiving another PUT`);
    }
    this.busy.add(id);
    const part = this.partPath(id);
    let tooLong = false;
    try {
      const limit = u.size - offset;
      let seen = 0;
      const guard = new Transform({
        transform(chunk: Buffer, _enc, cb: TransformCallback) {
          seen += chunk.length;
          if (seen > limit) {
            tooLong = true;
            cb(httpError(413, 'UPLOAD_EXCEEDS_SIZE', 'input', `upload ${id} received more than its declared ${u.size} bytes`));
            return;
          }
          cb(null, chunk);
        },
      });
      try {
        await pipeline(req, guard, createWriteStream(part, { flags: offset === 0 ? 'w' : 'r+', start: offset, highWaterMark: 1 << 20 }));
      } catch (e) {
        // keep what reached the disk so the client can resume; drop the overflow
        const have = await stat(part).then((s) => s.size, () => 0);
        const kept = Math.min(have, tooLong ? offset : u.size);
        if (tooLong) {
          const { truncate } = await import('node:fs/promises');
          await truncate(part, kept).catch(() => {});
        }
        this.registry.setUploadReceived(id, kept);
        if (isMcdnError(e)) throw e;
        throw new McdnError('UPLOAD_INTERRUPTED', 'network', `upload ${id} was interrupted at ${kept} bytes`, { remedy: `resume at offset ${kept}` });
      }
      const received = offset + seen;
      this.registry.setUploadReceived(id, received);
      if (received === u.size) return await this.finish({ ...u, received });
      return uploadStatus({ ...u, received });
    } finally {
      this.busy.delete(id);
    }
  }

  /** Hash the complete part file into the store; a mismatch drops the session. */
  private async finish(u: UploadRow): Promise<UploadStatus> {
    const part = this.partPath(u.id);
    try {
      const src = u.size === 0 ? new Uint8Array(0) : createReadStream(part, { highWaterMark: 1 << 20 });
      await this.store.put(src as Uint8Array, u.sha256);
    } catch (e) {
      if (isMcdnError(e) && e.code === 'BLOB_HASH_MISMATCH') {
        this.registry.deleteUpload(u.id);
        await rm(part, { force: true });
        throw httpError(400, 'UPLOAD_HASH_MISMATCH', 'input', `uploaded bytes do not hash to ${u.sha256}; the upload was discarded`, 'upload the file again');
      }
      // the bytes are complete but the store failed: keep the session; an empty PUT at the end retries
      throw new McdnError('UPLOAD_STORE_FAILED', 'network', `upload ${u.id}: storing the complete blob failed: ${(e as Error).message}`, {
        cause: e,
        details: { httpStatus: 503 },
        remedy: 'retry; the bytes are kept',
      });
    }
    await rm(part, { force: true });
    this.registry.setUploadReceived(u.id, u.size, true);
    return { id: u.id, sha256: u.sha256, size: u.size, offset: u.size, complete: true };
  }

  async abort(id: string): Promise<void> {
    this.registry.deleteUpload(id);
    await rm(this.partPath(id), { force: true });
  }
}
