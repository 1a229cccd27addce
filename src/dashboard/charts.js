// Time-series charts on uPlot (served from this origin): a line per series with its 95 % interval as a shaded
// band, dashed vertical lines for markers (stage boundaries, controller decisions, admin actions), and the same
// numbers as a table under the chart (screen readers, and anyone who wants the exact figures).
// uPlot is served beside the page's modules as /dashboard/uPlot.esm.js (server/routes/dashboard.ts).
import { fmtInt, fmtNum, h } from "./dom.js";
import uPlot from "./uPlot.esm.js";

/** Colour-blind-safe pairs (Okabe & Ito 2008): line, band fill. */
const PALETTE = [
  ["#0072b2", "rgba(0, 114, 178, 0.15)"],
  ["#d55e00", "rgba(213, 94, 0, 0.15)"],
  ["#009e73", "rgba(0, 158, 115, 0.15)"],
  ["#cc79a7", "rgba(204, 121, 167, 0.15)"],
  ["#56b4e9", "rgba(86, 180, 233, 0.15)"],
  ["#e69f00", "rgba(230, 159, 0, 0.15)"],
];
const MARKER_COLOUR = { stage: "#8a5300", decision: "#4a5260", action: "#a61b1b" };

/** Draws each marker as a dashed vertical line with a short label at the top of the plot. */
function markersPlugin(markers) {
  const draw = (u) => {
    const { ctx } = u;
    const { left, top, width, height } = u.bbox;
    ctx.save();
    ctx.setLineDash([5 * devicePixelRatio, 4 * devicePixelRatio]);
    ctx.lineWidth = devicePixelRatio;
    ctx.font = `${11 * devicePixelRatio}px system-ui, sans-serif`;
    // Labels of markers close together would print over each other: the first one's label stands for them
    // (the list under the chart has every marker).
    let lastLabel = Number.NEGATIVE_INFINITY;
    for (const m of markers) {
      const x = u.valToPos(m.x, "x", true);
      if (!(x >= left && x <= left + width)) continue;
      ctx.strokeStyle = MARKER_COLOUR[m.kind] ?? MARKER_COLOUR.decision;
      ctx.fillStyle = ctx.strokeStyle;
      ctx.beginPath();
      ctx.moveTo(x, top);
      ctx.lineTo(x, top + height);
      ctx.stroke();
      if (x - lastLabel < 48 * devicePixelRatio) continue;
      ctx.fillText(m.short, x + 3 * devicePixelRatio, top + 11 * devicePixelRatio);
      lastLabel = x;
    }
    ctx.restore();
  };
  return { hooks: { draw: [draw] } };
}

/**
 * The time axis starts a few steps before the first data point or marker (a fresh server's hour is mostly
 * empty) and ends where the window does (the last step's end: a marker in the current step is on screen).
 * The drawn arrays stay the whole window, as the API answered it.
 */
function xRange(xs, series, markers) {
  const withData = xs.findIndex((_, i) => series.some((s) => s.values[i] !== null));
  const step = xs.length > 1 ? xs[1] - xs[0] : 60;
  const firsts = [withData >= 0 ? xs[withData] : Number.POSITIVE_INFINITY, ...markers.map((m) => m.x)];
  const end = Math.max((xs.at(-1) ?? 0) + step, ...markers.map((m) => m.x));
  return (_u, min) => [Math.max(min, Math.min(...firsts, end - step) - 5 * step), end];
}

/** A static legend (uPlot's own would list the band edges as series too). */
function legend(series) {
  return h(
    "ul",
    { class: "chart-legend" },
    series.map((s, i) => {
      const swatch = h("span", { class: "swatch", "aria-hidden": "true" });
      swatch.style.background = PALETTE[i % PALETTE.length][0];
      return h("li", {}, swatch, s.label);
    }),
  );
}

/**
 * `xs` in epoch seconds; `series` [{label, values, lows, highs, counts}] (null: no data for that step, drawn as
 * a gap); `markers` [{x, kind, short, text}]. Returns the element (chart, marker list, numbers table).
 */
