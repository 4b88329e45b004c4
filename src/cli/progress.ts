/** A terminal progress bar with rate and ETA; draws at most 10 times a second, only on a TTY. */
export interface Progress {
  /** add `n` units of work done */
  tick(n: number): void;
  /** set the absolute amount of work done */
  set(done: number): void;
  setTotal(total: number): void;
  done(): void;
}

type Tty = NodeJS.WritableStream & { columns?: number };

export class ProgressBar implements Progress {
  private doneUnits = 0;
  private readonly start = Date.now();
  private last = 0;
  constructor(
    private readonly label: string,
    private total: number,
    private readonly unit: 'bytes' | 'items',
    private readonly tty: Tty | null,
  ) {}
  tick(n: number): void {
    this.set(this.doneUnits + n);
  }
  set(done: number): void {
    this.doneUnits = done;
    if (!this.tty) return;
    const now = Date.now();
    if (now - this.last < 100 && done < this.total) return;
    this.last = now;
    this.draw();
  }
  setTotal(total: number): void {
    this.total = total;
  }
  done(): void {
    if (!this.tty) return;
    this.draw();
    this.tty.write('\n');
  }
  private draw(): void {
    const tty = this.tty!;
    const secs = Math.max((Date.now() - this.start) / 1000, 1e-3);
    const rate = this.doneUnits / secs;
    const frac = this.total > 0 ? Math.min(1, this.doneUnits / this.total) : 0;
    const eta = rate > 0 && this.total > this.doneUnits ? (this.total - this.doneUnits) / rate : 0;
    const fmt = (n: number) => (this.unit === 'bytes' ? `${(n / 1e6).toFixed(1)} MB` : `${Math.round(n)}`);
    const rateS = this.unit === 'bytes' ? `${(rate / 1e6).toFixed(1)} MB/s` : `${rate.toFixed(1)}/s`;
    const tail = ` ${(frac * 100).toFixed(0).padStart(3)}% ${fmt(this.doneUnits)}/${fmt(this.total)} ${rateS} ETA ${Math.ceil(eta)}s`;
    const width = Math.max(10, Math.min(40, (tty.columns ?? 80) - this.label.length - tail.length - 4));
    const filled = Math.round(frac * width);
    tty.write(`\r${this.label} [${'#'.repeat(filled)}${'.'.repeat(width - filled)}]${tail}`);
  }
}

export const noProgress: Progress = { tick() {}, set() {}, setTotal() {}, done() {} };
