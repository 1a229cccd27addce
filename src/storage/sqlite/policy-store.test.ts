import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { policyStoreContract, trainedPolicy } from "../../bandit/policy-store.contract.js";
import { MemoryPolicyStore } from "../memory/policy-store.js";
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
