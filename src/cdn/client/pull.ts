/**
 * `pull(opts)`: bring a model version into a directory with the fewest bytes and only verified
 * bytes. Resolves NAME@VERSION|@CHANNEL, fetches and verifies the signed manifest (pinned key),
 * refuses a downgrade, then per file picks: already present → keep; in the local content cache →
 * copy; an older version present with patches → the cheapest route from the delta planner (patch or
 * chain, applied with applyPatch); the chunks it lacks when it already holds some of the file's
 * content-addressed chunks and that is cheaper (issue 10); else the packed artifact, unpacked while it streams in; else the
 * raw file. Downloads are parallel, ranged and resumable (see download.ts); every file's sha256 is
 * checked before the atomic rename into place. Writes nothing outside `outDir` and the client home.
 */
import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { Transform } from 'node:stream';
import { McdnError, inputError } from '../../errors.ts';
import { validateChannel, validateModelName, validateVersion } from '../http/validate.ts';
import { verifyManifestEnvelope, type Manifest, type ManifestFile } from '../manifest/index.ts';
import { downloadBlob, Semaphore } from './download.ts';
import { ClientHttp, cancelled } from './http.ts';
import { releaseReadBuffer } from '../http/raw-fetch.ts';
import { clientHome, ContentCache, destPath, fileMatches, placeFile, readInstalled, stateDir, writeInstalled, type InstalledFile, type InstalledState } from './local-state.ts';
import { resolveTrust, type TrustedKey } from './trust.ts';
import { ClientChunkCache, fetchChunkManifest, httpRangeReader, planChunkRoute } from './chunks.ts';
import { assembleFile, fetchMissingChunks, type ChunkManifest } from '../../store/chunks/index.ts';

export type FileRouteKind = 'present' | 'cache' | 'patch' | 'chain' | 'chunks' | 'packed' | 'raw';

export interface PullOptions {
  /** NAME, NAME@VERSION or NAME@CHANNEL */
  ref: string;
  server: string;
  outDir?: string;
  parallel?: number;
  trustFile?: string;
  allowDowngrade?: boolean;
  /** client home (pins, content cache); default $MODELCDN_HOME or ~/.modelcdn */
  home?: string;
  signal?: AbortSignal;
  stallMs?: number;
  retries?: number;
  segmentSize?: number;
  /** bytes done / total of the planned transfer */
  onProgress?: (done: number, total: number) => void;
  onNote?: (msg: string) => void;
  /** skip the packed artifact even when the codec can unpack it (tests, diagnostics) */
  noPacked?: boolean;
  /**
   * Write large files (≥ 64 MiB) around the page cache with O_DIRECT where the file system takes it.
   * Default true; `MODELCDN_DIRECT_IO=0` turns it off too. See docs/client.md.
   */
  directIo?: boolean;
}

export interface PulledFile {
  path: string;
  size: number;
  sha256: string;
  route: FileRouteKind;
  /** bytes planned to fetch for this file */
  bytes: number;
  steps?: { from: string; to: string }[];
}

export interface PullResult {
  name: string;
  version: string;
  previous?: string;
  outDir: string;
  server: string;
  keyId: string;
  trust: TrustedKey['source'];
  files: PulledFile[];
  /** sum of file sizes */
  totalBytes: number;
  /** bytes planned for transfer (after resume, fetched may be lower) */
  plannedBytes: number;
  fetchedBytes: number;
  seconds: number;
}

/** Split NAME[@REF]. */
export function parseRef(ref: string): { name: string; tag: string | undefined } {
  const at = ref.lastIndexOf('@');
  const name = at > 0 ? ref.slice(0, at) : ref;
  const tag = at > 0 ? ref.slice(at + 1) : undefined;
  validateModelName(name);
  if (tag !== undefined) {
    if (tag === '') throw inputError('BAD_MODEL_REF', `'${ref}': empty version or channel after '@'`);
    validateVersion(tag);
  }
  return { name, tag };
}

/** Natural comparison of version strings ("1.10" > "1.9"). */
export function compareVersions(a: string, b: string): number {
  const pa = a.split(/[.\-+_]/);
  const pb = b.split(/[.\-+_]/);
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const x = pa[i] ?? '';
    const y = pb[i] ?? '';
    const nx = /^[0-9]+$/.test(x) ? Number(x) : NaN;
    const ny = /^[0-9]+$/.test(y) ? Number(y) : NaN;
    if (!Number.isNaN(nx) && !Number.isNaN(ny)) {
      if (nx !== ny) return nx - ny;
    } else if (x !== y) return x < y ? -1 : 1;
  }
  return 0;
}

