/**
 * The background job that turns a pending version into a ready one: detect each file's format,
 * store precompressed variants (zstd, br, gzip) when they are smaller, pack (.mcz), compute patches
 * from the same file in the last K ready versions, build and sign the manifest, then flip the version
 * to ready and move its channel in one registry transaction. Progress (step, done/total bytes) is in
 * the jobs table. A failure discards the pending version (nothing partial becomes visible). Jobs run
 * one at a time; pending versions left by a crash are re-queued at start.
 */
import { createReadStream } from 'node:fs';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { McdnError, isMcdnError } from '../../errors.ts';
import type { BlobStore } from '../../store/index.ts';
import { FsBlobStore } from '../../store/index.ts';
import { CONTENT_CODINGS, type ContentCoding } from '../http/encoding.ts';
import { signManifest, type KeyPair } from '../manifest/sign.ts';
import { encodeManifest, type Manifest, type ManifestFile } from '../manifest/manifest.ts';
import type { FileRow, Registry, VersionRow } from '../registry/registry.ts';
import { looksCompressible, type Processors } from './processors.ts';
import type { ChunkStore } from '../../store/chunks/chunk-store.ts';
import { serializeChunkManifest } from '../../store/chunks/manifest.ts';

export interface PublishJobContext {
  registry: Registry;
  store: BlobStore;
  keys: KeyPair;
  processors: Processors;
  workDir: string;
  /** how many earlier ready versions get a patch to the new one */
  patchHistory: number;
  /** which precompressed variants to produce (default all three) */
  encodings: readonly ContentCoding[];
  /** chunk-level dedup store (issue 10): every version's files also become chunk manifests */
  chunks?: ChunkStore;
  /** called after a version became ready (for push channels later) */
  onReady?: (v: VersionRow) => void;
}

/** A local file path for a blob: the store's own file when it is on disk, else a temp copy. */
async function localBlob(ctx: PublishJobContext, hash: string): Promise<{ path: string; release: () => Promise<void> }> {
  if (ctx.store instanceof FsBlobStore) return { path: ctx.store.pathOf(hash), release: async () => {} };
  const tmp = join(ctx.workDir, `${hash}.${randomBytes(4).toString('hex')}.tmp`);
  const { createWriteStream } = await import('node:fs');
  const { pipeline } = await import('node:stream/promises');
  const { Readable } = await import('node:stream');
  await pipeline(Readable.from(await ctx.store.stream(hash)), createWriteStream(tmp));
  return { path: tmp, release: () => rm(tmp, { force: true }) };
}

function tempPath(ctx: PublishJobContext, what: string): string {
  return join(ctx.workDir, `${what}.${Date.now()}.${randomBytes(6).toString('hex')}.tmp`);
}

/** Pair a file of the new version with the file of an older version it should be patched from. */
export function matchPreviousFile(file: FileRow, newFiles: FileRow[], oldFiles: FileRow[]): FileRow | undefined {
  const same = oldFiles.find((f) => f.path === file.path);
  if (same) return same;
  // a single-file model renamed between releases (model-v1.onnx → model-v2.onnx)
  if (newFiles.length === 1 && oldFiles.length === 1 && oldFiles[0]!.format === file.format) return oldFiles[0];
  return undefined;
}

