/**
 * sha256 of a large byte stream on a worker thread, so verification runs beside the network, disk
 * and decode work of the calling thread instead of after it (client downloads, .mcz decoding).
 * Bytes are copied into 4 MiB batches whose memory is transferred (not copied again) to the worker,
 * which hands each batch back once hashed, so a long stream reuses a few buffers instead of
 * allocating (and page-faulting) fresh ones. `digest()` resolves with the hex digest. For small
 * inputs the worker's start-up costs more than it saves: `createBlobHasher` picks inline hashing
 * below WORKER_HASH_MIN_BYTES. Pure computation; no files, no network.
 */
import { createHash } from 'node:crypto';
import { Worker } from 'node:worker_threads';

/** Blobs at least this large are hashed on a worker thread. */
export const WORKER_HASH_MIN_BYTES = 64 << 20;
/** Bytes per message to the worker. */
export const HASH_BATCH_BYTES = 4 << 20;

export interface BlobHasher {
  update(chunk: Uint8Array): void;
  /**
   * Hash `chunk` by handing its memory to the hasher instead of copying it: `chunk` must be the only
   * view of its ArrayBuffer in use (it is detached here). `giveBack` receives the memory once hashed.
   */
  adopt(chunk: Uint8Array, giveBack: (memory: ArrayBuffer) => void): void;
  /**
   * Hash `view`, a view of a SharedArrayBuffer, where it lies (no copy, no transfer): the caller must
   * not change those bytes until `done` is called.
   */
  updateShared(view: Uint8Array, done: () => void): void;
  digest(): Promise<string>;
  /** stop the worker without a result (errors, cancellation) */
  dispose(): void;
}

const WORKER_SOURCE = `
const { parentPort } = require('node:worker_threads');
const h = require('node:crypto').createHash('sha256');
let shared;
parentPort.on('message', (m) => {
  if (m === null) return parentPort.postMessage(h.digest('hex'));
  if (m.sab) shared = m.sab;
  if (m.buf === undefined) {
    h.update(new Uint8Array(shared, m.off, m.len));
    return parentPort.postMessage({ done: m.id });
  }
  h.update(new Uint8Array(m.buf, m.off || 0, m.len));
  parentPort.postMessage(m.id !== undefined ? { done: m.id, buf: m.buf } : m.buf, [m.buf]);
});
`;

class InlineHasher implements BlobHasher {
  private readonly h = createHash('sha256');
  update(chunk: Uint8Array): void {
    this.h.update(chunk);
  }
  adopt(chunk: Uint8Array, giveBack: (memory: ArrayBuffer) => void): void {
    this.h.update(chunk);
    giveBack(chunk.buffer as ArrayBuffer);
  }
  updateShared(view: Uint8Array, done: () => void): void {
    this.h.update(view);
    done();
  }
  async digest(): Promise<string> {
    return this.h.digest('hex');
  }
  dispose(): void {}
}

/** Batches kept for reuse once the worker hands them back. */
const SPARE_BATCHES = 8;

class WorkerHasher implements BlobHasher {
  private readonly worker = new Worker(WORKER_SOURCE, { eval: true });
  private readonly spare: ArrayBuffer[] = [];
  private batch = new Uint8Array(HASH_BATCH_BYTES);
  private fill = 0;
  /** what to do when the worker is through with an adopted buffer or a shared range, by message id */
  private readonly whenDone = new Map<number, (buf?: ArrayBuffer) => void>();
  private nextId = 0;
  private failed: Error | undefined;
  private sentSab: SharedArrayBuffer | undefined;
  private digesting = false;

  constructor() {
    this.worker.on('error', (e) => (this.failed = e));
    this.worker.on('message', (m: unknown) => {
      if (m instanceof ArrayBuffer) {
        if (this.spare.length < SPARE_BATCHES) this.spare.push(m);
      } else if (m && typeof m === 'object' && 'done' in m) {
        const { done: id, buf } = m as { done: number; buf?: ArrayBuffer };
        const then = this.whenDone.get(id);
        this.whenDone.delete(id);
        if (this.whenDone.size === 0 && !this.digesting) this.worker.unref();
        then?.(buf);
      }
    });
    this.worker.unref();
  }

  update(chunk: Uint8Array): void {
    let off = 0;
    while (off < chunk.length) {
      const n = Math.min(HASH_BATCH_BYTES - this.fill, chunk.length - off);
      this.batch.set(chunk.subarray(off, off + n), this.fill);
      this.fill += n;
      off += n;
      if (this.fill === HASH_BATCH_BYTES) this.send();
    }
  }

  adopt(chunk: Uint8Array, giveBack: (memory: ArrayBuffer) => void): void {
    this.send(); // bytes batched so far go first: the worker hashes messages in order
    const id = this.expectDone();
    this.whenDone.set(id, (buf) => giveBack(buf!));
    const buf = chunk.buffer as ArrayBuffer;
    this.worker.postMessage({ buf, off: chunk.byteOffset, len: chunk.byteLength, id }, [buf]);
  }

  updateShared(view: Uint8Array, done: () => void): void {
    this.send(); // bytes batched so far go first
    const id = this.expectDone();
    this.whenDone.set(id, () => done());
    const sab = view.buffer as SharedArrayBuffer;
    // the memory itself is posted once; later messages name a range of it
    const first = this.sentSab !== sab;
    this.sentSab = sab;
    this.worker.postMessage({ id, off: view.byteOffset, len: view.byteLength, ...(first ? { sab } : {}) });
  }

  /**
   * A message id whose answer a caller waits for (memory handed back): the worker keeps the process
   * alive until every such answer arrived. Unref'd while idle, it would let a process whose only
   * pending work is that answer (a download waiting for a ring block the hasher still holds) exit
   * with the wait unsettled.
   */
  private expectDone(): number {
    if (this.whenDone.size === 0) this.worker.ref();
    return this.nextId++;
  }

  private send(): void {
    if (this.fill === 0) return;
    const ab = this.batch.buffer as ArrayBuffer;
    this.worker.postMessage({ buf: ab, len: this.fill }, [ab]);
    const reused = this.spare.pop();
    this.batch = reused ? new Uint8Array(reused) : new Uint8Array(HASH_BATCH_BYTES);
    this.fill = 0;
  }

  digest(): Promise<string> {
    this.send();
    return new Promise<string>((resolve, reject) => {
      if (this.failed) return reject(this.failed);
      const onMessage = (m: unknown) => {
        if (typeof m !== 'string') return; // a batch handed back
        this.worker.off('message', onMessage);
        resolve(m);
        void this.worker.terminate();
      };
      this.worker.on('message', onMessage);
      this.digesting = true;
      this.worker.ref(); // keep the process alive until the digest arrives
      this.worker.once('error', reject);
      this.worker.postMessage(null);
    });
  }

  dispose(): void {
    void this.worker.terminate();
  }
}

export function createBlobHasher(size: number): BlobHasher {
  return size >= WORKER_HASH_MIN_BYTES ? new WorkerHasher() : new InlineHasher();
}
