import type { Logger } from "pino";
import type { LogRetentionRunner } from "../duties/log-retention.js";

/**
 * Embedded retention: the engine's tick (every `tickInterval`) calls `tick`, which starts a pass when one is due
 * and none is running, in the background: the tick never waits for it, and each of its steps is one small op
 * of the log writer, so requests' writes interleave with it (scale-out runs the same runner as the
 * `log-retention` duty instead, duties/log-retention.ts).
 */
export class LogRetentionTimer {
  private running: Promise<void> | undefined;

  constructor(
    private readonly runner: LogRetentionRunner,
    private readonly logger: Logger,
  ) {}

  tick(now: number): void {
    if (this.running) return;
    this.running = this.pass(now)
      .catch((err: unknown) => this.logger.warn({ err }, "log retention failed; retrying at its next interval"))
      .finally(() => {
        this.running = undefined;
      });
  }

  /** The pass in progress, if any (tests; close waits for it so the store closes after its last step). */
  idle(): Promise<void> {
    return this.running ?? Promise.resolve();
  }

  private async pass(now: number): Promise<void> {
    while (await this.runner.advance(now)) await new Promise<void>((resolve) => setImmediate(resolve));
  }
}
