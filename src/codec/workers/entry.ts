/**
 * Where chunk workers start from. The TypeScript worker (chunk-worker.ts) is bundled once per
 * process with esbuild (tsx's own dependency, so present wherever the CLI runs) into plain ESM in
 * `node_modules/.cache/modelcdn/`, named by its content hash. A worker then starts in ~40 ms of CPU
 * instead of ~250 ms: the tsx bootstrap (chunk-worker.mjs) gives every worker thread its own loader
 * thread and transpiles its modules through it. The bundle lives inside node_modules so the native
 * addon (zstd-napi, left external and loaded with createRequire) resolves from it. When bundling or
 * writing is not possible — esbuild missing, a read-only install — the tsx bootstrap is used.
 * Touches only that cache directory.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
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

function bundle(): URL {
  if (!existsSync(join(CACHE_DIR, '..', '..'))) throw new Error('no node_modules next to the sources');
  const require = createRequire(import.meta.url);
  const esbuild = require('esbuild') as typeof import('esbuild');
  const r = esbuild.buildSync({
    entryPoints: [SOURCE],
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    external: ['zstd-napi', 'zstd-napi/*'],
    write: false,
    logLevel: 'silent',
  });
  const code = r.outputFiles[0]!.text;
  const file = join(CACHE_DIR, `chunk-worker-${createHash('sha256').update(code).digest('hex').slice(0, 16)}.mjs`);
  if (!existsSync(file)) {
    mkdirSync(CACHE_DIR, { recursive: true });
    const tmp = `${file}.${process.pid}.tmp`;
    writeFileSync(tmp, code);
    renameSync(tmp, file); // atomic: concurrent processes write the same bytes
  }
  return pathToFileURL(file);
}
