/**
 * Eviction policies by name, shared by the real edge cache and the trace simulator.
 * `createPolicy(name, capacityBytes)` is the one entry point; `POLICY_NAMES` lists the online
 * policies; `DEFAULT_POLICY` is what an edge uses when none is configured. Belady's offline optimum
 * needs the future and lives in src/sim (it is not creatable here).
 */
import { inputError } from '../../errors.ts';
import { GdsfPolicy } from './gdsf.ts';
import { LruPolicy } from './lru.ts';
import { S3FifoPolicy } from './s3fifo.ts';
import { TinyLfuPolicy } from './tinylfu.ts';
import { WTinyLfuPolicy } from './wtinylfu.ts';
import type { EvictionPolicy, PolicyFactory } from './policy.ts';

export type { EvictionPolicy, PolicyFactory, PolicyName } from './policy.ts';
export { IndexedHeap } from './heap.ts';
export { LruPolicy } from './lru.ts';
export { PolicyCache, type AccessResult } from './cache.ts';
export { GdsfPolicy, type GdsfOptions } from './gdsf.ts';
export { S3FifoPolicy, type S3FifoOptions } from './s3fifo.ts';
export { TinyLfuPolicy, FrequencySketch, type TinyLfuOptions } from './tinylfu.ts';
export { WTinyLfuPolicy, type WTinyLfuOptions } from './wtinylfu.ts';

const FACTORIES: Record<string, { describe: string; make: PolicyFactory }> = {
  lru: { describe: 'least recently used', make: () => new LruPolicy() },
  gdsf: {
    describe: 'GreedyDual-Size-Frequency, cost 1 per object (object-hit oriented)',
    make: (c) => new GdsfPolicy(c, { sizeExponent: 1, name: 'gdsf' }),
  },
  lfuda: {
    describe: 'LFU with dynamic aging = GDSF with cost = size (byte-hit oriented)',
    make: (c) => new GdsfPolicy(c, { sizeExponent: 0, name: 'lfuda' }),
  },
  s3fifo: { describe: 'S3-FIFO: small + main FIFO queues with a ghost queue (byte-aware)', make: (c) => new S3FifoPolicy(c) },
  tinylfu: { describe: 'LFUDA behind a TinyLFU frequency-sketch admission filter', make: (c) => new TinyLfuPolicy(c) },
  wtinylfu: { describe: 'W-TinyLFU: 1 % LRU window + segmented-LRU main, TinyLFU duel on the way in (byte-aware)', make: (c) => new WTinyLfuPolicy(c) },
};

/** the policy an edge uses when none is configured */
export const DEFAULT_POLICY = 's3fifo';

export const POLICY_NAMES: readonly string[] = Object.keys(FACTORIES);

export function describePolicy(name: string): string | undefined {
  return FACTORIES[name]?.describe;
}

/** A new policy instance; throws UNKNOWN_POLICY (input) for a name not in POLICY_NAMES. */
export function createPolicy(name: string, capacityBytes: number): EvictionPolicy {
  const f = FACTORIES[name === 'default' ? DEFAULT_POLICY : name];
  if (!f) {
    throw inputError('UNKNOWN_POLICY', `unknown eviction policy '${name}'`, { name }, `use one of: ${POLICY_NAMES.join(', ')}`);
  }
  if (!(capacityBytes > 0) || !Number.isFinite(capacityBytes)) {
    throw inputError('BAD_CAPACITY', `eviction policy capacity must be a positive number of bytes, got ${capacityBytes}`, { capacityBytes });
  }
  return f.make(capacityBytes);
}
