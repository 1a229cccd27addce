import { DAY, HOUR } from "../../core/clock.js";
import { bucketOf } from "../../core/hash.js";
import type { Rng } from "../../core/rng.js";
import type { RankResponse } from "../../server/api-types.js";
import type { Recorder } from "../report.js";
import type { SimEventBody, SimTarget } from "../target.js";
import type { SimItem } from "../world/catalog.js";
import type { SimUser } from "../world/population.js";
import { exponentialDelay, organicItem, pairedCandidates, randomCandidates } from "../world/traffic.js";
import { expectedClicks, type ReferenceValues, referenceValues } from "../world/truth.js";
import type { SimContext, World } from "../world/world.js";
import type { EventOutbox } from "./event-outbox.js";
import { timed } from "./timed.js";

export { timed };

/** Everything a session step needs; shared by all sessions of one run. */
export interface SessionEnv {
  world: World;
  target: SimTarget;
  recorder: Recorder;
  /** How the shop posts its events: at once, or batched by its tracker (sessions.eventBatchSeconds). */
  events: EventOutbox;
  now: () => number;
  schedule: (at: number, action: () => Promise<void>) => void;
  runId: string;
  cumulativePopularity: Float64Array;
  /** Item popularity scores for the popularity reference (undefined: no reference values). */
  popularityScores?: Float64Array;
  /** Called after every served decision (experiments build their curves from it). */
  onDecision?: (d: ServedDecision) => void;
  /** A policy every request names at this time (a delayed rollout's incumbent before it starts). */
  forcedPolicy?: (at: number) => string | undefined;
}

export interface ServedDecision {
  sessionIndex: number;
  time: number;
  policyId: string;
  policyType: string;
  arm?: "candidate" | "incumbent";
  slots: number;
  trueClicks: number;
  reference?: ReferenceValues;
}

interface SessionState {
  index: number;
  user: SimUser;
  sessionId: string;
  device: SimContext["device"];
  rng: Rng;
  page: number;
}

export function startSession(env: SessionEnv, index: number, user: SimUser, rng: Rng): void {
  const device = env.world.contextFor(user, env.now(), rng).device;
  const state: SessionState = { index, user, sessionId: `s-${env.runId}-${index}`, device, rng, page: 0 };
  env.recorder.sessions++;
  env.schedule(env.now(), () => runPage(env, state));
}

/** One page of a session: an organic view, a rank request, clicks and purchases later, maybe another page. */
async function runPage(env: SessionEnv, s: SessionState): Promise<void> {
  const { world, target } = env;
  const t = env.now();
  const ctx: SimContext = { ...world.contextFor(s.user, t, s.rng), device: s.device };
  const organic = organicItem(world, s.user, ctx, env.cumulativePopularity, s.rng);
  const view = eventBody(env, s, "view", organic, t, `${s.page}-v`);
  // The shop runs on UTC; the offset lets the feature store derive local hour and weekday itself.
  view.context = { ...world.requestContext(ctx), timezoneOffsetMinutes: 0 };
  await env.events.send([view]);

  const sessions = world.scenario.sessions;
  const candidates = pickCandidates(env, s, ctx);
  const decisionId = `d-${env.runId}-${s.index}-${s.page}`;
  const response = await timed(env.recorder, "rank", () =>
    target.rank({
      userId: s.user.id,
      sessionId: s.sessionId,
      context: world.requestContext(ctx),
      slots: sessions.slots,
      decisionId,
      ...(candidates ? { candidates: candidates.map((c) => ({ id: c.id, features: world.itemFeatures(c) })) } : {}),
      ...splitPolicy(env, s.user, t),
    }),
  );
  let lastActivity = t;
  if (response) lastActivity = onRanked(env, s, ctx, candidates, response);

  s.page++;
  if (s.rng.next() < 1 - 1 / sessions.meanPages) {
    env.schedule(lastActivity + exponentialDelay(sessions.thinkTimeSeconds, s.rng), () => runPage(env, s));
  }
}

function pickCandidates(env: SessionEnv, s: SessionState, ctx: SimContext): SimItem[] | undefined {
  const sessions = env.world.scenario.sessions;
  if (sessions.candidateMode === "paired") {
    return pairedCandidates(env.world, s.user, ctx, env.world.scenario.rollout?.ctrRatio ?? 1, s.rng);
  }
  return sessions.candidates > 0 ? randomCandidates(env.world, sessions.candidates, s.rng) : undefined;
}

