import type { EstimateResult, EvaluationResult, TargetResult } from "./evaluate-log.js";

/** Plain-text report for `--format table`: one block per target, estimators as rows. */
export function formatTable(result: EvaluationResult): string {
  const on = result.onPolicy;
  const level = Math.round(on.level * 100);
  const lines = [
    `source: ${result.source} · ${result.n} rounds · reward model: ${result.rewardModel}`,
    ...result.notes.map((n) => `  note: ${n}`),
    `on-policy value of the logging policy (mean reward): ${fmt(on.value)} ${spread(on.stderr, on.ci, level)}`,
  ];
  for (const t of result.targets) lines.push("", ...targetBlock(t, level));
  return `${lines.join("\n")}\n`;
}

function targetBlock(t: TargetResult, level: number): string[] {
  const d = t.diagnostics;
  const deficiency = d.supportDeficiency === null ? "unknown" : `${(100 * d.supportDeficiency).toFixed(1)}%`;
  const header = `target ${t.target} (${t.kind}) · weights mean ${fmt(d.meanWeight, 3)}, max ${fmt(d.maxWeight, 2)} · ESS ${d.ess.toFixed(1)} (${(100 * d.essShare).toFixed(1)}%) · support deficiency ${deficiency}`;
  const rows = [["estimator", "value", "stderr", `${level}% CI`, "bootstrap CI"], ...t.estimates.map(row)];
  const widths = rows[0]?.map((_, c) => Math.max(...rows.map((r) => (r[c] ?? "").length))) ?? [];
  const table = rows.map((r) => `  ${r.map((cell, c) => cell.padEnd(widths[c] ?? 0)).join("  ")}`.trimEnd());
  const errors = t.estimates.flatMap((e) => (e.error === undefined ? [] : [`  - ${e.label} n/a: ${e.error}`]));
  return [header, ...table, ...errors, ...d.warnings.map((w) => `  ! ${w}`)];
}

/** A standard error needs two rounds or more (summarize.ts): with fewer, say so instead of printing NaN. */
export const TOO_FEW_ROUNDS = "too few rounds";

function spread(stderr: number, ci: [number, number], level: number): string {
  if (!Number.isFinite(stderr)) return `(${TOO_FEW_ROUNDS} for a standard error)`;
  return `± ${fmt(stderr)} (${level}% CI ${interval(ci)})`;
}

function row(e: EstimateResult): string[] {
  if (e.error !== undefined || e.value === undefined) return [e.label, "n/a", "", "", ""];
  const known = e.stderr !== undefined && Number.isFinite(e.stderr);
  return [
    e.label,
    fmt(e.value),
    known ? fmt(e.stderr as number) : TOO_FEW_ROUNDS,
    e.ci && known ? interval(e.ci) : "",
    e.bootstrapCi && Number.isFinite(e.bootstrapCi[0]) ? interval(e.bootstrapCi) : "",
  ];
}

function interval(ci: [number, number]): string {
  return `[${fmt(ci[0])}, ${fmt(ci[1])}]`;
}

function fmt(v: number, digits = 6): string {
  if (!Number.isFinite(v)) return "n/a";
  return Math.abs(v) >= 1e-3 || v === 0 ? v.toFixed(digits) : v.toExponential(3);
}
