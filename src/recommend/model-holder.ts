import type { Model } from "./session-model.js";

/**
 * Holds the serving model. A request reads `current()` once and keeps that object to the end, so a swap
 * never mixes two models inside one request; the old model is garbage once no request holds it (DESIGN.md:
 * Metarank's training and serving apart), and its live-session cache with it: a new model starts with an
 * empty one, as one model's session states mean nothing to another. Swapping is a single reference assignment: atomic on Node's
 * event loop, no lock needed.
 */
export class ModelHolder<M extends Model = Model> {
  private model: M | undefined;
  private readonly listeners: ((model: M, previous: M | undefined) => void)[] = [];

  constructor(initial?: M) {
    this.model = initial;
  }

  /** The model serving now (undefined before the first one). */
  current(): M | undefined {
    return this.model;
  }

  /** Replaces the serving model; returns the previous one. */
  swap(model: M): M | undefined {
    const previous = this.model;
    this.model = model;
    for (const l of this.listeners) l(model, previous);
    return previous;
  }

  onSwap(listener: (model: M, previous: M | undefined) => void): void {
    this.listeners.push(listener);
  }

  /**
   * Retrains every `every` ms and on `trigger()`, swapping each new model in. One training at a time: a trigger
   * during a run joins it. A failed run keeps the serving model and reports to `onError`. The next run is
   * scheduled after the previous ends (never overlapping); timers are unref'd so they never hold the process.
   *
   * Where training runs: in `trainFn`. The trainers in this folder are synchronous and run on the main thread
   * between the awaits of `trainFn` (reading the event log yields each batch), so a long fit pauses requests
   * for its duration; use `trainInWorker` (train-in-worker.ts) as `trainFn` to move reading and fitting to a worker thread.
   */
  startRetraining(options: {
    every: number;
    trainFn: () => Promise<M>;
    onError?: (error: unknown) => void;
    setTimer?: (fn: () => void, ms: number) => { unref?: () => void };
    clearTimer?: (handle: unknown) => void;
  }): Retrainer<M> {
    const setTimer = options.setTimer ?? ((fn, ms) => setTimeout(fn, ms));
    const clearTimer = options.clearTimer ?? ((h) => clearTimeout(h as NodeJS.Timeout));
    let running: Promise<M> | undefined;
    let timer: { unref?: () => void } | undefined;
    let stopped = false;
    const schedule = () => {
      if (stopped) return;
      timer = setTimer(() => {
        timer = undefined;
        trigger().catch(() => {});
      }, options.every);
      timer.unref?.();
    };
    const trigger = (): Promise<M> => {
      if (running) return running;
      if (timer) clearTimer(timer);
      timer = undefined;
      running = (async () => {
        try {
          const model = await options.trainFn();
          if (!stopped) this.swap(model);
          return model;
        } catch (error) {
          options.onError?.(error);
          throw error;
        } finally {
          running = undefined;
          schedule();
        }
      })();
      return running;
    };
    schedule();
    return {
      trigger,
      running: () => running !== undefined,
      async stop() {
        stopped = true;
        if (timer) clearTimer(timer);
        timer = undefined;
        await running?.catch(() => {});
      },
    };
  }
}

export interface Retrainer<M extends Model = Model> {
  /** Trains now (or joins the running training) and resolves with the model swapped in. */
  trigger(): Promise<M>;
  running(): boolean;
  /** Stops scheduling and waits for a running training to end (its model is not swapped in). */
  stop(): Promise<void>;
}
