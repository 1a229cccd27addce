import { describe, expect, it } from "vitest";
import type { DecisionFacts, FactsScanOptions } from "./decision-facts.js";
import type { DecisionWithRewards } from "./decision-record.js";
import type { DecisionStore } from "./decision-store.js";
import { concatFacts, inLogOrder } from "./gather-facts.js";
import { DEFAULT_JOIN, type JoinConfig } from "./join-config.js";
import { joinFacts } from "./join-facts.js";
import { joinRewards } from "./reward-join.js";
import { makeDecision } from "./test-fixtures.js";

const WINDOW = DEFAULT_JOIN.windowMs;

/** The one contract every DecisionStore adapter passes (run from storage/decision-store.test.ts). */
export function decisionStoreContract(
  name: string,
  open: () => Promise<{ store: DecisionStore; close: () => Promise<void> }>,
) {
  describe(`DecisionStore contract: ${name}`, () => {
    const withStore = (fn: (s: DecisionStore) => Promise<void>) => async () => {
      const { store, close } = await open();
      try {
        await fn(store);
      } finally {
        await close();
      }
    };

    it(
      "round-trips a complete record",
      withStore(async (s) => {
        const record = makeDecision();
        await s.append(record);
        const got = await s.get("dec_1");
        expect(got?.decision).toEqual(record);
        expect(got?.rewards).toEqual([]);
        expect(await s.get("nope")).toBeUndefined();
      }),
    );

    it(
      "keeps the first record of a decision id: concurrent appends log exactly one",
      withStore(async (s) => {
        const first = makeDecision({ userId: "first" });
        const results = await Promise.all([
          s.append(first),
          s.append(makeDecision({ userId: "second" })),
          s.append(makeDecision({ userId: "third" })),
        ]);
        expect(results).toEqual([true, false, false]);
        expect((await s.get("dec_1"))?.decision).toEqual(first);
        expect(await s.count()).toBe(1);
      }),
    );

    it(
      "flags duplicate, late and not-activated rewards",
      withStore(async (s) => {
        await s.append(makeDecision());
        await s.append(makeDecision({ decisionId: "dec_2", activated: false }));
        const base = { decisionId: "dec_1", value: 1, type: "click", source: "api" as const };
        expect(await s.addReward({ ...base, rewardId: "r1", timestamp: 1_000_500 }, WINDOW)).toBe("accepted");
        expect(await s.addReward({ ...base, rewardId: "r1", timestamp: 1_000_600 }, WINDOW)).toBe("duplicate");
        expect(await s.addReward({ ...base, rewardId: "r2", timestamp: 1_000_000 + WINDOW + 1 }, WINDOW)).toBe("late");
        expect(await s.addReward({ ...base, decisionId: "dec_2", rewardId: "r3", timestamp: 1_000_100 }, WINDOW)).toBe(
          "not_activated",
        );
        expect(
          await s.addReward({ ...base, decisionId: "missing", rewardId: "r4", timestamp: 1 }, WINDOW),
        ).toBeUndefined();
        const got = await s.get("dec_1");
        expect(got?.rewards.map((r) => [r.rewardId, r.late])).toEqual([
          ["r1", false],
          ["r2", true],
        ]);
      }),
    );

    it(
      "judges lateness and order on the server's arrival time (receivedAt), keeping the client's timestamp",
      withStore(async (s) => {
        await s.append(makeDecision()); // decided and activated at 1_000_000
        const base = { decisionId: "dec_1", type: "click", source: "api" as const };
        // Dated inside the window, received at its end: late. Received inside, dated anywhere: counted.
        const late = { ...base, rewardId: "late", value: 9, timestamp: 1_000_100, receivedAt: 1_000_000 + WINDOW };
        const second = { ...base, rewardId: "second", value: 2, timestamp: 1_000_001, receivedAt: 1_000_300 };
        const first = { ...base, rewardId: "first", value: 1, timestamp: 1_000_200, receivedAt: 1_000_200 };
        expect(await s.addReward(late, WINDOW)).toBe("late");
        expect(await s.addReward(second, WINDOW)).toBe("accepted");
        expect(await s.addReward(first, WINDOW)).toBe("accepted");
        // Without receivedAt (imports), a reward arrives as it happened.
        const imported = { ...base, rewardId: "imported", value: 3, timestamp: 1_000_250 };
        expect(await s.addReward(imported, WINDOW)).toBe("accepted");
        const got = await s.get("dec_1");
        expect(got?.rewards.map((r) => [r.rewardId, r.timestamp, r.receivedAt, r.late])).toEqual([
          ["first", 1_000_200, 1_000_200, false],
          ["imported", 1_000_250, 1_000_250, false],
          ["second", 1_000_001, 1_000_300, false],
          ["late", 1_000_100, 1_000_000 + WINDOW, true],
        ]);
        // earliest = first to arrive, not the earliest client timestamp.
        expect(joinRewards(got!, DEFAULT_JOIN, 5_000_000).slots[0]).toMatchObject({ reward: 1, rewardCount: 3 });
      }),
    );

    it(
      "activation opens the window at activation time",
      withStore(async (s) => {
        await s.append(makeDecision({ activated: false }));
        expect(await s.activate("dec_1", 2_000_000)).toBe(true);
        expect(await s.activate("dec_1", 3_000_000)).toBe(true); // idempotent: first activation wins
        expect(await s.activate("missing", 1)).toBe(false);
        const reward = { decisionId: "dec_1", value: 1, type: "click", source: "api" as const };
        expect(await s.addReward({ ...reward, rewardId: "r1", timestamp: 2_000_000 + WINDOW - 1 }, WINDOW)).toBe(
          "accepted",
        );
        const got = await s.get("dec_1");
        expect(got?.decision.activatedAt).toBe(2_000_000);
        expect(joinRewards(got!, DEFAULT_JOIN, 5_000_000).status).toBe("joined");
      }),
    );

    it(
      "scans by time range in timestamp order with rewards attached",
      withStore(async (s) => {
        for (let i = 0; i < 25; i++) {
          await s.append(
            makeDecision({ decisionId: `d${String(i).padStart(2, "0")}`, timestamp: 1000 + (i % 5) * 10 }),
          );
        }
        await s.addReward(
          { rewardId: "x", decisionId: "d07", value: 2, type: "purchase", source: "event", timestamp: 1025 },
          WINDOW,
        );
        const seen: string[] = [];
        let rewards = 0;
        for await (const batch of s.scan({ from: 1010, to: 1040, batchSize: 4 })) {
          for (const d of batch) {
            seen.push(d.decision.decisionId);
            rewards += d.rewards.length;
          }
        }
        expect(seen).toHaveLength(15);
        const times = seen.map((id) => 1000 + (Number(id.slice(1)) % 5) * 10);
        expect(times).toEqual([...times].sort((a, b) => a - b));
        expect(rewards).toBe(1);
        expect(await s.count({ from: 1010, to: 1040 })).toBe(15);
        expect(await s.count()).toBe(25);
      }),
    );

    it(
      "scanFacts gives the same slots and the same reward join as scan + joinRewards",
      withStore(async (s) => {
        if (!s.scanFacts) return; // optional: adapters without it are read through scan
        await writeRichLog(s);
        const configs: JoinConfig[] = [
          DEFAULT_JOIN,
          { windowMs: 5_000, defaultReward: -1, aggregation: "sum" },
          { windowMs: 1_000, defaultReward: 0.5, aggregation: "earliest" },
        ];
        for (const join of configs) {
          for (const now of [1_000_050, 1_004_000, 1_009_000, 9_000_000]) {
            await expectFactsMatchScan(s, join, now, {});
          }
        }
        await expectFactsMatchScan(s, DEFAULT_JOIN, 9_000_000, { from: 1_000_020, to: 1_000_100 });
        await expectFactsMatchScan(s, DEFAULT_JOIN, 9_000_000, { from: 2_000_000 });
      }),
    );
  });
}

