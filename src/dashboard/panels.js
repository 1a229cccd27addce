// The panels fed by GET /v1/overview and GET /v1/policies: tiles, policies, activity, model, recent decisions.
import { $, fillBody, fmtInt, fmtNum, fmtPct, fmtRate, h, num } from "./dom.js";

let previous = null;

function rates(overview) {
  const t = performance.now();
  const counts = {
    decisions: overview.totals.decisions,
    events: overview.totals.eventsAccepted,
    rewards: overview.totals.rewardsAccepted,
  };
  const out = { decisions: null, events: null, rewards: null };
  if (previous && t > previous.t) {
    const seconds = (t - previous.t) / 1000;
    for (const k of Object.keys(counts)) out[k] = Math.max(0, counts[k] - previous.counts[k]) / seconds;
  }
  previous = { t, counts };
  return out;
}

export function renderTiles(o) {
  const r = rates(o);
  $("rate-decisions").textContent = fmtRate(r.decisions);
  $("rate-events").textContent = fmtRate(r.events);
  $("rate-rewards").textContent = fmtRate(r.rewards);
  $("total-decisions").textContent = fmtInt(o.totals.decisions);
  $("total-events").textContent = fmtInt(o.totals.eventsAccepted);
  $("total-rewards").textContent = fmtInt(o.totals.rewardsAccepted);
  $("pending-windows").textContent = fmtInt(o.learning.pendingWindows);
  const minutes = o.learning.windowMs / 60000;
  $("window-info").textContent =
    `open · ${minutes >= 1 ? `${fmtNum(minutes, 0)} min` : `${o.learning.windowMs} ms`} window`;
  const lat = o.rankLatency;
  $("rank-latency").textContent = lat ? `${fmtNum(lat.p50MsAtMost, 1)} / ${fmtNum(lat.p99MsAtMost, 1)}` : "—";
  const m = o.model;
  $("model-line").textContent = m ? `model: ${m.name} ${m.version}` : "model: none yet";
  $("uptime").textContent = `up ${formatDuration(o.uptimeSeconds)}`;
}

