/**
 * A byte-budget cache index driven by an EvictionPolicy: it owns the resident set, the used bytes,
 * the capacity and the pin set, and asks the policy for victims until a new object fits. The trace
 * simulator runs exactly this; the real edge can use it as its index (the edge keeps the bytes on
 * disk and calls `remove` when it deletes a file). Pure and synchronous: no I/O, no clocks.
 */
import type { EvictionPolicy } from './policy.ts';

export type AccessResult = 'hit' | 'miss' | 'bypass';

export class PolicyCache {
  readonly capacity: number;
  readonly policy: EvictionPolicy;
  private readonly resident = new Map<string, number>();
  private readonly pins = new Set<string>();
  private used = 0;
  /** keys evicted by the most recent access() or insert() (for callers that delete files) */
  readonly lastEvicted: string[] = [];
  private readonly isPinned = (k: string) => this.pins.has(k);

  constructor(policy: EvictionPolicy, capacityBytes: number) {
    this.policy = policy;
    this.capacity = capacityBytes;
  }

  get usedBytes(): number {
    return this.used;
  }

  get count(): number {
    return this.resident.size;
  }

  has(key: string): boolean {
    return this.resident.has(key);
  }

  sizeOf(key: string): number | undefined {
    return this.resident.get(key);
  }

  keys(): IterableIterator<string> {
    return this.resident.keys();
  }

  /**
   * One request: a hit updates the policy; a miss asks the admission filter, evicts victims until
   * the object fits and inserts it. Returns 'bypass' when the object is served but not cached
   * (too large, not admitted, or everything else is pinned).
   */
  access(key: string, size: number, now: number): AccessResult {
    this.lastEvicted.length = 0;
    const cur = this.resident.get(key);
    if (cur !== undefined) {
      if (cur === size) {
        this.policy.onHit(key, size, now);
        return 'hit';
      }
      // the object changed size: it was replaced, so treat it as a miss of a new object (a pin on
      // the old content does not carry over)
      this.pins.delete(key);
      this.remove(key);
    }
    this.policy.onMiss?.(key, size, now);
    if (this.insert(key, size, now)) return 'miss';
    return 'bypass';
  }

  /** Make `key` resident (a miss, a prefetch). False if it cannot fit or the policy declines it. */
  insert(key: string, size: number, now: number, force = false): boolean {
    this.lastEvicted.length = 0;
    if (this.resident.has(key)) return true;
    if (size > this.capacity) return false;
    if (!force && this.policy.admit && !this.policy.admit(key, size, now)) return false;
    let stale = 0;
    while (this.used + size > this.capacity) {
      const v = this.policy.victim(this.isPinned);
      if (v === undefined) return false;
      if (!this.remove(v)) {
        // the policy named a key the cache does not hold: resynchronize it, and never loop forever
        this.policy.onRemove(v);
        if (++stale > 64) return false;
        continue;
      }
      this.lastEvicted.push(v);
    }
    this.resident.set(key, size);
    this.used += size;
    this.policy.onInsert(key, size, now);
    return true;
  }

  remove(key: string): boolean {
    const s = this.resident.get(key);
    if (s === undefined) return false;
    this.resident.delete(key);
    this.used -= s;
    this.policy.onRemove(key);
    return true;
  }

  pin(key: string): void {
    this.pins.add(key);
  }

  unpin(key: string): void {
    this.pins.delete(key);
  }

  isPinnedKey(key: string): boolean {
    return this.pins.has(key);
  }
}