export function timeChart({ id, title, xs, series, markers, digits = 3, height = 180 }) {
  const data = [xs];
  const opts = {
    width: 400,
    height,
    series: [{ label: "time" }],
    bands: [],
    scales: { x: { time: true, range: xRange(xs, series, markers) } },
    // Room for an "11:09am" tick label on the time axis, so a narrow chart does not print them together.
    axes: [{ space: 70 }, { size: 56, values: (_u, ticks) => ticks.map((t) => fmtNum(t, digits)) }],
    legend: { show: false },
    plugins: [markersPlugin(markers)],
  };
  series.forEach((s, i) => {
    const [stroke, fill] = PALETTE[i % PALETTE.length];
    const at = data.length;
    data.push(s.values, s.highs, s.lows);
    opts.series.push(
      // Points as well as lines: a step between two empty ones is still seen.
      { label: s.label, stroke, width: 2, points: { show: true, size: 5, fill: stroke } },
      { label: `${s.label} upper`, stroke: "transparent", width: 0, points: { show: false } },
      { label: `${s.label} lower`, stroke: "transparent", width: 0, points: { show: false } },
    );
    opts.bands.push({ series: [at + 1, at + 2], fill });
  });
  const plot = h("div", {
    class: "chart-plot",
    role: "img",
    "aria-label": `${title}: chart; numbers in the table below`,
  });
  const box = h(
    "div",
    { class: "chart-box", "data-chart": id },
    h("h3", {}, title),
    legend(series),
    plot,
    markerList(markers),
    numbersTable(title, xs, series, digits),
  );
  // The arrays uPlot draws, for tests and debugging (the canvas cannot be read back as numbers).
  box.chartData = data;
  box.chartLabels = series.map((s) => s.label);
  const chart = new uPlot(opts, data, plot);
  const fit = () => chart.setSize({ width: Math.max(240, Math.floor(plot.clientWidth)), height });
  new ResizeObserver(fit).observe(plot);
  box.destroy = () => chart.destroy();
  return box;
}

function markerList(markers) {
  if (markers.length === 0) return null;
  return h(
    "ul",
    { class: "marker-list", "aria-label": "Marked on the time axis" },
    markers.map((m) =>
      h("li", { "data-marker-kind": m.kind }, `${new Date(m.x * 1000).toLocaleTimeString()}: ${m.text}`),
    ),
  );
}

/** The chart's numbers, steps with data only (empty steps are gaps on the chart). */
function numbersTable(title, xs, series, digits) {
  const cell = (s, i) => {
    const v = s.values[i];
    if (v === null || v === undefined) return h("td", { class: "num" }, "no data yet");
    const interval = s.lows[i] === null ? "" : ` [${fmtNum(s.lows[i], digits)}, ${fmtNum(s.highs[i], digits)}]`;
    const n = s.counts ? ` n=${fmtInt(s.counts[i])}` : "";
    return h("td", { class: "num" }, `${fmtNum(v, digits)}${interval}${n}`);
  };
  const rows = xs
    .map((x, i) => ({ x, i }))
    .filter(({ i }) => series.some((s) => s.values[i] !== null))
    .map(({ x, i }) =>
      h(
        "tr",
        { "data-t": String(x) },
        h("th", { scope: "row" }, new Date(x * 1000).toLocaleTimeString()),
        series.map((s) => cell(s, i)),
      ),
    );
  return h(
    "details",
    {},
    h("summary", {}, `Numbers (${rows.length} steps with data)`),
    h(
      "div",
      { class: "scroll" },
      h(
        "table",
        { class: "pin" },
        h("caption", { class: "visually-hidden" }, `${title}: value [95 % interval] per step`),
        h(
          "thead",
          {},
          h(
            "tr",
            {},
            h("th", { scope: "col" }, "Step"),
            series.map((s) => h("th", { scope: "col", class: "num" }, s.label)),
          ),
        ),
        h(
          "tbody",
          {},
          rows.length
            ? rows
            : h("tr", {}, h("td", { colspan: series.length + 1, class: "empty" }, "No data yet in this window.")),
        ),
      ),
    ),
  );
}