function formatDuration(s) {
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min`;
  return `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min`;
}

/** The rewarded share with its 95 % Wilson interval (overview: rewardedShareInterval). */
function shareWithInterval(hour) {
  const ci = hour.rewardedShareInterval;
  const interval = ci ? ` [${(ci[0] * 100).toFixed(1)}, ${(ci[1] * 100).toFixed(1)}]` : "";
  return h("span", {}, fmtPct(hour.rewardedShare ?? null), h("span", { class: "muted" }, interval));
}

/** Mean learned reward over closed reward windows only (before one closes, every reward seen reads 1.000). */
function learnedMean(live) {
  const mean = live?.learned?.rewardMean;
  return mean === null || mean === undefined ? "no data yet" : fmtNum(mean);
}

const makeDefaultButton = (id) =>
  h(
    "button",
    { type: "button", class: "secondary", "data-make-default": id, "data-focus-key": `default:${id}` },
    "Make default…",
  );

export function renderPolicies(o, registry) {
  const admin = document.body.dataset.scope === "admin";
  const live = new Map(o.policies.map((p) => [p.policy, p]));
  const described = registry?.policies ?? [];
  const ids = [...new Set([...described.map((p) => p.id), ...live.keys()])];
  const byId = new Map(described.map((p) => [p.id, p]));
  const rows = ids.map((id) => {
    const d = byId.get(id);
    const l = live.get(id);
    const progress = d?.progress ?? {};
    return h(
      "tr",
      { "data-policy": id },
      h(
        "th",
        { scope: "row" },
        h("span", { class: "mono" }, id),
        d?.default ? h("span", { class: "tag" }, "default") : null,
      ),
      num(fmtInt(l?.lastHour.decisions ?? 0)),
      num(l?.lastHour.decisions ? shareWithInterval(l.lastHour) : "no data yet"),
      num(l?.lastHour.decisions ? fmtNum(l.lastHour.rewardMean ?? null) : "no data yet"),
      num(fmtInt(progress.updates ?? l?.updatesTotal ?? 0)),
      num(learnedMean(l)),
      num(fmtInt(l?.decisionsTotal ?? 0)),
      h("td", {}, d?.type ?? "—"),
      num(d?.version ?? "—"),
      admin ? h("td", {}, d && !d.default ? makeDefaultButton(id) : null) : null,
    );
  });
  fillBody($("policies-table"), rows, "No policies registered.", admin ? 10 : 9);
}

function renderChart(points) {
  const svg = $("per-minute");
  const peak = Math.max(0, ...points.map((p) => p.decisions));
  const max = Math.max(1, peak);
  const w = 600 / Math.max(1, points.length);
  const ns = "http://www.w3.org/2000/svg";
  const bars = points.map((p, i) => {
    const height = (p.decisions / max) * 60;
    const rect = document.createElementNS(ns, "rect");
    rect.setAttribute("x", String(i * w + 0.5));
    rect.setAttribute("width", String(Math.max(1, w - 1)));
    rect.setAttribute("y", String(64 - height));
    rect.setAttribute("height", String(height));
    const title = document.createElementNS(ns, "title");
    title.textContent = `${new Date(p.minute).toLocaleTimeString()}: ${p.decisions} decisions`;
    rect.append(title);
    return rect;
  });
  svg.replaceChildren(...bars);
  const total = points.reduce((a, p) => a + p.decisions, 0);
  svg.setAttribute("aria-label", `${total} decisions in the last hour, at most ${peak} in one minute`);
  $("per-minute-max").textContent = `${fmtInt(total)} in the hour · peak ${fmtInt(peak)} / min`;
}

function renderCounts(tableId, entries, emptyText) {
  const rows = entries.map(([k, v]) => h("tr", { "data-key": k }, h("td", {}, k), num(fmtInt(v))));
  fillBody($(tableId), rows, emptyText, 2);
}

export function renderActivity(o) {
  renderChart(o.decisionsPerMinute);
  const events = o.events.byType.map((e) =>
    h("tr", { "data-type": e.type }, h("td", {}, e.type), num(fmtInt(e.lastHour)), num(fmtInt(e.total))),
  );
  fillBody($("events-table"), events, "No events yet.", 3);
  renderCounts(
    "rewards-table",
    Object.entries(o.rewards.byOutcome).filter(([, v]) => v > 0),
    "No rewards yet.",
  );
  renderCounts(
    "joins-table",
    Object.entries(o.joins).filter(([, v]) => v > 0),
    "No window closed yet.",
  );
  renderCounts("sources-table", Object.entries(o.decisionsBySource), "No decisions yet.");
  renderCounts(
    "fallbacks-table",
    Object.entries(o.fallbacks).filter(([, v]) => v > 0),
    "None used.",
  );
  const m = o.model;
  const info = m
    ? [
        ["Model", m.name],
        ["Version", m.version],
        ["Trained", new Date(m.trainedAt).toLocaleString()],
      ]
    : [["Model", "none trained yet (candidates come from the catalog)"]];
  info.push(["Default policy", o.defaultPolicy ?? "—"]);
  $("model-info").replaceChildren(...info.flatMap(([k, v]) => [h("dt", {}, k), h("dd", {}, v)]));
}

export function renderRecent(o) {
  const rows = o.recentDecisions.map((d) =>
    h(
      "tr",
      { "data-decision": d.decisionId },
      h("td", {}, new Date(d.at).toLocaleTimeString()),
      h("td", { class: "mono" }, d.decisionId),
      h(
        "td",
        {},
        h(
          "button",
          { type: "button", class: "link", "data-lookup": d.decisionId, title: "Look up this decision's user" },
          "look up",
        ),
      ),
      h(
        "td",
        {},
        `${d.policy.id} v${d.policy.version}`,
        d.rollout ? h("span", { class: "tag" }, `${d.rollout.arm} @${d.rollout.stage}%`) : null,
      ),
      h(
        "td",
        { class: "ids" },
        d.items.slice(0, 5).join(", ") + (d.items.length > 5 ? ` … (+${d.items.length - 5})` : ""),
      ),
      num(fmtNum(d.topPropensity)),
      h(
        "td",
        {},
        d.candidateSource,
        d.fallbacks.length ? h("span", { class: "tag warn" }, d.fallbacks.join(", ")) : null,
      ),
      num(d.rewardCount > 0 ? fmtNum(d.reward, 2) : "—"),
    ),
  );
  fillBody($("recent-table"), rows, "No decisions yet: POST /v1/rank (or start with --demo).", 8);
}
