/**
 * The publishing side of the origin API, as a library call (used by `modelcdn publish` and the
 * demo): hashes each local file, opens an upload session, streams the bytes in chunks with
 * `Upload-Offset`, resumes from the server's offset after an interruption (with backoff), commits the
 * version with its file list and sha256s, and optionally waits for the background job. Never reads a
 * whole file into memory.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { readdir, stat } from 'node:fs/promises';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { basename, join, relative, sep } from 'node:path';
import { McdnError, fromSystemError, isMcdnError } from '../../errors.ts';
import { validateFilePath } from '../http/validate.ts';

export const DEFAULT_CHUNK_BYTES = 64 * 1024 * 1024;
export const MAX_ATTEMPTS = 6;

export interface LocalFile {
  /** path on disk */
  localPath: string;
  /** path inside the version */
  path: string;
  size: number;
  sha256?: string;
}

export interface PublishOptions {
  server: string;
  token: string;
  name: string;
  version: string;
  channel?: string | null;
  optimize?: 'int8';
  files: LocalFile[];
  chunkBytes?: number;
  /** wait for the background job to finish (default true) */
  wait?: boolean;
  signal?: AbortSignal;
  onProgress?: (e: { phase: 'hash' | 'upload' | 'process'; file?: string; done: number; total: number; step?: string }) => void;
}

export interface JobStatus {
  id: string;
  status: 'queued' | 'running' | 'done' | 'failed';
  step: string | null;
  done: number;
  total: number;
  progress: number;
  error: { code: string; message: string } | null;
  /** chunk-level dedup of the version's files (raw bytes new vs. already stored) */
  dedup?: { newBytes: number; knownBytes: number; newPackedBytes: number; totalBytes: number };
}

/** An original file that was replaced by its INT8 version before upload (recorded in the version). */
export interface OptimizedFrom {
  path: string;
  size: number;
  sha256: string;
}

export interface PublishResult {
  name: string;
  version: string;
  jobId: string;
  job?: JobStatus;
  uploadedBytes: number;
  skippedBytes: number;
  /** files quantized before upload (`optimize: 'int8'`) */
  optimized?: (OptimizedFrom & { int8Size: number })[];
}

/** Formats `optimize: 'int8'` quantizes (single-file formats of src/optimize's quantizeFile). */
export const INT8_EXTENSIONS = ['.onnx', '.safetensors', '.gguf'];

/**
 * INT8-quantize the model files among `files` into `workDir` with src/optimize (weights-only,
 * per-channel, verified by the optimizer), returning the file list to upload instead and the
 * originals. Files of other formats are published as they are.
 */
export async function optimizeInt8(files: LocalFile[], workDir: string): Promise<{ files: LocalFile[]; original: (OptimizedFrom & { int8Size: number })[] }> {
  const { quantizeFile, DEFAULT_MIN_ELEMENTS } = await import('../../optimize/quantize/index.ts');
  const out: LocalFile[] = [];
  const original: (OptimizedFrom & { int8Size: number })[] = [];
  let n = 0;
  for (const f of files) {
    if (!INT8_EXTENSIONS.some((e) => f.path.toLowerCase().endsWith(e))) {
      out.push(f);
      continue;
    }
    const q = join(workDir, `${n++}-${basename(f.path)}`);
    const r = await quantizeFile(f.localPath, q, { scheme: 'int8', granularity: 'per-channel', minElements: DEFAULT_MIN_ELEMENTS });
    const sha = await hashFile(f.localPath, () => {});
    original.push({ path: f.path, size: f.size, sha256: sha, int8Size: r.sizeAfter });
    out.push({ localPath: q, path: f.path, size: r.sizeAfter });
  }
  return { files: out, original };
}

