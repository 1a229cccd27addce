import { decisionStoreContract } from "../decisions/decision-store.contract.js";
import { MemoryDecisionStore } from "./memory/decision-store-memory.js";
import { SqliteStore } from "./sqlite/database.js";
import { SqliteDecisionStore } from "./sqlite/decision-store-sqlite.js";

decisionStoreContract("memory", async () => {
  const store = new MemoryDecisionStore();
  return { store, close: () => store.close() };
});

decisionStoreContract("sqlite", async () => {
  const db = new SqliteStore(":memory:");
  return { store: new SqliteDecisionStore(db), close: () => db.close() };
});
