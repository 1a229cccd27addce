import Database from "better-sqlite3";
import { SqliteAuditLog, SqliteMinuteStore } from "../storage/sqlite/dashboard-store-sqlite.js";
import { migrate } from "../storage/sqlite/migrations.js";
import { MemoryAuditLog, MemoryMinuteStore } from "./dashboard-ports.js";
import { dashboardStoresContract } from "./dashboard-stores.contract.js";

dashboardStoresContract("memory", async () => ({ minutes: new MemoryMinuteStore(), audit: new MemoryAuditLog() }));

dashboardStoresContract("sqlite", async () => {
  const db = new Database(":memory:");
  migrate(db);
  return {
    minutes: new SqliteMinuteStore(db),
    audit: new SqliteAuditLog(db),
    close: async () => {
      db.close();
    },
  };
});
