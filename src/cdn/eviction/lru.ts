/**
 * Least-recently-used eviction: a Map in access order (insertion order of a JS Map is O(1) to
 * update by delete + set). The victim is the oldest unpinned key. Pure and in-memory; the cache
 * that uses it owns the byte budget and the pin set.
 */
import type { EvictionPolicy } from './policy.ts';

export class LruPolicy implements EvictionPolicy {
  readonly name: string = 'lru';
  /** key → size, oldest first */
  private readonly order = new Map<string, number>();

  onInsert(key: string, size: number): void {
    this.order.delete(key);
    this.order.set(key, size);
  }

  onHit(key: string, size: number): void {
    if (this.order.delete(key)) this.order.set(key, size);
  }

  onRemove(key: string): void {
    this.order.delete(key);
  }

  victim(isPinned: (key: string) => boolean): string | undefined {
    for (const k of this.order.keys()) if (!isPinned(k)) return k;
    return undefined;
  }

  /** resident keys, next victim first (for tests) */
  keys(): string[] {
    return [...this.order.keys()];
  }
}
