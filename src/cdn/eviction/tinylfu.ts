/**
 * Frequency-sketch admission (TinyLFU, Einziger et al. 2017) in front of LFU with dynamic aging,
 * tuned for the BYTE hit ratio. A count-min sketch (4 rows of 4-bit-range counters, halved every
 * `sampleFactor` × width requests so old popularity fades) estimates how often every key — resident
 * or not — was requested recently. A missed object is admitted only if its estimated frequency is
 * at least that of the object LFUDA would evict for it; one-hit wonders are served but not cached,
 * so they no longer push out objects that will be asked for again. The sketch grows (and restarts)
 * when the number of resident keys outgrows it. Pure and in-memory.
 */
import { GdsfPolicy } from './gdsf.ts';
import type { EvictionPolicy } from './policy.ts';

const ROWS = 4;
const MAX_COUNT = 15;

/** Count-min sketch with saturating counters and periodic halving ("reset" aging). */
export class FrequencySketch {
  private table: Uint8Array;
  private mask: number;
  private additions = 0;
  private samplePeriod: number;

  constructor(
    width = 1024,
    private readonly sampleFactor = 10,
  ) {
    const w = 1 << Math.ceil(Math.log2(Math.max(64, width)));
    this.table = new Uint8Array(w * ROWS);
    this.mask = w - 1;
    this.samplePeriod = w * sampleFactor;
  }

  get width(): number {
    return this.mask + 1;
  }

  /** restart with a wider table (the old counts are dropped) */
  grow(minWidth: number): void {
    const w = 1 << Math.ceil(Math.log2(Math.max(64, minWidth)));
    if (w <= this.width) return;
    this.table = new Uint8Array(w * ROWS);
    this.mask = w - 1;
    this.samplePeriod = w * this.sampleFactor;
    this.additions = 0;
  }

  private static hash(key: string): number {
    // FNV-1a 32-bit
    let h = 0x811c9dc5;
    for (let i = 0; i < key.length; i++) {
      h ^= key.charCodeAt(i);
      h = Math.imul(h, 0x01000193);
    }
    return h >>> 0;
  }

  private index(h: number, row: number): number {
    const x = Math.imul(h ^ (h >>> 15), 0x2c1b3c6d + row * 0x297a2d39) ^ (row * 0x9e3779b9);
    return row * (this.mask + 1) + ((x ^ (x >>> 13)) & this.mask);
  }

  increment(key: string): void {
    const h = FrequencySketch.hash(key);
    let changed = false;
    for (let r = 0; r < ROWS; r++) {
      const i = this.index(h, r);
      if (this.table[i]! < MAX_COUNT) {
        this.table[i]!++;
        changed = true;
      }
    }
    if (changed && ++this.additions >= this.samplePeriod) this.halve();
  }

  estimate(key: string): number {
    const h = FrequencySketch.hash(key);
    let m = MAX_COUNT;
    for (let r = 0; r < ROWS; r++) {
      const v = this.table[this.index(h, r)]!;
      if (v < m) m = v;
    }
    return m;
  }

  private halve(): void {
    for (let i = 0; i < this.table.length; i++) this.table[i] = this.table[i]! >>> 1;
    this.additions = Math.floor(this.additions / 2);
  }
}

export interface TinyLfuOptions {
  /** sketch aging period as a multiple of its width (default 10) */
  sampleFactor?: number;
  /** β of the underlying GreedyDual priority (default 0: LFUDA, byte-hit oriented) */
  sizeExponent?: number;
}

export class TinyLfuPolicy implements EvictionPolicy {
  readonly name = 'tinylfu';
  private readonly main: GdsfPolicy;
  private readonly sketch: FrequencySketch;
  private resident = 0;

  constructor(capacityBytes: number, opts: TinyLfuOptions = {}) {
    this.main = new GdsfPolicy(capacityBytes, { sizeExponent: opts.sizeExponent ?? 0, name: 'tinylfu' });
    this.sketch = new FrequencySketch(1024, opts.sampleFactor ?? 10);
  }

  private count(key: string): void {
    this.sketch.increment(key);
  }

  onInsert(key: string, size: number, now: number): void {
    this.resident++;
    if (this.resident * 8 > this.sketch.width) this.sketch.grow(this.resident * 16);
    this.main.onInsert(key, size, now);
  }

  onHit(key: string, size: number, now: number): void {
    this.count(key);
    this.main.onHit(key, size, now);
  }

  onMiss(key: string): void {
    this.count(key);
  }

  onRemove(key: string): void {
    if (this.main.priorityOf(key) !== undefined) this.resident--;
    this.main.onRemove(key);
  }

  victim(isPinned: (key: string) => boolean): string | undefined {
    return this.main.victim(isPinned);
  }

  admit(key: string): boolean {
    const v = this.main.victim(() => false);
    if (v === undefined) return true;
    return this.sketch.estimate(key) >= this.sketch.estimate(v);
  }
}