/** Is manifest `m` older than what is installed? (signed createdAt first, then version order) */
export function isOlder(m: { createdAt: string; version: string }, installed: { createdAt: string; version: string }): boolean {
  const a = Date.parse(m.createdAt);
  const b = Date.parse(installed.createdAt);
  if (Number.isFinite(a) && Number.isFinite(b) && a !== b) return a < b;
  return compareVersions(m.version, installed.version) < 0;
}

type UnpackFactory = (opts: { chunkHashes: boolean; onConsumed?: (piece: Buffer) => void; output?: { path: string; direct?: boolean } }) => Transform & { produced: number };

async function loadUnpacker(): Promise<UnpackFactory | undefined> {
  try {
    const codec = (await import('../../codec/index.ts')) as Record<string, unknown>;
    const f = codec['createUnpackStream'];
    return typeof f === 'function' ? (f as UnpackFactory) : undefined;
  } catch {
    return undefined;
  }
}

interface PlannedFile {
  file: ManifestFile;
  dest: string;
  kind: FileRouteKind;
  bytes: number;
  /** for patch/chain: base file path (its sha256 checked while planning) and steps with the patch blob of each */
  base?: string;
  baseSha256?: string;
  steps?: { from: string; to: string; blob: string; size: number; sha256: string }[];
  /** for chunks: the verified chunk manifest */
  chunkManifest?: ChunkManifest;
}

