/**
 * S3-compatible BlobStore (AWS S3, OpenStack Swift s3api, MinIO, Ceph RGW) through
 * `@aws-sdk/client-s3`. Keys are `<prefix>sha256/<hash>`. A put is all-or-nothing: with a known
 * expected hash the bytes stream straight into a multipart upload that is completed only when the
 * streamed sha256 matches (aborted otherwise); without one, the bytes are spooled to a local temp
 * file first (the name is not known until the last byte). Ranged GETs serve Range requests;
 * `presignedUrl` lets an origin redirect clients to the bucket. Credentials come from the standard
 * AWS environment variables / config chain; never log presigned query strings.
 */
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, open, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
  UploadPartCommand,
  type S3ClientConfig,
} from '@aws-sdk/client-s3';
import type { BlobSource, BlobStat, BlobStore, PutResult } from './blob-store.ts';
import { badRange, blobNotFound, checkHashName, hashMismatch } from './errors.ts';
import { McdnError } from '../errors.ts';

/** S3's minimum part size is 5 MiB (except the last part). */
export const S3_PART_SIZE = 8 << 20;

export interface S3BlobStoreOptions {
  bucket: string;
  prefix?: string;
  /** an existing client, or the config to build one (endpoint, region, forcePathStyle…) */
  client?: S3Client;
  clientConfig?: S3ClientConfig;
  /** where puts without an expected hash spool their bytes */
  spoolDir?: string;
  partSize?: number;
}

function isNotFound(e: unknown): boolean {
  const err = e as { name?: string; $metadata?: { httpStatusCode?: number } };
  return err?.name === 'NotFound' || err?.name === 'NoSuchKey' || err?.$metadata?.httpStatusCode === 404;
}

function s3Error(e: unknown, what: string): McdnError {
  if (e instanceof McdnError) return e;
  const err = e as { name?: string; message?: string; $metadata?: { httpStatusCode?: number } };
  const status = err?.$metadata?.httpStatusCode;
  if (status === 401 || status === 403) return new McdnError('S3_AUTH', 'auth', `object storage refused ${what}: ${err.name ?? status}`, { cause: e, remedy: 'check AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY and bucket permissions' });
  return new McdnError('S3_ERROR', 'network', `object storage error during ${what}: ${err?.name ?? ''} ${err?.message ?? String(e)}`.trim(), { cause: e });
}

async function* chunksOf(data: BlobSource): AsyncIterable<Uint8Array> {
  if (data instanceof Uint8Array) yield data;
  else for await (const c of data as AsyncIterable<Uint8Array>) yield c;
}

/** Re-chunk a byte stream into parts of exactly `size` bytes (the last may be shorter). */
async function* parts(src: AsyncIterable<Uint8Array>, size: number): AsyncIterable<Buffer> {
  let buf: Buffer[] = [];
  let n = 0;
  for await (const c of src) {
    let chunk = Buffer.from(c.buffer, c.byteOffset, c.byteLength);
    while (chunk.length > 0) {
      const take = Math.min(size - n, chunk.length);
      buf.push(chunk.subarray(0, take));
      n += take;
      chunk = chunk.subarray(take);
      if (n === size) {
        yield Buffer.concat(buf);
        buf = [];
        n = 0;
      }
    }
  }
  if (n > 0 || buf.length > 0) yield Buffer.concat(buf);
}

export class S3BlobStore implements BlobStore {
  readonly client: S3Client;
  readonly bucket: string;
  private readonly prefix: string;
  private readonly spoolDir: string;
  private readonly partSize: number;

  constructor(opts: S3BlobStoreOptions) {
    this.client = opts.client ?? new S3Client({ forcePathStyle: true, ...(opts.clientConfig ?? {}) });
    this.bucket = opts.bucket;
    this.prefix = opts.prefix ?? '';
    this.spoolDir = opts.spoolDir ?? join(tmpdir(), 'modelcdn-s3-spool');
    this.partSize = Math.max(5 << 20, opts.partSize ?? S3_PART_SIZE);
  }

  key(hash: string): string {
    checkHashName(hash);
    return `${this.prefix}sha256/${hash}`;
  }

  async has(hash: string): Promise<boolean> {
    return (await this.stat(hash)) !== undefined;
  }

  async stat(hash: string): Promise<BlobStat | undefined> {
    try {
      const r = await this.client.send(new HeadObjectCommand({ Bucket: this.bucket, Key: this.key(hash) }));
      return { hash, size: Number(r.ContentLength ?? 0) };
    } catch (e) {
      if (isNotFound(e)) return undefined;
      throw s3Error(e, `HEAD ${hash}`);
    }
  }

  async put(data: BlobSource, expectedHash?: string): Promise<PutResult> {
    if (expectedHash === undefined) return this.putSpooled(data);
    checkHashName(expectedHash);
    const existing = await this.stat(expectedHash);
    if (existing) {
      for await (const _ of chunksOf(data)) void _;
      return { ...existing, created: false };
    }
    return this.putStreaming(chunksOf(data), expectedHash);
  }

