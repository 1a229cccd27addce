// The rollouts panel (admin keys only: rollouts are admin routes).
import { $, fmtInt, fmtNum, fmtPct, getJson, h, num } from "./dom.js";

function ci(metric) {
  if (!metric) return "—";
  return `${fmtNum(metric.value)} [${fmtNum(metric.ci95[0])}, ${fmtNum(metric.ci95[1])}]`;
}

const VERDICT_CLASS = { ok: "good", regression: "bad", inconclusive: "warn", insufficient: "", disabled: "" };

function rolloutView(r) {
  const arms = r.arms ?? {};
  const armRows = ["incumbent", "candidate"].map((arm) => {
    const a = arms[arm];
    return h(
      "tr",
      { "data-arm": arm },
      h("th", { scope: "row" }, arm === "candidate" ? r.candidate : r.incumbent, h("span", { class: "tag" }, arm)),
      num(fmtInt(a?.decisions ?? 0)),
      num(ci(a?.metrics?.ctr)),
      num(ci(a?.metrics?.conversion)),
      num(ci(a?.metrics?.revenuePerSession)),
    );
  });
  const share = r.shares?.candidate ?? 0;
  const guardrails = (r.guardrails ?? []).map((g) =>
    h("span", { class: `tag ${VERDICT_CLASS[g.verdict] ?? ""}` }, `${g.metric}: ${g.verdict}`),
  );
  return h(
    "div",
    { class: "rollout", "data-rollout": r.id },
    h(
      "h3",
      {},
      `${r.candidate} vs ${r.incumbent} `,
      h("span", { class: "tag" }, r.status),
      h("span", { class: "muted mono" }, ` ${r.id}`),
    ),
    h(
      "p",
      {},
      `Stage ${r.stage}% (stages ${(r.stages ?? []).join(" → ")}) · candidate share ${fmtPct(share)}`,
      h(
        "span",
        {
          class: "bar",
          role: "img",
          "aria-label": `candidate share ${fmtPct(share)}`,
          style: "display:block;margin-top:.2rem",
        },
        h("span", { style: `width:${Math.min(100, share * 100)}%` }),
      ),
    ),
    h(
      "div",
      { class: "scroll" },
      h(
        "table",
        {},
        h("caption", { class: "visually-hidden" }, "Per-arm metrics with 95 % intervals"),
        h(
          "thead",
          {},
          h(
            "tr",
            {},
            ...["Arm", "Decisions", "CTR [95 % CI]", "Conversion", "Revenue / session"].map((t, i) =>
              h("th", { scope: "col", class: i ? "num" : "" }, t),
            ),
          ),
        ),
        h("tbody", {}, armRows),
      ),
    ),
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

export async function refreshRollouts() {
  const box = $("rollouts");
  if (document.body.dataset.scope !== "admin") return;
  try {
    const { rollouts } = await getJson("/v1/rollouts");
    if (rollouts.length === 0) {
      box.replaceChildren(h("p", { class: "empty" }, "No rollouts. Start one with POST /v1/rollouts."));
      return;
    }
    const newest = [...rollouts].sort((a, b) => b.createdAt.localeCompare(a.createdAt)).slice(0, 4);
    const views = await Promise.all(newest.map((r) => getJson(`/v1/rollouts/${encodeURIComponent(r.id)}`)));
    box.replaceChildren(...views.map(rolloutView));
    if (rollouts.length > newest.length)
      box.append(h("p", { class: "muted" }, `${rollouts.length - newest.length} older rollouts not shown.`));
  } catch (error) {
    box.replaceChildren(h("p", { class: "error-text" }, `Cannot read rollouts: ${error.message}`));
  }
}
