/**
 * W-TinyLFU (Einziger, Friedman & Manes 2017; Caffeine's policy), byte-aware: a small LRU window
 * (1 % of the bytes) admits every new object, so a second request soon after the first is a hit; the
 * main region is a segmented LRU (probation 20 % / protected 80 %). When the window overflows, its
 * oldest object becomes a candidate for the main region and competes with main's victim on the
 * TinyLFU frequency sketch: the more frequently requested of the two stays, the other is evicted.
 * `victim()` performs the window → main moves itself and returns the key to evict; pinned keys are
 * skipped (they are never chosen, and they are moved past). Pure and in-memory.
 */
import { KeyedList } from './dlist.ts';
import type { EvictionPolicy } from './policy.ts';
import { FrequencySketch } from './tinylfu.ts';

type Segment = 'window' | 'probation' | 'protected';

export interface WTinyLfuOptions {
  /** window share of the byte budget (default 0.01) */
  windowRatio?: number;
  /** protected share of the main region (default 0.8) */
  protectedRatio?: number;
}

export class WTinyLfuPolicy implements EvictionPolicy {
  readonly name = 'wtinylfu';
  private readonly window = new KeyedList<number>();
  private readonly probation = new KeyedList<number>();
  private readonly protectedSeg = new KeyedList<number>();
  private readonly where = new Map<string, Segment>();
  private windowBytes = 0;
  private protectedBytes = 0;
  private probationBytes = 0;
  private readonly windowTarget: number;
  private readonly mainTarget: number;
  private readonly protectedTarget: number;
  private readonly sketch = new FrequencySketch(1024, 10);

  constructor(capacityBytes: number, opts: WTinyLfuOptions = {}) {
    this.windowTarget = capacityBytes * (opts.windowRatio ?? 0.01);
    this.mainTarget = capacityBytes - this.windowTarget;
    this.protectedTarget = (capacityBytes - this.windowTarget) * (opts.protectedRatio ?? 0.8);
  }

  private grow(): void {
    const n = this.where.size;
    if (n * 8 > this.sketch.width) this.sketch.grow(n * 16);
  }

  onMiss(key: string): void {
    this.sketch.increment(key);
  }

  onInsert(key: string, size: number): void {
    this.window.push(key, size);
    this.windowBytes += size;
    this.where.set(key, 'window');
    this.grow();
  }

  onHit(key: string, size: number): void {
    this.sketch.increment(key);
    const seg = this.where.get(key);
    if (seg === 'window') this.window.touch(key);
    else if (seg === 'probation') {
      this.probationBytes -= this.probation.delete(key) ?? 0;
      this.protectedSeg.push(key, size);
      this.protectedBytes += size;
      this.where.set(key, 'protected');
      // keep protected within its share: demote its oldest to probation
      while (this.protectedBytes > this.protectedTarget && this.protectedSeg.size > 1) {
        const n = this.protectedSeg.shift()!;
        this.protectedBytes -= n.value;
        this.probation.push(n.key, n.value);
        this.probationBytes += n.value;
        this.where.set(n.key, 'probation');
      }
    } else if (seg === 'protected') this.protectedSeg.touch(key);
  }

  onRemove(key: string): void {
    const seg = this.where.get(key);
    if (!seg) return;
    this.where.delete(key);
    if (seg === 'window') this.windowBytes -= this.window.delete(key) ?? 0;
    else if (seg === 'probation') this.probationBytes -= this.probation.delete(key) ?? 0;
    else this.protectedBytes -= this.protectedSeg.delete(key) ?? 0;
  }

  /** oldest unpinned key of the main region (probation first, then protected) */
  private mainVictim(isPinned: (k: string) => boolean): string | undefined {
    for (let n = this.probation.first(); n; n = n.next) if (!isPinned(n.key)) return n.key;
    for (let n = this.protectedSeg.first(); n; n = n.next) if (!isPinned(n.key)) return n.key;
    return undefined;
  }

  victim(isPinned: (key: string) => boolean): string | undefined {
    // move window overflow into probation; the candidate duels with main's victim
    while (this.windowBytes > this.windowTarget) {
      let cand: string | undefined;
      for (let n = this.window.first(); n; n = n.next) {
        if (!isPinned(n.key)) {
          cand = n.key;
          break;
        }
      }
      if (cand === undefined) break;
      const size = this.window.get(cand)!;
      const mainFull = this.probationBytes + this.protectedBytes + size > this.mainTarget;
      const mv = mainFull ? this.mainVictim(isPinned) : undefined;
      if (mv !== undefined && this.sketch.estimate(cand) <= this.sketch.estimate(mv)) return cand; // the candidate loses
      // room in main, or the candidate wins the duel: it enters probation; main's victim (if any) goes
      this.window.delete(cand);
      this.windowBytes -= size;
      this.probation.push(cand, size);
      this.probationBytes += size;
      this.where.set(cand, 'probation');
      if (mv !== undefined) return mv;
    }
    const mv = this.mainVictim(isPinned);
    if (mv !== undefined) return mv;
    for (let n = this.window.first(); n; n = n.next) if (!isPinned(n.key)) return n.key;
    return undefined;
  }
}