export async function pull(opts: PullOptions): Promise<PullResult> {
  const t0 = performance.now();
  const { name, tag } = parseRef(opts.ref);
  const outDir = opts.outDir ?? name;
  const home = clientHome(opts.home);
  const parallel = Math.max(1, Math.min(64, Math.floor(opts.parallel ?? 4)));
  const http = new ClientHttp(opts.server, { maxSockets: parallel + 2, ...(opts.stallMs ? { stallMs: opts.stallMs } : {}), ...(opts.retries !== undefined ? { retries: opts.retries } : {}) });
  const signal = opts.signal;
  const note = opts.onNote ?? (() => {});
  try {
    const trust = await resolveTrust({ http, home, trustFile: opts.trustFile, ...(signal ? { signal } : {}), onNote: note });
    const enc = encodeURIComponent;
    const manifestOf = async (version: string): Promise<Manifest> => {
      const env = await http.getJson<unknown>(`/v1/models/${enc(name)}/versions/${enc(version)}/manifest`, signal);
      if (env === undefined) throw new McdnError('VERSION_NOT_FOUND', 'not_found', `${name}@${version} is not published on ${http.base}`);
      const m = verifyManifestEnvelope(env, trust.key);
      if (m.name !== name || m.version !== version) {
        throw new McdnError('MANIFEST_WRONG_VERSION', 'integrity', `server sent the signed manifest of ${m.name}@${m.version} when asked for ${name}@${version}`);
      }
      return m;
    };

    // 1. resolve the version
    let version = tag;
    const channel = tag === undefined ? 'latest' : /^[a-z][a-z0-9._-]*$/.test(tag) ? tag : undefined;
    if (channel !== undefined) {
      validateChannel(channel);
      const ch = await http.getJson<{ version?: string }>(`/v1/models/${enc(name)}/channels/${enc(channel)}`, signal);
      if (ch?.version) version = validateVersion(ch.version);
      else if (tag === undefined) throw new McdnError('MODEL_NOT_FOUND', 'not_found', `model '${name}' has no 'latest' channel on ${http.base}`, { remedy: 'name a version: NAME@VERSION' });
    }
    const manifest = await manifestOf(version!);

    // 2. what is installed, downgrade check
    await mkdir(outDir, { recursive: true }).catch((e: unknown) => {
      throw new McdnError('OUTPUT_DIR_UNWRITABLE', 'io', `${outDir}: cannot create the output directory (${(e as Error).message})`);
    });
    const installedAll = await readInstalled(outDir);
    const installed = installedAll?.name === name ? installedAll : undefined;
    if (installed && installed.version !== manifest.version && isOlder(manifest, installed) && !opts.allowDowngrade) {
      throw new McdnError('DOWNGRADE_REFUSED', 'conflict', `${outDir} holds ${name}@${installed.version}, newer than ${manifest.version}`, { remedy: 'pass --allow-downgrade to install the older version' });
    }

    // 3. plan every file
    const unpacker = opts.noPacked ? undefined : await loadUnpacker();
    const cas = new ContentCache(home);
    const planned: PlannedFile[] = [];
    const manifests = new Map<string, Manifest>([[manifest.version, manifest]]);
    const installedByPath = new Map((installed?.files ?? []).map((f) => [f.path, f]));
    const installedBySha = new Map((installed?.files ?? []).map((f) => [f.sha256, f]));
    // chunk-level route (issue 10): priced only when the client already holds some chunks
    const chunkCache = new ClientChunkCache(home, (sha) => cas.store.pathOf(sha));
    const chunkCacheEmpty = await chunkCache.isEmpty();
    const chunkManifests = new Map<string, ChunkManifest>();
    const chunkManifestOf = async (file: ManifestFile): Promise<ChunkManifest | undefined> => {
      if (!file.chunks) return undefined;
      let m = chunkManifests.get(file.sha256);
      if (!m) {
        m = await fetchChunkManifest(http.base, file.chunks.blob, file.chunks.size, signal);
        if (m.sha256 !== file.sha256 || m.size !== file.size) throw new McdnError('CHUNK_MANIFEST_WRONG_FILE', 'integrity', `${file.path}: its chunk manifest describes another file`);
        chunkManifests.set(file.sha256, m);
      }
      return m;
    };
    for (const file of manifest.files) {
      const dest = destPath(outDir, file.path);
      if (await fileMatches(dest, file.sha256, file.size)) {
        planned.push({ file, dest, kind: 'present', bytes: 0 });
        continue;
      }
      if ((await cas.store.stat(file.sha256))?.size === file.size) {
        planned.push({ file, dest, kind: 'cache', bytes: 0 });
        continue;
      }
      const fullKind: FileRouteKind = file.packed && unpacker && file.packed.size < file.size ? 'packed' : 'raw';
      const fullBytes = fullKind === 'packed' ? file.packed!.size : file.size;
      const patchPlan = installed ? await planPatch(file, installed, installedByPath, installedBySha, outDir, fullBytes, manifests, manifestOf, http, name, signal) : undefined;
      const best: Omit<PlannedFile, 'file' | 'dest'> = patchPlan ?? { kind: fullKind, bytes: fullBytes };
      if (file.chunks && !chunkCacheEmpty) {
        const cp = await planChunkRoute((await chunkManifestOf(file))!, file.chunks.size, chunkCache);
        if (cp.bytes < best.bytes) {
          planned.push({ file, dest, kind: 'chunks', bytes: cp.bytes, chunkManifest: cp.manifest });
          continue;
        }
      }
      planned.push({ file, dest, ...best });
    }

    // files with the same content download once: duplicates are copied from the content cache after
    const seen = new Set<string>();
    const first: PlannedFile[] = [];
    const dups: PlannedFile[] = [];
    for (const p of planned) {
      if (p.kind !== 'present' && seen.has(p.file.sha256)) {
        dups.push(p);
        p.kind = 'cache';
        p.bytes = 0;
      } else first.push(p);
      seen.add(p.file.sha256);
    }
    // 4. execute
    const total = planned.reduce((a, p) => a + p.bytes, 0);
    let done = 0;
    const progress = (n: number) => {
      done += n;
      opts.onProgress?.(done, total);
    };
    opts.onProgress?.(0, total);
    const sem = new Semaphore(parallel);
    const work = stateDir(outDir);
    const partialDir = join(work, 'partial');
    const tmpDir = join(work, 'tmp');
    await mkdir(partialDir, { recursive: true });
    await mkdir(tmpDir, { recursive: true });
    let fetched = 0;
    const dl = async (hash: string, size: number, follower?: (c: Buffer) => Promise<void> | void, verify = true, followerReleases = false) => {
      const r = await downloadBlob({
        http,
        hash,
        size,
        partPath: join(partialDir, `${hash}.part`),
        sem,
        ...(opts.segmentSize ? { segmentSize: opts.segmentSize } : {}),
        ...(signal ? { signal } : {}),
        onBytes: progress,
        ...(follower ? { follower } : {}),
        verify,
        followerReleases,
        directIo: opts.directIo !== false,
      });
      fetched += r.fetched;
      if (r.resumedFrom > 0) progress(Math.min(r.resumedFrom, size));
      return r;
    };

    // index the chunks of every placed file, so later pulls (of any model) can reuse them
    const rememberChunks = async (f: ManifestFile) => {
      if (!f.chunks) return;
      try {
        const m = await chunkManifestOf(f);
        if (m) await chunkCache.rememberFile(f.sha256, m);
      } catch (e) {
        note(`${f.path}: chunk index not updated (${(e as Error).message})`);
      }
    };
    const runOne = async (p: PlannedFile): Promise<void> => {
      if (signal?.aborted) throw cancelled();
      const f = p.file;
      const tmp = join(tmpDir, `${f.sha256}.${process.pid}.${Math.random().toString(36).slice(2)}.tmp`);
      try {
        if (p.kind === 'present') return;
        if (p.kind === 'cache') {
          if (await cas.copyOut(f.sha256, f.size, tmp)) {
            await placeFile(tmp, p.dest);
            return;
          }
          // the cache entry went bad: fall back to a download
          p.kind = f.packed && unpacker && f.packed.size < f.size ? 'packed' : 'raw';
          p.bytes = p.kind === 'packed' ? f.packed!.size : f.size;
        }
        if (p.kind === 'raw') {
          const r = await dl(f.sha256, f.size);
          await placeFile(r.path, p.dest);
        } else if (p.kind === 'chunks') {
          const m = p.chunkManifest!;
          const st = await fetchMissingChunks(m, chunkCache, httpRangeReader(http.base, signal), { parallel });
          fetched += st.bytesTransferred + f.chunks!.size;
          progress(st.bytesTransferred + f.chunks!.size);
          await assembleFile(m, chunkCache, tmp);
          await placeFile(tmp, p.dest);
        } else if (p.kind === 'packed') {
          await downloadPacked(f, tmp, join(partialDir, `${f.packed!.blob}.part`), unpacker!, dl, opts.directIo !== false);
          await placeFile(tmp, p.dest);
          await rm(join(partialDir, `${f.packed!.blob}.part`), { force: true });
        } else {
          // patch or chain: apply each step to the previous result, verifying every intermediate
          const { applyPatch } = await import('../../delta/index.ts');
          let base = p.base!;
          // each base was hashed just before: the installed one while planning, the next ones as the
          // previous step's verified output, so apply does not hash it again (NEW is still checked)
          let baseSha = p.baseSha256;
          const temps: string[] = [];
          for (const s of p.steps!) {
            const patch = await dl(s.blob, s.size);
            const out = `${tmp}.${s.to}`;
            // no fsync per step: like the raw and packed routes, the pull relies on the atomic rename, not a flush
            const r = await applyPatch(base, patch.path, out, { durable: false, ...(baseSha ? { trustedOldSha256: baseSha } : {}) });
            await rm(patch.path, { force: true });
            temps.push(out);
            if (r.sha256 !== s.sha256) throw new McdnError('PATCH_RESULT_MISMATCH', 'integrity', `patch ${s.from} → ${s.to} of ${f.path} produced ${r.sha256}, expected ${s.sha256}`);
            base = out;
            baseSha = r.sha256;
          }
          await placeFile(base, p.dest);
          for (const t of temps) if (t !== base) await rm(t, { force: true });
        }
        await cas.remember(p.dest, f.sha256);
        await rememberChunks(f);
      } finally {
        await rm(tmp, { force: true });
      }
    };
    const runAll = async (list: PlannedFile[]) => {
      const queue = [...list];
      await Promise.all(
        Array.from({ length: Math.min(parallel, Math.max(1, queue.length)) }, async () => {
          for (let p = queue.shift(); p; p = queue.shift()) {
            try {
              await runOne(p);
            } catch (e) {
              // bytes that failed their hash were discarded (here and, for a fill, at the edge): one more try
              if (!(e instanceof McdnError) || e.code !== 'BLOB_HASH_MISMATCH' || signal?.aborted) throw e;
              note(`${p.file.path}: ${e.message}; downloading it again`);
              await runOne(p);
            }
          }
        }),
      );
    };
    await runAll(first);
    await runAll(dups);
    // every placed file re-checked against the manifest size (hashes were checked before rename)
    for (const p of planned) {
      if (p.kind !== 'cache' && p.kind !== 'present') continue;
      await cas.remember(p.dest, p.file.sha256);
      await rememberChunks(p.file);
    }

    // 5. record, and drop files of the previous version that the new one no longer has
    const files: InstalledFile[] = manifest.files.map((f) => ({ path: f.path, sha256: f.sha256, size: f.size }));
    if (installed) {
      const keep = new Set(files.map((f) => f.path));
      for (const old of installed.files) if (!keep.has(old.path)) await rm(destPath(outDir, old.path), { force: true }).catch(() => {});
    }
    const state: InstalledState = { name, version: manifest.version, createdAt: manifest.createdAt, server: http.base, pulledAt: new Date().toISOString(), files };
    await writeInstalled(outDir, state);
    await rm(tmpDir, { recursive: true, force: true });
    return {
      name,
      version: manifest.version,
      ...(installed && installed.version !== manifest.version ? { previous: installed.version } : {}),
      outDir,
      server: http.base,
      keyId: trust.keyId,
      trust: trust.source,
      files: planned.map((p) => ({
        path: p.file.path,
        size: p.file.size,
        sha256: p.file.sha256,
        route: p.kind,
        bytes: p.bytes,
        ...(p.steps ? { steps: p.steps.map((s) => ({ from: s.from, to: s.to })) } : {}),
      })),
      totalBytes: manifest.files.reduce((a, f) => a + f.size, 0),
      plannedBytes: total,
      fetchedBytes: fetched,
      seconds: (performance.now() - t0) / 1000,
    };
  } finally {
    http.close();
  }
}

