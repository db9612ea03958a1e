/** Progress with an ETA for long-running generators and benchmarks (stderr, so stdout stays data). */
export class Progress {
  private readonly started = Date.now();
  private lastPrint = 0;

  constructor(
    private readonly label: string,
    private readonly total: number,
  ) {}

  tick(done: number): void {
    const now = Date.now();
    if (now - this.lastPrint < 1000 && done < this.total) return;
    this.lastPrint = now;
    const elapsed = (now - this.started) / 1000;
    const rate = done / Math.max(elapsed, 0.001);
    const eta = rate > 0 ? (this.total - done) / rate : Infinity;
    const pct = ((100 * done) / this.total).toFixed(1);
    process.stderr.write(
      `\r${this.label}: ${done}/${this.total} (${pct}%) ${rate.toFixed(0)}/s ETA ${Number.isFinite(eta) ? eta.toFixed(0) + 's' : '?'}   `,
    );
    if (done >= this.total) process.stderr.write('\n');
  }
}
