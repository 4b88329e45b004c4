/**
 * Eviction policy interface shared by the real edge cache and the trace simulator (the same code
 * decides in both). A policy tracks resident keys and their sizes and names victims; the cache owns
 * the byte budget and the pin set. Policies are pure, in-memory and synchronous; `now` is a logical
 * clock (request counter or ms), supplied by the caller so simulation is deterministic.
 */
export interface EvictionPolicy {
  readonly name: string;
  /** a new key became resident */
  onInsert(key: string, size: number, now: number): void;
  /** a resident key was requested */
  onHit(key: string, size: number, now: number): void;
  /** a resident key was removed by the cache (eviction done, deletion, corruption) */
  onRemove(key: string): void;
  /**
   * The next key to evict among resident keys, skipping those for which `isPinned` is true;
   * undefined when every resident key is pinned. Does not remove it: the cache calls onRemove.
   */
  victim(isPinned: (key: string) => boolean): string | undefined;
  /** optional admission filter: false means "serve but do not cache" */
  admit?(key: string, size: number, now: number): boolean;
  /** optional: a request for a key that is not resident (a miss), for policies with ghost history */
  onMiss?(key: string, size: number, now: number): void;
}

export type PolicyName = 'lru' | 'gdsf' | (string & {});

export type PolicyFactory = (capacityBytes: number) => EvictionPolicy;
