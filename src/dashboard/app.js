// The Loopwise dashboard: plain DOM, no framework, reads only the public API of its own origin.
import { $, getJson } from "./dom.js";
import { lookUp } from "./lookup.js";
import { renderActivity, renderPolicies, renderRecent, renderTiles } from "./panels.js";
import { KEY_STORAGE, refreshRollouts } from "./rollouts.js";

const POLL_MS = 2000;
const ROLLOUT_POLL_MS = 5000;

function setStatus(ok, text) {
  const el = $("status");
  el.className = ok ? "ok" : "error";
  el.textContent = text;
}

async function refresh() {
  try {
    const [overview, registry] = await Promise.all([
      getJson("/v1/overview"),
      getJson("/v1/policies").catch(() => null),
    ]);
    renderTiles(overview);
    renderPolicies(overview, registry);
    renderActivity(overview);
    renderRecent(overview);
    setStatus(true, `live · ${new Date().toLocaleTimeString()}`);
    document.body.dataset.loaded = "true";
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

function init() {
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
  $("key-form").addEventListener("submit", (e) => {
    e.preventDefault();
    const key = $("admin-key").value.trim();
    if (key) sessionStorage.setItem(KEY_STORAGE, key);
    $("admin-key").value = "";
    refreshRollouts();
  });
  $("forget-key").addEventListener("click", () => {
    sessionStorage.removeItem(KEY_STORAGE);
    refreshRollouts();
  });
  schedule(refresh, POLL_MS);
  schedule(refreshRollouts, ROLLOUT_POLL_MS);
}

init();
