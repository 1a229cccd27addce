import type { Histogram } from "./diagnostics.js";
import type { EstimateResult, EvaluationResult, TargetResult } from "./evaluate-log.js";
import { TOO_FEW_ROUNDS } from "./report-table.js";

/**
 * The HTML report: one self-contained file (inline CSS and SVG, no scripts, no network), per target the
 * estimates with their CIs as a chart, the importance-weight histogram, the diagnostics and warnings.
 */
export function renderHtmlReport(result: EvaluationResult, title = "Loopwise offline policy evaluation"): string {
  const on = result.onPolicy;
  const body = [
    `<h1>${esc(title)}</h1>`,
    `<p class="meta">${esc(result.source)} · ${result.n} rounds · reward model <b>${esc(result.rewardModel)}</b> · ${Math.round(on.level * 100)}% intervals</p>`,
    `<p>On-policy value of the logging policy (mean reward of the log): <b>${num(on.value)}</b> ${Number.isFinite(on.stderr) ? `± ${num(on.stderr)}` : `(${TOO_FEW_ROUNDS} for a standard error)`}</p>`,
    `<ul class="notes">${result.notes.map((n) => `<li>${esc(n)}</li>`).join("")}</ul>`,
    comparisonSection(result),
    ...result.targets.map(targetSection),
  ].join("\n");
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${esc(title)}</title>
<style>
body{font:14px/1.45 system-ui,sans-serif;margin:2em auto;max-width:960px;color:#222;padding:0 1em}
h1{font-size:1.5em}h2{font-size:1.2em;margin-top:2em;border-bottom:1px solid #ddd}
.meta{color:#666}table{border-collapse:collapse;margin:.5em 0}td,th{padding:3px 10px;border-bottom:1px solid #eee;text-align:right}
th:first-child,td:first-child{text-align:left}.warn{background:#fff4e5;border-left:4px solid #f0a020;padding:.5em 1em;margin:.3em 0}
.charts{display:flex;flex-wrap:wrap;gap:24px}svg text{font:11px system-ui,sans-serif;fill:#333}
</style></head><body>
${body}
</body></html>
`;
}

function comparisonSection(result: EvaluationResult): string {
  const rows = result.targets.map((t) => {
    const best =
      t.estimates.find((e) => e.estimator === "dr" && e.value !== undefined) ??
      t.estimates.find((e) => e.value !== undefined);
    return { label: `${t.target}${best ? ` (${best.label})` : ""}`, estimate: best };
  });
  return `<h2>All targets</h2>\n${intervalChart(rows, "targets")}`;
}

function targetSection(t: TargetResult): string {
  const d = t.diagnostics;
  const deficiency =
    d.supportDeficiency === null ? "unknown (logger's distribution not logged)" : pct(d.supportDeficiency);
  const diag = [
    ["rounds", String(d.n)],
    ["mean weight", num(d.meanWeight)],
    ["max weight", num(d.maxWeight)],
    ["effective sample size", `${d.ess.toFixed(1)} (${pct(d.essShare)})`],
    ["support deficiency", deficiency],
    ["target gives the logged action 0", pct(d.zeroWeightShare)],
  ];
  const table = `<table><tr><th>estimator</th><th>value</th><th>stderr</th><th>CI</th><th>bootstrap CI</th></tr>${t.estimates.map(estimateRow).join("")}</table>`;
  return `<section class="target" data-target="${esc(t.target)}">
<h2>Target: ${esc(t.target)} <small>(${esc(t.kind)})</small></h2>
${d.warnings.map((w) => `<div class="warn">⚠ ${esc(w)}</div>`).join("\n")}
<div class="charts">${intervalChart(
    t.estimates.map((e) => ({ label: e.label, estimate: e })),
    "estimates",
  )}${weightChart(t.weights)}</div>
${table}
<table>${diag.map(([k, v]) => `<tr><td>${esc(k ?? "")}</td><td>${esc(v ?? "")}</td></tr>`).join("")}</table>
</section>`;
}

function estimateRow(e: EstimateResult): string {
  if (e.value === undefined) return `<tr><td>${esc(e.label)}</td><td colspan="4">n/a: ${esc(e.error ?? "")}</td></tr>`;
  const ci = (c?: [number, number]) =>
    c && Number.isFinite(c[0]) && Number.isFinite(c[1]) ? `[${num(c[0])}, ${num(c[1])}]` : "";
  return `<tr><td>${esc(e.label)}</td><td>${num(e.value)}</td><td>${e.stderr !== undefined && Number.isFinite(e.stderr) ? num(e.stderr) : TOO_FEW_ROUNDS}</td><td>${ci(e.ci)}</td><td>${ci(e.bootstrapCi)}</td></tr>`;
}

/** The interval, when there is one (a single round has no standard error, so its normal CI is NaN). */
function finiteCi(e: EstimateResult | undefined): [number, number] | undefined {
  return e?.ci && Number.isFinite(e.ci[0]) && Number.isFinite(e.ci[1]) ? e.ci : undefined;
}

/** Horizontal point-and-whisker chart: one row per estimate, the CI as a bar, the value as a dot. */
function intervalChart(rows: { label: string; estimate: EstimateResult | undefined }[], kind: string): string {
  const shown = rows.filter((r) => r.estimate?.value !== undefined && Number.isFinite(r.estimate.value));
  const lo = Math.min(0, ...shown.map((r) => finiteCi(r.estimate)?.[0] ?? r.estimate?.value ?? 0));
  const hi = Math.max(...shown.map((r) => finiteCi(r.estimate)?.[1] ?? r.estimate?.value ?? 0), lo + 1e-9);
  const [w, left, rowH] = [460, 150, 24];
  const h = rowH * rows.length + 30;
  const x = (v: number) => left + ((v - lo) / (hi - lo)) * (w - left - 20);
  const marks = rows.map((r, i) => {
    const y = 10 + i * rowH + rowH / 2;
    const label = `<text x="${left - 8}" y="${y + 4}" text-anchor="end">${esc(r.label)}</text>`;
    const e = r.estimate;
    if (!e || e.value === undefined || !Number.isFinite(e.value))
      return `${label}<text x="${left}" y="${y + 4}">n/a</text>`;
    const [a, b] = finiteCi(e) ?? [e.value, e.value];
    return `${label}<rect class="ci-bar" x="${x(a).toFixed(1)}" y="${y - 4}" width="${Math.max(1, x(b) - x(a)).toFixed(1)}" height="8" fill="#9ec5ee"><title>${esc(r.label)}: ${num(a)} … ${num(b)}</title></rect><circle class="mark" cx="${x(e.value).toFixed(1)}" cy="${y}" r="4" fill="#1f5fa8"><title>${esc(r.label)} = ${num(e.value)}</title></circle>`;
  });
  const axis = `<line x1="${left}" x2="${w - 20}" y1="${h - 18}" y2="${h - 18}" stroke="#999"/><text x="${left}" y="${h - 4}">${num(lo)}</text><text x="${w - 20}" y="${h - 4}" text-anchor="end">${num(hi)}</text>`;
  return `<svg class="chart chart-${kind}" xmlns="http://www.w3.org/2000/svg" width="${w}" height="${h}" role="img" aria-label="estimates with confidence intervals">${marks.join("")}${axis}</svg>`;
}

/** Histogram of importance weights: where the mass of w_i sits, and how long the tail is. */
function weightChart(hist: Histogram): string {
  const [w, h, pad] = [420, 180, 30];
  const max = Math.max(1, ...hist.counts);
  const bw = (w - 2 * pad) / hist.counts.length;
  const bars = hist.counts.map((c, i) => {
    const bh = c === 0 ? 0 : Math.max(1, (Math.log1p(c) / Math.log1p(max)) * (h - 2 * pad));
    const x0 = hist.edges[i] ?? 0;
    const x1 = hist.edges[i + 1] ?? x0;
    return `<rect class="bar" x="${(pad + i * bw).toFixed(1)}" y="${(h - pad - bh).toFixed(1)}" width="${(bw - 1).toFixed(1)}" height="${bh.toFixed(1)}" fill="#6a9f58"><title>w in [${num(x0)}, ${num(x1)}): ${c} rounds</title></rect>`;
  });
  const last = hist.edges[hist.edges.length - 1] ?? 0;
  const axis = `<line x1="${pad}" x2="${w - pad}" y1="${h - pad}" y2="${h - pad}" stroke="#999"/><text x="${pad}" y="${h - 12}">0</text><text x="${w - pad}" y="${h - 12}" text-anchor="end">${num(last)}</text><text x="${w / 2}" y="14" text-anchor="middle">importance weights (log-scaled counts)</text>`;
  return `<svg class="chart chart-weights" xmlns="http://www.w3.org/2000/svg" width="${w}" height="${h}" role="img" aria-label="weight histogram">${bars.join("")}${axis}</svg>`;
}

function num(v: number): string {
  if (!Number.isFinite(v)) return "n/a";
  return Math.abs(v) >= 1e-3 || v === 0 ? v.toPrecision(4) : v.toExponential(2);
}

function pct(v: number): string {
  return `${(100 * v).toFixed(1)}%`;
}

function esc(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}
