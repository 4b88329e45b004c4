import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { REPO_ROOT } from '../../test/fixtures.ts';
import { applyPatchBytes, patchHeaderOf } from './apply-core.ts';
import { sha256Hex } from '../util/hash.ts';
import { isMcdnError } from '../errors.ts';

const dir = join(REPO_ROOT, 'docs', 'spec', 'vectors');
const manifest = JSON.parse(readFileSync(join(dir, 'patch-vectors.json'), 'utf8')) as {
  old: { file: string; sha256: string };
  new: { file: string; sha256: string; size: number };
  patches: { file: string; method: string; sha256: string; header: Record<string, unknown> }[];
};
const read = (f: string) => new Uint8Array(readFileSync(join(dir, f)));

test('golden vectors: files match their recorded sha256', () => {
  assert.equal(sha256Hex(read(manifest.old.file)), manifest.old.sha256);
  assert.equal(sha256Hex(read(manifest.new.file)), manifest.new.sha256);
  assert.ok(manifest.patches.length >= 3);
});

for (const p of manifest.patches) {
  test(`golden vector ${p.file}: header fields and decoded NEW`, async () => {
    const bytes = read(p.file);
    assert.equal(sha256Hex(bytes), p.sha256);
    assert.deepEqual({ ...patchHeaderOf(bytes) }, p.header);
    const out = await applyPatchBytes(read(manifest.old.file), bytes);
    assert.equal(sha256Hex(out), manifest.new.sha256);
    if (p.header['oldSha256']) {
      // applying to NEW instead of OLD is refused before decoding
      await assert.rejects(applyPatchBytes(read(manifest.new.file), bytes), (e: unknown) => isMcdnError(e) && e.code === 'PATCH_WRONG_BASE');
    }
  });
}
