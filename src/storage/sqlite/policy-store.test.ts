import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Database from "better-sqlite3";
import { afterAll, describe, expect, it } from "vitest";
import { policyStoreContract, trainedPolicy } from "../../bandit/policy-store.contract.js";
import { restorePolicy } from "../../bandit/policy-types.js";
import { snapshotJson } from "../../bandit/snapshot-codec.js";
import { decodePolicyVersion, encodePolicyVersion, policyFingerprint } from "../../duties/learner-snapshots.js";
import { MemoryPolicyStore } from "../memory/policy-store.js";
import { SAVE_POLICY_SQL } from "./log-ops.js";
import { SqlitePolicyStore } from "./policy-store.js";

const dir = mkdtempSync(join(tmpdir(), "loopwise-policy-store-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

policyStoreContract("memory", async () => new MemoryPolicyStore());
policyStoreContract("sqlite", async () => new SqlitePolicyStore(":memory:"));

describe("SqlitePolicyStore on a file", () => {
  it("keeps snapshots across reopening", async () => {
    const path = join(dir, "policies.db");
    const first = new SqlitePolicyStore(path);
    await first.save(trainedPolicy("kept").snapshot(), 5);
    await first.setDefault("kept");
    await first.close();
    const second = new SqlitePolicyStore(path);
    expect((await second.load("kept"))?.snapshot.type).toBe("thompson");
    expect(await second.getDefault()).toBe("kept");
    await second.close();
  });
});

describe("SqlitePolicyStore across snapshot formats", () => {
  it("reads a row in the JSON text older versions wrote, rewrites it binary, and every reader restores the same policy", async () => {
    const path = join(dir, "formats.db");
    const policy = trainedPolicy("old");
    const snapshot = policy.snapshot();
    const first = new SqlitePolicyStore(path);
    await first.close();
    // The row as every version before the binary format wrote it (log-ops.ts SAVE_POLICY_SQL, JSON text).
    const raw = new Database(path);
    raw.prepare(SAVE_POLICY_SQL).run("old", snapshot.type, snapshot.version, 15, 7, 7, JSON.stringify(snapshot));
    raw.close();
    const input = { context: { device: "mobile", visits: 3 }, candidates: [{ id: "a" }, { id: "b" }, { id: "c" }] };
    const expected = Array.from(policy.distribution(input));

    const store = new SqlitePolicyStore(path);
    const fromJson = (await store.load("old"))!.snapshot;
    expect(Array.from(restorePolicy(fromJson).distribution(input))).toEqual(expected);
    await store.save(fromJson, 8); // the next save writes the binary form
    const kind = new Database(path, { readonly: true });
    expect(kind.prepare("SELECT typeof(snapshot) FROM policy_snapshots WHERE id = 'old'").pluck().get()).toBe("blob");
    kind.close();
    const fromBinary = (await store.load("old"))!.snapshot;
    expect(snapshotJson(fromBinary)).toBe(JSON.stringify(snapshot));
    expect(Array.from(restorePolicy(fromBinary).distribution(input))).toEqual(expected);
    // Published to API nodes as the learner does (V8 serializer), from a snapshot read in either form.
    for (const read of [fromJson, fromBinary]) {
      const published = decodePolicyVersion(encodePolicyVersion({ kind: "full", publishedAt: 1, policy: read }));
      if (published.kind !== "full") throw new Error("expected a full version");
      expect(policyFingerprint(published.policy)).toBe(policyFingerprint(snapshot));
      expect(Array.from(restorePolicy(published.policy).distribution(input))).toEqual(expected);
    }
    await store.close();
  });
});
