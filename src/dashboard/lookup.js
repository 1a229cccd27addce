// The user lookup panel: features and recommendations for one user id.
import { $, fmtNum, getJson, h, num } from "./dom.js";

export async function lookUp(userId) {
  const out = $("lookup-result");
  out.replaceChildren(h("p", { class: "muted" }, `Looking up ${userId}…`));
  const id = encodeURIComponent(userId);
  const [features, recs] = await Promise.allSettled([
    getJson(`/v1/users/${id}/features`),
    getJson(`/v1/users/${id}/recommendations?k=10`),
  ]);
  const left =
    features.status === "fulfilled"
      ? featuresView(features.value)
      : [h("p", { class: "error-text" }, `Features: ${features.reason.message}`)];
  const right =
    recs.status === "fulfilled"
      ? recommendationsView(recs.value)
      : [h("h3", {}, "Recommendations"), h("p", { class: "error-text", id: "recs-error" }, recs.reason.message)];
  const parts = [h("div", {}, left), h("div", {}, right)];
  out.replaceChildren(...parts);
}

function featuresView(f) {
  const aggregates = Object.entries(f.aggregates ?? {}).filter(([, v]) => v !== null && v !== "" && v !== 0);
  return [
    h(
      "dl",
      { id: "user-summary" },
      h("dt", {}, "User"),
      h("dd", { class: "mono" }, f.userId),
      h("dt", {}, "Known"),
      h("dd", { id: "user-known" }, f.known ? "yes" : "no events yet"),
      h("dt", {}, "Session"),
      h("dd", { class: "mono" }, f.sessionId ?? "—"),
      h("dt", {}, "Session items"),
      h("dd", { class: "mono", id: "user-session-items" }, (f.sessionItems ?? []).join(", ") || "—"),
    ),
    h("h3", {}, "Features (non-zero)"),
    h(
      "div",
      { class: "scroll tall" },
      h(
        "table",
        { id: "features-table" },
        h(
          "thead",
          {},
          h("tr", {}, h("th", { scope: "col" }, "Feature"), h("th", { scope: "col", class: "num" }, "Value")),
        ),
        h(
          "tbody",
          {},
          aggregates.length
            ? aggregates.map(([k, v]) =>
                h(
                  "tr",
                  { "data-feature": k },
                  h("td", { class: "mono" }, k),
                  num(typeof v === "number" ? fmtNum(v, 3).replace(/\.?0+$/, "") : String(v)),
                ),
              )
            : h("tr", {}, h("td", { colspan: 2, class: "empty" }, "No features yet.")),
        ),
      ),
    ),
  ];
}

function recommendationsView(r) {
  const items = r.items ?? [];
  return [
    h(
      "h3",
      {},
      "Recommendations ",
      h(
        "span",
        { class: "muted" },
        `(${r.model.name} ${r.model.version}${r.fallback ? `, fallback: ${r.fallback}` : ""})`,
      ),
    ),
    items.length
      ? h(
          "ol",
          { id: "recs-list" },
          items.map((it) =>
            h(
              "li",
              { "data-item": it.id },
              h("span", { class: "mono" }, it.id),
              h("span", { class: "muted" }, ` · ${fmtNum(it.score)}`),
            ),
          ),
        )
      : h("p", { class: "empty" }, "No recommendations."),
  ];
}
