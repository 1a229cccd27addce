// The audit timeline (GET /v1/audit): every admin action and controller decision, newest first, with who
// (the API key's name, or the controller), when, what, and the statistics it was decided on.
import { $, fmtInt, fmtNum, getJson, h, replaceKeepingFocus } from "./dom.js";

/** The newest entries shown; the route pages further back with `before` (not needed on one screen). */
const LIMIT = 100;

function who(actor) {
  if (!actor?.name) return "no key (auth none)";
  if (actor.scope === "controller") return "the rollout controller";
  return `key ${actor.name} (${actor.scope})`;
}

/** One line of the statistics behind a decision: per-arm counts and each guardrail's verdict and lift. */
function statsLine(stats) {
  if (!stats || typeof stats !== "object") return null;
  const parts = [];
  const c = stats.counters;
  if (c?.candidate && c?.incumbent)
    parts.push(`decisions ${fmtInt(c.candidate.decisions)} candidate / ${fmtInt(c.incumbent.decisions)} incumbent`);
  for (const g of stats.guardrails ?? []) {
    const interval = g.liftInterval ? ` [${fmtNum(g.liftInterval[0])}, ${fmtNum(g.liftInterval[1])}]` : "";
    const lift = g.lift === undefined || g.lift === null ? "" : `, lift ${fmtNum(g.lift)}${interval}`;
    parts.push(`${g.metric}: ${g.verdict}${lift}`);
  }
  return parts.length ? h("div", { class: "stats" }, parts.join(" · ")) : null;
}

function entryView(e) {
  const d = e.details ?? {};
  const reasons = Array.isArray(d.reasons) ? d.reasons.map((x) => x.message).join("; ") : "";
  return h(
    "li",
    {
      class: e.actor?.scope === "controller" ? "auto" : "admin",
      "data-audit-action": e.action,
      "data-audit-target": `${e.target.kind}:${e.target.id}`,
    },
    h("div", { class: "when" }, h("time", { datetime: e.at }, new Date(e.at).toLocaleString()), ` · ${who(e.actor)}`),
    h("div", {}, h("strong", {}, e.action), ` ${e.summary}`),
    reasons && !e.summary.includes(reasons) ? h("div", {}, reasons) : null,
    statsLine(d.stats),
  );
}

export async function refreshAudit() {
  const box = $("audit");
  if ($("content").hidden || $("confirm").open) return;
  try {
    const { entries } = await getJson(`/v1/audit?limit=${LIMIT}`);
    if (entries.length === 0) {
      box.replaceChildren(h("p", { class: "empty" }, "Nothing yet: admin actions and controller decisions show here."));
      return;
    }
    replaceKeepingFocus(box, h("ol", { class: "timeline" }, entries.map(entryView)));
  } catch (error) {
    box.replaceChildren(h("p", { class: "error-text" }, `Cannot read the audit trail: ${error.message}`));
  }
}
