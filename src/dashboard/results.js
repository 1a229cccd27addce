// "Results over time": CTR, conversion and revenue per session per step (GET /v1/timeseries), for every policy
// or for both arms of one rollout with the lift between them, with the rollout's stage boundaries, the
// controller's decisions and admin actions marked on the time axis.
import { timeChart } from "./charts.js";
import { $, getJson, h } from "./dom.js";

const METRICS = [
  ["ctr", "CTR", 3],
  ["conversion", "Conversion", 3],
  ["revenuePerSession", "Revenue per session", 2],
];

const seconds = (iso) => Date.parse(iso) / 1000;

/** One API series as chart arrays (null where a step has no data: a gap, never a fake 0). */
function chartSeries(label, points) {
  return {
    label,
    values: points.map((p) => p.value ?? null),
    lows: points.map((p) => p.interval?.[0] ?? null),
    highs: points.map((p) => p.interval?.[1] ?? null),
    counts: points.map((p) => p.count ?? 0),
  };
}

function chartMarkers(markers) {
  return (markers ?? []).map((m) => {
    const verb = m.action.split(".").pop();
    const short = m.kind === "stage" && m.toStage !== null ? `${m.toStage} %` : verb;
    const who = m.actor?.name ? ` (${m.actor.name})` : "";
    return { x: seconds(m.at), kind: m.kind, short, text: `${m.summary}${who}` };
  });
}

/** The window the charts show: the last `minutes`, by minute (the same query the test repeats). */
function windowQuery(minutes) {
  const to = Date.now();
  return `from=${to - minutes * 60_000}&to=${to}&step=minute`;
}

async function policyCharts(policies, query) {
  return Promise.all(
    METRICS.map(async ([metric, title, digits]) => {
      const answers = await Promise.all(
        policies.map((p) => getJson(`/v1/timeseries?policy=${encodeURIComponent(p)}&metric=${metric}&${query}`)),
      );
      const first = answers[0];
      const series = answers.map((a) => chartSeries(a.policy, a.series[0].points));
      const markers = chartMarkers(answers.flatMap((a) => a.markers));
      const box = timeChart({
        id: metric,
        title,
        xs: first.series[0].points.map((p) => seconds(p.t)),
        series,
        markers,
        digits,
      });
      box.dataset.query = `metric=${metric}&${query}`;
      return box;
    }),
  );
}

async function rolloutCharts(rolloutId, query) {
  const boxes = await Promise.all(
    METRICS.map(async ([metric, title, digits]) => {
      const a = await getJson(`/v1/timeseries?rollout=${encodeURIComponent(rolloutId)}&metric=${metric}&${query}`);
      const xs = a.series[0].points.map((p) => seconds(p.t));
      const markers = chartMarkers(a.markers);
      const arms = timeChart({
        id: metric,
        title: `${title} per arm`,
        xs,
        series: a.series.map((s) => chartSeries(`${s.policy} (${s.name})`, s.points)),
        markers,
        digits,
      });
      const total = a.lift?.total;
      const liftTitle = `${title}: relative lift of ${a.rollout.candidate} over ${a.rollout.incumbent}${
        total?.value === null || total?.value === undefined
          ? " (no data yet)"
          : ` · window ${(total.value * 100).toFixed(1)} %${total.interval ? ` [${(total.interval[0] * 100).toFixed(1)} %, ${(total.interval[1] * 100).toFixed(1)} %]` : ""}`
      }`;
      const lift = timeChart({
        id: `${metric}-lift`,
        title: liftTitle,
        xs,
        series: [chartSeries("lift", a.lift?.points ?? [])],
        markers,
        digits: 3,
        height: 140,
      });
      for (const box of [arms, lift]) box.dataset.query = `rollout=${rolloutId}&metric=${metric}&${query}`;
      return [arms, lift];
    }),
  );
  return boxes.flat();
}

let shown = [];
let renders = 0;
/** The registered policies, charted together under "every policy". */
let policies = [];
let rollouts = [];

/** Re-reads the series for the chosen subject and window and redraws the charts. */
export async function refreshResults() {
  const out = $("results");
  const subject = $("results-subject").value;
  const query = windowQuery(Number($("results-window").value));
  try {
    let boxes;
    if (subject.startsWith("rollout:")) boxes = await rolloutCharts(subject.slice("rollout:".length), query);
    else {
      if (policies.length === 0) {
        out.replaceChildren(h("p", { class: "empty" }, "No policies yet."));
        return;
      }
      boxes = await policyCharts(policies, query);
    }
    for (const b of shown) b.destroy?.();
    shown = boxes;
    out.replaceChildren(h("div", { class: "charts", "data-subject": subject }, boxes));
    // Which subject was drawn, and a count that tells a watcher (a test, a screenshot) a redraw happened.
    document.body.dataset.chartsLoaded = subject;
    document.body.dataset.chartsRendered = String(++renders);
  } catch (error) {
    out.replaceChildren(h("p", { class: "error-text" }, `Cannot read the time series: ${error.message}`));
  }
}

/**
 * The subjects: every policy (one line each), and each rollout the rollouts panel read (admin keys); an
 * argument left undefined keeps what was known. Answers whether the choices changed.
 */
export function fillResultSubjects(registry, rolloutViews) {
  const select = $("results-subject");
  const keep = select.value;
  if (registry) policies = registry.policies.map((p) => p.id);
  if (rolloutViews) rollouts = rolloutViews;
  const options = [h("option", { value: "policies" }, `every policy (${policies.length})`)];
  for (const r of rollouts)
    options.push(h("option", { value: `rollout:${r.id}` }, `rollout ${r.candidate} vs ${r.incumbent} (${r.status})`));
  const signature = options.map((o) => o.value).join();
  if ([...select.options].map((o) => o.value).join() === signature && select.dataset.filled) return false;
  select.replaceChildren(...options);
  select.dataset.filled = "true";
  if ([...select.options].some((o) => o.value === keep)) select.value = keep;
  return true;
}

export function initResults() {
  $("results-subject").addEventListener("change", refreshResults);
  $("results-window").addEventListener("change", refreshResults);
}