export async function runPublishJob(ctx: PublishJobContext, versionId: number, signal: AbortSignal): Promise<void> {
  const { registry } = ctx;
  const v = registry.getVersionById(versionId);
  if (!v || v.status !== 'pending' || !v.jobId) return;
  const jobId = v.jobId;
  const files = registry.files(versionId);
  const unique = [...new Map(files.map((f) => [f.sha256, f])).values()];
  const prev = registry.previousReadyVersions(v.modelId, versionId, ctx.patchHistory).map((pv) => ({ v: pv, files: registry.files(pv.id) }));

  // plan the work so progress has a meaningful total (bytes to read per step)
  const patchPairs: { from: FileRow; to: FileRow }[] = [];
  for (const f of files) {
    for (const p of prev) {
      const old = matchPreviousFile(f, files, p.files);
      if (old && old.sha256 !== f.sha256 && !patchPairs.some((x) => x.from.sha256 === old.sha256 && x.to.sha256 === f.sha256)) {
        patchPairs.push({ from: old, to: f });
      }
    }
  }
  const encodeWork = unique.reduce((n, f) => n + f.size * CONTENT_CODINGS.length, 0);
  const packWork = ctx.processors.pack ? unique.reduce((n, f) => n + f.size, 0) : 0;
  const patchWork = ctx.processors.makePatch ? patchPairs.reduce((n, p) => n + p.to.size, 0) : 0;
  const total = encodeWork + packWork + patchWork + 1;
  let done = 0;
  let lastWrite = 0;
  const progress = (step: string, add = 0, force = false) => {
    done += add;
    const t = Date.now();
    if (force || t - lastWrite > 200) {
      lastWrite = t;
      registry.updateJob(jobId, { status: 'running', step, done, total });
    }
  };
  // processor calls give way to shutdown (a worker-backed call is also terminated by close())
  const guard = <T>(p: Promise<T>): Promise<T> =>
    new Promise<T>((resolve, reject) => {
      if (signal.aborted) return reject(signal.reason);
      const onAbort = () => reject(signal.reason);
      signal.addEventListener('abort', onAbort, { once: true });
      p.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
    });
  const check = () => {
    if (signal.aborted) throw new McdnError('JOB_CANCELLED', 'cancelled', 'origin is shutting down; the job resumes at next start');
  };

  try {
    progress('formats', 0, true);
    const formatOf = new Map<string, string>();
    for (const f of files) {
      check();
      const lb = await localBlob(ctx, f.sha256);
      try {
        const fmt = await guard(ctx.processors.detectFormat(lb.path, f.path));
        formatOf.set(f.path, fmt);
        registry.setFileFormat(versionId, f.path, fmt);
      } finally {
        await lb.release();
      }
    }

    for (const f of unique) {
      const have = new Set(registry.artifacts(f.sha256).map((a) => a.kind));
      const lb = await localBlob(ctx, f.sha256);
      try {
        const worthIt = f.size > 0 && ctx.encodings.length > 0 && (await looksCompressible(lb.path));
        for (const coding of CONTENT_CODINGS) {
          check();
          if (!ctx.encodings.includes(coding) || !worthIt) {
            progress(`encode:${coding}`, f.size);
            continue;
          }
          progress(`encode:${coding}`, 0, true);
          if (have.has(coding) || f.size === 0) {
            progress(`encode:${coding}`, f.size);
            continue;
          }
          const out = tempPath(ctx, coding);
          try {
            const encSize = await guard(ctx.processors.encode(lb.path, out, coding, f.size));
            // keep a variant only when it saves bytes
            if (encSize < f.size) {
              const put = await ctx.store.put(createReadStream(out, { highWaterMark: 1 << 20 }));
              registry.putArtifact({ sourceSha256: f.sha256, kind: coding, blob: put.hash, size: put.size, codec: coding });
            }
          } finally {
            await rm(out, { force: true });
          }
          progress(`encode:${coding}`, f.size);
        }
        if (ctx.processors.pack && !have.has('packed')) {
          check();
          progress('pack', 0, true);
          const out = tempPath(ctx, 'pack');
          try {
            await guard(ctx.processors.pack(lb.path, out));
            const put = await ctx.store.put(createReadStream(out, { highWaterMark: 1 << 20 }));
            registry.putArtifact({ sourceSha256: f.sha256, kind: 'packed', blob: put.hash, size: put.size, codec: 'mcz' });
          } finally {
            await rm(out, { force: true });
          }
          progress('pack', f.size);
        } else if (ctx.processors.pack) progress('pack', f.size);
      } finally {
        await lb.release();
      }
    }

    if (ctx.chunks) {
      check();
      progress('chunks', 0, true);
      await chunkVersion(ctx, ctx.chunks, v, files);
    }

    if (ctx.processors.makePatch) {
      for (const pair of patchPairs) {
        check();
        progress('patch', 0, true);
        if (!registry.getPatch(pair.from.sha256, pair.to.sha256)) {
          const oldB = await localBlob(ctx, pair.from.sha256);
          const newB = await localBlob(ctx, pair.to.sha256);
          const out = tempPath(ctx, 'patch');
          try {
            const r = await guard(ctx.processors.makePatch(oldB.path, newB.path, out));
            if (r.beneficial) {
              const put = await ctx.store.put(createReadStream(out, { highWaterMark: 1 << 20 }));
              registry.putPatch({ fromSha256: pair.from.sha256, toSha256: pair.to.sha256, blob: put.hash, size: put.size, method: r.method, beneficial: true });
            } else {
              registry.putPatch({ fromSha256: pair.from.sha256, toSha256: pair.to.sha256, blob: null, size: null, method: r.method, beneficial: false });
            }
          } finally {
            await rm(out, { force: true });
            await oldB.release();
            await newB.release();
          }
        }
        progress('patch', pair.to.size);
      }
    }

    check();
    progress('manifest', 0, true);
    const manifest = buildManifest(registry, v, prev);
    const env = signManifest(manifest, ctx.keys);
    registry.finalizeVersion(versionId, { keyId: env.keyId, payload: encodeManifest(manifest), signature: env.signature });
    registry.updateJob(jobId, { status: 'done', step: 'ready', done: total, total });
    const ready = registry.getVersionById(versionId);
    if (ready) ctx.onReady?.(ready);
  } catch (e) {
    if (signal.aborted) {
      registry.updateJob(jobId, { status: 'queued', step: 'interrupted' });
      return;
    }
    registry.discardVersion(versionId);
    registry.updateJob(jobId, {
      status: 'failed',
      error: isMcdnError(e) ? e.message : `internal error: ${(e as Error).message}`,
      errorCode: isMcdnError(e) ? e.code : 'INTERNAL',
    });
  }
}

