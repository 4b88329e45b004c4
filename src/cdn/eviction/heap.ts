/**
 * Indexed binary min-heap of string keys with numeric priorities, the data structure behind the
 * priority-based eviction policies (GDSF, LFUDA, Belady). Insert, update, remove and peek are
 * O(log n) / O(1); ties break by insertion sequence (older first), so results are deterministic.
 * `firstWhere` walks keys in priority order without mutating the heap (best-first over the heap
 * tree), which is how a policy skips pinned keys. Pure data structure: no I/O, no policy logic.
 */
export interface HeapNode<T> {
  readonly key: string;
  priority: number;
  seq: number;
  index: number;
  /** caller's payload (e.g. frequency and size), kept with the node to save lookups */
  data: T;
}

export class IndexedHeap<T = undefined> {
  private nodes: HeapNode<T>[] = [];
  private readonly byKey = new Map<string, HeapNode<T>>();
  private counter = 0;

  get size(): number {
    return this.nodes.length;
  }

  has(key: string): boolean {
    return this.byKey.has(key);
  }

  node(key: string): HeapNode<T> | undefined {
    return this.byKey.get(key);
  }

  priorityOf(key: string): number | undefined {
    return this.byKey.get(key)?.priority;
  }

  /** insert a new key or change an existing key's priority (its tie-break sequence is refreshed) */
  set(key: string, priority: number, data?: T): HeapNode<T> {
    const n = this.byKey.get(key);
    if (n === undefined) {
      const node: HeapNode<T> = { key, priority, seq: this.counter++, index: this.nodes.length, data: data as T };
      this.nodes.push(node);
      this.byKey.set(key, node);
      this.up(node.index);
      return node;
    }
    if (data !== undefined) n.data = data;
    this.update(n, priority);
    return n;
  }

  /** change the priority of a node obtained from `node()` / `set()` */
  update(n: HeapNode<T>, priority: number): void {
    const old = n.priority;
    n.priority = priority;
    n.seq = this.counter++;
    if (priority < old) this.up(n.index);
    else this.down(n.index);
  }

  delete(key: string): boolean {
    const n = this.byKey.get(key);
    if (n === undefined) return false;
    this.byKey.delete(key);
    const i = n.index;
    const last = this.nodes.pop()!;
    if (last !== n) {
      this.nodes[i] = last;
      last.index = i;
      this.up(i);
      this.down(last.index);
    }
    return true;
  }

  peek(): string | undefined {
    return this.nodes[0]?.key;
  }

  peekPriority(): number | undefined {
    return this.nodes[0]?.priority;
  }

  clear(): void {
    this.nodes = [];
    this.byKey.clear();
  }

  /**
   * The lowest-priority key for which `skip` is false, or undefined. Visits keys in priority order
   * (best-first search over the heap tree with a small auxiliary heap), costing O(k log k) where k
   * is the number of skipped keys; the heap itself is not modified.
   */
  firstWhere(skip: (key: string) => boolean): string | undefined {
    const nodes = this.nodes;
    const n = nodes.length;
    if (n === 0) return undefined;
    if (!skip(nodes[0]!.key)) return nodes[0]!.key;
    const frontier: number[] = [];
    const less = (a: number, b: number) => this.less(nodes[a]!, nodes[b]!);
    const push = (i: number) => {
      if (i >= n) return;
      frontier.push(i);
      let c = frontier.length - 1;
      while (c > 0) {
        const p = (c - 1) >> 1;
        if (!less(frontier[c]!, frontier[p]!)) break;
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
          if (l < frontier.length && less(frontier[l]!, frontier[m]!)) m = l;
          if (r < frontier.length && less(frontier[r]!, frontier[m]!)) m = r;
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
      if (!skip(nodes[i]!.key)) return nodes[i]!.key;
      push(2 * i + 1);
      push(2 * i + 2);
    }
    return undefined;
  }

  /** keys in priority order (O(n log n); for tests and debugging) */
  ordered(): string[] {
    return [...this.nodes].sort((a, b) => (this.less(a, b) ? -1 : this.less(b, a) ? 1 : 0)).map((n) => n.key);
  }

  private less(a: HeapNode<T>, b: HeapNode<T>): boolean {
    return a.priority < b.priority || (a.priority === b.priority && a.seq < b.seq);
  }

  private up(i: number): void {
    const nodes = this.nodes;
    const x = nodes[i]!;
    while (i > 0) {
      const p = (i - 1) >> 1;
      const y = nodes[p]!;
      if (!this.less(x, y)) break;
      nodes[i] = y;
      y.index = i;
      i = p;
    }
    nodes[i] = x;
    x.index = i;
  }

  private down(i: number): void {
    const nodes = this.nodes;
    const n = nodes.length;
    const x = nodes[i]!;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= n) break;
      const r = l + 1;
      let c = l;
      if (r < n && this.less(nodes[r]!, nodes[l]!)) c = r;
      const y = nodes[c]!;
      if (!this.less(y, x)) break;
      nodes[i] = y;
      y.index = i;
      i = c;
    }
    nodes[i] = x;
    x.index = i;
  }
}