/** Expand PATH arguments: a file becomes its base name; a directory contributes its files by relative path. */
export async function collectFiles(paths: string[]): Promise<LocalFile[]> {
  const out: LocalFile[] = [];
  for (const p of paths) {
    let st;
    try {
      st = await stat(p);
    } catch (e) {
      throw fromSystemError(e, p);
    }
    if (st.isDirectory()) {
      const walk = async (dir: string) => {
        for (const ent of (await readdir(dir, { withFileTypes: true })).sort((a, b) => a.name.localeCompare(b.name))) {
          const full = join(dir, ent.name);
          if (ent.isDirectory()) await walk(full);
          else if (ent.isFile()) out.push({ localPath: full, path: validateFilePath(relative(p, full).split(sep).join('/')), size: (await stat(full)).size });
        }
      };
      await walk(p);
    } else {
      out.push({ localPath: p, path: validateFilePath(basename(p)), size: st.size });
    }
  }
  const seen = new Set<string>();
  for (const f of out) {
    if (seen.has(f.path)) throw new McdnError('DUPLICATE_FILE_PATH', 'input', `two inputs map to the same path '${f.path}' in the version`);
    seen.add(f.path);
  }
  if (out.length === 0) throw new McdnError('NO_FILES', 'input', 'nothing to publish: the given paths contain no files');
  return out;
}

async function hashFile(path: string, onBytes: (n: number) => void): Promise<string> {
  const h = createHash('sha256');
  try {
    for await (const c of createReadStream(path, { highWaterMark: 4 << 20 })) {
      h.update(c as Buffer);
      onBytes((c as Buffer).length);
    }
  } catch (e) {
    throw fromSystemError(e, path);
  }
  return h.digest('hex');
}

async function apiError(res: Response, what: string): Promise<McdnError> {
  let body: { error?: { code?: string; category?: string; message?: string; remedy?: string } } = {};
  try {
    body = (await res.json()) as typeof body;
  } catch {
    /* not JSON */
  }
  const e = body.error;
  const cat = (e?.category ?? (res.status === 401 ? 'auth' : res.status === 404 ? 'not_found' : res.status >= 500 ? 'network' : 'input')) as McdnError['category'];
  return new McdnError(e?.code ?? `HTTP_${res.status}`, cat, `${what}: ${e?.message ?? `HTTP ${res.status}`}`, {
    details: { status: res.status },
    ...(e?.remedy ? { remedy: e.remedy } : {}),
  });
}

async function call(url: string, init: RequestInit, what: string): Promise<Response> {
  let res: Response;
  try {
    res = await fetch(url, init);
  } catch (e) {
    if ((e as Error).name === 'AbortError') throw e;
    throw new McdnError('SERVER_UNREACHABLE', 'network', `${what}: cannot reach ${new URL(url).origin} (${(e as Error).message})`, { cause: e, remedy: 'check --server / MODELCDN_SERVER' });
  }
  if (!res.ok) throw await apiError(res, what);
  return res;
}

