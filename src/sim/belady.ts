/**
 * Belady's offline optimum for the simulator: evict the resident object whose next request is
 * furthest in the future (MIN, Belady 1966), with bypass — a missed object is not admitted when
 * its own next request is later than that of every byte it would have to displace (or never comes).
 * It needs the future, so it takes the precomputed next-request index of every request and expects
 * `now` to be the request's index in the trace. Never used by a real edge.
 *
 * With variable sizes no polynomial policy is optimal (the problem is NP-hard); this is the standard
 * size-oblivious furthest-next-use heuristic. It is the natural reference for the BYTE miss ratio:
 * holding an object of size s until its next use at distance d costs s×d byte-time and saves s
 * bytes, so the saving per byte-time is 1/d whatever the size — exactly the order Belady uses.
 * (For the object miss ratio a size-aware variant would rank by s×d; we do not claim optimality
 * for either metric with variable sizes, only with equal sizes, which the tests check against
 * brute force.)
 */
import { IndexedHeap } from '../cdn/eviction/heap.ts';
import type { EvictionPolicy } from '../cdn/eviction/policy.ts';

export class BeladyPolicy implements EvictionPolicy {
  readonly name = 'belady';
  private readonly heap = new IndexedHeap();
  private readonly sizes = new Map<string, number>();
  private used = 0;

  constructor(
    private readonly capacity: number,
    /** nextUse[i] = index of the next request for the object requested at i (Infinity if none) */
    private readonly nextUse: Float64Array,
  ) {}

  onInsert(key: string, size: number, now: number): void {
    this.heap.set(key, -this.nextUse[now]!);
    this.sizes.set(key, size);
    this.used += size;
  }

  onHit(key: string, _size: number, now: number): void {
    this.heap.set(key, -this.nextUse[now]!);
  }

  onRemove(key: string): void {
    const s = this.sizes.get(key);
    if (s === undefined) return;
    this.sizes.delete(key);
    this.used -= s;
    this.heap.delete(key);
  }

  victim(isPinned: (key: string) => boolean): string | undefined {
    return this.heap.firstWhere(isPinned);
  }

  admit(_key: string, size: number, now: number): boolean {
    const nu = this.nextUse[now]!;
    if (nu === Infinity) return false;
    const need = this.used + size - this.capacity;
    if (need <= 0) return true;
    let freed = 0;
    let enough = false;
    this.heap.firstWhere((k) => {
      if (-this.heap.priorityOf(k)! <= nu) return false; // the rest is needed sooner than the newcomer
      freed += this.sizes.get(k)!;
      if (freed >= need) {
        enough = true;
        return false;
      }
      return true;
    });
    return enough;
  }
}
