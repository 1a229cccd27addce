import { describe, expect, it } from "vitest";
import { bucketOf } from "../core/hash.js";
import { assignArm, rolloutSeed } from "./assign-arm.js";

const users = Array.from({ length: 20000 }, (_, i) => `user-${i}`);
const at = (candidateShare: number, id = "ro_1") => ({ id, hashVersion: 1 as const, candidateShare });

describe("assignArm", () => {
  it("buckets by the versioned rollout seed and is sticky", () => {
    const r = at(0.1);
    expect(rolloutSeed(r)).toBe("rollout:ro_1:v1");
    for (const u of users.slice(0, 100)) {
      const a = assignArm(r, u);
      expect(a.bucket).toBe(bucketOf("rollout:ro_1:v1", u));
      expect(assignArm(r, u)).toEqual(a);
      expect(a.arm).toBe(a.bucket < 0.1 ? "candidate" : "incumbent");
    }
  });

  it("is monotonic: raising the share only adds users, and the split matches the share", () => {
    const shares = [0, 0.01, 0.1, 0.5, 1];
    let previous = new Set<string>();
    for (const s of shares) {
      const inCandidate = new Set(users.filter((u) => assignArm(at(s), u).arm === "candidate"));
      for (const u of previous) expect(inCandidate.has(u)).toBe(true);
      expect(Math.abs(inCandidate.size / users.length - s)).toBeLessThan(
        0.01 + 3 * Math.sqrt((s * (1 - s)) / users.length),
      );
      previous = inCandidate;
    }
  });

  it("splits users by the salt instead of the id when one is given, the same way in every rollout with it", () => {
    const salted = (id: string) => ({ ...at(0.5, id), salt: "exp-7" });
    expect(rolloutSeed(salted("ro_1"))).toBe("rollout:exp-7:v1");
    const a = users.map((u) => assignArm(salted("ro_1"), u).arm);
    expect(users.map((u) => assignArm(salted("ro_2"), u).arm)).toEqual(a);
    // Not the id's split: about half of the users differ from the unsalted rollout.
    const unsalted = users.map((u) => assignArm(at(0.5, "ro_1"), u).arm);
    expect(Math.abs(a.filter((arm, i) => arm === unsalted[i]).length / users.length - 0.5)).toBeLessThan(0.02);
  });

  it("is independent across rollouts and from exploration seeds", () => {
    const a = users.map((u) => assignArm(at(0.5, "ro_1"), u).arm === "candidate");
    const b = users.map((u) => assignArm(at(0.5, "ro_2"), u).arm === "candidate");
    const e = users.map((u) => bucketOf("explore", u) < 0.5);
    const agreement = (x: boolean[], y: boolean[]) => x.filter((v, i) => v === y[i]).length / x.length;
    expect(Math.abs(agreement(a, b) - 0.5)).toBeLessThan(0.02);
    expect(Math.abs(agreement(a, e) - 0.5)).toBeLessThan(0.02);
  });
});
