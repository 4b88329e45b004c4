/**
 * Where chunk workers start from. The TypeScript worker (chunk-worker.ts) is bundled once per
 * process with esbuild (tsx's own dependency, so present wherever the CLI runs) into plain ESM in
 * `node_modules/.cache/modelcdn/`, named by its content hash. A worker then starts in ~40 ms of CPU
 * instead of ~250 ms: the tsx bootstrap (chunk-worker.mjs) gives every worker thread its own loader
 * thread and transpiles its modules through it. The bundle lives inside node_modules so the native
 * addon (zstd-napi, left external and loaded with createRequire) resolves from it. A stamp file next
 * to it lists the bundle's inputs with their sizes and mtimes: while none changed, a new process
 * takes the bundle without running esbuild (that cost 30–70 ms of a pull's wall time). When bundling
 * or writing is not possible — esbuild missing, a read-only install — the tsx bootstrap is used.
 * Touches only that cache directory.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

/** The tsx bootstrap: always works, slower to start. */
export const BOOTSTRAP_URL = new URL('./chunk-worker.mjs', import.meta.url);
const SOURCE = fileURLToPath(new URL('./chunk-worker.ts', import.meta.url));
const CACHE_DIR = fileURLToPath(new URL('../../../node_modules/.cache/modelcdn/', import.meta.url));

let entry: URL | undefined;

/** The URL to start chunk workers from (bundled once per process; the bootstrap as a fallback). */
export function chunkWorkerEntry(): URL {
  if (entry) return entry;
  try {
    entry = bundle();
  } catch {
    entry = BOOTSTRAP_URL;
  }
  return entry;
}

export const STAMP = join(CACHE_DIR, 'chunk-worker.stamp.json');
const ROOT = fileURLToPath(new URL('../../../', import.meta.url));

interface Stamp {
  file: string;
  /** [absolute path, size, mtimeMs] of every source file in the bundle */
  inputs: [string, number, number][];
}

/** The bundle named by the stamp, if it exists and none of its inputs changed since. */
function fromStamp(): URL | undefined {
  try {
    const st = JSON.parse(readFileSync(STAMP, 'utf8')) as Stamp;
    if (!existsSync(st.file) || st.inputs.length === 0) return undefined;
    for (const [path, size, mtimeMs] of st.inputs) {
      const s = statSync(path);
      if (s.size !== size || s.mtimeMs !== mtimeMs) return undefined;
    }
    return pathToFileURL(st.file);
  } catch {
    return undefined;
  }
}

export function bundle(): URL {
  if (!existsSync(join(CACHE_DIR, '..', '..'))) throw new Error('no node_modules next to the sources');
  const cached = fromStamp();
  if (cached) return cached;
  const require = createRequire(import.meta.url);
  const esbuild = require('esbuild') as typeof import('esbuild');
  const r = esbuild.buildSync({
    entryPoints: [SOURCE],
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    external: ['zstd-napi', 'zstd-napi/*', '@node-rs/crc32'],
    write: false,
    metafile: true,
    absWorkingDir: ROOT,
    logLevel: 'silent',
  });
  const code = r.outputFiles[0]!.text;
  const file = join(CACHE_DIR, `chunk-worker-${createHash('sha256').update(code).digest('hex').slice(0, 16)}.mjs`);
  mkdirSync(CACHE_DIR, { recursive: true });
  // atomic renames: concurrent processes write the same bytes
  if (!existsSync(file)) writeAtomic(file, code);
  try {
    const inputs = Object.keys(r.metafile.inputs).map((p): [string, number, number] => {
      const abs = resolve(ROOT, p);
      const s = statSync(abs);
      return [abs, s.size, s.mtimeMs];
    });
    writeAtomic(STAMP, JSON.stringify({ file, inputs } satisfies Stamp));
  } catch {
    // no stamp: the next process bundles again
  }
  return pathToFileURL(file);
}

function writeAtomic(path: string, data: string): void {
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, data);
  renameSync(tmp, path);
}