/** PUT a file region with node:http (a streamed body with a known Content-Length). */
function putRegion(url: string, token: string, file: string, start: number, end: number, signal?: AbortSignal): Promise<{ status: number; body: string; offset?: number }> {
  return new Promise((resolve, reject) => {
    const u = new URL(url);
    const req = (u.protocol === 'https:' ? httpsRequest : httpRequest)(
      u,
      {
        method: 'PUT',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/octet-stream', 'content-length': String(end - start), 'upload-offset': String(start) },
        ...(signal ? { signal } : {}),
      },
      (res) => {
        const parts: Buffer[] = [];
        res.on('data', (c: Buffer) => parts.push(c));
        res.on('end', () => {
          const off = res.headers['upload-offset'];
          resolve({ status: res.statusCode ?? 0, body: Buffer.concat(parts).toString('utf8'), ...(typeof off === 'string' ? { offset: Number(off) } : {}) });
        });
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    if (end === start) {
      req.end();
      return;
    }
    const src = createReadStream(file, { start, end: end - 1, highWaterMark: 1 << 20 });
    src.on('error', (e) => req.destroy(e));
    src.pipe(req);
  });
}

const sleep = (ms: number, signal?: AbortSignal) =>
  new Promise<void>((r, j) => {
    const t = setTimeout(r, ms);
    signal?.addEventListener('abort', () => {
      clearTimeout(t);
      j(Object.assign(new Error('aborted'), { name: 'AbortError' }));
    });
  });

function jsonHeaders(token: string): Record<string, string> {
  return { authorization: `Bearer ${token}`, 'content-type': 'application/json' };
}

/** Upload one file (resuming a session the server already has for the same bytes). Returns bytes sent. */
export async function uploadFile(server: string, token: string, f: LocalFile & { sha256: string }, opts: Pick<PublishOptions, 'chunkBytes' | 'signal' | 'onProgress'> = {}): Promise<number> {
  const base = server.replace(/\/+$/, '');
  const created = (await (
    await call(`${base}/v1/publish/uploads`, { method: 'POST', headers: jsonHeaders(token), body: JSON.stringify({ sha256: f.sha256, size: f.size }), ...(opts.signal ? { signal: opts.signal } : {}) }, `upload ${f.path}`)
  ).json()) as { id: string; offset: number; complete: boolean };
  let offset = created.offset;
  let complete = created.complete;
  const chunk = opts.chunkBytes ?? DEFAULT_CHUNK_BYTES;
  let attempts = 0;
  // at offset == size but not complete, an empty PUT asks the origin to store the bytes it holds
  while (!complete) {
    const end = Math.min(f.size, offset + chunk);
    try {
      const r = await putRegion(`${base}/v1/publish/uploads/${created.id}`, token, f.localPath, offset, end, opts.signal);
      if (r.status === 200) {
        const s = JSON.parse(r.body) as { offset: number; complete: boolean };
        offset = s.offset;
        complete = s.complete;
        attempts = 0;
        opts.onProgress?.({ phase: 'upload', file: f.path, done: offset, total: f.size });
        continue;
      }
      if (r.status === 409 && r.offset !== undefined) {
        offset = r.offset; // the server holds a different amount: continue from there
        continue;
      }
      let err: { error?: { code?: string; category?: string; message?: string; remedy?: string } } = {};
      try {
        err = JSON.parse(r.body) as typeof err;
      } catch {
        /* not JSON */
      }
      const e = new McdnError(err.error?.code ?? `HTTP_${r.status}`, (err.error?.category as McdnError['category']) ?? 'network', `upload ${f.path}: ${err.error?.message ?? `HTTP ${r.status}`}`, err.error?.remedy ? { remedy: err.error.remedy } : {});
      if (r.status < 500) throw e;
      throw Object.assign(e, { retry: true });
    } catch (e) {
      if ((e as Error).name === 'AbortError' || opts.signal?.aborted) throw e;
      if (isMcdnError(e) && !(e as McdnError & { retry?: boolean }).retry) throw e;
      if (++attempts >= MAX_ATTEMPTS) {
        throw new McdnError('UPLOAD_FAILED', 'network', `upload ${f.path}: gave up after ${MAX_ATTEMPTS} attempts (${(e as Error).message})`, { remedy: 'run publish again; it resumes where it stopped' });
      }
      await sleep(Math.min(8000, 200 * 2 ** attempts), opts.signal);
      // ask the server how much it has
      try {
        const s = (await (await call(`${base}/v1/publish/uploads/${created.id}`, { headers: { authorization: `Bearer ${token}` } }, `upload ${f.path}`)).json()) as { offset: number; complete: boolean };
        offset = s.offset;
        complete = s.complete;
      } catch {
        /* keep the offset; the next attempt will tell */
      }
    }
  }
  // bytes this call moved to the origin (what it had before the session resumed is not counted)
  return offset - created.offset;
}

export async function getJob(server: string, jobId: string, signal?: AbortSignal): Promise<JobStatus> {
  const r = await call(`${server.replace(/\/+$/, '')}/v1/jobs/${encodeURIComponent(jobId)}`, signal ? { signal } : {}, `job ${jobId}`);
  return (await r.json()) as JobStatus;
}

/** Wait for a job to finish (polls every `intervalMs`); throws the job's error if it failed. */
export async function waitForJob(server: string, jobId: string, opts: { signal?: AbortSignal; intervalMs?: number; onProgress?: PublishOptions['onProgress'] } = {}): Promise<JobStatus> {
  let failures = 0;
  for (;;) {
    let j: JobStatus;
    try {
      j = await getJob(server, jobId, opts.signal);
      failures = 0;
    } catch (e) {
      // a restart or a dropped keep-alive connection: the job state lives on the origin, ask again
      if (!isMcdnError(e) || e.category !== 'network' || ++failures >= MAX_ATTEMPTS) throw e;
      await sleep(Math.min(8000, 250 * 2 ** failures), opts.signal);
      continue;
    }
    opts.onProgress?.({ phase: 'process', done: j.done, total: j.total, ...(j.step ? { step: j.step } : {}) });
    if (j.status === 'done') return j;
    if (j.status === 'failed') throw new McdnError(j.error?.code ?? 'PUBLISH_FAILED', 'input', `publish job ${jobId} failed: ${j.error?.message ?? 'unknown error'}`);
    await sleep(opts.intervalMs ?? 200, opts.signal);
  }
}

export async function publish(opts: PublishOptions): Promise<PublishResult> {
  if (!opts.optimize) return publishFiles(opts);
  const { mkdtemp, rm } = await import('node:fs/promises');
  const { tmpdir } = await import('node:os');
  const work = await mkdtemp(join(tmpdir(), 'modelcdn-int8-'));
  try {
    const q = await optimizeInt8(opts.files, work);
    const r = await publishFiles({ ...opts, files: q.files }, q.original);
    return { ...r, optimized: q.original };
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

async function publishFiles(opts: PublishOptions, original?: OptimizedFrom[]): Promise<PublishResult> {
  const base = opts.server.replace(/\/+$/, '');
  const total = opts.files.reduce((n, f) => n + f.size, 0);
  let hashed = 0;
  const files: (LocalFile & { sha256: string })[] = [];
  for (const f of opts.files) {
    const sha256 = f.sha256 ?? (await hashFile(f.localPath, (n) => opts.onProgress?.({ phase: 'hash', file: f.path, done: (hashed += n), total })));
    files.push({ ...f, sha256 });
  }
  let uploadedBytes = 0;
  for (const f of files) uploadedBytes += await uploadFile(base, opts.token, f, opts);
  const commit = (await (
    await call(
      `${base}/v1/publish/versions`,
      {
        method: 'POST',
        headers: jsonHeaders(opts.token),
        body: JSON.stringify({
          name: opts.name,
          version: opts.version,
          channel: opts.channel === undefined ? 'latest' : opts.channel,
          ...(opts.optimize ? { optimize: opts.optimize, original: (original ?? []).map((o) => ({ path: o.path, size: o.size, sha256: o.sha256 })) } : {}),
          files: files.map((f) => ({ path: f.path, size: f.size, sha256: f.sha256 })),
        }),
        ...(opts.signal ? { signal: opts.signal } : {}),
      },
      `publish ${opts.name}@${opts.version}`,
    )
  ).json()) as { jobId: string };
  const result: PublishResult = { name: opts.name, version: opts.version, jobId: commit.jobId, uploadedBytes, skippedBytes: total - uploadedBytes };
  if (opts.wait !== false) result.job = await waitForJob(base, commit.jobId, { ...(opts.signal ? { signal: opts.signal } : {}), ...(opts.onProgress ? { onProgress: opts.onProgress } : {}) });
  return result;
}
