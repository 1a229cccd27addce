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
  body.replaceChildren(...rows);
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