function splitPolicy(env: SessionEnv, user: SimUser, at: number): { policyId?: string } {
  const forced = env.forcedPolicy?.(at);
  if (forced !== undefined) return { policyId: forced };
  const split = env.world.scenario.split;
  if (split.length === 0) return {};
  return { policyId: split[Math.floor(bucketOf("sim-split", user.id) * split.length)] as string };
}

/** Records the decision, samples the user's clicks from the true probabilities, schedules what follows. */
function onRanked(
  env: SessionEnv,
  s: SessionState,
  ctx: SimContext,
  candidates: SimItem[] | undefined,
  response: RankResponse,
): number {
  const { world, recorder } = env;
  const t = env.now();
  const shown = response.ranking.map((r) => world.itemById(r.id)).filter((i): i is SimItem => i !== undefined);
  const trueClicks = expectedClicks(world, s.user, ctx, shown);
  const slots = world.scenario.sessions.slots;
  const reference = env.popularityScores
    ? referenceValues(world, env.popularityScores, s.user, ctx, candidates ?? world.items, slots)
    : undefined;
  recorder.fallback(response.fallbacks ?? []);
  recorder.decision({
    decisionId: response.decisionId,
    policyId: response.policy.id,
    sessionId: s.sessionId,
    slotsShown: shown.length,
    trueClicks,
    ...(reference ? { reference } : {}),
  });
  env.onDecision?.({
    sessionIndex: s.index,
    time: t,
    policyId: response.policy.id,
    policyType: response.policy.type,
    ...(response.rollout ? { arm: response.rollout.arm } : {}),
    slots: shown.length,
    trueClicks,
    ...(reference ? { reference } : {}),
  });
  let last = t;
  shown.forEach((item, position) => {
    if (s.rng.next() >= world.clickProbability(s.user, ctx, item, position)) return;
    const clickAt = t + exponentialDelay(world.scenario.sessions.clickDelaySeconds, s.rng);
    last = Math.max(last, clickAt);
    scheduleClickJourney(env, s, ctx, item, response.decisionId, clickAt);
  });
  return last;
}

/** A click (joined as reward 1), the item's page view, maybe add-to-cart, maybe a purchase (reward = value). */
function scheduleClickJourney(
  env: SessionEnv,
  s: SessionState,
  ctx: SimContext,
  item: SimItem,
  decisionId: string,
  clickAt: number,
): void {
  const { world, recorder } = env;
  const p = world.scenario.sessions;
  const carts = s.rng.next() < world.cartProbability(s.user, ctx, item);
  const buys = carts && s.rng.next() < world.scenario.purchase.purchaseGivenCart;
  const cartAt = clickAt + exponentialDelay(p.cartDelaySeconds, s.rng);
  const buyAt = cartAt + exponentialDelay(p.purchaseDelaySeconds, s.rng);
  const tag = `${decisionId}-${item.id}`;
  env.schedule(clickAt, async () => {
    const click = { ...eventBody(env, s, "click", item, env.now(), `${tag}-c`), decisionId };
    const detail = eventBody(env, s, "view", item, env.now(), `${tag}-pv`);
    await env.events.send([click, detail], () => recorder.click(decisionId));
  });
  if (!carts) return;
  env.schedule(cartAt, async () => {
    const cart = eventBody(env, s, "add_to_cart", item, env.now(), `${tag}-a`);
    await env.events.send([cart]);
  });
  if (!buys) return;
  env.schedule(buyAt, async () => {
    const buy = { ...eventBody(env, s, "purchase", item, env.now(), `${tag}-p`), decisionId, value: item.price };
    await env.events.send([buy], () => recorder.purchase(decisionId, item.price));
  });
}

function eventBody(
  env: SessionEnv,
  s: SessionState,
  type: string,
  item: SimItem,
  t: number,
  tag: string,
): SimEventBody {
  return {
    type,
    userId: s.user.id,
    sessionId: s.sessionId,
    itemId: item.id,
    category: item.categoryName,
    price: item.price,
    timestamp: t,
    eventId: `e-${env.runId}-${s.index}-${tag}`,
  };
}

export function hourOf(t: number): number {
  return Math.floor((t % DAY) / HOUR);
}
