/**
 * A progress bar for long commands, on stderr and only when stderr is a terminal: piped or redirected
 * output (CI logs, `> file`) stays clean, and stdout carries only the command's result.
 * cli-progress is loaded on first use, so `loopwise --help` does not pay for it.
 */
export interface Progress {
  /** Fraction done in [0, 1]. */
  update(fraction: number): void;
  stop(): void;
}

const silent: Progress = { update() {}, stop() {} };

export async function startProgress(
  label: string,
  stream: NodeJS.WriteStream = process.stderr,
  enabled = Boolean(stream.isTTY),
): Promise<Progress> {
  if (!enabled) return silent;
  const { SingleBar, Presets } = (await import("cli-progress")).default;
  const bar = new SingleBar(
    {
      format: `${label} [{bar}] {percentage}% | {duration_formatted}`,
      stream,
      hideCursor: true,
      clearOnComplete: true,
    },
    Presets.shades_classic,
  );
  bar.start(1000, 0);
  let stopped = false;
  return {
    update(fraction) {
      if (!stopped) bar.update(Math.round(Math.min(1, Math.max(0, fraction)) * 1000));
    },
    stop() {
      if (stopped) return;
      stopped = true;
      bar.stop();
    },
  };
}

/** Runs `work` with a bar that is stopped however the work ends. */
export async function withProgress<T>(label: string, work: (progress: Progress) => Promise<T>): Promise<T> {
  const progress = await startProgress(label);
  try {
    return await work(progress);
  } finally {
    progress.stop();
  }
}
