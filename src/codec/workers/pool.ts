/**
 * A small pool of worker threads (one per core, at most MAX_POOL_WORKERS) that runs chunk
 * encode/decode jobs so pack and unpack use every core. Idle workers are unref'd, so a shared pool
 * never keeps the process alive. Knows nothing of files or the container.
 */
import { MessageChannel, Worker, type MessagePort } from 'node:worker_threads';
import { availableParallelism } from 'node:os';
import { McdnError, type ErrorCategory } from '../../errors.ts';
import type { DecodeJob, EncodeJob, EncodeResult, Job } from '../jobs.ts';
import { chunkWorkerEntry } from './entry.ts';

export const MAX_POOL_WORKERS = 8;
/** Files at least this large are coded on worker threads (smaller ones are not worth the spawn). */
export const POOL_MIN_BYTES = 16 * 1024 * 1024;

interface Slot {
  worker: Worker;
  busy: number;
}
interface Pending {
  resolve: (v: unknown) => void;
  reject: (e: unknown) => void;
  slot: Slot;
  /** resolve with { raw, payload } (decodeRecycling) */
  withPayload?: boolean;
}

export class ChunkPool {
  private readonly slots: Slot[] = [];
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  private closed = false;

  constructor(readonly size = Math.max(1, Math.min(availableParallelism(), MAX_POOL_WORKERS))) {}

  encode(job: EncodeJob): Promise<EncodeResult> {
    return this.run(job, [job.raw.buffer as ArrayBuffer]) as Promise<EncodeResult>;
  }

  decode(job: DecodeJob): Promise<Uint8Array> {
    return this.run(job, [job.payload.buffer as ArrayBuffer]) as Promise<Uint8Array>;
  }

  /**
   * Decode, giving the worker `donate` (buffers of earlier results that nothing uses any more) to
   * decode into, and resolving with the payload's memory as well when the worker hands it back.
   */
  decodeRecycling(job: DecodeJob, donate: ArrayBuffer[]): Promise<{ raw: Uint8Array; payload?: ArrayBuffer }> {
    return this.run(job, [job.payload.buffer as ArrayBuffer, ...donate], donate, true) as Promise<{ raw: Uint8Array; payload?: ArrayBuffer }>;
  }

  /**
   * Connect every worker to a consumer thread (an unpack sink, sink.ts) under `key`: returns the
   * consumer's ends, one MessagePort per worker, for the caller to hand to that thread. Results of
   * `decodeTo(job, key)` then travel over them and never through this thread.
   */
  attachSink(key: number): MessagePort[] {
    while (this.slots.length < this.size) this.spawn();
    return this.slots.map((s) => {
      const ch = new MessageChannel();
      s.worker.postMessage({ attach: key, port: ch.port1 }, [ch.port1]);
      return ch.port2;
    });
  }

  detachSink(key: number): void {
    for (const s of this.slots) s.worker.postMessage({ detach: key });
  }

  /**
   * Decode and post the chunk to the sink attached under `key`; resolves when it is on its way,
   * with the payload's memory when the worker hands it back.
   */
  decodeTo(job: DecodeJob, key: number): Promise<{ payload?: ArrayBuffer }> {
    return this.run(job, [job.payload.buffer as ArrayBuffer], undefined, true, key) as Promise<{ payload?: ArrayBuffer }>;
  }

  /** Run a job; its buffers are transferred to the worker (callers must not reuse them). */
  private run(job: Job, transfer: ArrayBuffer[], donate?: ArrayBuffer[], withPayload = false, sink?: number): Promise<unknown> {
    if (this.closed) return Promise.reject(new McdnError('POOL_CLOSED', 'internal', 'chunk worker pool is closed'));
    const slot = this.pick();
    const id = this.nextId++;
    slot.busy++;
    if (slot.busy === 1) slot.worker.ref();
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject, slot, withPayload });
      const msg: Record<string, unknown> = { id, job };
      if (donate?.length) msg['donate'] = donate;
      if (sink !== undefined) msg['sink'] = sink;
      slot.worker.postMessage(msg, transfer);
    });
  }

  private pick(): Slot {
    if (this.slots.length < this.size) {
      const least = this.slots.find((s) => s.busy === 0);
      if (least) return least;
      return this.spawn();
    }
    return this.slots.reduce((a, b) => (b.busy < a.busy ? b : a));
  }

  private spawn(): Slot {
    const worker = new Worker(chunkWorkerEntry(), { execArgv: [] });
    const slot: Slot = { worker, busy: 0 };
    worker.on('message', (m: { id: number; ok: boolean; result?: unknown; payload?: ArrayBuffer; error?: { code: string; category: ErrorCategory; message: string; details: Record<string, unknown> } }) => {
      const p = this.pending.get(m.id);
      if (!p) return;
      this.pending.delete(m.id);
      if (--slot.busy === 0) worker.unref();
      if (m.ok) p.resolve(p.withPayload ? { raw: m.result, ...(m.payload ? { payload: m.payload } : {}) } : m.result);
      else p.reject(new McdnError(m.error!.code, m.error!.category, m.error!.message, { details: m.error!.details }));
    });
    worker.on('error', (e) => this.failSlot(slot, e));
    worker.on('exit', (code) => {
      if (!this.closed) this.failSlot(slot, new Error(`chunk worker exited with code ${code}`));
    });
    worker.unref();
    this.slots.push(slot);
    return slot;
  }

  private failSlot(slot: Slot, e: unknown): void {
    const i = this.slots.indexOf(slot);
    if (i >= 0) this.slots.splice(i, 1);
    for (const [id, p] of this.pending) {
      if (p.slot !== slot) continue;
      this.pending.delete(id);
      p.reject(new McdnError('WORKER_FAILED', 'internal', `chunk worker failed: ${(e as Error)?.message ?? e}`, { cause: e }));
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    await Promise.all(this.slots.map((s) => s.worker.terminate()));
    this.slots.length = 0;
  }
}

let shared: ChunkPool | undefined;

/** The process-wide pool (created on first use). */
export function sharedPool(): ChunkPool {
  shared ??= new ChunkPool();
  return shared;
}
