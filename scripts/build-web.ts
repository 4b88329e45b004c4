/**
 * Builds the dashboard front-end (web/src → web/dist) with esbuild: app.js (origin dashboard),
 * edge.js (edge status page), style.css (ours + uPlot's), and the two HTML pages. Writes into a
 * temporary folder next to web/dist and swaps it in, so a server never sees a half-written build.
 * Usage: `node --import tsx scripts/build-web.ts [--dev]` (dev: no minification, inline sourcemaps).
 */
import { build } from 'esbuild';
import { cp, mkdir, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const WEB_DIR = fileURLToPath(new URL('../web/', import.meta.url));
export const DIST_DIR = join(WEB_DIR, 'dist');

export interface BuildWebOptions {
  dev?: boolean;
  outDir?: string;
}

export async function buildWeb(opts: BuildWebOptions = {}): Promise<{ outDir: string; files: string[] }> {
  const outDir = opts.outDir ?? DIST_DIR;
  const tmp = `${outDir}.tmp-${process.pid}-${Date.now()}`;
  await mkdir(join(tmp, 'assets'), { recursive: true });
  try {
    const r = await build({
      entryPoints: { app: join(WEB_DIR, 'src/main.ts'), edge: join(WEB_DIR, 'src/edge.ts'), style: join(WEB_DIR, 'src/style.css') },
      outdir: join(tmp, 'assets'),
      bundle: true,
      format: 'esm',
      platform: 'browser',
      target: ['es2020', 'chrome100', 'firefox100', 'safari15'],
      minify: !opts.dev,
      sourcemap: opts.dev ? 'inline' : false,
      legalComments: 'none',
      metafile: true,
      logLevel: 'warning',
      absWorkingDir: join(WEB_DIR, '..'),
    });
    for (const page of ['index.html', 'edge.html']) await cp(join(WEB_DIR, page), join(tmp, page));
    await rm(outDir, { recursive: true, force: true });
    await rename(tmp, outDir);
    return { outDir, files: Object.keys(r.metafile.outputs).map((f) => f.replace(`${tmp}/`, '').replace(/^.*\/assets\//, 'assets/')) };
  } catch (e) {
    await rm(tmp, { recursive: true, force: true });
    throw e;
  }
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const t0 = performance.now();
  const r = await buildWeb({ dev: process.argv.includes('--dev') });
  process.stdout.write(`built ${r.files.length} files into ${r.outDir} in ${Math.round(performance.now() - t0)} ms\n`);
}
