/**
 * A keyed doubly-linked list: O(1) push to the tail, removal of any key, move to the tail and
 * access to the head, with a Map from key to node. The queues of LRU and S3-FIFO use it (a JS Map
 * used as a queue degrades as deleted entries pile up at its front). Pure data structure.
 */
export interface DNode<T> {
  key: string;
  value: T;
  prev: DNode<T> | null;
  next: DNode<T> | null;
}

export class KeyedList<T> {
  private head: DNode<T> | null = null;
  private tail: DNode<T> | null = null;
  private readonly nodes = new Map<string, DNode<T>>();

  get size(): number {
    return this.nodes.size;
  }

  has(key: string): boolean {
    return this.nodes.has(key);
  }

  get(key: string): T | undefined {
    return this.nodes.get(key)?.value;
  }

  /** the oldest node (next out of a FIFO / least recent of an LRU) */
  first(): DNode<T> | null {
    return this.head;
  }

  /** append at the tail (replacing an existing entry for the key) */
  push(key: string, value: T): void {
    const old = this.nodes.get(key);
    if (old) this.unlink(old);
    const n: DNode<T> = { key, value, prev: this.tail, next: null };
    if (this.tail) this.tail.next = n;
    else this.head = n;
    this.tail = n;
    this.nodes.set(key, n);
  }

  /** move an existing key to the tail; false if absent */
  touch(key: string): boolean {
    const n = this.nodes.get(key);
    if (!n) return false;
    if (n === this.tail) return true;
    this.detach(n);
    n.prev = this.tail;
    n.next = null;
    if (this.tail) this.tail.next = n;
    else this.head = n;
    this.tail = n;
    return true;
  }

  delete(key: string): T | undefined {
    const n = this.nodes.get(key);
    if (!n) return undefined;
    this.unlink(n);
    return n.value;
  }

  /** remove and return the oldest entry */
  shift(): DNode<T> | null {
    const n = this.head;
    if (n) this.unlink(n);
    return n;
  }

  *keys(): IterableIterator<string> {
    for (let n = this.head; n; n = n.next) yield n.key;
  }

  private detach(n: DNode<T>): void {
    if (n.prev) n.prev.next = n.next;
    else this.head = n.next;
    if (n.next) n.next.prev = n.prev;
    else this.tail = n.prev;
  }

  private unlink(n: DNode<T>): void {
    this.detach(n);
    n.prev = n.next = null;
    this.nodes.delete(n.key);
  }
}
