// Offline evaluations (admin to launch, read to watch): pick target policies and estimators, launch a job,
// watch its progress (GET /v1/evaluations, polled every second while one runs), open its HTML report.
import { confirmAction } from "./confirm.js";
import { $, fillBody, fmtPct, getJson, h, problemText, say, sendJson, storedKey } from "./dom.js";

/** ope/estimators/registry.ts (no route lists them; the server refuses an unknown name naming it). */
const ESTIMATORS = ["ips", "snips", "dm", "dr", "sndr", "switch-dr", "replay"];
const DEFAULT_ESTIMATORS = new Set(["ips", "snips", "dm", "dr", "sndr", "switch-dr"]);
const POLL_MS = 1000;

function checkbox(name, value, label, checked) {
  const id = `${name}-${value.replace(/[^A-Za-z0-9_-]/g, "_")}`;
  return h("label", { class: "check", for: id }, h("input", { type: "checkbox", id, name, value, checked }), label);
}

/** One checkbox per registered policy (target `policy:<id>`), keeping what the user ticked. */
export function fillEvaluationTargets(registry) {
  const box = $("evaluation-targets");
  const ids = (registry?.policies ?? []).map((p) => p.id);
  const shown = [...box.querySelectorAll("input")].map((i) => i.value);
  if (shown.join() === ids.map((id) => `policy:${id}`).join()) return;
  const ticked = new Set([...box.querySelectorAll("input:checked")].map((i) => i.value));
  box.replaceChildren(
    box.querySelector("legend"),
    ...ids.map((id) => checkbox("target", `policy:${id}`, id, ticked.has(`policy:${id}`))),
  );
}

const ticked = (boxId) => [...$(boxId).querySelectorAll("input:checked")].map((i) => i.value);

async function launch(event) {
  event.preventDefault();
  const out = $("evaluation-form-result");
  const body = {
    logs: $("evaluation-logs").value.trim(),
    targets: ticked("evaluation-targets"),
    estimators: ticked("evaluation-estimators"),
    bootstrap: Number($("evaluation-bootstrap").value || 0),
  };
  const lines = [
    `Estimates how ${body.targets.length ? body.targets.join(", ") : "no extra policy"} (plus the logging policy and uniform) would have done on ${body.logs}.`,
    `Estimators: ${body.estimators.join(", ") || "none (the server will refuse)"}${body.bootstrap ? `, ${body.bootstrap} bootstrap resamples` : ""}.`,
    "Runs in a background worker, one evaluation at a time; serving is not changed.",
  ];
  if (!(await confirmAction({ title: "Launch an offline evaluation?", lines, ok: "Launch" }))) return;
  try {
    const job = await sendJson("POST", "/v1/evaluations", body);
    say(out, `Launched ${job.id}.`);
    await refreshEvaluations();
  } catch (error) {
    say(out, problemText(error), false);
  }
}

/** Fetches the report with the tab's key (a plain link could not send it) and opens it from a blob: URL. */
async function openReport(id) {
  const key = storedKey();
  const res = await fetch(`/v1/evaluations/${encodeURIComponent(id)}/report`, {
    headers: key ? { authorization: `Bearer ${key}` } : {},
  });
  if (!res.ok) {
    say($("evaluation-form-result"), `Report of ${id}: ${res.status} ${res.statusText}`, false);
    return;
  }
  const url = URL.createObjectURL(new Blob([await res.text()], { type: "text/html" }));
  window.open(url, "_blank");
  setTimeout(() => URL.revokeObjectURL(url), 60_000);
}

function jobRow(job) {
  const done = job.status === "succeeded" && job.hasResult !== false;
  const progress = h("progress", { max: "1", value: String(job.progress ?? 0), "aria-label": `progress of ${job.id}` });
  return h(
    "tr",
    { "data-evaluation": job.id, "data-status": job.status ?? "unknown" },
    h("td", { class: "mono" }, job.id),
    h("td", {}, job.status ?? "…", job.error ? h("span", { class: "error-text" }, ` ${job.error.message}`) : null),
    h("td", { class: "num" }, progress, ` ${fmtPct(job.progress ?? 0)}`),
    h("td", { class: "ids" }, (job.request?.targets ?? []).join(", ") || "logging, uniform"),
    h(
      "td",
      {},
      done
        ? h(
            "button",
            { type: "button", class: "secondary", "data-report": job.id, "data-focus-key": `report:${job.id}` },
            "Open report",
          )
        : "—",
    ),
  );
}

let polling = false;

/**
 * Reads the evaluations (newest first) and shows them; while one is queued or running, reads again every
 * second until all have finished, so progress moves without a reload.
 */
export async function refreshEvaluations() {
  if ($("content").hidden) return;
  let jobs;
  try {
    ({ evaluations: jobs } = await getJson("/v1/evaluations"));
  } catch (error) {
    say($("evaluation-form-result"), `Cannot read the evaluations: ${error.message}`, false);
    return;
  }
  fillBody($("evaluations-table"), jobs.map(jobRow), "No evaluations yet.", 5);
  const open = jobs.some((j) => j.status === "queued" || j.status === "running");
  if (open && !polling) {
    polling = true;
    setTimeout(() => {
      polling = false;
      refreshEvaluations();
    }, POLL_MS);
  }
}

export function initEvaluationControls() {
  const estimators = $("evaluation-estimators");
  estimators.append(...ESTIMATORS.map((e) => checkbox("estimator", e, e, DEFAULT_ESTIMATORS.has(e))));
  $("evaluation-form").addEventListener("submit", launch);
  $("evaluations-table").addEventListener("click", (e) => {
    const button = e.target instanceof Element ? e.target.closest("button[data-report]") : null;
    if (button) openReport(button.getAttribute("data-report"));
  });
}
