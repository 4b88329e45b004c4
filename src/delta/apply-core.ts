/**
 * Decoding a patch once its header is known: dispatch on the method, feed NEW's bytes to a sink,
 * then check NEW's size and sha256. Shared by the file adapter (applyPatch) and the in-memory
 * `applyPatchBytes` (tests, fuzzing, clients holding both files in memory). Reads OLD only through a
 * RandomAccessSource; writes nothing itself.
 */
import { createHash } from 'node:crypto';
import { McdnError } from '../errors.ts';
import { bytesSource } from '../formats/source.ts';
import { bspatch } from './bsdiff/bsdiff.ts';
import { decodeBinaryPayload } from './binary.ts';
import { decodeTensorPayload, type DecodeOptions, type OldSource } from './tensor.ts';
import { BSDIFF_TRAILER_BYTES, PATCH_HEADER_BYTES, detectPatch, type PatchHeader } from './container.ts';

/** Largest piece handed to the sink at once for the in-memory methods. */
const SINK_PIECE_BYTES = 1 << 20;

export function wrongBase(oldName: string, patchName: string, details: Record<string, unknown>): McdnError {
  return new McdnError('PATCH_WRONG_BASE', 'input', `${oldName}: is not the file ${patchName} was made from (sha256 or size differs); nothing written`, {
    details,
    remedy: 'apply the patch to the version it was made from, or download the full file',
  });
}

/** Detect a patch held in memory. */
export function patchHeaderOf(patch: Uint8Array, what = 'patch'): PatchHeader {
  return detectPatch(patch.subarray(0, PATCH_HEADER_BYTES), patch.subarray(Math.max(0, patch.length - BSDIFF_TRAILER_BYTES)), patch.length, what);
}

/**
 * Decode `patch` (the whole patch file) against OLD; NEW's bytes go to `sink` in order (a chunk is
 * valid only until the sink's promise resolves: copy what you keep). Verifies NEW's
 * size and (when recorded) sha256 at the end and throws PATCH_OUTPUT_MISMATCH otherwise — the caller
 * must discard what the sink received in that case. OLD's identity is the caller's to check first.
 * `opts.reserve` lets the tensor decoder build NEW's bytes directly in the sink's buffer; `opts.buffers`
 * gives it reusable working buffers. With `hashOutput: false` the sink hashes NEW itself (off the
 * calling thread, say): only NEW's size is checked here, `sha256` comes back empty, and the caller
 * must check its own digest with `checkOutputHash`.
 */
export async function decodePatch(
  header: PatchHeader,
  patch: Uint8Array,
  old: OldSource,
  sink: (chunk: Uint8Array) => Promise<void> | void,
  what = 'patch',
  opts: DecodeOptions & { hashOutput?: boolean } = {},
): Promise<{ sha256: string; size: number }> {
  const hash = opts.hashOutput === false ? undefined : createHash('sha256');
  let size = 0;
  const out = (c: Uint8Array) => {
    hash?.update(c);
    size += c.length;
    return sink(c);
  };
  const payload = patch.subarray(header.payloadOffset, header.payloadEnd);
  if (header.method === 'tensor') {
    await decodeTensorPayload(payload, old, header.newSize, out, what, opts);
  } else {
    const oldBytes = await old.read(0, old.size);
    const nw = header.method === 'binary' ? decodeBinaryPayload(payload, oldBytes, header.newSize, what) : bspatch(oldBytes, patch, header.payloadEnd, what);
    for (let i = 0; i < nw.length; i += SINK_PIECE_BYTES) await out(nw.subarray(i, i + SINK_PIECE_BYTES));
  }
  checkOutputSize(header, size, what);
  if (!hash) return { sha256: '', size };
  const sha256 = hash.digest('hex');
  checkOutputHash(header, sha256, what);
  return { sha256, size };
}

/** Throw PATCH_OUTPUT_MISMATCH unless NEW came out `header.newSize` bytes long. */
export function checkOutputSize(header: PatchHeader, size: number, what: string): void {
  if (size !== header.newSize) {
    throw new McdnError('PATCH_OUTPUT_MISMATCH', 'integrity', `${what}: patch produced ${size} bytes, expected ${header.newSize}; nothing written`, { remedy: 'the patch file is damaged; fetch it again' });
  }
}

/** Throw PATCH_OUTPUT_MISMATCH unless NEW's sha256 is the one the patch records (when it records one). */
export function checkOutputHash(header: PatchHeader, sha256: string, what: string): void {
  if (header.newSha256 && sha256 !== header.newSha256) {
    throw new McdnError('PATCH_OUTPUT_MISMATCH', 'integrity', `${what}: patched output has sha256 ${sha256.slice(0, 12)}…, expected ${header.newSha256.slice(0, 12)}…; nothing written`, {
      details: { expected: header.newSha256, got: sha256 },
      remedy: 'the patch file is damaged; fetch it again',
    });
  }
}

/** Apply a patch entirely in memory: checks OLD first, returns NEW only if it verifies. */
export async function applyPatchBytes(old: Uint8Array, patch: Uint8Array, what = 'patch'): Promise<Uint8Array> {
  const header = patchHeaderOf(patch, what);
  if (header.oldSize !== undefined && header.oldSize !== old.length) throw wrongBase('old file', what, { expectedSize: header.oldSize, size: old.length });
  if (header.oldSha256) {
    const got = createHash('sha256').update(old).digest('hex');
    if (got !== header.oldSha256) throw wrongBase('old file', what, { expected: header.oldSha256, got });
  }
  const parts: Uint8Array[] = [];
  await decodePatch(header, patch, bytesSource(old), (c) => {
    parts.push(Uint8Array.from(c));
  }, what);
  const b = Buffer.concat(parts);
  return new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
}
