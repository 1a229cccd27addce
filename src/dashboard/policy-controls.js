// Policy controls (admin): register a policy from a built-in type (optionally warm-started on the decision
// log), make one the default, and retrain the recommender.
import { confirmAction } from "./confirm.js";
import { $, getJson, h, problemText, say, sendJson } from "./dom.js";

/** The built-in specs (GET /v1/policy-templates), the product default first. */
let templates = [];

let asked = false;

/** Reads the templates once a key that may register is in (app.js calls it with an admin key). */
export async function fillTemplates() {
  if (asked) return;
  asked = true;
  try {
    ({ templates } = await getJson("/v1/policy-templates"));
  } catch (error) {
    asked = false;
    say($("register-result"), `Cannot read the policy templates: ${error.message}`, false);
    return;
  }
  $("register-type").replaceChildren(
    ...templates.map((t) => h("option", { value: t.name }, `${t.name}${t.explores ? "" : " (no exploration)"}`)),
  );
  showTemplate();
}

/** Puts the chosen template's own parameters in the editor and says what it is and what it runs with. */
function showTemplate() {
  const t = templates.find((x) => x.name === $("register-type").value);
  if (!t) return;
  $("register-params").value = JSON.stringify(t.spec.params ?? {}, null, 1);
  $("register-about").textContent =
    `${t.description}. Runs with ${JSON.stringify(t.params)}${t.explores ? "" : "; it does not explore, so offline evaluation of it has no support off its choices"}.`;
}

function parseParams(out) {
  const text = $("register-params").value.trim() || "{}";
  try {
    const params = JSON.parse(text);
    if (params === null || typeof params !== "object" || Array.isArray(params)) throw new Error("not an object");
    return params;
  } catch (error) {
    say(out, `params: expected a JSON object (${error.message})`, false);
    $("register-params").focus();
    return undefined;
  }
}

async function register(event, refresh) {
  event.preventDefault();
  const out = $("register-result");
  const params = parseParams(out);
  if (!params) return;
  const template = templates.find((t) => t.name === $("register-type").value);
  const body = { ...template?.spec, id: $("register-id").value.trim(), params };
  const warm = $("register-warm").checked;
  if (warm) body.warmStart = true;
  const lines = [
    `Registers "${body.id}" (${body.type} from the ${template?.name} template${Object.keys(params).length ? `, with ${JSON.stringify(params)}` : ""}).`,
    warm
      ? "Before it is saved it learns from every resolved decision in the log (a background worker; may take a while)."
      : "It starts with no learning (cold start).",
    "It serves no one until it is made the default or rolled out; the same id with a new spec becomes a new version.",
  ];
  if (!(await confirmAction({ title: `Register policy ${body.id}?`, lines, ok: "Register" }))) return;
  say(out, warm ? `Registering ${body.id} and warm-starting it…` : `Registering ${body.id}…`);
  try {
    const r = await sendJson("POST", "/v1/policies", body);
    const learned = r.warmStart
      ? ` Warm start: learned from ${r.warmStart.rounds} slot-rounds of ${r.warmStart.decisions} decisions in ${r.warmStart.seconds.toFixed(1)} s.`
      : "";
    say(out, `${r.changed ? "Registered" : "Unchanged:"} ${r.id} (${r.type}) version ${r.version}.${learned}`);
    await refresh();
  } catch (error) {
    say(out, problemText(error), false);
  }
}

async function makeDefault(event, refresh) {
  const button = event.target instanceof Element ? event.target.closest("button[data-make-default]") : null;
  if (!button) return;
  const id = button.getAttribute("data-make-default");
  const lines = [
    `Every rank request that names no policy and is in no rollout is served by "${id}" from now on.`,
    "Running rollouts keep their own arms.",
  ];
  if (!(await confirmAction({ title: `Make ${id} the default?`, lines, ok: "Make default" }))) return;
  const out = $("register-result");
  try {
    await sendJson("PUT", "/v1/policies/default", { id });
    say(out, `${id} is the default policy.`);
    await refresh();
  } catch (error) {
    say(out, problemText(error), false);
  }
}

async function retrain() {
  const out = $("retrain-result");
  const lines = [
    "Trains a new session-recommender model on the events so far and swaps it in when done.",
    "Requests keep the current model until then.",
  ];
  if (!(await confirmAction({ title: "Retrain the recommender?", lines, ok: "Retrain" }))) return;
  say(out, "Training…");
  try {
    const m = await sendJson("POST", "/v1/models/train", {});
    say(out, `Trained; now serving model version ${m.version}.`);
  } catch (error) {
    say(out, problemText(error), false);
  }
}

/** `refresh` re-reads the policies after a change. */
export function initPolicyControls(refresh) {
  $("register-type").addEventListener("change", showTemplate);
  $("register-form").addEventListener("submit", (e) => register(e, refresh));
  $("policies-table").addEventListener("click", (e) => makeDefault(e, refresh));
  $("retrain").addEventListener("click", retrain);
}
