/**
 * One in-flight cache fill: the upstream bytes of a blob being written to a temp file, with a
 * growing count of bytes already written (`written`) and waiters that wake up when it grows, when
 * the fill is verified (`complete`) or when it fails. Readers read the partial temp file through
 * their own file descriptor, so any number of requests (ranges included) share one upstream fetch.
 * This module only tracks state; it does no network I/O and does not touch the cache index.
 */
import type { McdnError } from '../../errors.ts';

export type FillState = 'filling' | 'complete' | 'failed';

export class Fill {
  readonly hash: string;
  readonly size: number;
  readonly tmpPath: string;
  /** bytes [0, written) of the temp file are on disk (not yet verified) */
  written = 0;
  state: FillState = 'filling';
  error: McdnError | undefined;
  /** path of the verified blob once complete (the temp file was renamed there) */
  finalPath: string | undefined;
  private waiters: (() => void)[] = [];
  /** resolves once the fill is verified and complete, rejects when it fails */
  readonly done: Promise<void>;
  private resolveDone!: () => void;
  private rejectDone!: (e: McdnError) => void;
  /** number of readers attached (for tests and metrics) */
  readers = 0;

  constructor(hash: string, size: number, tmpPath: string) {
    this.hash = hash;
    this.size = size;
    this.tmpPath = tmpPath;
    this.done = new Promise<void>((res, rej) => {
      this.resolveDone = res;
      this.rejectDone = rej;
    });
    // a failed fill with no reader must not be an unhandled rejection
    this.done.catch(() => {});
  }

  /** the writer appended bytes */
  advance(n: number): void {
    this.written += n;
    this.wake();
  }

  complete(finalPath: string): void {
    if (this.state !== 'filling') return;
    this.state = 'complete';
    this.finalPath = finalPath;
    this.resolveDone();
    this.wake();
  }

  fail(e: McdnError): void {
    if (this.state !== 'filling') return;
    this.state = 'failed';
    this.error = e;
    this.rejectDone(e);
    this.wake();
  }

  /** Resolves when more than `pos` bytes are written, or the fill finished or failed. */
  waitBeyond(pos: number): Promise<void> {
    if (this.written > pos || this.state !== 'filling') return Promise.resolve();
    return new Promise<void>((res) => this.waiters.push(res));
  }

  private wake(): void {
    if (this.waiters.length === 0) return;
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }
}
