import { parseTime } from "../../core/clock.js";
import { LoopwiseError } from "../../core/errors.js";

/**
 * `--logs SOURCE`: `loopwise:` (the whole decision log), `loopwise:[FROM..TO]` (either side optional; ISO-8601
 * or epoch ms; FROM inclusive, TO exclusive), `obd:FILE.csv` or `dsjson:FILE`.
 */
export type SourceSpec =
  | { kind: "loopwise"; from?: number; to?: number }
  | { kind: "obd"; path: string }
  | { kind: "dsjson"; path: string };

export function parseSourceSpec(spec: string): SourceSpec {
  const colon = spec.indexOf(":");
  const kind = colon < 0 ? spec : spec.slice(0, colon);
  const rest = colon < 0 ? "" : spec.slice(colon + 1);
  if (kind === "obd" || kind === "dsjson") {
    if (rest === "") throw bad(spec, `${kind}: needs a file, e.g. ${kind}:path/to/file`);
    return { kind, path: rest };
  }
  if (kind !== "loopwise") throw bad(spec, "expected loopwise:[FROM..TO], obd:FILE.csv or dsjson:FILE");
  const range = rest.replace(/^\[/, "").replace(/\]$/, "").trim();
  if (range === "") return { kind };
  const sep = range.indexOf("..");
  if (sep < 0) throw bad(spec, "a loopwise range is FROM..TO (either side may be empty)");
  const out: SourceSpec = { kind };
  const from = range.slice(0, sep).trim();
  const to = range.slice(sep + 2).trim();
  if (from !== "") out.from = timeOf(from, spec);
  if (to !== "") out.to = timeOf(to, spec);
  return out;
}

function timeOf(text: string, spec: string): number {
  const t = parseTime(/^\d+$/.test(text) ? Number(text) : text);
  if (t === undefined) throw bad(spec, `"${text}" is not an ISO-8601 time or epoch milliseconds`);
  return t;
}

function bad(spec: string, message: string): LoopwiseError {
  return new LoopwiseError("VALIDATION_FAILED", `--logs "${spec}": ${message}`, [{ path: "logs", message }]);
}
