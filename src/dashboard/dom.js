// DOM and formatting helpers shared by the dashboard's modules. Data is always inserted as text
// (textContent / text nodes), never as HTML: ids and user ids come from API clients.

export const $ = (id) => document.getElementById(id);
export const nf = new Intl.NumberFormat("en-US");
export const fmtInt = (n) => (n === null || n === undefined ? "—" : nf.format(Math.round(n)));
export const fmtNum = (n, digits = 3) =>
  n === null || n === undefined || !Number.isFinite(n) ? "—" : n.toFixed(digits);
export const fmtPct = (n) => (n === null || n === undefined ? "—" : `${(n * 100).toFixed(1)} %`);
export const fmtRate = (n) => (n === null ? "—" : n < 10 ? n.toFixed(1) : nf.format(Math.round(n)));

/** Creates an element; children are nodes or strings (inserted as text). */
export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs ?? {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k === "class") el.className = v;
    else el.setAttribute(k, v === true ? "" : String(v));
  }
  for (const c of children.flat()) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

export const num = (v) => h("td", { class: "num" }, v);

export function fillBody(table, rows, emptyText, columns) {
  const body = table.tBodies[0];
  if (rows.length === 0) {
    body.replaceChildren(h("tr", {}, h("td", { colspan: columns, class: "empty" }, emptyText)));
    return;
  }
  replaceKeepingFocus(body, ...rows);
  labelCells(table);
}

/** The API key lives in sessionStorage (this tab only, gone when it closes) and is sent only as a header. */
export const KEY_STORAGE = "loopwise.apiKey";
export const storedKey = () => sessionStorage.getItem(KEY_STORAGE);

/** GET a JSON route with the tab's API key; a refused key (401) fires `loopwise:unauthorized`. */
export async function getJson(path, headers) {
  const key = storedKey();
  const auth = key ? { authorization: `Bearer ${key}` } : {};
  const res = await fetch(path, { headers: { accept: "application/json", ...auth, ...headers }, cache: "no-store" });
  if (res.status === 401 && key && !headers?.authorization) document.dispatchEvent(new Event("loopwise:unauthorized"));
  const body = await res.json().catch(() => ({}));
  if (!res.ok) {
    const error = new Error(body.detail ?? body.title ?? `${res.status} ${res.statusText}`);
    error.status = res.status;
    throw error;
  }
  return body;
}

/** POST/PUT a JSON body with the tab's key; a problem document becomes an Error with its field errors. */
export async function sendJson(method, path, body) {
  const key = storedKey();
  const res = await fetch(path, {
    method,
    headers: {
      accept: "application/json",
      "content-type": "application/json",
      ...(key ? { authorization: `Bearer ${key}` } : {}),
    },
    body: JSON.stringify(body ?? {}),
    cache: "no-store",
  });
  if (res.status === 401 && key) document.dispatchEvent(new Event("loopwise:unauthorized"));
  const answer = await res.json().catch(() => ({}));
  if (!res.ok) {
    const error = new Error(answer.detail ?? answer.title ?? `${res.status} ${res.statusText}`);
    error.status = res.status;
    error.fieldErrors = Array.isArray(answer.errors) ? answer.errors : [];
    throw error;
  }
  return answer;
}

/** A failed request as text for a form's message: the detail and each field the server named. */
export function problemText(error) {
  const fields = (error.fieldErrors ?? []).map((e) => `${e.path || "(body)"}: ${e.message}`);
  return [error.message, ...fields].join("\n");
}

/** Shows an outcome under a form (`ok` false: an error), announced by its aria-live region. */
export function say(el, text, ok = true) {
  el.className = ok ? "form-ok" : "form-error";
  el.textContent = text;
}

/**
 * Copies each column's header text to its cells' `data-label`: at phone width a `table.cards` shows every
 * row as a card of "label value" lines (dashboard.css), so no number is cut off or hidden sideways.
 */
export function labelCells(table) {
  const labels = [...(table.tHead?.rows[0]?.cells ?? [])].map((c) => c.textContent.trim());
  for (const row of table.tBodies[0]?.rows ?? []) {
    [...row.cells].forEach((cell, i) => {
      if (labels[i] && !cell.hasAttribute("data-label")) cell.setAttribute("data-label", labels[i]);
    });
  }
}

/**
 * Replaces a container's children, keeping keyboard focus on the "same" control (same `data-focus-key`):
 * panels re-render every few seconds and must not throw a keyboard user back to the top of the page.
 */
export function replaceKeepingFocus(container, ...children) {
  const focused = document.activeElement;
  const key = container.contains(focused) ? focused?.getAttribute("data-focus-key") : null;
  container.replaceChildren(...children);
  if (key) container.querySelector(`[data-focus-key="${CSS.escape(key)}"]`)?.focus();
}

/**
 * A metric with its 95 % interval as text: "no data yet" when nothing was counted (never a meaningless
 * [0, 0]); a value without an interval when the interval has no width (no events yet: a Wald interval at
 * zero successes is [0, 0], which claims certainty it does not have).
 */
export function fmtInterval(metric, count, digits = 3) {
  if (!metric || !count) return "no data yet";
  const [lo, hi] = metric.ci95 ?? [];
  if (!(hi > lo)) return `${fmtNum(metric.value, digits)} (no events yet, n = ${fmtInt(count)})`;
  return `${fmtNum(metric.value, digits)} [${fmtNum(lo, digits)}, ${fmtNum(hi, digits)}]`;
}

/**
 * Wide tables that still scroll sideways (chart numbers with many series, on a phone) say so above them, and
 * can be scrolled with the keyboard (focusable region). Run after rendering and on resize.
 */
export function hintOverflow() {
  for (const box of document.querySelectorAll(".scroll")) {
    const overflows = box.scrollWidth > box.clientWidth + 1;
    const hint = box.previousElementSibling?.classList.contains("scroll-hint") ? box.previousElementSibling : null;
    if (overflows && !hint) {
      box.before(h("p", { class: "scroll-hint", "aria-hidden": "true" }, "Scroll sideways for more columns →"));
      box.setAttribute("tabindex", "0");
      box.setAttribute("role", "region");
      box.setAttribute("aria-label", "Table (scrolls sideways)");
    } else if (!overflows && hint) {
      hint.remove();
      for (const a of ["tabindex", "role", "aria-label"]) box.removeAttribute(a);
    }
  }
}
