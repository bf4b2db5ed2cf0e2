import { SingleBar, Presets } from "cli-progress";
import type { Logger } from "pino";

export interface ProgressReporter {
  update(p: { indexed: bigint; head: bigint; start: bigint; events: number }): void;
  stop(): void;
}

/**
 * Backfill progress: a bar (blocks, events/s, ETA) on a terminal, otherwise a plain log line at
 * most every `intervalMs` so logs stay readable in containers.
 */
export function createProgress(logger: Logger, opts: { tty: boolean; intervalMs?: number }): ProgressReporter {
  const startedAt = Date.now();
  let events = 0;
  if (opts.tty) {
    const bar = new SingleBar(
      { format: "backfill [{bar}] {percentage}% | {value}/{total} blocks | {eps} events/s | ETA {eta_formatted}", hideCursor: true },
      Presets.shades_classic,
    );
    let started = false;
    return {
      update(p) {
        events += p.events;
        const total = Number(p.head - p.start + 1n);
        const value = Number(p.indexed - p.start + 1n);
        const eps = Math.round(events / Math.max(0.001, (Date.now() - startedAt) / 1000));
        if (!started) {
          bar.start(total, value, { eps });
          started = true;
        } else {
          bar.setTotal(total);
          bar.update(value, { eps });
        }
      },
      stop() {
        if (started) bar.stop();
      },
    };
  }
  let lastLine = 0;
  const intervalMs = opts.intervalMs ?? 5_000;
  return {
    update(p) {
      events += p.events;
      const now = Date.now();
      if (now - lastLine < intervalMs && p.indexed < p.head) return;
      lastLine = now;
      const seconds = Math.max(0.001, (now - startedAt) / 1000);
      const done = Number(p.indexed - p.start + 1n);
      const total = Number(p.head - p.start + 1n);
      const rate = done / seconds;
      logger.info(
        {
          indexed: p.indexed.toString(),
          head: p.head.toString(),
          percent: total > 0 ? Math.round((1000 * done) / total) / 10 : 100,
          eventsPerSecond: Math.round(events / seconds),
          etaSeconds: rate > 0 ? Math.round((total - done) / rate) : null,
        },
        "backfill progress",
      );
    },
    stop() {},
  };
}
