/**
 * sha256 of a large download on a worker thread, so verification runs beside the network and disk
 * work of the main thread instead of after it. Bytes are copied into 4 MiB batches whose memory is
 * transferred (not copied again) to the worker; `digest()` resolves with the hex digest. For small
 * blobs the worker's start-up costs more than it saves: `createBlobHasher` picks inline hashing below
 * WORKER_HASH_MIN_BYTES. Pure computation; no files, no network.
 */
import { createHash } from 'node:crypto';
import { Worker } from 'node:worker_threads';

/** Blobs at least this large are hashed on a worker thread. */
export const WORKER_HASH_MIN_BYTES = 64 << 20;
/** Bytes per message to the worker. */
export const HASH_BATCH_BYTES = 4 << 20;

export interface BlobHasher {
  update(chunk: Uint8Array): void;
  digest(): Promise<string>;
  /** stop the worker without a result (errors, cancellation) */
  dispose(): void;
}

const WORKER_SOURCE = `
const { parentPort } = require('node:worker_threads');
const h = require('node:crypto').createHash('sha256');
parentPort.on('message', (m) => {
  if (m === null) parentPort.postMessage(h.digest('hex'));
  else h.update(new Uint8Array(m.buf, 0, m.len));
});
`;

class InlineHasher implements BlobHasher {
  private readonly h = createHash('sha256');
  update(chunk: Uint8Array): void {
    this.h.update(chunk);
  }
  async digest(): Promise<string> {
    return this.h.digest('hex');
  }
  dispose(): void {}
}

class WorkerHasher implements BlobHasher {
  private readonly worker = new Worker(WORKER_SOURCE, { eval: true });
  private batch = Buffer.allocUnsafeSlow(HASH_BATCH_BYTES);
  private fill = 0;
  private failed: Error | undefined;

  constructor() {
    this.worker.on('error', (e) => (this.failed = e));
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

  private send(): void {
    if (this.fill === 0) return;
    const ab = this.batch.buffer as ArrayBuffer;
    this.worker.postMessage({ buf: ab, len: this.fill }, [ab]);
    this.batch = Buffer.allocUnsafeSlow(HASH_BATCH_BYTES);
    this.fill = 0;
  }

  digest(): Promise<string> {
    this.send();
    return new Promise<string>((resolve, reject) => {
      if (this.failed) return reject(this.failed);
      this.worker.once('message', (hex: string) => {
        resolve(hex);
        void this.worker.terminate();
      });
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
