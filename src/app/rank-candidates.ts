import { FEATURE_LAYERS, type PolicyCandidate } from "../bandit/policy.js";
import type { Candidate, FeatureMap } from "../core/types.js";
import type { DecisionRecord } from "../decisions/decision-record.js";
import type { Catalog } from "../events/catalog.js";
import type { EngineParts } from "./engine-parts.js";

/** A request's candidates as rank reads them (app/rank.ts `rankRequestSchema`). */
export interface CandidateRequest {
  candidates?: { id: string; features?: FeatureMap }[];
  exclude?: string[];
}

export interface GeneratedCandidates {
  candidates: Candidate[];
  source: DecisionRecord["candidateSource"];
  modelVersion?: string;
}

/** The session the recommender reads: its items, and the key its per-session cache is kept under. */
export interface RankSession {
  items: string[];
  key: string;
}

type ServingModel = NonNullable<ReturnType<NonNullable<EngineParts["recommender"]>["current"]>>;

/** Request candidates win; else the recommender; else available catalog items. Catalog features enrich all. */
export function generateCandidates(
  parts: EngineParts,
  req: CandidateRequest,
  session: RankSession,
  fallbacks: string[],
): GeneratedCandidates {
  // Built only when the request excludes something: most do not.
  const exclude = req.exclude && req.exclude.length > 0 ? new Set(req.exclude) : undefined;
  const model = parts.recommender?.current();
  if (req.candidates) return requestCandidates(parts, req.candidates, exclude, model, session);
  const k = parts.config.rank.generatedCandidates;
  if (model) {
    const recommended = recommendedCandidates(parts, model, session, k, exclude, fallbacks);
    if (recommended) return recommended;
  } else if (parts.recommender) {
    fallbacks.push("no_model");
  }
  const { catalog } = parts;
  const items = catalog.available(k + (exclude?.size ?? 0));
  const candidates: Candidate[] = [];
  for (const item of items) {
    if (exclude?.has(item.id)) continue;
    candidates.push(enrichedCandidate(catalog, item.id));
    if (candidates.length === k) break;
  }
  return { candidates, source: "catalog" };
}

/** The request's own candidates (minus excluded ones), each with the recommender's score when it has one. */
function requestCandidates(
  parts: EngineParts,
  sent: { id: string; features?: FeatureMap }[],
  exclude: Set<string> | undefined,
  model: ServingModel | undefined,
  session: RankSession,
): GeneratedCandidates {
  const kept = exclude ? sent.filter((c) => !exclude.has(c.id)) : sent;
  // The recommender's score of each sent candidate is one more input for the policy.
  const scores = model ? safeScores(parts, model, session, kept) : undefined;
  const candidates: Candidate[] = new Array(kept.length);
  for (let i = 0; i < kept.length; i++) {
    const c = kept[i] as { id: string; features?: FeatureMap };
    candidates[i] = enrichedCandidate(parts.catalog, c.id, c.features, scores?.[i]);
  }
  return model && scores
    ? { candidates, source: "request", modelVersion: model.version }
    : { candidates, source: "request" };
}

function recommendedCandidates(
  parts: EngineParts,
  model: ServingModel,
  session: RankSession,
  k: number,
  exclude: Set<string> | undefined,
  fallbacks: string[],
): GeneratedCandidates | undefined {
  const { catalog } = parts;
  try {
    const isAvailable = (id: string) => catalog.size() === 0 || catalog.isAvailable(id);
    const recs = model.recommend(session.items, k, { exclude, isAvailable, sessionKey: session.key });
    if (recs.fallback) fallbacks.push(`recommender_${recs.fallback}`);
    if (recs.items.length === 0) return undefined;
    const candidates: Candidate[] = new Array(recs.items.length);
    for (let i = 0; i < recs.items.length; i++) {
      const r = recs.items[i] as { id: string; score: number };
      candidates[i] = enrichedCandidate(catalog, r.id, undefined, r.score);
    }
    const source = recs.fallback === "popular" ? "popular" : "recommender";
    return { candidates, source, modelVersion: model.version };
  } catch (error) {
    parts.logger.error({ err: error }, "recommender failed; using catalog candidates");
    fallbacks.push("recommender_error");
    return undefined;
  }
}

/**
 * A candidate with its catalog features under the request's own (which win); merged only when both exist.
 * The catalog's part is one object per item version (catalog.ts `features`), found with the item in one
 * lookup: candidates share it across requests, which is what the bandit encoder caches its hashed block on
 * (encoder.ts `block`). A merged candidate carries its layers (policy.ts FEATURE_LAYERS): the encoder reuses
 * the catalog part's block and hashes only the request's features; the merged object itself is for the log.
 */
export function enrichedCandidate(
  catalog: Catalog,
  id: string,
  features?: FeatureMap,
  score?: number,
): PolicyCandidate {
  const fromCatalog = catalog.features(id);
  const fromRequest = features !== undefined && hasKeys(features) ? features : undefined;
  if (fromCatalog !== undefined && fromRequest !== undefined) {
    // Object.assign, not spread: the same object (keys in the same order), ~9× faster in V8 when the two
    // share a key (measured ~200 ns against ~1.8 µs a candidate on Node 20; a rank merges 100).
    const merged = Object.assign({}, fromCatalog, fromRequest);
    const c: PolicyCandidate = score === undefined ? { id, features: merged } : { id, features: merged, score };
    c[FEATURE_LAYERS] = [fromCatalog, fromRequest];
    return c;
  }
  const own = fromRequest ?? fromCatalog;
  // Object literals of a fixed shape per case (no property added afterwards): fewer hidden-class transitions.
  if (own === undefined) return score === undefined ? { id } : { id, score };
  return score === undefined ? { id, features: own } : { id, features: own, score };
}

function hasKeys(map: FeatureMap): boolean {
  for (const _ in map) return true;
  return false;
}

function safeScores(
  parts: EngineParts,
  model: ServingModel,
  session: RankSession,
  kept: readonly { id: string }[],
): Float64Array | undefined {
  if (!model.score || session.items.length === 0) return undefined;
  const ids: string[] = new Array(kept.length);
  for (let i = 0; i < kept.length; i++) ids[i] = (kept[i] as { id: string }).id;
  try {
    return model.score(session.items, ids, { sessionKey: session.key });
  } catch (error) {
    parts.logger.error({ err: error }, "recommender scoring failed; ranking without scores");
    return undefined;
  }
}
