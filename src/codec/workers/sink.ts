/**
 * The unpack sink: a worker thread that takes decoded chunks straight from the chunk workers (over
 * one MessagePort per chunk worker), puts them in file order, hashes them with sha256 and writes them
 * to the output file (util/direct-io FileWriter: O_DIRECT where the file system takes it), then gives
 * each chunk's memory back to the chunk worker that made it. The main thread only sends decode jobs
 * and hears which chunks are done, so a gigabyte of decoded data never enters its heap: there it cost
 * a copy into hash batches and about one full garbage collection per 64 MB of buffers it received.
 *
 * Protocol (main → sink): `start` {path, direct, refs, ports} once; `finish` after the last job;
 * `abort`. Sink → main: `done` {index} per chunk written, `result` {sha256, size} after `finish`,
 * `error` {code, category, message}, `aborted`. Chunk worker → sink: {index, raw}; sink → chunk
 * worker: {donate: [ArrayBuffer]}. REF chunks (refs[i] ≥ 0) are not sent by anyone: the sink repeats
 * the chunk it kept, which it gives back after its last use.
 */
import { createHash } from 'node:crypto';
import type { MessagePort } from 'node:worker_threads';
import { McdnError, fromSystemError } from '../../errors.ts';
import { FileWriter } from '../../util/direct-io.ts';

export interface SinkStart {
  op: 'start';
  path: string;
  direct: boolean;
  /** per chunk: the index of the chunk it repeats, or -1 */
  refs: Int32Array;
  ports: MessagePort[];
}
export type SinkIn = SinkStart | { op: 'finish' } | { op: 'abort' };
export type SinkOut =
  | { op: 'done'; index: number }
  | { op: 'result'; sha256: string; size: number }
  | { op: 'error'; error: { code: string; category: string; message: string } }
  | { op: 'aborted' };

/**
 * Page-cache writes that may be in flight before the sink waits. A direct writer that returns a
 * promise still holds the rest of that chunk, so the sink waits for it before the next write.
 */
const MAX_PENDING_WRITES = 4;

interface Held {
  raw: Uint8Array;
  port: MessagePort;
}

/** One file's sink; `post` reaches the main thread. Runs inside the sink worker (and in tests). */
export class SinkSession {
  private writer: FileWriter | undefined;
  private readonly hash = createHash('sha256');
  private size = 0;
  private next = 0;
  private readonly arrived = new Map<number, Held>();
  /** decoded chunks a later REF chunk repeats, until their last use */
  private readonly kept = new Map<number, Held>();
  private readonly lastUse = new Map<number, number>();
  private pending = 0;
  private pumping = false;
  private finishing = false;
  private closing = false;
  private failed = false;
  private readonly refs: Int32Array;

  constructor(
    private readonly start: SinkStart,
    private readonly post: (m: SinkOut) => void,
  ) {
    this.refs = start.refs;
    this.refs.forEach((r, i) => r >= 0 && this.lastUse.set(r, i));
    for (const port of start.ports) {
      port.on('message', (m: { index: number; raw: Uint8Array }) => {
        this.arrived.set(m.index, { raw: m.raw, port });
        this.pump();
      });
    }
  }

  async open(): Promise<void> {
    try {
      this.writer = await FileWriter.create(this.start.path, this.start.direct);
    } catch (e) {
      this.fail(e);
    }
    this.pump();
  }

  private fail(e: unknown): void {
    if (this.failed) return;
    this.failed = true;
    const err = e instanceof McdnError ? e : fromSystemError(e, this.start.path);
    this.post({ op: 'error', error: { code: err.code, category: err.category, message: err.message } });
  }

  private give(h: Held): void {
    const ab = h.raw.buffer as ArrayBuffer;
    if (h.raw.byteOffset === 0 && h.raw.byteLength === ab.byteLength) h.port.postMessage({ donate: [ab] }, [ab]);
  }

  /** Hash and write every chunk that is next in file order, as far as memory and the disk allow. */
  private pump(): void {
    if (this.pumping || this.failed || !this.writer) return;
    this.pumping = true;
    try {
      const maxPending = this.writer.direct ? 1 : MAX_PENDING_WRITES;
      while (this.next < this.refs.length && this.pending < maxPending) {
        const i = this.next;
        const target = this.refs[i]!;
        let h: Held | undefined;
        let giveBack = true;
        if (target >= 0) {
          h = this.kept.get(target);
          if (!h) throw new McdnError('MCZ_BAD_REF', 'input', `chunk ${i} repeats chunk ${target}, which was not decoded`);
          if (this.lastUse.get(target) === i) this.kept.delete(target);
          else giveBack = false;
        } else {
          h = this.arrived.get(i);
          if (!h) break;
          this.arrived.delete(i);
          if (this.lastUse.has(i)) {
            this.kept.set(i, h);
            giveBack = false;
          }
        }
        this.next++;
        this.hash.update(h.raw);
        this.size += h.raw.byteLength;
        const w = this.writer.write(h.raw);
        const held = h;
        const done = () => {
          if (giveBack) this.give(held);
          this.post({ op: 'done', index: i });
        };
        if (!w) done();
        else {
          this.pending++;
          w.then(
            () => {
              this.pending--;
              done();
              this.pump();
            },
            (e) => this.fail(e),
          );
        }
      }
    } catch (e) {
      this.fail(e);
    } finally {
      this.pumping = false;
    }
    if (this.finishing && this.next === this.refs.length && this.pending === 0) void this.close();
  }

  finish(): void {
    this.finishing = true;
    this.pump();
  }

  private async close(): Promise<void> {
    if (this.closing || this.failed) return;
    this.closing = true;
    try {
      await this.writer!.close();
      this.post({ op: 'result', sha256: this.hash.digest('hex'), size: this.size });
    } catch (e) {
      this.fail(e);
    }
    this.dropPorts();
  }

  async abort(): Promise<void> {
    this.failed = true;
    this.arrived.clear();
    this.kept.clear();
    await this.writer?.abort();
    this.dropPorts();
    this.post({ op: 'aborted' });
  }

  private dropPorts(): void {
    for (const p of this.start.ports) p.close();
  }
}

/** The sink worker's message loop (one session at a time). */
export function runSinkWorker(port: MessagePort): void {
  let session: SinkSession | undefined;
  port.on('message', (m: SinkIn) => {
    if (m.op === 'start') {
      session = new SinkSession(m, (out) => port.postMessage(out));
      void session.open();
    } else if (m.op === 'finish') session?.finish();
    else void (session ? session.abort() : Promise.resolve(port.postMessage({ op: 'aborted' })));
  });
}
