/**
 * The per-version manifest (schema 1; docs/api.md "Manifest"): what files a version has, their
 * sizes and sha256, the packed artifact, precompressed variants and patches from earlier versions.
 * `encodeManifest` gives the exact payload bytes that get signed; `parseManifest` validates untrusted
 * bytes (named limits, one error code per failed check) — clients call it only after the signature
 * has been checked. Pure: no I/O, no keys.
 */
import { inputError } from '../../errors.ts';
import { validateFilePath, validateHash, validateModelName, validateVersion } from '../http/validate.ts';

export const MANIFEST_SCHEMA = 1;
export const MAX_MANIFEST_BYTES = 16 * 1024 * 1024;
export const MAX_MANIFEST_FILES = 100_000;
export const MAX_PATCHES_PER_FILE = 64;

export type Encoding = 'zstd' | 'br' | 'gzip';

export interface ManifestPatch {
  fromVersion: string;
  fromSha256: string;
  blob: string;
  size: number;
  /** method chosen by the delta encoder (tensor, bsdiff, binary…) */
  method: string;
}

export interface ManifestFile {
  path: string;
  size: number;
  sha256: string;
  /** detected format: onnx, safetensors, gguf, tfjs-json, tfjs-bin, json, text, unknown */
  format: string;
  packed?: { blob: string; size: number; codec: 'mcz' };
  encodings?: Partial<Record<Encoding, { blob: string; size: number }>>;
  /** the file as content-addressed chunks: blob of its chunk manifest (docs/spec/chunk-manifest.md) */
  chunks?: { blob: string; size: number };
  patches: ManifestPatch[];
}

export interface Manifest {
  schema: 1;
  name: string;
  version: string;
  createdAt: string;
  files: ManifestFile[];
}

/** The exact bytes that are signed and served (UTF-8 JSON, no trailing newline). */
export function encodeManifest(m: Manifest): Uint8Array {
  return new TextEncoder().encode(JSON.stringify(m));
}

function bad(code: string, message: string, details?: Record<string, unknown>) {
  return inputError(code, `manifest: ${message}`, details);
}

function isObj(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function size(v: unknown, where: string): number {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) throw bad('MANIFEST_BAD_SIZE', `${where}: size must be a non-negative integer`);
  return v;
}

function hash(v: unknown, where: string): string {
  if (typeof v !== 'string') throw bad('MANIFEST_BAD_HASH', `${where}: missing sha256`);
  try {
    return validateHash(v);
  } catch {
    throw bad('MANIFEST_BAD_HASH', `${where}: '${v.slice(0, 80)}' is not a sha256 hex digest`);
  }
}

function wrap<T>(code: string, where: string, f: () => T): T {
  try {
    return f();
  } catch (e) {
    throw bad(code, `${where}: ${(e as Error).message}`);
  }
}

