// The audit timeline: every rollout transition and admin action, newest first, with who, when, what and the
// statistics it was decided on (the counters and guardrail tests the controller saved with the entry).
import { $, fmtInt, fmtNum, h, replaceKeepingFocus } from "./dom.js";

const ACTION_TEXT = {
  create: "created",
  advance: "advanced",
  manual_advance: "advanced by hand",
  rollback: "rolled back",
  halt: "halted",
  complete: "completed",
  pause: "paused",
  resume: "resumed",
  abort: "aborted",
};

/** Who did it: the key's name when the server recorded one, else the controller or "an admin key". */
function who(e) {
  if (e.keyName) return `key ${e.keyName}`;
  if (e.actor === "auto") return "the rollout controller";
  return "an admin key";
}

function statsLine(stats) {
  if (!stats || typeof stats !== "object") return null;
  const parts = [];
  const c = stats.counters;
  if (c?.candidate && c?.incumbent)
    parts.push(`decisions ${fmtInt(c.candidate.decisions)} candidate / ${fmtInt(c.incumbent.decisions)} incumbent`);
  for (const g of stats.guardrails ?? []) {
    const interval = g.liftInterval ? ` [${fmtNum(g.liftInterval[0])}, ${fmtNum(g.liftInterval[1])}]` : "";
    parts.push(
      `${g.metric}: ${g.verdict}${g.lift !== undefined && g.lift !== null ? `, lift ${fmtNum(g.lift)}${interval}` : ""}`,
    );
  }
  return parts.length ? h("div", { class: "stats" }, parts.join(" · ")) : null;
}

function entryView(e, r) {
  const stage = e.fromStage === e.toStage ? `at ${e.toStage} %` : `${e.fromStage} % → ${e.toStage} %`;
  return h(
    "li",
    { class: e.actor === "auto" ? "auto" : "admin", "data-audit-rollout": r.id, "data-audit-action": e.action },
    h("div", { class: "when" }, h("time", { datetime: e.at }, new Date(e.at).toLocaleString()), ` · ${who(e)}`),
    h(
      "div",
      {},
      h("strong", {}, `${r.candidate} vs ${r.incumbent}: ${ACTION_TEXT[e.action] ?? e.action}`),
      ` ${stage}, now ${e.status}`,
      h("span", { class: "muted mono" }, ` ${r.id}`),
    ),
    e.reasons?.length ? h("div", {}, e.reasons.map((x) => x.message).join("; ")) : null,
    statsLine(e.stats),
  );
}

/** Renders the history of the given rollout views (GET /v1/rollouts/{id}), merged and newest first. */
export function renderAudit(views) {
  const entries = views.flatMap((r) => (r.history ?? []).map((e) => ({ e, r })));
  entries.sort((a, b) => b.e.at.localeCompare(a.e.at));
  const box = $("audit");
  if (entries.length === 0) {
    box.replaceChildren(h("p", { class: "empty" }, "Nothing yet: rollout transitions and admin actions show here."));
    return;
  }
  replaceKeepingFocus(
    box,
    h(
      "ol",
      { class: "timeline" },
      entries.map(({ e, r }) => entryView(e, r)),
    ),
  );
}