/**
 * A log exercising every join rule: multi-slot decisions, deferred and never activations, rewards by
 * item and for the decision as a whole (slot at position 0), several rewards per slot out of timestamp
 * order and with equal timestamps, late, ignored, unknown-item and duplicate rewards, equal and
 * out-of-order decision timestamps, a decision without slots, and odd probabilities.
 */
export async function writeRichLog(s: DecisionStore): Promise<void> {
  const cands = ["a", "b", "c", "d"].map((id) => ({ id }));
  const slot = (position: number, index: number, p: number) => ({
    position,
    itemId: (cands[index] as { id: string }).id,
    index,
    propensity: p,
    probabilities: [0.25, 0.25, 0.5 - p / 10, p / 10],
  });
  const base = { candidates: cands, policy: { id: "p1", type: "uniform", version: 2 } };
  const records = [
    { decisionId: "m1", timestamp: 1_000_040, slots: [slot(0, 2, 0.3), slot(1, 0, 0.4), slot(2, 3, 0.5)] },
    { decisionId: "m2", timestamp: 1_000_040, slots: [slot(0, 1, 0.2)], activated: false },
    { decisionId: "m3", timestamp: 1_000_010, slots: [slot(0, 3, 0.1), slot(1, 1, 0.6)], activated: false },
    { decisionId: "m4", timestamp: 1_000_040, slots: [], policy: { id: "p2", type: "x", version: 1 } },
    { decisionId: "m5", timestamp: 1_000_090, slots: [slot(0, 0, 1)], candidates: [{ id: "z" }, { id: "a" }] },
    { decisionId: "m6", timestamp: 1_000_020, slots: [slot(1, 2, 0.7)], activated: false, activatedAt: 5 },
  ];
  for (const r of records) await s.append(makeDecision({ ...base, ...r }));
  await s.activate("m3", 1_003_000);
  const reward = (id: string, decisionId: string, value: number, timestamp: number, itemId?: string) => ({
    rewardId: id,
    decisionId,
    value,
    timestamp,
    type: "click",
    source: "api" as const,
    ...(itemId === undefined ? {} : { itemId }),
  });
  const w = DEFAULT_JOIN.windowMs;
  await s.addReward(reward("r1", "m1", 1, 1_000_900, "c"), w);
  await s.addReward(reward("r2", "m1", 2, 1_000_500, "c"), w); // earlier timestamp, later arrival
  await s.addReward(reward("r3", "m1", 0.25, 1_000_500, "c"), w); // tie with r2
  await s.addReward(reward("r4", "m1", 3, 1_000_700), w); // no item: the slot at position 0
  await s.addReward(reward("r5", "m1", 4, 1_000_800, "d"), w);
  await s.addReward(reward("r6", "m1", 5, 1_000_040 + w + 1, "a"), w); // late
  await s.addReward(reward("r7", "m1", 6, 1_000_600, "nope"), w); // matches no slot
  await s.addReward(reward("r5", "m1", 9, 1_000_800, "d"), w); // duplicate id
  await s.addReward(reward("r8", "m2", 1, 1_000_100, "b"), w); // never activated: ignored
  await s.addReward(reward("r9", "m3", 1, 1_000_100, "d"), w); // before activation: ignored
  await s.addReward(reward("r10", "m3", 7, 1_003_500, "b"), w);
  await s.addReward(reward("r11", "m5", 1, 1_000_095), w);
}

