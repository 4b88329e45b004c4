/**
 * Main-thread handle of an unpack sink (sink.ts): starts the sink worker, connects it to every chunk
 * worker of a pool, and tells the caller when each chunk has been hashed and written and, at the end,
 * the sha256 and size of everything written. Knows nothing of the container.
 */
import { Worker } from 'node:worker_threads';
import { McdnError, type ErrorCategory } from '../../errors.ts';
import { chunkWorkerEntry } from './entry.ts';
import type { ChunkPool } from './pool.ts';
import type { SinkOut } from './sink.ts';

let nextKey = 1;

export class UnpackSink {
  readonly key = nextKey++;
  private readonly worker: Worker;
  /** chunks below this index are written (the sink reports them in file order) */
  private doneBelow = 0;
  private readonly waiters = new Map<number, { resolve: () => void; reject: (e: unknown) => void }>();
  private failure: unknown;
  private result: { resolve: (r: { sha256: string; size: number }) => void; reject: (e: unknown) => void } | undefined;
  private aborted: (() => void) | undefined;
  private ended = false;

  /** `refs[i]` is the chunk that chunk i repeats, or -1. */
  constructor(
    private readonly pool: ChunkPool,
    path: string,
    direct: boolean,
    refs: Int32Array,
  ) {
    this.worker = new Worker(chunkWorkerEntry(), { execArgv: [], workerData: { role: 'sink' } });
    const ports = pool.attachSink(this.key);
    this.worker.postMessage({ op: 'start', path, direct, refs, ports }, [...ports]);
    this.worker.on('message', (m: SinkOut) => {
      if (m.op === 'done') {
        this.doneBelow = m.index + 1;
        this.waiters.get(m.index)?.resolve();
        this.waiters.delete(m.index);
      } else if (m.op === 'result') this.result?.resolve({ sha256: m.sha256, size: m.size });
      else if (m.op === 'error') this.fail(new McdnError(m.error.code, m.error.category as ErrorCategory, m.error.message));
      else this.aborted?.();
    });
    this.worker.on('error', (e) => this.fail(new McdnError('WORKER_FAILED', 'internal', `unpack sink failed: ${e.message}`, { cause: e })));
    this.worker.on('exit', (code) => {
      if (!this.ended) this.fail(new McdnError('WORKER_FAILED', 'internal', `unpack sink exited with code ${code}`));
      this.aborted?.();
    });
  }

  /** Resolves once chunk `i` has been hashed and written (or copied on its way to disk). */
  written(i: number): Promise<void> {
    if (i < this.doneBelow) return Promise.resolve();
    if (this.failure) return Promise.reject(this.failure);
    return new Promise<void>((resolve, reject) => this.waiters.set(i, { resolve, reject }));
  }

  private fail(e: unknown): void {
    if (this.failure) return;
    this.failure = e;
    for (const w of this.waiters.values()) w.reject(e);
    this.waiters.clear();
    this.result?.reject(e);
  }

  /** After the last job: everything written, the file closed; its sha256 and size. */
  finish(): Promise<{ sha256: string; size: number }> {
    if (this.failure) return Promise.reject(this.failure);
    const p = new Promise<{ sha256: string; size: number }>((resolve, reject) => (this.result = { resolve, reject }));
    this.worker.postMessage({ op: 'finish' });
    return p.finally(() => this.stop());
  }

  /** Stop without finishing: the sink closes the file (the caller removes it). */
  async abort(): Promise<void> {
    if (this.ended) return;
    const gone = new Promise<void>((resolve) => (this.aborted = resolve));
    this.worker.postMessage({ op: 'abort' });
    await Promise.race([gone, new Promise((r) => setTimeout(r, 5000).unref())]);
    await this.stop();
  }

  private async stop(): Promise<void> {
    if (this.ended) return;
    this.ended = true;
    this.pool.detachSink(this.key);
    await this.worker.terminate();
  }
}
