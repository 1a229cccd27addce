// The Loopwise dashboard: plain DOM, no framework, reads only the public API of its own origin.
import { refreshAudit } from "./audit.js";
import { $, getJson, hintOverflow, KEY_STORAGE, storedKey } from "./dom.js";
import { fillEvaluationTargets, initEvaluationControls, refreshEvaluations } from "./evaluation-controls.js";
import { lookUp } from "./lookup.js";
import { renderActivity, renderPolicies, renderRecent, renderTiles } from "./panels.js";
import { fillTemplates, initPolicyControls } from "./policy-controls.js";
import { fillResultSubjects, initResults, refreshResults } from "./results.js";
import { fillRolloutPolicies, initRolloutControls } from "./rollout-controls.js";
import { refreshRollouts } from "./rollouts.js";
import { checkKey, showContent, showSignIn } from "./signin.js";

const POLL_MS = 2000;
const ROLLOUT_POLL_MS = 5000;
/** The charts are per minute: a redraw every 15 s keeps the current minute fresh without flicker. */
const RESULTS_POLL_MS = 15_000;

function setStatus(ok, text) {
  const el = $("status");
  el.className = ok ? "ok" : "error";
  el.textContent = text;
}

async function refresh() {
  if ($("content").hidden) return;
  try {
    const [overview, registry] = await Promise.all([
      getJson("/v1/overview"),
      getJson("/v1/policies").catch(() => null),
    ]);
    renderTiles(overview);
    renderPolicies(overview, registry);
    if (registry && fillResultSubjects(registry, undefined)) refreshResults();
    if (document.body.dataset.scope === "admin") {
      fillRolloutPolicies(registry);
      fillTemplates();
      fillEvaluationTargets(registry);
    }
    renderActivity(overview);
    renderRecent(overview);
    setStatus(true, `live · ${new Date().toLocaleTimeString()}`);
    document.body.dataset.loaded = "true";
    hintOverflow();
  } catch (error) {
    setStatus(false, `cannot reach the API: ${error.message}`);
  }
}

function schedule(fn, ms) {
  let timer;
  const loop = async () => {
    if (!document.hidden) await fn();
    timer = setTimeout(loop, ms);
  };
  loop();
  document.addEventListener("visibilitychange", () => {
    if (document.hidden) return;
    clearTimeout(timer);
    loop();
  });
}

let polling = false;

/** Shows the panels a key may see (`key` undefined: the tab's key, or none with auth none). */
async function enter(key) {
  let who;
  try {
    who = await checkKey(key ?? storedKey() ?? undefined);
  } catch (error) {
    showSignIn(`Cannot reach the API: ${error.message}`);
    return;
  }
  const tried = key ?? storedKey();
  if (!who?.scope || who.scope === "client") {
    sessionStorage.removeItem(KEY_STORAGE);
    if (!tried) showSignIn("Enter an API key of scope read or admin.");
    else if (!who) showSignIn("That key was refused (revoked, rotated or mistyped).");
    else showSignIn("That is a client key: the dashboard needs a read or admin key.");
    return;
  }
  if (key) sessionStorage.setItem(KEY_STORAGE, key);
  showContent(who.scope, who.name);
  if (!polling) {
    polling = true;
    schedule(refresh, POLL_MS);
    schedule(refreshRollouts, ROLLOUT_POLL_MS);
    schedule(refreshAudit, ROLLOUT_POLL_MS);
    schedule(refreshEvaluations, ROLLOUT_POLL_MS);
    setInterval(() => {
      if (!document.hidden && !$("content").hidden) refreshResults();
    }, RESULTS_POLL_MS);
  } else {
    refresh();
    refreshRollouts();
    refreshAudit();
    refreshEvaluations();
  }
}

function init() {
  $("key-form").addEventListener("submit", (e) => {
    e.preventDefault();
    const key = $("api-key").value.trim();
    $("api-key").value = "";
    if (key) enter(key);
  });
  $("forget-key").addEventListener("click", () => {
    sessionStorage.removeItem(KEY_STORAGE);
    showSignIn("Key forgotten. Enter an API key of scope read or admin.");
  });
  document.addEventListener("loopwise:unauthorized", () => {
    sessionStorage.removeItem(KEY_STORAGE);
    showSignIn("The key was refused (revoked or rotated). Enter a current one.");
  });
  $("lookup-form").addEventListener("submit", (e) => {
    e.preventDefault();
    const userId = $("lookup-user").value.trim();
    if (userId) lookUp(userId);
  });
  // The overview lists no user ids: the user is read from the decision (GET /v1/decisions/{id}).
  $("recent-table").addEventListener("click", async (e) => {
    const button = e.target instanceof Element ? e.target.closest("button[data-lookup]") : null;
    if (!button) return;
    const decisionId = button.getAttribute("data-lookup");
    try {
      const { userId } = await getJson(`/v1/decisions/${encodeURIComponent(decisionId)}`);
      $("lookup-user").value = userId;
      $("lookup-title").scrollIntoView({ block: "start" });
      lookUp(userId);
    } catch (error) {
      setStatus(false, `cannot read decision ${decisionId}: ${error.message}`);
    }
  });
  initResults();
  window.addEventListener("resize", hintOverflow);
  // Opening a chart's numbers table may reveal a wide table.
  document.addEventListener("toggle", hintOverflow, true);
  document.addEventListener("loopwise:rollouts", (e) => {
    if (fillResultSubjects(undefined, e.detail)) refreshResults();
  });
  initRolloutControls();
  initPolicyControls(() => Promise.all([refresh(), refreshAudit()]));
  initEvaluationControls();
  enter();
}

init();
