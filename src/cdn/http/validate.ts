/**
 * Validation of every name that reaches the file system or the registry from a URL or a request
 * body: model names, versions, channels, file paths inside a version, and blob hashes. It refuses
 * path traversal in all its spellings (`../`, `%2e%2e%2f`, double encoding `%252e`, backslashes,
 * NUL, absolute paths). Pure; each failed check has its own error code (category `input` → 400).
 */
import { inputError } from '../../errors.ts';
import { isSha256Hex } from '../../util/hash.ts';

export const MAX_NAME_LENGTH = 128;
export const MAX_VERSION_LENGTH = 64;
export const MAX_CHANNEL_LENGTH = 64;
export const MAX_FILE_PATH_LENGTH = 1024;
export const MAX_FILE_PATH_DEPTH = 16;
export const MAX_URL_PATH_LENGTH = 4096;

const NAME_RE = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;
const VERSION_RE = /^[A-Za-z0-9][A-Za-z0-9._+-]*$/;
const CHANNEL_RE = /^[a-z][a-z0-9._-]*$/;
const SEGMENT_RE = /^[A-Za-z0-9._@+=,~ ()[\]-]+$/;

function clip(s: string): string {
  return s.length > 80 ? `${s.slice(0, 80)}…` : s;
}

export function validateModelName(name: string): string {
  if (typeof name !== 'string' || name.length === 0 || name.length > MAX_NAME_LENGTH || !NAME_RE.test(name) || name.includes('..')) {
    throw inputError('BAD_MODEL_NAME', `invalid model name '${clip(String(name))}'`, { name: clip(String(name)) }, `use 1-${MAX_NAME_LENGTH} characters from A-Z a-z 0-9 . _ - (starting with a letter or digit, no '..')`);
  }
  return name;
}

export function validateVersion(version: string): string {
  if (typeof version !== 'string' || version.length === 0 || version.length > MAX_VERSION_LENGTH || !VERSION_RE.test(version) || version.includes('..')) {
    throw inputError('BAD_VERSION', `invalid version '${clip(String(version))}'`, { version: clip(String(version)) }, `use 1-${MAX_VERSION_LENGTH} characters from A-Z a-z 0-9 . _ + - (no '..')`);
  }
  return version;
}

export function validateChannel(channel: string): string {
  if (typeof channel !== 'string' || channel.length === 0 || channel.length > MAX_CHANNEL_LENGTH || !CHANNEL_RE.test(channel) || channel.includes('..')) {
    throw inputError('BAD_CHANNEL', `invalid channel '${clip(String(channel))}'`, { channel: clip(String(channel)) }, 'use lower-case letters, digits, . _ - starting with a letter');
  }
  return channel;
}

export function validateHash(hash: string): string {
  if (typeof hash !== 'string' || !isSha256Hex(hash)) {
    throw inputError('BAD_HASH', `not a sha256 hex digest: '${clip(String(hash))}'`, { hash: clip(String(hash)) }, 'use 64 lower-case hex digits');
  }
  return hash;
}

/**
 * A relative file path inside a version (`onnx/model.onnx`): '/'-separated segments, none empty,
 * '.', or '..'; no backslash, NUL, '%', ':' or leading '/'.
 */
export function validateFilePath(path: string): string {
  const bad = (why: string) =>
    inputError('BAD_FILE_PATH', `invalid file path '${clip(String(path))}': ${why}`, { path: clip(String(path)) }, 'use a relative path of plain segments (A-Z a-z 0-9 . _ - and a few more), no ".." or empty segments');
  if (typeof path !== 'string' || path.length === 0) throw bad('empty');
  if (path.length > MAX_FILE_PATH_LENGTH) throw bad(`longer than ${MAX_FILE_PATH_LENGTH} characters`);
  if (path.startsWith('/')) throw bad('absolute');
  const segs = path.split('/');
  if (segs.length > MAX_FILE_PATH_DEPTH) throw bad(`deeper than ${MAX_FILE_PATH_DEPTH} levels`);
  for (const s of segs) {
    if (s === '' || s === '.' || s === '..') throw bad(`segment '${s}' is not allowed`);
    if (!SEGMENT_RE.test(s)) throw bad(`segment '${clip(s)}' has a forbidden character`);
    if (s.trim() !== s) throw bad('segment starts or ends with a space');
  }
  return path;
}

/**
 * Split a raw request path (before '?') into decoded segments. Each segment is percent-decoded once;
 * a segment that fails to decode, or decodes to something containing '/', '\\', '%' (double
 * encoding), NUL or another control character, or that is '.' or '..', is refused.
 */
export function splitUrlPath(rawPath: string): string[] {
  if (rawPath.length > MAX_URL_PATH_LENGTH) throw inputError('URL_TOO_LONG', `request path is longer than ${MAX_URL_PATH_LENGTH} characters`);
  if (!rawPath.startsWith('/')) throw inputError('BAD_URL_PATH', `request path must start with '/': '${clip(rawPath)}'`);
  const raw = rawPath.slice(1).split('/');
  return raw.map((seg) => {
    let d: string;
    try {
      d = decodeURIComponent(seg);
    } catch {
      throw inputError('BAD_PATH_ENCODING', `malformed percent-encoding in path segment '${clip(seg)}'`);
    }
    if (d === '.' || d === '..' || /[/\\%\x00-\x1f\x7f]/.test(d)) {
      throw inputError('PATH_TRAVERSAL', `path segment '${clip(seg)}' is not allowed`, { segment: clip(seg) });
    }
    return d;
  });
}
