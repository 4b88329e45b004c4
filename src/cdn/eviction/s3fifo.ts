/**
 * S3-FIFO (Yang et al., SOSP 2023), byte-aware: a small FIFO queue S (10 % of the byte budget)
 * catches new objects, a main FIFO M holds objects that were re-requested, and a ghost FIFO G
 * remembers recently evicted keys (no data, bounded to M's byte budget). A new key goes to S, or
 * straight to M if G remembers it. Eviction from S moves an object that was hit while in S to M,
 * otherwise drops it into G; eviction from M gives each hit object another round (2-bit counter,
 * decremented on reinsertion) — "lazy promotion, quick demotion", so one-hit wonders leave fast.
 * `victim()` performs these queue moves itself and returns the key to evict; pinned keys are
 * rotated past. O(1) amortized per operation (keyed linked lists). Pure and in-memory; the cache
 * owns the byte budget and the pin set.
 */
import { KeyedList } from './dlist.ts';
import type { EvictionPolicy } from './policy.ts';

interface Entry {
  size: number;
  freq: number;
}

export interface S3FifoOptions {
  /** fraction of the byte budget for the small queue (default 0.1) */
  smallRatio?: number;
  /** ghost queue byte budget as a multiple of the main queue's (default 1) */
  ghostRatio?: number;
  /**
   * objects larger than this share of the small queue are not cached on their first request, only
   * remembered in the ghost queue; a second request while remembered admits them straight to main
   * (default Infinity = off)
   */
  largeFactor?: number;
}

export class S3FifoPolicy implements EvictionPolicy {
  readonly name = 's3fifo';
  private readonly small = new KeyedList<Entry>();
  private readonly main = new KeyedList<Entry>();
  private readonly ghost = new KeyedList<number>();
  private smallBytes = 0;
  private ghostBytes = 0;
  private readonly smallTarget: number;
  private readonly ghostLimit: number;
  private readonly largeLimit: number;

  constructor(capacityBytes: number, opts: S3FifoOptions = {}) {
    this.smallTarget = capacityBytes * (opts.smallRatio ?? 0.1);
    this.ghostLimit = (capacityBytes - this.smallTarget) * (opts.ghostRatio ?? 1);
    this.largeLimit = this.smallTarget * (opts.largeFactor ?? Infinity);
  }

  admit(key: string, size: number): boolean {
    if (size <= this.largeLimit || this.ghost.has(key)) return true;
    this.remember(key, size);
    return false;
  }

  onInsert(key: string, size: number): void {
    const g = this.ghost.delete(key);
    if (g !== undefined) {
      this.ghostBytes -= g;
      this.main.push(key, { size, freq: 0 });
    } else {
      this.small.push(key, { size, freq: 0 });
      this.smallBytes += size;
    }
  }

  onHit(key: string): void {
    const e = this.small.get(key) ?? this.main.get(key);
    if (e && e.freq < 3) e.freq++;
  }

  onRemove(key: string): void {
    const s = this.small.delete(key);
    if (s) this.smallBytes -= s.size;
    else this.main.delete(key);
  }

  private remember(key: string, size: number): void {
    const old = this.ghost.delete(key);
    if (old !== undefined) this.ghostBytes -= old;
    this.ghost.push(key, size);
    this.ghostBytes += size;
    while (this.ghostBytes > this.ghostLimit && this.ghost.size > 0) this.ghostBytes -= this.ghost.shift()!.value;
  }

  victim(isPinned: (key: string) => boolean): string | undefined {
    // bounded: each resident key is moved at most a few times (freq ≤ 3) before a decision
    let budget = 4 * (this.small.size + this.main.size) + 4;
    while (budget-- > 0) {
      const fromSmall = this.small.size > 0 && (this.smallBytes >= this.smallTarget || this.main.size === 0);
      if (fromSmall) {
        const n = this.small.first()!;
        if (n.value.freq > 0 || isPinned(n.key)) {
          // re-requested while probationary (or pinned): promote to main
          const { key, value } = n;
          this.small.delete(key);
          this.smallBytes -= value.size;
          value.freq = 0;
          this.main.push(key, value);
          continue;
        }
        // the oldest small object leaves; the ghost remembers it (the cache calls onRemove next)
        this.remember(n.key, n.value.size);
        return n.key;
      }
      const n = this.main.first();
      if (!n) return undefined;
      if (n.value.freq > 0 || isPinned(n.key)) {
        if (n.value.freq > 0) n.value.freq--;
        this.main.touch(n.key);
        continue;
      }
      return n.key;
    }
    return undefined;
  }
}
