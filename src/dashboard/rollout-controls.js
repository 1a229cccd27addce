// Rollout controls (admin): start one with its plan and guardrails, and pause, resume, advance or abort it.
// Every action first says what will happen (confirm.js); the server's answer or problem is shown in place.
import { refreshAudit } from "./audit.js";
import { confirmAction } from "./confirm.js";
import { $, fmtPct, h, problemText, say, sendJson } from "./dom.js";
import { latestRollouts, refreshRollouts } from "./rollouts.js";

const GUARDRAILS = [
  ["ctr", "CTR"],
  ["conversion", "conversion"],
  ["revenuePerSession", "revenue per session"],
];

/** Fills the candidate and incumbent choices from the policy registry (GET /v1/policies). */
export function fillRolloutPolicies(registry) {
  const ids = (registry?.policies ?? []).map((p) => p.id);
  for (const [id, preferred] of [
    ["rollout-candidate", ids.find((x) => x !== registry?.default)],
    ["rollout-incumbent", registry?.default],
  ]) {
    const select = $(id);
    const keep = select.value || preferred;
    if ([...select.options].map((o) => o.value).join() === ids.join()) continue;
    select.replaceChildren(...ids.map((p) => h("option", { value: p }, p)));
    if (keep && ids.includes(keep)) select.value = keep;
  }
}

/** The form as a POST /v1/rollouts body; bad local input is left for the server to name (one place). */
function rolloutBody() {
  const stages = $("rollout-stages")
    .value.split(/[\s,→>]+/)
    .filter(Boolean)
    .map(Number);
  const guardrails = {};
  for (const [metric] of GUARDRAILS) {
    const raw = $(`guard-${metric}`).value.trim();
    guardrails[metric] = raw === "" ? { enabled: false } : { enabled: true, maxRelativeDrop: Number(raw) };
  }
  const body = {
    candidate: $("rollout-candidate").value,
    incumbent: $("rollout-incumbent").value,
    stages,
    minHold: $("rollout-hold").value.trim(),
    guardrails,
    opeGate: $("rollout-gate").checked,
  };
  const sample = $("rollout-sample").value.trim();
  if (sample !== "") body.minSamplePerArm = Number(sample);
  return body;
}

function startLines(b) {
  const guarded = GUARDRAILS.filter(([m]) => b.guardrails[m].enabled).map(
    ([m, label]) => `${label} (at most ${fmtPct(b.guardrails[m].maxRelativeDrop)} lower)`,
  );
  return [
    `"${b.candidate}" is served to a growing share of users instead of "${b.incumbent}": ${b.stages.join(" % → ")} %.`,
    b.opeGate
      ? "Before the first stage an offline evaluation on the decision log must not find it worse."
      : "No offline gate: the first stage starts at the next tick.",
    `Each stage is held at least ${b.minHold}${b.minSamplePerArm !== undefined ? ` and until each arm has ${b.minSamplePerArm} decisions` : ""}.`,
    guarded.length
      ? `A significant drop in ${guarded.join(", ")} rolls it back automatically.`
      : "No guardrail: only a sample-ratio mismatch halts it.",
  ];
}

async function startRollout(event) {
  event.preventDefault();
  const out = $("rollout-form-result");
  const body = rolloutBody();
  const ok = await confirmAction({ title: "Start this rollout?", lines: startLines(body), ok: "Start rollout" });
  if (!ok) return;
  try {
    const r = await sendJson("POST", "/v1/rollouts", body);
    say(out, `Started ${r.id} (${r.status}).`);
    await Promise.all([refreshRollouts(), refreshAudit()]);
  } catch (error) {
    say(out, problemText(error), false);
  }
}

/** What each manual action does, in the controller's terms (app/rollout-controller.ts). */
function actionLines(action, r) {
  const next = (r.stages ?? [])[r.stageIndex + 1];
  const candidate = `"${r.candidate}"`;
  switch (action) {
    case "pause":
      return [
        `The split stays at ${r.stage} %: ${candidate} keeps serving that share.`,
        "It stops advancing until resumed; guardrails and the sample-ratio check still roll it back on a regression.",
      ];
    case "resume":
      return [`It advances again when the hold, the samples and the guardrails allow (now at ${r.stage} %).`];
    case "advance":
      return next === undefined
        ? [`${candidate} becomes the default for everyone (100 %) and the rollout completes.`]
        : [
            `${candidate} is served to ${next} % of users now (from ${r.stage} %), skipping the remaining hold and sample minimum.`,
          ];
    case "abort":
      return [
        `Everyone is served "${r.incumbent}" again at once; ${candidate} serves no one.`,
        "The rollout ends (aborted) and cannot be resumed.",
      ];
    default:
      return [];
  }
}

async function onRolloutAction(event) {
  const button = event.target instanceof Element ? event.target.closest("button[data-action]") : null;
  if (!button) return;
  const action = button.getAttribute("data-action");
  const id = button.getAttribute("data-rollout-id");
  const r = latestRollouts.get(id);
  if (!r) return;
  const title = `${action[0].toUpperCase()}${action.slice(1)} rollout ${r.candidate} vs ${r.incumbent}?`;
  const ok = await confirmAction({ title, lines: actionLines(action, r), ok: action, danger: action === "abort" });
  if (!ok) return;
  const out = $("rollout-form-result");
  try {
    const after = await sendJson("POST", `/v1/rollouts/${encodeURIComponent(id)}/${action}`, {});
    say(out, `${id}: ${action} done, now ${after.status} at ${after.stage} %.`);
  } catch (error) {
    say(out, `${id}: ${problemText(error)}`, false);
  }
  await Promise.all([refreshRollouts(), refreshAudit()]);
}

export function initRolloutControls() {
  $("rollout-form").addEventListener("submit", startRollout);
  $("rollouts").addEventListener("click", onRolloutAction);
}
