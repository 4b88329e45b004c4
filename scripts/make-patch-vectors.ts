/**
 * Regenerate the golden patch vectors in docs/spec/vectors/ (docs/spec/patch.md §Test vectors): a
 * small safetensors OLD/NEW pair, one patch per method and a raw BSDIFF40 made by Debian's bsdiff,
 * plus patch-vectors.json with their sha256s and header fields. Tests only decode these files, so a future encoder may produce different (but
 * equally valid) patches without breaking them. Writes only into docs/spec/vectors/.
 *
 *   node --import tsx scripts/make-patch-vectors.ts
 */
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { buildPatch } from '../src/delta/patch-file.ts';
import { patchHeaderOf } from '../src/delta/apply-core.ts';
import { makeSafetensorsPair } from '../src/delta/test-util.ts';
import { sha256Hex } from '../src/util/hash.ts';
import { REPO_ROOT } from '../test/fixtures.ts';

const dir = join(REPO_ROOT, 'docs', 'spec', 'vectors');
const pair = makeSafetensorsPair(20261130, 0.25);
writeFileSync(join(dir, 'patch-old.safetensors'), pair.old);
writeFileSync(join(dir, 'patch-new.safetensors'), pair.nw);
const ctx = {
  oldSha256: sha256Hex(pair.old),
  newSha256: sha256Hex(pair.nw),
  level: 19,
  oldLayout: async () => ({ format: 'safetensors' as const, size: pair.old.length, tensors: pair.oldTensors, meta: {} }),
  newLayout: async () => ({ format: 'safetensors' as const, size: pair.nw.length, tensors: pair.newTensors, meta: {} }),
};
const manifest: Record<string, unknown> = { old: { file: 'patch-old.safetensors', size: pair.old.length, sha256: ctx.oldSha256 }, new: { file: 'patch-new.safetensors', size: pair.nw.length, sha256: ctx.newSha256 }, patches: [] };
for (const method of ['tensor', 'binary', 'bsdiff'] as const) {
  const { bytes } = await buildPatch(method, pair.old, pair.nw, ctx);
  const file = `patch-old-new.${method}.patch`;
  writeFileSync(join(dir, file), bytes);
  const h = patchHeaderOf(bytes);
  (manifest['patches'] as unknown[]).push({ file, method, size: bytes.length, sha256: sha256Hex(bytes), header: h });
}
// a raw BSDIFF40 patch made by Debian's bsdiff 4.3 (no hash trailer), if the tool is installed
const deb = spawnSync('bsdiff', [join(dir, 'patch-old.safetensors'), join(dir, 'patch-new.safetensors'), join(dir, 'patch-old-new.debian.bsdiff')]);
if (deb.status === 0) {
  const bytes = new Uint8Array(readFileSync(join(dir, 'patch-old-new.debian.bsdiff')));
  (manifest['patches'] as unknown[]).push({ file: 'patch-old-new.debian.bsdiff', method: 'bsdiff', size: bytes.length, sha256: sha256Hex(bytes), header: patchHeaderOf(bytes), madeBy: 'Debian bsdiff 4.3' });
}
writeFileSync(join(dir, 'patch-vectors.json'), JSON.stringify(manifest, null, 2) + '\n');
process.stdout.write(`wrote vectors to ${dir}\n`);
