// The rollouts panel (read and admin keys): per-arm metrics with intervals, guardrails, the next tick's decision,
// and for admin keys the manual controls (rollout-controls.js handles the buttons).
import { $, fillBody, fmtInt, fmtInterval, fmtPct, getJson, h, num, replaceKeepingFocus } from "./dom.js";

const VERDICT_CLASS = { ok: "good", regression: "bad", inconclusive: "warn", insufficient: "", disabled: "" };
/** The counts each metric is a rate over: no interval is shown before the first one. */
const METRIC_BASE = { ctr: "decisions", conversion: "sessions", revenuePerSession: "sessions" };
/** Rollouts shown with their full status, newest first. */
const SHOWN = 4;

function armTable(r) {
  const arms = r.arms ?? {};
  const table = h(
    "table",
    { class: "cards pin" },
    h("caption", { class: "visually-hidden" }, "Per-arm metrics with 95 % intervals"),
    h(
      "thead",
      {},
      h(
        "tr",
        {},
        ...["Arm", "Decisions", "CTR [95 % CI]", "Conversion [95 % CI]", "Revenue / session [95 % CI]"].map((t, i) =>
          h("th", { scope: "col", class: i ? "num" : "" }, t),
        ),
      ),
    ),
    h("tbody", {}),
  );
  const rows = ["incumbent", "candidate"].map((arm) => {
    const a = arms[arm];
    const metric = (m) => num(fmtInterval(a?.metrics?.[m], a?.metrics?.[m]?.n ?? a?.[METRIC_BASE[m]]));
    return h(
      "tr",
      { "data-arm": arm },
      h("th", { scope: "row" }, arm === "candidate" ? r.candidate : r.incumbent, h("span", { class: "tag" }, arm)),
      num(fmtInt(a?.decisions ?? 0)),
      metric("ctr"),
      metric("conversion"),
      metric("revenuePerSession"),
    );
  });
  fillBody(table, rows, "", 5);
  return table;
}

/** The buttons a rollout in this status accepts (the controller refuses the others with 409). */
function controls(r) {
  const live = r.status === "running" || r.status === "paused";
  if (!live || document.body.dataset.scope !== "admin") return null;
  // Pause and resume share a place (and a focus key): after pausing, focus lands on Resume.
  const button = (action, label, cls, place = action) =>
    h(
      "button",
      {
        type: "button",
        class: cls,
        "data-action": action,
        "data-rollout-id": r.id,
        "data-focus-key": `${r.id}:${place}`,
      },
      label,
    );
  return h(
    "div",
    { class: "actions", role: "group", "aria-label": `Controls of rollout ${r.id}` },
    r.status === "running"
      ? button("pause", "Pause…", "secondary", "toggle")
      : button("resume", "Resume…", "secondary", "toggle"),
    button("advance", r.stageIndex + 1 >= (r.stages ?? []).length ? "Complete…" : "Advance…", "secondary"),
    button("abort", "Abort…", "danger"),
  );
}

function shareBar(share) {
  const fill = h("span", {});
  fill.style.width = `${Math.min(100, share * 100)}%`;
  const bar = h("span", { class: "bar", role: "img", "aria-label": `candidate share ${fmtPct(share)}` }, fill);
  bar.style.display = "block";
  bar.style.marginTop = ".2rem";
  return bar;
}

function rolloutView(r) {
  const share = r.shares?.candidate ?? 0;
  const guardrails = (r.guardrails ?? []).map((g) =>
    h("span", { class: `tag ${VERDICT_CLASS[g.verdict] ?? ""}` }, `${g.metric}: ${g.verdict}`),
  );
  const stage = r.stageIndex < 0 ? "waiting for the offline gate" : `Stage ${r.stage}%`;
  return h(
    "div",
    { class: "rollout", "data-rollout": r.id, "data-status": r.status, "data-stage": r.stage },
    h(
      "h3",
      {},
      `${r.candidate} vs ${r.incumbent} `,
      h("span", { class: "tag", "data-field": "status" }, r.status),
      h("span", { class: "muted mono" }, ` ${r.id}`),
    ),
    h("p", {}, `${stage} (stages ${(r.stages ?? []).join(" → ")}) · candidate share ${fmtPct(share)}`, shareBar(share)),
    controls(r),
    h("div", { class: "scroll" }, armTable(r)),
    guardrails.length ? h("p", {}, "Guardrails: ", guardrails) : null,
    r.next
      ? h(
          "p",
          { class: "muted" },
          `Next tick: ${r.next.action}`,
          r.next.reasons?.length ? ` (${r.next.reasons.map((x) => x.message).join("; ")})` : "",
        )
      : null,
  );
}

/** The rollouts last read, by id (the controls' confirmations describe what an action does to one). */
export const latestRollouts = new Map();

export async function refreshRollouts() {
  const box = $("rollouts");
  if ($("content").hidden) return;
  // A confirmation is open: re-rendering under it would move the buttons it came from.
  if ($("confirm").open) return;
  try {
    const { rollouts } = await getJson("/v1/rollouts");
    const newest = [...rollouts].sort((a, b) => b.createdAt.localeCompare(a.createdAt));
    const views = await Promise.all(
      newest.slice(0, SHOWN).map((r) => getJson(`/v1/rollouts/${encodeURIComponent(r.id)}`)),
    );
    latestRollouts.clear();
    for (const v of views) latestRollouts.set(v.id, v);
    // The results panel offers every rollout (the list's short form is enough there).
    document.dispatchEvent(new CustomEvent("loopwise:rollouts", { detail: newest }));
    if (rollouts.length === 0) {
      box.replaceChildren(h("p", { class: "empty" }, "No rollouts yet."));
      return;
    }
    const shown = views.map(rolloutView);
    if (rollouts.length > SHOWN)
      shown.push(h("p", { class: "muted" }, `${rollouts.length - SHOWN} older rollouts not shown.`));
    replaceKeepingFocus(box, ...shown);
  } catch (error) {
    box.replaceChildren(h("p", { class: "error-text" }, `Cannot read rollouts: ${error.message}`));
  }
}