const STATUS = ["", "joined", "defaulted", "pending", "not_activated"];

export async function expectFactsMatchScan(s: DecisionStore, join: JoinConfig, now: number, range: FactsScanOptions) {
  const entries: DecisionWithRewards[] = [];
  for await (const batch of s.scan({ ...range, batchSize: 2 })) entries.push(...batch);
  const parts: DecisionFacts[] = [];
  for await (const f of s.scanFacts?.(range) ?? []) parts.push(f);
  const f = inLogOrder(concatFacts(parts));
  expect(f.decisions).toBe(entries.length);
  const joined = joinFacts(f, join, now);
  const codes = new Map<string, number>();
  const sameCode = (id: string, code: number) => {
    expect(codes.get(id) ?? code).toBe(code);
    codes.set(id, code);
  };
  entries.forEach((entry, d) => {
    const { decision } = entry;
    expect(f.timestamp[d]).toBe(decision.timestamp);
    expect(f.policyVersion[d]).toBe(decision.policy.version);
    sameCode(`policy:${decision.policy.id}`, f.policy[d] as number);
    const c0 = f.candidateStart[d] as number;
    expect((f.candidateStart[d + 1] as number) - c0).toBe(decision.candidates.length);
    decision.candidates.forEach((c, j) => {
      sameCode(c.id, f.candidates[c0 + j] as number);
    });
    const ref = joinRewards(entry, join, now);
    expect((f.slotStart[d + 1] as number) - (f.slotStart[d] as number)).toBe(decision.slots.length);
    decision.slots.forEach((slot, k) => {
      const i = (f.slotStart[d] as number) + k;
      expect([f.position[i], f.action[i], f.propensity[i]]).toEqual([slot.position, slot.index, slot.propensity]);
      sameCode(slot.itemId, f.item[i] as number);
      const probs = f.probabilities.subarray(f.probabilityStart[i], f.probabilityStart[i + 1]);
      // One logged probability per candidate: what the evaluation reads.
      expect(Array.from(probs)).toEqual(decision.candidates.map((_, j) => slot.probabilities[j]));
      const want = ref.slots[k];
      expect(STATUS[joined.status[i] as number]).toBe(want?.status);
      expect(joined.reward[i]).toBe(want?.reward ?? Number.NaN);
    });
  });
}