/**
 * Store the version's files as content-addressed chunks (root `name@version`) and each file's chunk
 * manifest as a blob. The files are laid out under their own names (symlinks to the blobs) so that
 * files of one model — tfjs weight shards and their manifest — are chunked as one logical stream.
 */
async function chunkVersion(ctx: PublishJobContext, chunks: ChunkStore, v: VersionRow, files: FileRow[]): Promise<void> {
  const { mkdir, symlink } = await import('node:fs/promises');
  const { dirname } = await import('node:path');
  const dir = tempPath(ctx, 'chunks');
  const held: { release: () => Promise<void> }[] = [];
  try {
    const paths: string[] = [];
    for (const f of files) {
      const lb = await localBlob(ctx, f.sha256);
      held.push(lb);
      const p = join(dir, ...f.path.split('/'));
      await mkdir(dirname(p), { recursive: true });
      await symlink(lb.path, p);
      paths.push(p);
    }
    const r = await chunks.ingest(`${v.name}@${v.version}`, paths);
    for (const [i, f] of files.entries()) {
      const put = await ctx.store.put(new TextEncoder().encode(serializeChunkManifest(r.files[i]!.manifest)));
      ctx.registry.putArtifact({ sourceSha256: f.sha256, kind: 'chunks', blob: put.hash, size: put.size, codec: 'chunks' });
    }
  } finally {
    for (const h of held) await h.release();
    await rm(dir, { recursive: true, force: true });
  }
}

/** The manifest of a version from the registry (files, artifacts, patches from earlier versions). */
export function buildManifest(registry: Registry, v: VersionRow, prev: { v: VersionRow; files: FileRow[] }[]): Manifest {
  const files = registry.files(v.id);
  const out: ManifestFile[] = files.map((f) => {
    const mf: ManifestFile = { path: f.path, size: f.size, sha256: f.sha256, format: f.format, patches: [] };
    const arts = registry.artifacts(f.sha256);
    const packed = arts.find((a) => a.kind === 'packed');
    if (packed) mf.packed = { blob: packed.blob, size: packed.size, codec: 'mcz' };
    const chunks = arts.find((a) => a.kind === 'chunks');
    if (chunks) mf.chunks = { blob: chunks.blob, size: chunks.size };
    const encs = arts.filter((a) => a.kind === 'zstd' || a.kind === 'br' || a.kind === 'gzip');
    if (encs.length) {
      mf.encodings = {};
      for (const a of encs) mf.encodings[a.kind as 'zstd' | 'br' | 'gzip'] = { blob: a.blob, size: a.size };
    }
    for (const p of prev) {
      const old = matchPreviousFile(f, files, p.files);
      if (!old || old.sha256 === f.sha256) continue;
      const patch = registry.getPatch(old.sha256, f.sha256);
      if (patch?.beneficial && patch.blob && patch.size !== null) {
        mf.patches.push({ fromVersion: p.v.version, fromSha256: old.sha256, blob: patch.blob, size: patch.size, method: patch.method });
      }
    }
    return mf;
  });
  return { schema: 1, name: v.name, version: v.version, createdAt: new Date(v.createdAt).toISOString(), files: out };
}

/** Runs publish jobs one at a time, in order. */
export class JobQueue {
  private readonly queue: number[] = [];
  private running: Promise<void> | undefined;
  private readonly ac = new AbortController();
  private idleWaiters: (() => void)[] = [];

  constructor(private readonly ctx: PublishJobContext) {}

  enqueue(versionId: number): void {
    if (this.ac.signal.aborted) return;
    this.queue.push(versionId);
    this.running ??= this.drain();
  }

  private async drain(): Promise<void> {
    try {
      while (this.queue.length && !this.ac.signal.aborted) {
        const id = this.queue.shift()!;
        await runPublishJob(this.ctx, id, this.ac.signal);
      }
    } finally {
      this.running = undefined;
      const w = this.idleWaiters;
      this.idleWaiters = [];
      for (const f of w) f();
    }
  }

  /** Resolves when no job is running (tests and shutdown). */
  idle(): Promise<void> {
    if (!this.running) return Promise.resolve();
    return new Promise((r) => this.idleWaiters.push(r));
  }

  /** Stop taking jobs and signal the running one (it re-queues itself); call idle() to wait. */
  abort(): void {
    this.ac.abort();
  }

  async stop(): Promise<void> {
    this.abort();
    await this.idle();
  }
}

