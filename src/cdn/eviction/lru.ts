/**
 * Least-recently-used eviction on a keyed doubly-linked list (O(1) per operation). The victim is
 * the least recently used unpinned key. Pure and in-memory; the cache that uses it owns the byte
 * budget and the pin set.
 */
import { KeyedList } from './dlist.ts';
import type { EvictionPolicy } from './policy.ts';

export class LruPolicy implements EvictionPolicy {
  readonly name: string = 'lru';
  /** key → size, least recent first */
  private readonly order = new KeyedList<number>();

  onInsert(key: string, size: number): void {
    this.order.push(key, size);
  }

  onHit(key: string): void {
    this.order.touch(key);
  }

  onRemove(key: string): void {
    this.order.delete(key);
  }

  victim(isPinned: (key: string) => boolean): string | undefined {
    for (let n = this.order.first(); n; n = n.next) if (!isPinned(n.key)) return n.key;
    return undefined;
  }

  /** resident keys, next victim first (for tests) */
  keys(): string[] {
    return [...this.order.keys()];
  }
}
