import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll } from "vitest";
import { rolloutStoreContract } from "../../rollout/rollout-store.contract.js";
import { SqliteRolloutStore } from "./rollout-store.js";

const dir = mkdtempSync(join(tmpdir(), "loopwise-rollout-store-"));
let n = 0;
afterAll(() => rmSync(dir, { recursive: true, force: true }));

rolloutStoreContract("sqlite", async () => {
  const path = join(dir, `store-${n++}.db`);
  return { store: new SqliteRolloutStore(path), reopen: async () => new SqliteRolloutStore(path) };
});