/**
 * Download a packed artifact and unpack it while it streams in. One sha256 pass proves the result:
 * the container's header must name the manifest's sha256 and size, and the unpack stream hashes
 * every byte it writes (on a worker thread) against the header before it ends without error; the
 * temp file is placed only after that. So neither the packed bytes nor each chunk are hashed again.
 * On an integrity failure the partial download is dropped (a resume must not reuse bad bytes) and
 * the error says BLOB_HASH_MISMATCH, which the caller answers with one fresh download.
 */
async function downloadPacked(
  f: ManifestFile,
  tmp: string,
  partPath: string,
  unpacker: UnpackFactory,
  dl: (hash: string, size: number, follower?: (c: Buffer) => Promise<void> | void, verify?: boolean, followerReleases?: boolean) => Promise<unknown>,
  directIo: boolean,
): Promise<void> {
  // socket read buffers go back to the fetcher as soon as the decoder has copied them out; the
  // unpacked file is written by the decoder itself (O_DIRECT from DIRECT_MIN_BYTES, unless turned off): with worker
  // threads, decoded chunks go from the chunk workers to a sink worker that hashes and writes them
  // (codec/workers/sink.ts), so they never pass through this thread
  const unpack = unpacker({ chunkHashes: false, onConsumed: releaseReadBuffer, output: { path: tmp, ...(directIo ? {} : { direct: false }) } });
  let streamErr: Error | undefined;
  const onErr = (e: Error) => (streamErr ??= e);
  unpack.on('error', onErr);
  unpack.on('header', (h: { sha256: string; originalSize: number }) => {
    if (h.sha256 !== f.sha256 || h.originalSize !== f.size) {
      unpack.destroy(new McdnError('BLOB_HASH_MISMATCH', 'integrity', `${f.path}: packed artifact ${f.packed!.blob} holds ${h.sha256} (${h.originalSize} bytes), expected ${f.sha256} (${f.size} bytes)`));
    }
  });
  const finished = new Promise<void>((resolve, reject) => {
    unpack.on('end', resolve);
    unpack.on('error', reject);
  });
  finished.catch(() => {});
  unpack.resume(); // nothing is emitted in output mode; this lets the stream end
  const follower = async (c: Buffer) => {
    if (streamErr) throw streamErr;
    if (!unpack.write(c)) {
      await new Promise<void>((resolve) => {
        const done = () => {
          unpack.off('drain', done);
          unpack.off('error', done);
          resolve();
        };
        unpack.on('drain', done);
        unpack.on('error', done);
      });
    }
    if (streamErr) throw streamErr;
  };
  try {
    // the unpack stream hands each chunk back (onConsumed) once copied out
    await dl(f.packed!.blob, f.packed!.size, follower, false, true);
    unpack.end();
    await finished;
    if (unpack.produced !== f.size) throw new McdnError('BLOB_HASH_MISMATCH', 'integrity', `${f.path}: unpacked ${unpack.produced} bytes, expected ${f.size}`);
  } catch (e) {
    // the decoder closes its output file before it reports the end of the stream
    if (!unpack.destroyed) unpack.destroy();
    await new Promise<void>((resolve) => (unpack.closed ? resolve() : unpack.once('close', resolve)));
    const err = e instanceof McdnError ? e : new McdnError('UNPACK_FAILED', 'integrity', `unpacking ${f.path}: ${(e as Error).message}`, { cause: e });
    // bad bytes, whatever the decoder called them (a corrupt header is an 'input' error to it)
    if (err.category !== 'integrity' && !/^(MCZ|ZSTD)_/.test(err.code)) throw err;
    await rm(partPath, { force: true });
    await rm(`${partPath}.json`, { force: true });
    if (err.code === 'BLOB_HASH_MISMATCH') throw err;
    throw new McdnError('BLOB_HASH_MISMATCH', 'integrity', `${f.path}: packed artifact failed verification (${err.code}: ${err.message}); discarded`, { cause: err });
  }
}