  /** Stream into a multipart upload; complete only if the sha256 matches `expectedHash`. */
  private async putStreaming(src: AsyncIterable<Uint8Array>, expectedHash: string): Promise<PutResult> {
    const Key = this.key(expectedHash);
    const h = createHash('sha256');
    let size = 0;
    let uploadId: string | undefined;
    const done: { ETag: string; PartNumber: number }[] = [];
    try {
      let partNo = 0;
      let first: Buffer | undefined;
      for await (const part of parts(src, this.partSize)) {
        h.update(part);
        size += part.length;
        if (partNo === 0 && first === undefined) {
          // Defer the first part: a blob that fits in one part becomes a single PUT.
          first = part;
          partNo = 1;
          continue;
        }
        if (uploadId === undefined) {
          const c = await this.client.send(new CreateMultipartUploadCommand({ Bucket: this.bucket, Key }));
          uploadId = c.UploadId!;
          const r1 = await this.client.send(new UploadPartCommand({ Bucket: this.bucket, Key, UploadId: uploadId, PartNumber: 1, Body: first! }));
          done.push({ ETag: r1.ETag!, PartNumber: 1 });
        }
        partNo++;
        const r = await this.client.send(new UploadPartCommand({ Bucket: this.bucket, Key, UploadId: uploadId, PartNumber: partNo, Body: part }));
        done.push({ ETag: r.ETag!, PartNumber: partNo });
      }
      const actual = h.digest('hex');
      if (actual !== expectedHash) throw hashMismatch(expectedHash, actual);
      if (uploadId === undefined) {
        await this.client.send(new PutObjectCommand({ Bucket: this.bucket, Key, Body: first ?? Buffer.alloc(0), ContentLength: size }));
      } else {
        await this.client.send(new CompleteMultipartUploadCommand({ Bucket: this.bucket, Key, UploadId: uploadId, MultipartUpload: { Parts: done } }));
      }
      return { hash: expectedHash, size, created: true };
    } catch (e) {
      if (uploadId !== undefined) {
        await this.client.send(new AbortMultipartUploadCommand({ Bucket: this.bucket, Key, UploadId: uploadId })).catch(() => {});
      }
      throw s3Error(e, `upload of ${expectedHash}`);
    }
  }

  /** Spool to a local temp file while hashing, then upload under the now-known name. */
  private async putSpooled(data: BlobSource): Promise<PutResult> {
    await mkdir(this.spoolDir, { recursive: true });
    const tmp = join(this.spoolDir, `${Date.now()}-${randomBytes(8).toString('hex')}.spool`);
    const h = createHash('sha256');
    const fh = await open(tmp, 'wx');
    try {
      for await (const c of chunksOf(data)) {
        h.update(c);
        await fh.write(c);
      }
      await fh.close();
      const hash = h.digest('hex');
      const existing = await this.stat(hash);
      if (existing) return { ...existing, created: false };
      return await this.putStreaming(createReadStream(tmp, { highWaterMark: 1 << 20 }), hash);
    } finally {
      await fh.close().catch(() => {});
      await rm(tmp, { force: true });
    }
  }

  async get(hash: string): Promise<Uint8Array> {
    const parts: Uint8Array[] = [];
    for await (const c of await this.stream(hash)) parts.push(c);
    return new Uint8Array(Buffer.concat(parts));
  }

  async stream(hash: string, range?: { start: number; end: number }): Promise<AsyncIterable<Uint8Array>> {
    const Key = this.key(hash);
    if (range) {
      const st = await this.stat(hash);
      if (!st) throw blobNotFound(hash);
      if (range.start < 0 || range.end > st.size || range.start > range.end) throw badRange(hash, range.start, range.end, st.size);
      if (range.start === range.end) return (async function* () {})();
    }
    try {
      const r = await this.client.send(
        new GetObjectCommand({ Bucket: this.bucket, Key, ...(range ? { Range: `bytes=${range.start}-${range.end - 1}` } : {}) }),
      );
      return r.Body as Readable;
    } catch (e) {
      if (isNotFound(e)) throw blobNotFound(hash);
      throw s3Error(e, `GET ${hash}`);
    }
  }

  async delete(hash: string): Promise<boolean> {
    if (!(await this.has(hash))) return false;
    try {
      await this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: this.key(hash) }));
      return true;
    } catch (e) {
      throw s3Error(e, `DELETE ${hash}`);
    }
  }

  async *list(): AsyncIterable<BlobStat> {
    let token: string | undefined;
    const p = `${this.prefix}sha256/`;
    do {
      let r;
      try {
        r = await this.client.send(new ListObjectsV2Command({ Bucket: this.bucket, Prefix: p, ...(token ? { ContinuationToken: token } : {}) }));
      } catch (e) {
        throw s3Error(e, 'LIST');
      }
      for (const o of r.Contents ?? []) {
        const hash = (o.Key ?? '').slice(p.length);
        if (/^[0-9a-f]{64}$/.test(hash)) yield { hash, size: Number(o.Size ?? 0) };
      }
      token = r.IsTruncated ? r.NextContinuationToken : undefined;
    } while (token);
  }

  async totalSize(): Promise<number> {
    let n = 0;
    for await (const b of this.list()) n += b.size;
    return n;
  }

  /** A time-limited GET URL for a blob, for redirecting clients straight to the bucket. */
  async presignedUrl(hash: string, expiresInSeconds = 300): Promise<string> {
    const { getSignedUrl } = await import('@aws-sdk/s3-request-presigner');
    return getSignedUrl(this.client, new GetObjectCommand({ Bucket: this.bucket, Key: this.key(hash) }), { expiresIn: expiresInSeconds });
  }
}
