import type { FeatureMap } from "../../core/types.js";
import {
  checkedPropensity,
  invalidLog,
  type LoggedRound,
  type LoggedRounds,
  type RoundCandidate,
} from "../logged-round.js";

/**
 * Open Bandit Dataset CSV (Saito et al. 2021; ../shared/data/obd/README.md) as rounds, the way OBP's
 * `OpenBanditDataset` reads it: one row is one (impression, position) round; positions 1,2,3 become 0,1,2
 * by dense rank; the action set is all n_items of the campaign at every position (OBP's "position-based"
 * setting, action_dist[i, a, k]); context = user features + user-item affinities.
 * Only the logged propensity is known, not the logger's full distribution, and rows carry no impression
 * id, so `placedBefore` is empty.
 */
export function parseObdCsv(text: string, options: { source?: string; itemContext?: string } = {}): LoggedRounds {
  const lines = text.split(/\r?\n/).filter((l) => l.length > 0);
  const header = splitRow(lines[0] ?? "");
  const col = (name: string) => {
    const i = header.indexOf(name);
    if (i < 0) throw invalidLog(missingColumn(name, header));
    return i;
  };
  const [iItem, iPos, iClick, iProp] = [col("item_id"), col("position"), col("click"), col("propensity_score")];
  const userCols = header.flatMap((h, i) => (h.startsWith("user_feature_") ? [i] : []));
  const affinityCols = header.flatMap((h, i) => (h.startsWith("user-item_affinity_") ? [i] : []));
  const rows = lines.slice(1).map(splitRow);
  if (rows.length === 0) throw invalidLog("OBD CSV: no data rows after the header");
  for (const [index, r] of rows.entries()) checkRow(r, index, { iItem, iPos, iClick });
  const positions = [...new Set(rows.map((r) => Number(r[iPos])))].sort((a, b) => a - b);
  const rank = new Map(positions.map((p, k) => [p, k]));
  const itemFeatures = options.itemContext ? parseItemContext(options.itemContext) : new Map<number, FeatureMap>();
  const maxItem = rows.reduce((m, r) => Math.max(m, Number(r[iItem])), -1);
  const nItems = Math.max(maxItem + 1, itemFeatures.size);
  const candidates: RoundCandidate[] = Array.from({ length: nItems }, (_, j) => {
    const features = itemFeatures.get(j);
    return features ? { id: String(j), features } : { id: String(j) };
  });
  const none: number[] = [];
  const rounds = rows.map((r, index): LoggedRound => {
    const context: FeatureMap = {};
    for (const i of userCols) context[header[i] as string] = r[i] as string;
    for (const i of affinityCols) context[header[i] as string] = Number(r[i]);
    return {
      context,
      candidates,
      position: rank.get(Number(r[iPos])) as number,
      action: Number(r[iItem]),
      propensity: checkedPropensity(Number(r[iProp]), `OBD CSV data row ${index + 1}`),
      placedBefore: none,
      reward: Number(r[iClick]),
    };
  });
  return {
    source: `obd:${options.source ?? "(text)"}`,
    rounds,
    skipped: {},
    notes: [
      `${rounds.length} rounds, ${nItems} items, ${positions.length} positions (${positions.join(",")} → 0..${positions.length - 1})`,
      "OBD logs only the propensity of the shown item: the logger's full distribution is unknown, so support deficiency cannot be measured and DM-family estimates of the logging policy are unavailable",
    ],
  };
}

function missingColumn(name: string, header: readonly string[]): string {
  const itemContext = header.includes("item_id") && header.some((h) => h.startsWith("item_feature_"));
  return itemContext
    ? `OBD CSV: this is an item_context.csv (item features), not a log: pass the campaign's log, e.g. random/men/men.csv (item_context.csv beside it is read for item features)`
    : `OBD CSV: missing column "${name}" (an OBD log has item_id, position, click, propensity_score, user_feature_*, user-item_affinity_*)`;
}

/** The columns every estimate reads must be numbers: a NaN would silently become an empty action set or reward. */
function checkRow(r: readonly string[], index: number, at: { iItem: number; iPos: number; iClick: number }): void {
  const where = `OBD CSV data row ${index + 1}`;
  const item = Number(r[at.iItem]);
  if (!Number.isInteger(item) || item < 0 || r[at.iItem] === "")
    throw invalidLog(`${where}: item_id "${r[at.iItem] ?? ""}" is not an item index (0, 1, 2, ...)`);
  for (const [name, i] of [
    ["position", at.iPos],
    ["click", at.iClick],
  ] as const) {
    if (r[i] === undefined || r[i] === "" || !Number.isFinite(Number(r[i])))
      throw invalidLog(`${where}: ${name} "${r[i] ?? ""}" is not a number`);
  }
}

/** item_context.csv: item_feature_0 numeric, the others hashed categoricals. */
function parseItemContext(text: string): Map<number, FeatureMap> {
  const lines = text.split(/\r?\n/).filter((l) => l.length > 0);
  const header = splitRow(lines[0] ?? "");
  const iItem = header.indexOf("item_id");
  const out = new Map<number, FeatureMap>();
  for (const line of lines.slice(1)) {
    const r = splitRow(line);
    const features: FeatureMap = {};
    header.forEach((h, i) => {
      if (!h.startsWith("item_feature_")) return;
      const v = r[i] ?? "";
      const num = Number(v);
      features[h] = v !== "" && Number.isFinite(num) ? num : v;
    });
    out.set(Number(r[iItem]), features);
  }
  return out;
}

/** OBD files have no quoted fields (checked on the sample); a plain split is exact. */
function splitRow(line: string): string[] {
  return line.split(",");
}
