// Signing in with an API key: the page asks GET /v1/auth/whoami which key it holds and shows only what
// that key's scope may see (a read key: every panel but no controls; auth none: everything).
import { $, getJson, KEY_STORAGE } from "./dom.js";

/** `{auth, name, scope}` of a key (scope null without one, "admin" with auth none); undefined when refused. */
export async function checkKey(key) {
  const headers = key ? { authorization: `Bearer ${key}` } : undefined;
  try {
    return await getJson("/v1/auth/whoami", headers);
  } catch (error) {
    if (error.status === 401) return undefined;
    throw error;
  }
}

export function showSignIn(message) {
  $("signin").hidden = false;
  $("content").hidden = true;
  $("forget-key").hidden = true;
  $("signin-message").textContent = message;
  $("status").className = "error";
  $("status").textContent = "API key needed";
  $("api-key").focus();
}

export function showContent(scope, keyName) {
  $("signin").hidden = true;
  $("content").hidden = false;
  $("forget-key").hidden = sessionStorage.getItem(KEY_STORAGE) === null;
  document.body.dataset.scope = scope;
  $("key-line").textContent = keyName ? `key: ${keyName} (${scope})` : `scope: ${scope}`;
  // Controls (admin routes) are not shown at all to other scopes.
  for (const el of document.querySelectorAll("[data-needs='admin']")) el.hidden = scope !== "admin";
}
