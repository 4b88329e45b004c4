/**
 * The client's files on disk: the per-output-directory state `<out>/.modelcdn/installed.json`
 * (which model version the directory holds, file list with sha256), its work folders (`partial/`
 * for resumable downloads, `tmp/` for files being assembled), and the shared content-addressed cache
 * `<home>/cas` (a FsBlobStore layout) so a file shared between models or directories downloads once.
 * Small atomic JSON writes; no network.
 */
import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { copyFile, link, mkdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { dirname, join, resolve, sep } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { Transform } from 'node:stream';
import { McdnError, fromSystemError } from '../../errors.ts';
import { FsBlobStore } from '../../store/index.ts';
import { sha256FileOffThread } from '../../util/native.ts';

export interface InstalledFile {
  path: string;
  sha256: string;
  size: number;
}

export interface InstalledState {
  name: string;
  version: string;
  createdAt: string;
  server: string;
  pulledAt: string;
  files: InstalledFile[];
}

export function clientHome(explicit?: string, env: NodeJS.ProcessEnv = process.env): string {
  return explicit ?? env['MODELCDN_HOME'] ?? join(homedir(), '.modelcdn');
}

export function stateDir(outDir: string): string {
  return join(outDir, '.modelcdn');
}

export async function readInstalled(outDir: string): Promise<InstalledState | undefined> {
  try {
    const s = JSON.parse(await readFile(join(stateDir(outDir), 'installed.json'), 'utf8')) as InstalledState;
    if (typeof s.name !== 'string' || typeof s.version !== 'string' || !Array.isArray(s.files)) return undefined;
    return s;
  } catch {
    return undefined;
  }
}

export async function writeInstalled(outDir: string, s: InstalledState): Promise<void> {
  const p = join(stateDir(outDir), 'installed.json');
  await mkdir(dirname(p), { recursive: true });
  await writeFile(`${p}.tmp`, JSON.stringify(s, null, 2));
  await rename(`${p}.tmp`, p);
}

/** Destination of a manifest file path inside `outDir`, refusing anything that escapes it. */
export function destPath(outDir: string, rel: string): string {
  const root = resolve(outDir);
  const p = resolve(root, rel);
  if (!p.startsWith(root + sep) || p.startsWith(join(root, '.modelcdn') + sep)) {
    throw new McdnError('UNSAFE_FILE_PATH', 'integrity', `manifest file path '${rel.slice(0, 100)}' points outside the output directory`);
  }
  return p;
}

/**
 * sha256 (hex) of a whole file, or undefined when it cannot be read. Read and hashed on the thread pool
 * where the native addon is built (several installed files are then checked in parallel, and the
 * client's event loop stays free), else streamed through node:crypto here. `knownSize`: the size a
 * caller has just stat'ed the regular file at (spares a second stat).
 */
export async function sha256File(path: string, knownSize?: number): Promise<string | undefined> {
  try {
    let size = knownSize;
    if (size === undefined) {
      const st = await stat(path);
      if (!st.isFile()) return undefined;
      size = st.size;
    }
    const offThread = sha256FileOffThread(path, size);
    if (offThread) return await offThread;
    const h = createHash('sha256');
    for await (const c of createReadStream(path, { highWaterMark: 1 << 20 }) as AsyncIterable<Buffer>) h.update(c);
    return h.digest('hex');
  } catch {
    return undefined;
  }
}

/** Does `path` hold exactly the bytes named by sha256 (size checked first, cheap)? */
export async function fileMatches(path: string, sha256: string, size: number): Promise<boolean> {
  const st = await stat(path).catch(() => undefined);
  if (!st?.isFile() || st.size !== size) return false;
  return (await sha256File(path, size)) === sha256;
}

/** Move a verified temp file into place (creating parent folders); atomic on one filesystem. */
export async function placeFile(tmp: string, dest: string): Promise<void> {
  try {
    await mkdir(dirname(dest), { recursive: true });
    await rename(tmp, dest);
  } catch (e) {
    throw fromSystemError(e, dest);
  }
}

export class ContentCache {
  readonly store: FsBlobStore;
  constructor(home: string) {
    this.store = new FsBlobStore(join(home, 'cas'));
  }

  /**
   * Copy a cached file to `tmp`, hashing on the way; returns false (and drops the cache entry) when
   * it is missing or no longer matches its name.
   */
  async copyOut(sha256: string, size: number, tmp: string): Promise<boolean> {
    const src = this.store.pathOf(sha256);
    const st = await stat(src).catch(() => undefined);
    if (!st || st.size !== size) return false;
    const h = createHash('sha256');
    await mkdir(dirname(tmp), { recursive: true });
    try {
      await pipeline(
        createReadStream(src, { highWaterMark: 1 << 20 }),
        new Transform({
          transform(c: Buffer, _e, cb) {
            h.update(c);
            cb(null, c);
          },
        }),
        createWriteStream(tmp),
      );
    } catch {
      await rm(tmp, { force: true });
      return false;
    }
    if (h.digest('hex') !== sha256) {
      await rm(tmp, { force: true });
      await rm(src, { force: true });
      return false;
    }
    return true;
  }

  /** Remember a placed, verified file (hard link when possible, else a copy). Never throws. */
  async remember(path: string, sha256: string): Promise<void> {
    try {
      const dest = this.store.pathOf(sha256);
      if (await stat(dest).catch(() => undefined)) return;
      await mkdir(dirname(dest), { recursive: true });
      try {
        await link(path, dest);
      } catch (e) {
        const code = (e as NodeJS.ErrnoException).code;
        if (code === 'EEXIST') return;
        const tmp = `${dest}.${process.pid}.tmp`;
        await copyFile(path, tmp);
        await rename(tmp, dest);
      }
    } catch {
      // the cache is an optimisation; a failure to fill it never fails a pull
    }
  }
}
