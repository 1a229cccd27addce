import type { Command } from "commander";
import { type ErrorCode, ErrorCodes, LoopwiseError } from "../../core/errors.js";
import { resolveServer, type ServerOptions, withServer } from "../options.js";

/**
 * `loopwise rollout start|status|list|pause|resume|advance|abort`: talks to a running server over HTTP
 * (the admin routes of /v1/rollouts). `--format json` prints the server's JSON only.
 */
interface Common extends ServerOptions {
  format: string;
}

interface StartOptions extends Common {
  candidate: string;
  incumbent?: string;
  stages?: string;
  minHold?: string;
  minSample?: string;
  maxDropCtr?: string;
  maxDropConversion?: string;
  maxDropRevenue?: string;
  falseAlarmRate?: string;
  opeGate: boolean;
}

export function register(program: Command): void {
  const rollout = program.command("rollout").description("gradual rollouts of a candidate policy (server admin API)");
  common(rollout.command("start").description("start rolling out a candidate against the incumbent"))
    .requiredOption("--candidate <policyId>", "the new policy")
    .option("--incumbent <policyId>", "the policy serving now (default: the server's default policy)")
    .option("--stages <list>", "candidate percentages, e.g. 1,10,50,100")
    .option("--min-hold <duration>", "minimum hold per stage, e.g. 24h")
    .option("--min-sample <n>", "minimum decisions per arm before advancing")
    .option("--max-drop-ctr <fraction>", "tolerated relative CTR drop, e.g. 0.02")
    .option("--max-drop-conversion <fraction>", "tolerated relative conversion drop")
    .option("--max-drop-revenue <fraction>", "tolerated relative revenue-per-session drop")
    .option("--false-alarm-rate <fraction>", "overall guardrail false-alarm rate (default 0.05)")
    .option("--no-ope-gate", "skip the offline-evaluation gate before the first stage")
    .action(async (opts: StartOptions) => print(opts, await call(opts, "POST", "/v1/rollouts", startBody(opts))));
  common(
    rollout
      .command("status")
      .description("a rollout's stage, metrics, guardrails and history (all rollouts without an id)"),
  )
    .argument("[id]", "rollout id")
    .action(async (id: string | undefined, opts: Common) => {
      const path = id ? `/v1/rollouts/${encodeURIComponent(id)}` : "/v1/rollouts";
      print(opts, await call(opts, "GET", path));
    });
  for (const action of ["pause", "resume", "advance", "abort"] as const) {
    common(rollout.command(action).description(`${action} a rollout`))
      .argument("<id>", "rollout id")
      .action(async (id: string, opts: Common) =>
        print(opts, await call(opts, "POST", `/v1/rollouts/${encodeURIComponent(id)}/${action}`)),
      );
  }
}

function common(cmd: Command): Command {
  return withServer(cmd).option("--format <format>", "text | json", "text");
}

export function startBody(o: StartOptions): Record<string, unknown> {
  const num = (flag: string, v: string | undefined) => {
    if (v === undefined) return undefined;
    const n = Number(v);
    if (!Number.isFinite(n)) throw new LoopwiseError("VALIDATION_FAILED", `${flag} must be a number, got "${v}"`);
    return n;
  };
  const guardrails: Record<string, number> = {};
  const drops = { ctr: o.maxDropCtr, conversion: o.maxDropConversion, revenuePerSession: o.maxDropRevenue };
  for (const [metric, v] of Object.entries(drops)) {
    const n = num(`--max-drop-${metric}`, v);
    if (n !== undefined) guardrails[metric] = n;
  }
  const body: Record<string, unknown> = { candidate: o.candidate };
  if (o.incumbent !== undefined) body.incumbent = o.incumbent;
  if (o.stages) body.stages = o.stages.split(",").map((s) => num("--stages", s.trim()));
  if (o.minHold) body.minHold = /^\d+$/.test(o.minHold) ? Number(o.minHold) : o.minHold;
  if (o.minSample !== undefined) body.minSamplePerArm = num("--min-sample", o.minSample);
  if (Object.keys(guardrails).length > 0) body.guardrails = guardrails;
  if (o.falseAlarmRate !== undefined) body.falseAlarmRate = num("--false-alarm-rate", o.falseAlarmRate);
  if (!o.opeGate) body.opeGate = false;
  return body;
}

