/**
 * S3-FIFO (Yang et al., SOSP 2023), byte-aware: a small FIFO queue S (10 % of the byte budget)
 * catches new objects, a main FIFO M holds objects that were re-requested, and a ghost FIFO G
 * remembers recently evicted keys (no data, bounded to M's byte budget). A new key goes to S, or
 * straight to M if G remembers it. Eviction from S moves an object that was hit while in S to M,
 * otherwise drops it into G; eviction from M gives each hit object another round (2-bit counter,
 * decremented on reinsertion) — "lazy promotion, quick demotion", so one-hit wonders leave fast.
 * `victim()` performs these queue moves itself and returns the key to evict; pinned keys are
 * rotated past. Pure and in-memory; the cache owns the byte budget and the pin set.
 */
import type { EvictionPolicy } from './policy.ts';

interface Entry {
  size: number;
  freq: number;
  inMain: boolean;
}

export interface S3FifoOptions {
  /** fraction of the byte budget for the small queue (default 0.1) */
  smallRatio?: number;
}

export class S3FifoPolicy implements EvictionPolicy {
  readonly name = 's3fifo';
  private readonly small = new Map<string, Entry>();
  private readonly main = new Map<string, Entry>();
  private readonly ghost = new Map<string, number>();
  private smallBytes = 0;
  private mainBytes = 0;
  private ghostBytes = 0;
  private readonly smallTarget: number;
  private readonly ghostLimit: number;

  constructor(capacityBytes: number, opts: S3FifoOptions = {}) {
    this.smallTarget = capacityBytes * (opts.smallRatio ?? 0.1);
    this.ghostLimit = capacityBytes - this.smallTarget;
  }

  onInsert(key: string, size: number): void {
    const inGhost = this.ghost.get(key);
    if (inGhost !== undefined) {
      this.ghost.delete(key);
      this.ghostBytes -= inGhost;
      this.main.set(key, { size, freq: 0, inMain: true });
      this.mainBytes += size;
    } else {
      this.small.set(key, { size, freq: 0, inMain: false });
      this.smallBytes += size;
    }
  }

  onHit(key: string): void {
    const e = this.small.get(key) ?? this.main.get(key);
    if (e && e.freq < 3) e.freq++;
  }

  onRemove(key: string): void {
    const s = this.small.get(key);
    if (s) {
      this.small.delete(key);
      this.smallBytes -= s.size;
      return;
    }
    const m = this.main.get(key);
    if (m) {
      this.main.delete(key);
      this.mainBytes -= m.size;
    }
  }

  private remember(key: string, size: number): void {
    this.ghost.delete(key);
    this.ghost.set(key, size);
    this.ghostBytes += size;
    while (this.ghostBytes > this.ghostLimit && this.ghost.size > 0) {
      const [k, s] = this.ghost.entries().next().value as [string, number];
      this.ghost.delete(k);
      this.ghostBytes -= s;
    }
  }

  victim(isPinned: (key: string) => boolean): string | undefined {
    // bounded: each resident key can be moved at most a few times (freq ≤ 3) before a decision
    let budget = 4 * (this.small.size + this.main.size) + 4;
    while (budget-- > 0) {
      const fromSmall = this.small.size > 0 && (this.smallBytes >= this.smallTarget || this.main.size === 0);
      if (fromSmall) {
        const [k, e] = this.small.entries().next().value as [string, Entry];
        if (e.freq > 0 || isPinned(k)) {
          // re-requested while probationary (or pinned): promote to main
          this.small.delete(k);
          this.smallBytes -= e.size;
          e.freq = 0;
          e.inMain = true;
          this.main.set(k, e);
          this.mainBytes += e.size;
          continue;
        }
        // the oldest small object leaves; the ghost remembers it (the cache calls onRemove next)
        this.remember(k, e.size);
        return k;
      }
      if (this.main.size === 0) return undefined;
      const [k, e] = this.main.entries().next().value as [string, Entry];
      if (e.freq > 0 || isPinned(k)) {
        if (e.freq > 0) e.freq--;
        this.main.delete(k);
        this.main.set(k, e);
        continue;
      }
      return k;
    }
    return undefined;
  }
}
