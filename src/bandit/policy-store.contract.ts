import { describe, expect, it } from "vitest";
import { rngFor } from "../core/rng.js";
import { PolicyFencedOut, type PolicyStore } from "./policy-store.js";
import { createPolicy, restorePolicy } from "./policy-types.js";

const input = {
  context: { device: "mobile", visits: 3 },
  candidates: [{ id: "a", features: { price: 2 } }, { id: "b", features: { price: 5 } }, { id: "c" }],
};

export function trainedPolicy(id: string) {
  const policy = createPolicy(id, { type: "thompson", params: { refreshEvery: 2 }, features: { dims: 256 } }, 3);
  for (let t = 0; t < 15; t++) {
    const [s] = policy.rank(input, 1, rngFor("explore", `t${t}`));
    policy.update({
      input,
      index: s!.index,
      position: 0,
      reward: s!.index === 1 ? 1 : 0,
      propensity: s!.propensity,
      placedBefore: [],
    });
  }
  return policy;
}

/** The one contract every PolicyStore adapter passes. */
export function policyStoreContract(name: string, make: () => Promise<PolicyStore>): void {
  describe(`PolicyStore contract: ${name}`, () => {
    it("saves, loads the latest snapshot per id and restores an equal policy", async () => {
      const store = await make();
      const policy = trainedPolicy("p1");
      await store.save(policy.snapshot(), 1000);
      policy.update({ input, index: 1, position: 0, reward: 1, propensity: 0.5, placedBefore: [] });
      await store.save(policy.snapshot(), 2000);
      const loaded = await store.load("p1");
      expect(loaded?.savedAt).toBe(2000);
      expect(loaded?.snapshot.version).toBe(3);
      expect(loaded?.snapshot.progress.updates).toBe(16);
      const restored = restorePolicy(loaded!.snapshot);
      expect(Array.from(restored.distribution(input))).toEqual(Array.from(policy.distribution(input)));
      expect(await store.load("nope")).toBeUndefined();
      expect(await store.revision("p1")).toBe(3);
      expect(await store.revision("nope")).toBeUndefined();
      await store.save({ ...policy.snapshot(), version: 4 }, 3000); // re-registered
      expect(await store.revision("p1")).toBe(4);
      await store.close();
    });

    it("lists, deletes and keeps the default id", async () => {
      const store = await make();
      await store.save(trainedPolicy("a").snapshot(), 1);
      await store.save(trainedPolicy("b").snapshot(), 2);
      expect((await store.list()).map((s) => s.snapshot.id)).toEqual(["a", "b"]);
      expect(await store.ids()).toEqual(["a", "b"]);
      expect(await store.getDefault()).toBeUndefined();
      await store.setDefault("b");
      expect(await store.getDefault()).toBe("b");
      expect(await store.delete("b")).toBe(true);
      expect(await store.delete("b")).toBe(false);
      expect(await store.getDefault()).toBeUndefined();
      expect((await store.list()).map((s) => s.snapshot.id)).toEqual(["a"]);
      expect(await store.ids()).toEqual(["a"]);
      await store.close();
    });

    it("refuses a save fenced with a token older than one that saved the policy, and writes nothing", async () => {
      const store = await make();
      const policy = trainedPolicy("p1");
      const stale = policy.snapshot(); // what a holder frozen past its lease still has
      policy.update({ input, index: 1, position: 0, reward: 1, propensity: 0.5, placedBefore: [] });
      await store.save(stale, 1000, { fence: 3 });
      await store.save(policy.snapshot(), 2000, { fence: 4 }); // the new holder
      await store.save(policy.snapshot(), 2500, { fence: 4 }); // its own next save
      await expect(store.save(stale, 3000, { fence: 3 })).rejects.toBeInstanceOf(PolicyFencedOut);
      const kept = await store.load("p1");
      expect(kept?.savedAt).toBe(2500);
      expect(kept?.snapshot.progress.updates).toBe(16);
      // Fences are per policy; unfenced saves (one process, a registration) are not checked.
      await store.save(trainedPolicy("p2").snapshot(), 3000, { fence: 1 });
      await store.save(stale, 4000);
      expect((await store.load("p1"))?.savedAt).toBe(4000);
      expect((await store.load("p2"))?.savedAt).toBe(3000);
      await expect(store.save(stale, 5000, { fence: 3 })).rejects.toBeInstanceOf(PolicyFencedOut);
      await store.close();
    });

    it("a fenced save never replaces a newer spec revision (a re-registration between the learner's load and save wins)", async () => {
      const store = await make();
      const learned = trainedPolicy("p1").snapshot();
      await store.save(learned, 1000, { fence: 5 });
      const reRegistered = { ...trainedPolicy("p1").snapshot(), version: learned.version + 1 };
      await store.save(reRegistered, 2000); // an API node re-registers the policy with new parameters
      await store.save(learned, 3000, { fence: 5 }); // the learner's save, loaded before the re-registration
      const kept = await store.load("p1");
      expect(kept?.savedAt).toBe(2000);
      expect(kept?.snapshot.version).toBe(learned.version + 1);
      // Once the learner follows the new revision its saves land again.
      await store.save({ ...reRegistered, progress: { ...reRegistered.progress } }, 4000, { fence: 5 });
      expect((await store.load("p1"))?.savedAt).toBe(4000);
      await store.close();
    });
  });
}