async function call(o: Common, method: "GET" | "POST", path: string, body?: unknown): Promise<Record<string, unknown>> {
  const { url, apiKey: key } = await resolveServer(o);
  if (!key)
    throw new LoopwiseError(
      "UNAUTHORIZED",
      "no admin key: pass --api-key, set LOOPWISE_ADMIN_KEY, or point --data-dir at the server's data dir (admin-key)",
    );
  const headers: Record<string, string> = { authorization: `Bearer ${key}`, accept: "application/json" };
  if (body !== undefined) headers["content-type"] = "application/json";
  let res: Response;
  try {
    const init: RequestInit = { method, headers, ...(body !== undefined ? { body: JSON.stringify(body) } : {}) };
    res = await fetch(new URL(path, url), init);
  } catch (e) {
    throw new Error(`cannot reach the server at ${url}: ${e instanceof Error ? e.message : String(e)}`);
  }
  const text = await res.text();
  const json = text ? (JSON.parse(text) as Record<string, unknown>) : {};
  if (!res.ok) {
    const code = typeof json.code === "string" && json.code in ErrorCodes ? (json.code as ErrorCode) : "INTERNAL";
    const errors = Array.isArray(json.errors) ? (json.errors as { path: string; message: string }[]) : undefined;
    const detail = typeof json.detail === "string" ? json.detail : `HTTP ${res.status}`;
    throw new LoopwiseError(code, detail, errors);
  }
  return json;
}

function print(o: Common, json: Record<string, unknown>): void {
  if (o.format === "json") process.stdout.write(`${JSON.stringify(json, null, 2)}\n`);
  else
    process.stdout.write(
      Array.isArray(json.rollouts) ? formatList(json.rollouts as View[]) : formatView(json as unknown as View),
    );
}

interface ArmView {
  decisions: number;
  sessions: number;
  metrics: Record<string, { value: number; ci95: [number, number] } | null>;
}
interface View {
  id: string;
  candidate: string;
  incumbent: string;
  status: string;
  stage: number;
  stages: number[];
  arms?: Record<string, ArmView> | null;
  guardrails?: {
    metric: string;
    verdict: string;
    lift: number | null;
    liftInterval: [number, number] | null;
    maxRelativeDrop: number;
  }[];
  next?: { action: string; reasons: { code: string; message: string }[] } | null;
  history?: {
    at: string;
    action: string;
    actor: string;
    fromStage: number;
    toStage: number;
    reasons: { message: string }[];
  }[];
}

export function formatList(rows: View[]): string {
  if (rows.length === 0) return "no rollouts\n";
  return `${rows.map((r) => `${r.id}  ${r.status.padEnd(11)} ${String(r.stage).padStart(5)}%  ${r.candidate} vs ${r.incumbent}`).join("\n")}\n`;
}

export function formatView(v: View): string {
  const pct = (x: number) => `${(x * 100).toFixed(2)}%`;
  const lines = [
    `rollout ${v.id}: ${v.candidate} vs ${v.incumbent}`,
    `status ${v.status}, candidate at ${v.stage}% (stages ${v.stages.join(" → ")})`,
  ];
  for (const [arm, a] of Object.entries(v.arms ?? {})) {
    const m = (k: string, f: (x: number) => string) => {
      const e = a.metrics[k];
      return e ? `${f(e.value)} [${f(e.ci95[0])}, ${f(e.ci95[1])}]` : "n/a";
    };
    lines.push(
      `  ${arm.padEnd(9)} decisions ${a.decisions}, sessions ${a.sessions}, CTR ${m("ctr", pct)}, ` +
        `conversion ${m("conversion", pct)}, revenue/session ${m("revenuePerSession", (x) => x.toFixed(2))}`,
    );
  }
  for (const g of v.guardrails ?? []) {
    const lift =
      g.lift === null || !g.liftInterval
        ? ""
        : ` lift ${pct(g.lift)} [${pct(g.liftInterval[0])}, ${pct(g.liftInterval[1])}]`;
    lines.push(`  guardrail ${g.metric}: ${g.verdict}${lift} (max drop ${pct(g.maxRelativeDrop)})`);
  }
  // Each reason's message, not its code: three guardrails waiting for data read "ctr: insufficient; …", not
  // "guardrail_insufficient" three times. `--format json` keeps the codes.
  if (v.next) lines.push(`  next tick: ${v.next.action} (${v.next.reasons.map((r) => r.message).join("; ")})`);
  for (const h of v.history ?? []) {
    lines.push(
      `  ${h.at} ${h.actor} ${h.action} ${h.fromStage}% → ${h.toStage}%: ${h.reasons.map((r) => r.message).join("; ")}`,
    );
  }
  return `${lines.join("\n")}\n`;
}
