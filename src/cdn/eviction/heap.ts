/**
 * Indexed binary min-heap of string keys with numeric priorities, the data structure behind the
 * priority-based eviction policies (GDSF, LFUDA, Belady). Insert, update, remove and peek are
 * O(log n) / O(1); ties break by insertion sequence (older first), so results are deterministic.
 * `firstWhere` walks keys in priority order without mutating the heap (best-first over the heap
 * tree), which is how a policy skips pinned keys. Pure data structure: no I/O, no policy logic.
 */
export class IndexedHeap {
  private keys: string[] = [];
  private prio: number[] = [];
  private seq: number[] = [];
  private pos = new Map<string, number>();
  private counter = 0;

  get size(): number {
    return this.keys.length;
  }

  has(key: string): boolean {
    return this.pos.has(key);
  }

  priorityOf(key: string): number | undefined {
    const i = this.pos.get(key);
    return i === undefined ? undefined : this.prio[i];
  }

  /** insert a new key or change an existing key's priority (its tie-break sequence is refreshed) */
  set(key: string, priority: number): void {
    const i = this.pos.get(key);
    const s = this.counter++;
    if (i === undefined) {
      const n = this.keys.length;
      this.keys.push(key);
      this.prio.push(priority);
      this.seq.push(s);
      this.pos.set(key, n);
      this.up(n);
      return;
    }
    const old = this.prio[i]!;
    this.prio[i] = priority;
    this.seq[i] = s;
    if (priority < old) this.up(i);
    else this.down(i);
  }

  delete(key: string): boolean {
    const i = this.pos.get(key);
    if (i === undefined) return false;
    const last = this.keys.length - 1;
    this.pos.delete(key);
    if (i !== last) {
      this.keys[i] = this.keys[last]!;
      this.prio[i] = this.prio[last]!;
      this.seq[i] = this.seq[last]!;
      this.pos.set(this.keys[i]!, i);
    }
    this.keys.pop();
    this.prio.pop();
    this.seq.pop();
    if (i < this.keys.length) {
      this.up(i);
      this.down(i);
    }
    return true;
  }

  peek(): string | undefined {
    return this.keys[0];
  }

  peekPriority(): number | undefined {
    return this.prio[0];
  }

  clear(): void {
    this.keys = [];
    this.prio = [];
    this.seq = [];
    this.pos.clear();
  }

  /**
   * The lowest-priority key for which `skip` is false, or undefined. Visits keys in priority order
   * (best-first search over the heap tree with a small auxiliary heap), costing O(k log k) where k
   * is the number of skipped keys; the heap itself is not modified.
   */
  firstWhere(skip: (key: string) => boolean): string | undefined {
    const n = this.keys.length;
    if (n === 0) return undefined;
    if (!skip(this.keys[0]!)) return this.keys[0];
    const frontier: number[] = [];
    const push = (i: number) => {
      if (i >= n) return;
      frontier.push(i);
      let c = frontier.length - 1;
      while (c > 0) {
        const p = (c - 1) >> 1;
        if (!this.less(frontier[c]!, frontier[p]!)) break;
        [frontier[c], frontier[p]] = [frontier[p]!, frontier[c]!];
        c = p;
      }
    };
    const pop = (): number => {
      const top = frontier[0]!;
      const last = frontier.pop()!;
      if (frontier.length > 0) {
        frontier[0] = last;
        let c = 0;
        for (;;) {
          const l = 2 * c + 1;
          const r = l + 1;
          let m = c;
          if (l < frontier.length && this.less(frontier[l]!, frontier[m]!)) m = l;
          if (r < frontier.length && this.less(frontier[r]!, frontier[m]!)) m = r;
          if (m === c) break;
          [frontier[c], frontier[m]] = [frontier[m]!, frontier[c]!];
          c = m;
        }
      }
      return top;
    };
    push(1);
    push(2);
    while (frontier.length > 0) {
      const i = pop();
      if (!skip(this.keys[i]!)) return this.keys[i];
      push(2 * i + 1);
      push(2 * i + 2);
    }
    return undefined;
  }

  /** keys in priority order (O(n log n); for tests and debugging) */
  ordered(): string[] {
    const idx = this.keys.map((_, i) => i);
    idx.sort((a, b) => (this.less(a, b) ? -1 : this.less(b, a) ? 1 : 0));
    return idx.map((i) => this.keys[i]!);
  }

  private less(a: number, b: number): boolean {
    const pa = this.prio[a]!;
    const pb = this.prio[b]!;
    return pa < pb || (pa === pb && this.seq[a]! < this.seq[b]!);
  }

  private swap(a: number, b: number): void {
    const k = this.keys[a]!;
    this.keys[a] = this.keys[b]!;
    this.keys[b] = k;
    const p = this.prio[a]!;
    this.prio[a] = this.prio[b]!;
    this.prio[b] = p;
    const s = this.seq[a]!;
    this.seq[a] = this.seq[b]!;
    this.seq[b] = s;
    this.pos.set(this.keys[a]!, a);
    this.pos.set(this.keys[b]!, b);
  }

  private up(i: number): void {
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!this.less(i, p)) break;
      this.swap(i, p);
      i = p;
    }
  }

  private down(i: number): void {
    const n = this.keys.length;
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let m = i;
      if (l < n && this.less(l, m)) m = l;
      if (r < n && this.less(r, m)) m = r;
      if (m === i) break;
      this.swap(i, m);
      i = m;
    }
  }
}
