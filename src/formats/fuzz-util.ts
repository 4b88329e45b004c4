/**
 * Test support for the format parsers (used only by *.test.ts): deterministic random truncations and
 * byte flips of a valid file, asserting the parser either succeeds or throws McdnError — never another
 * exception — within a time budget per input. No I/O.
 */
import assert from 'node:assert/strict';
import { isMcdnError } from '../errors.ts';
import { mulberry32 } from '../util/random.ts';

/** Small deterministic PRNG (mulberry32). */
export const rng: (seed: number) => () => number = mulberry32;

export interface FuzzOptions {
  seed?: number;
  truncations?: number;
  flips?: number;
  /** bytes flipped per mutated copy */
  flipsPerCopy?: number;
  /** restrict flips to the first `flipRegion` bytes (where the container structure lives) */
  flipRegion?: number;
  /** max ms for one parse */
  budgetMs?: number;
}

/** Run `parse` on mutated copies of `good`; returns how many parsed vs. were rejected with McdnError. */
export async function fuzzParser(
  good: Uint8Array,
  parse: (bytes: Uint8Array) => unknown | Promise<unknown>,
  opts: FuzzOptions = {},
): Promise<{ parsed: number; rejected: number; codes: Set<string> }> {
  const r = rng(opts.seed ?? 1);
  const budget = opts.budgetMs ?? 2000;
  let parsed = 0;
  let rejected = 0;
  const codes = new Set<string>();
  const attempt = async (bytes: Uint8Array, what: string) => {
    const t0 = performance.now();
    try {
      await parse(bytes);
      parsed++;
    } catch (e) {
      if (!isMcdnError(e)) {
        assert.fail(`${what}: threw a non-McdnError: ${(e as Error)?.stack ?? String(e)}`);
      }
      assert.ok(!e.message.includes('\n'), `${what}: error message must be one line: ${e.message}`);
      codes.add(e.code);
      rejected++;
    }
    const dt = performance.now() - t0;
    assert.ok(dt < budget, `${what}: parse took ${dt.toFixed(0)} ms`);
  };
  const cuts = new Set<number>([0, 1, 7, 8, 9, good.length - 1]);
  while (cuts.size < (opts.truncations ?? 30) + 6) cuts.add(Math.floor(r() * good.length));
  for (const c of cuts) if (c >= 0 && c < good.length) await attempt(good.subarray(0, c), `truncated at ${c}`);
  const region = Math.min(good.length, opts.flipRegion ?? good.length);
  for (let i = 0; i < (opts.flips ?? 30); i++) {
    const copy = good.slice();
    const k = opts.flipsPerCopy ?? 1 + Math.floor(r() * 4);
    const at: number[] = [];
    for (let j = 0; j < k; j++) {
      const p = Math.floor(r() * region);
      copy[p] = copy[p]! ^ (1 + Math.floor(r() * 255));
      at.push(p);
    }
    await attempt(copy, `bytes flipped at ${at.join(',')}`);
  }
  return { parsed, rejected, codes };
}