/** Validate untrusted manifest bytes and return the typed manifest. */
export function parseManifest(bytes: Uint8Array): Manifest {
  if (bytes.length > MAX_MANIFEST_BYTES) throw bad('MANIFEST_TOO_LARGE', `${bytes.length} bytes exceeds the limit of ${MAX_MANIFEST_BYTES}`);
  let j: unknown;
  try {
    j = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes));
  } catch {
    throw bad('MANIFEST_NOT_JSON', 'payload is not valid UTF-8 JSON');
  }
  if (!isObj(j)) throw bad('MANIFEST_NOT_OBJECT', 'payload is not a JSON object');
  if (j['schema'] !== MANIFEST_SCHEMA) throw bad('MANIFEST_BAD_SCHEMA', `unsupported schema ${JSON.stringify(j['schema'])} (expected ${MANIFEST_SCHEMA})`);
  const name = wrap('MANIFEST_BAD_NAME', 'name', () => validateModelName(j['name'] as string));
  const version = wrap('MANIFEST_BAD_VERSION', 'version', () => validateVersion(j['version'] as string));
  const createdAt = j['createdAt'];
  if (typeof createdAt !== 'string' || Number.isNaN(Date.parse(createdAt))) throw bad('MANIFEST_BAD_DATE', 'createdAt is not an ISO date');
  const files = j['files'];
  if (!Array.isArray(files)) throw bad('MANIFEST_BAD_FILES', 'files is not an array');
  if (files.length > MAX_MANIFEST_FILES) throw bad('MANIFEST_TOO_MANY_FILES', `${files.length} files exceeds the limit of ${MAX_MANIFEST_FILES}`);
  const seen = new Set<string>();
  const out: ManifestFile[] = files.map((f: unknown, i: number) => {
    const where = `files[${i}]`;
    if (!isObj(f)) throw bad('MANIFEST_BAD_FILES', `${where} is not an object`);
    const path = wrap('MANIFEST_BAD_PATH', where, () => validateFilePath(f['path'] as string));
    if (seen.has(path)) throw bad('MANIFEST_DUPLICATE_PATH', `${where}: path '${path}' appears twice`);
    seen.add(path);
    const file: ManifestFile = {
      path,
      size: size(f['size'], where),
      sha256: hash(f['sha256'], where),
      format: typeof f['format'] === 'string' ? (f['format'] as string) : 'unknown',
      patches: [],
    };
    if (f['packed'] !== undefined) {
      const p = f['packed'];
      if (!isObj(p) || p['codec'] !== 'mcz') throw bad('MANIFEST_BAD_PACKED', `${where}.packed must be {blob, size, codec:'mcz'}`);
      file.packed = { blob: hash(p['blob'], `${where}.packed`), size: size(p['size'], `${where}.packed`), codec: 'mcz' };
    }
    if (f['chunks'] !== undefined) {
      const c = f['chunks'];
      if (!isObj(c)) throw bad('MANIFEST_BAD_CHUNKS', `${where}.chunks must be {blob, size}`);
      file.chunks = { blob: hash(c['blob'], `${where}.chunks`), size: size(c['size'], `${where}.chunks`) };
    }
    if (f['encodings'] !== undefined) {
      const e = f['encodings'];
      if (!isObj(e)) throw bad('MANIFEST_BAD_ENCODINGS', `${where}.encodings is not an object`);
      file.encodings = {};
      for (const [k, v] of Object.entries(e)) {
        if (k !== 'zstd' && k !== 'br' && k !== 'gzip') throw bad('MANIFEST_BAD_ENCODINGS', `${where}.encodings: unknown encoding '${k.slice(0, 20)}'`);
        if (!isObj(v)) throw bad('MANIFEST_BAD_ENCODINGS', `${where}.encodings.${k} is not an object`);
        file.encodings[k] = { blob: hash(v['blob'], `${where}.encodings.${k}`), size: size(v['size'], `${where}.encodings.${k}`) };
      }
    }
    const patches = f['patches'] ?? [];
    if (!Array.isArray(patches)) throw bad('MANIFEST_BAD_PATCHES', `${where}.patches is not an array`);
    if (patches.length > MAX_PATCHES_PER_FILE) throw bad('MANIFEST_BAD_PATCHES', `${where}: more than ${MAX_PATCHES_PER_FILE} patches`);
    file.patches = patches.map((p: unknown, k: number) => {
      const pw = `${where}.patches[${k}]`;
      if (!isObj(p)) throw bad('MANIFEST_BAD_PATCHES', `${pw} is not an object`);
      return {
        fromVersion: wrap('MANIFEST_BAD_VERSION', pw, () => validateVersion(p['fromVersion'] as string)),
        fromSha256: hash(p['fromSha256'], pw),
        blob: hash(p['blob'], pw),
        size: size(p['size'], pw),
        method: typeof p['method'] === 'string' ? (p['method'] as string).slice(0, 32) : 'unknown',
      };
    });
    return file;
  });
  return { schema: 1, name, version, createdAt, files: out };
}
