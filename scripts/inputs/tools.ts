/**
 * Shared plumbing for the evaluation-input recipes: run a Debian tool (espeak-ng, sox, ImageMagick
 * convert) without a shell and collect its stdout, a seeded PRNG, and where outputs go
 * (.tmp/inputs/, gitignored). The recipes are deterministic: same tools + same script → same bytes.
 */
import { spawn } from 'node:child_process';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { mulberry32 } from '../../src/util/random.ts';

export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
export const INPUTS_DIR = resolve(REPO_ROOT, '.tmp/inputs');

const APT_HINT: Record<string, string> = {
  'espeak-ng': 'espeak-ng',
  sox: 'sox',
  convert: 'imagemagick',
};

/** Run `cmd args…`, feed `stdin`, return stdout; a missing tool or non-zero exit throws one clear line. */
export function run(cmd: string, args: string[], stdin?: Uint8Array): Promise<Buffer> {
  return new Promise((resolveP, reject) => {
    const child = spawn(cmd, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (b: Buffer) => out.push(b));
    child.stderr.on('data', (b: Buffer) => err.push(b));
    child.on('error', (e: NodeJS.ErrnoException) => {
      reject(new Error(e.code === 'ENOENT' ? `${cmd} not found: install the Debian package ${APT_HINT[cmd] ?? cmd}` : `${cmd}: ${e.message}`));
    });
    child.on('close', (code) => {
      if (code === 0) resolveP(Buffer.concat(out));
      else reject(new Error(`${cmd} ${args.slice(0, 6).join(' ')}… exited with ${code}: ${Buffer.concat(err).toString().trim().split('\n')[0]}`));
    });
    child.stdin.on('error', () => {});
    child.stdin.end(stdin ?? undefined);
  });
}

/** mulberry32 */
export const prng: (seed: number) => () => number = mulberry32;

export function pick<T>(r: () => number, xs: readonly T[]): T {
  return xs[Math.floor(r() * xs.length)]!;
}

export function bytesOf(a: Float32Array | BigInt64Array): Uint8Array {
  return new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
}
