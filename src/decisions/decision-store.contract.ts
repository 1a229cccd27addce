import { describe, expect, it } from "vitest";
import type { DecisionStore } from "./decision-store.js";
import { DEFAULT_JOIN } from "./join-config.js";
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
  });
}