/**
 * Patch planning for one file: the installed base (same path, or any installed file a patch starts
 * from), patches of the target manifest and of intermediate versions (for chains), planRoute picks.
 */
async function planPatch(
  file: ManifestFile,
  installed: InstalledState,
  byPath: Map<string, InstalledFile>,
  bySha: Map<string, InstalledFile>,
  outDir: string,
  fullBytes: number,
  manifests: Map<string, Manifest>,
  manifestOf: (v: string) => Promise<Manifest>,
  http: ClientHttp,
  name: string,
  signal: AbortSignal | undefined,
): Promise<Omit<PlannedFile, 'file' | 'dest'> | undefined> {
  let base = byPath.get(file.path);
  if (!base) for (const p of file.patches) base ??= bySha.get(p.fromSha256);
  if (!base) return undefined;
  const basePath = destPath(outDir, base.path);
  if (!(await fileMatches(basePath, base.sha256, base.size))) return undefined;
  const target = [...manifests.values()].find((m) => m.files.includes(file))!;
  // intermediate versions (for chains): published between the installed and the target version
  const model = await http.getJson<{ versions?: { version: string; createdAt: string; status?: string }[] }>(`/v1/models/${encodeURIComponent(name)}`, signal).catch(() => undefined);
  const lo = Date.parse(installed.createdAt);
  const hi = Date.parse(target.createdAt);
  const between = (model?.versions ?? [])
    .filter((v) => (v.status === undefined || v.status === 'ready') && v.version !== target.version && v.version !== installed.version)
    .filter((v) => {
      const t = Date.parse(v.createdAt);
      return t > lo && t < hi;
    })
    .slice(-8);
  const fileOf = new Map<string, ManifestFile>([[target.version, file]]);
  for (const v of between) {
    let m = manifests.get(v.version);
    if (!m) {
      try {
        m = await manifestOf(v.version);
        manifests.set(v.version, m);
      } catch {
        continue;
      }
    }
    const f = m.files.find((x) => x.path === file.path) ?? (m.files.length === 1 && target.files.length === 1 ? m.files[0] : undefined);
    if (f) fileOf.set(v.version, f);
  }
  const patches: { from: string; to: string; size: number; method: string; blob: string }[] = [];
  for (const [to, f] of fileOf) for (const p of f.patches) patches.push({ from: p.fromVersion, to, size: p.size, method: p.method, blob: p.blob });
  if (patches.length === 0) return undefined;
  const { planRoute } = await import('../../delta/index.ts');
  const route = planRoute({ have: [{ version: installed.version, sha256: base.sha256 }], want: { version: target.version, sha256: file.sha256 }, patches, fullPackedSize: fullBytes });
  if (route.kind !== 'patch' && route.kind !== 'chain') return undefined;
  const steps = route.steps.map((s) => {
    const p = patches.find((x) => x.from === s.from && x.to === s.to && x.size === s.size)!;
    return { from: s.from, to: s.to, blob: p.blob, size: p.size, sha256: fileOf.get(s.to)!.sha256 };
  });
  // the chain must start from the exact bytes we hold
  const first = fileOf.get(steps[0]!.to)!.patches.find((p) => p.fromVersion === steps[0]!.from);
  if (first && first.fromSha256 !== base.sha256) return undefined;
  return { kind: route.kind, bytes: route.bytes, base: basePath, baseSha256: base.sha256, steps };
}
