/**
 * Fuzz: mutate valid patches of every method at random (byte flips, overwrites, truncations,
 * insertions, deletions) and apply them in memory. Every case must either reproduce NEW exactly or
 * throw an McdnError — never another exception, a wrong output, or a hang.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isMcdnError } from '../errors.ts';
import { applyPatchBytes } from './apply-core.ts';
import { buildPatch } from './patch-file.ts';
import { sha256Hex } from '../util/hash.ts';
import { makeSafetensorsPair, prng } from './test-util.ts';
import { PATCH_HEADER_BYTES } from './container.ts';

function mutate(p: Uint8Array, rnd: () => number, protectHeader: boolean): Uint8Array {
  const lo = protectHeader && p.length > PATCH_HEADER_BYTES && rnd() < 0.85 ? PATCH_HEADER_BYTES : 0;
  const at = () => lo + Math.floor(rnd() * Math.max(1, p.length - lo));
  const kind = Math.floor(rnd() * 6);
  const b = Uint8Array.from(p);
  switch (kind) {
    case 0: // flip bits in 1..3 bytes
      for (let k = 1 + Math.floor(rnd() * 3); k > 0; k--) b[at()] ^= 1 << Math.floor(rnd() * 8);
      return b;
    case 1: // overwrite a short range with random bytes
    {
      const s = at();
      for (let i = s; i < Math.min(b.length, s + 1 + Math.floor(rnd() * 16)); i++) b[i] = Math.floor(rnd() * 256);
      return b;
    }
    case 2: // truncate
      return p.subarray(0, at());
    case 3: // insert bytes
    {
      const s = at();
      const k = 1 + Math.floor(rnd() * 8);
      const out = new Uint8Array(p.length + k);
      out.set(p.subarray(0, s), 0);
      for (let i = 0; i < k; i++) out[s + i] = Math.floor(rnd() * 256);
      out.set(p.subarray(s), s + k);
      return out;
    }
    case 4: // delete bytes
    {
      const s = at();
      const rest = p.subarray(Math.min(p.length, s + 1 + Math.floor(rnd() * 8)));
      const out = new Uint8Array(s + rest.length);
      out.set(p.subarray(0, s), 0);
      out.set(rest, s);
      return out;
    }
    default: // set a byte to an extreme value
      b[at()] = rnd() < 0.5 ? 0xff : 0;
      return b;
  }
}

test('mutated patches reproduce NEW exactly or fail with McdnError (≥ 10k cases)', async () => {
  const pair = makeSafetensorsPair(99, 0.2);
  const ctx = { oldSha256: sha256Hex(pair.old), newSha256: sha256Hex(pair.nw), level: 3 };
  const layouts = { oldLayout: async () => ({ format: 'safetensors' as const, size: pair.old.length, tensors: pair.oldTensors, meta: {} }), newLayout: async () => ({ format: 'safetensors' as const, size: pair.nw.length, tensors: pair.newTensors, meta: {} }) };
  const newSha = sha256Hex(pair.nw);
  const counts = { tensor: 5300, binary: 4500, bsdiff: 200 };
  const rnd = prng(2024);
  let reproduced = 0;
  let failed = 0;
  const t0 = performance.now();
  for (const method of ['tensor', 'binary', 'bsdiff'] as const) {
    const { bytes } = await buildPatch(method, pair.old, pair.nw, { ...ctx, ...layouts });
    assert.deepEqual(await applyPatchBytes(pair.old, bytes), pair.nw, `${method} patch applies unmutated`);
    for (let i = 0; i < counts[method]; i++) {
      const m = mutate(bytes, rnd, method !== 'bsdiff');
      try {
        const out = await applyPatchBytes(pair.old, m);
        assert.equal(sha256Hex(out), newSha, `${method} case ${i}: wrong output accepted`);
        reproduced++;
      } catch (e) {
        if (e instanceof assert.AssertionError) throw e;
        assert.ok(isMcdnError(e), `${method} case ${i}: non-McdnError ${(e as Error)?.stack ?? e}`);
        failed++;
      }
    }
  }
  const ms = performance.now() - t0;
  assert.ok(reproduced + failed >= 10_000);
  assert.ok(failed > 5000, `most mutations must be caught (${failed})`);
  process.stdout.write(`# fuzz: ${reproduced + failed} cases, ${failed} rejected, ${reproduced} harmless, ${ms.toFixed(0)} ms\n`);
});

test('a wrong base is rejected before decoding for every method', async () => {
  const pair = makeSafetensorsPair(5, 0.2);
  const ctx = { oldSha256: sha256Hex(pair.old), newSha256: sha256Hex(pair.nw), level: 1 };
  const other = Uint8Array.from(pair.old);
  other[10] ^= 0x40;
  for (const method of ['tensor', 'binary', 'bsdiff'] as const) {
    const { bytes } = await buildPatch(method, pair.old, pair.nw, ctx);
    await assert.rejects(applyPatchBytes(other, bytes), (e: unknown) => isMcdnError(e) && e.code === 'PATCH_WRONG_BASE', method);
  }
});
