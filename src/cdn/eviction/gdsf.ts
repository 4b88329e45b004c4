/**
 * GreedyDual-Size-Frequency (Cherkasova 1998) and its size-oblivious special case LFU with dynamic
 * aging (LFUDA, Arlitt et al. 2000), on an indexed heap (O(log n) per operation).
 *
 *   priority(key) = L + freq(key) × cost(key) / size(key)
 *
 * L is the inflation value: when the cache evicts a key, L rises to that key's priority, so keys
 * that were popular long ago age out. We write cost/size as 1 / size^β:
 *   β = 1   cost 1 per object — classic GDSF, maximizes the OBJECT hit ratio (favours small objects);
 *   β = 0   cost = size — every byte is worth the same, i.e. LFUDA, aimed at the BYTE hit ratio;
 *   0<β<1   in between.
 * Frequencies of recently evicted keys can be remembered in a bounded ghost table (`historyFactor`
 * × the number of resident keys, FIFO) so a key that returns soon after eviction keeps its count.
 * Pure and in-memory; the cache that uses it owns the byte budget and the pin set.
 */
import { KeyedList } from './dlist.ts';
import { IndexedHeap } from './heap.ts';
import type { EvictionPolicy } from './policy.ts';

export interface GdsfOptions {
  /** β in priority = L + freq / size^β (default 1: classic GDSF) */
  sizeExponent?: number;
  /** ghost frequency entries kept, as a multiple of resident keys (default 0 = classic: freq restarts at 1) */
  historyFactor?: number;
  name?: string;
}

interface Meta {
  freq: number;
  size: number;
}

export class GdsfPolicy implements EvictionPolicy {
  readonly name: string;
  private readonly heap = new IndexedHeap<Meta>();
  private readonly ghost = new KeyedList<number>();
  private readonly beta: number;
  private readonly historyFactor: number;
  private lastVictim: string | undefined;
  /** inflation value L */
  inflation = 0;

  constructor(_capacityBytes: number, opts: GdsfOptions = {}) {
    this.beta = opts.sizeExponent ?? 1;
    this.historyFactor = opts.historyFactor ?? 0;
    this.name = opts.name ?? (this.beta === 0 ? 'lfuda' : 'gdsf');
  }

  private priority(f: number, size: number): number {
    const s = Math.max(1, size);
    return this.inflation + (this.beta === 0 ? f : this.beta === 1 ? f / s : f / s ** this.beta);
  }

  onInsert(key: string, size: number, _now?: number): void {
    let f = 1;
    if (this.historyFactor > 0) {
      const g = this.ghost.delete(key);
      if (g !== undefined) f = g + 1;
    }
    const n = this.heap.node(key);
    if (n) {
      n.data.freq = f;
      n.data.size = size;
      this.heap.update(n, this.priority(f, size));
    } else this.heap.set(key, this.priority(f, size), { freq: f, size });
  }

  onHit(key: string, size: number, _now?: number): void {
    const n = this.heap.node(key);
    if (!n) return this.onInsert(key, size);
    n.data.freq++;
    n.data.size = size;
    this.heap.update(n, this.priority(n.data.freq, size));
  }

  onRemove(key: string): void {
    const n = this.heap.node(key);
    if (!n) return;
    if (key === this.lastVictim) {
      if (n.priority > this.inflation) this.inflation = n.priority;
      this.lastVictim = undefined;
      if (this.historyFactor > 0) {
        this.ghost.push(key, n.data.freq);
        const limit = Math.max(16, Math.ceil(this.historyFactor * this.heap.size));
        while (this.ghost.size > limit) this.ghost.shift();
      }
    }
    this.heap.delete(key);
  }

  victim(isPinned: (key: string) => boolean): string | undefined {
    const k = this.heap.firstWhere(isPinned);
    this.lastVictim = k;
    return k;
  }

  /** resident keys, next victim first (for tests) */
  keys(): string[] {
    return this.heap.ordered();
  }

  priorityOf(key: string): number | undefined {
    return this.heap.priorityOf(key);
  }
}
