import type { Recorder, Route } from "../report.js";
import { TargetError } from "../target.js";

/** Calls the target, timing it and recording failures; undefined when the call failed. */
export async function timed<T>(recorder: Recorder, route: Route, call: () => Promise<T>): Promise<T | undefined> {
  const started = performance.now();
  try {
    const out = await call();
    recorder.request(route, performance.now() - started);
    return out;
  } catch (e) {
    const code = e instanceof TargetError ? e.code : ((e as { code?: string }).code ?? "ERROR");
    recorder.request(route, performance.now() - started, String(code));
    return undefined;
  }
}
