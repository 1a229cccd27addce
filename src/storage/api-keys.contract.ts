import { describe, expect, it } from "vitest";
import type { ApiKeys } from "../core/api-key.js";

/**
 * One contract for the API key stores (SQLite keys.db, PostgreSQL), run against each adapter. `open()` gives
 * two handles on the same key table (two nodes, or a server and the CLI) and a way to make the second see
 * what the first changed (nothing for SQLite, which re-reads on data_version; a refresh for PostgreSQL,
 * which its timer does every few seconds).
 */
export function apiKeysContract(
  name: string,
  open: () => Promise<{ a: ApiKeys; b: ApiKeys; sync: () => Promise<void>; close: () => Promise<void> }>,
): void {
  describe(`API key store (${name})`, () => {
    it("creates, looks up, rotates and revokes keys by name, each with its scope", async () => {
      const { a: keys, close } = await open();
      const client = await keys.create("shop", "client", 1000);
      expect(client).toMatch(/^lw_client_[A-Za-z0-9_-]{43}$/);
      expect(keys.lookup(client)).toEqual({ name: "shop", scope: "client" });
      expect(keys.lookup(`${client}x`)).toBeUndefined();
      await expect(keys.create("shop", "read")).rejects.toThrow(/exists/);
      const rotated = await keys.rotate("shop", 2000);
      expect(rotated).not.toBe(client);
      expect(keys.lookup(client)).toBeUndefined();
      expect(keys.lookup(rotated)).toEqual({ name: "shop", scope: "client" });
      expect(await keys.list()).toEqual([{ name: "shop", scope: "client", createdAt: 1000, rotatedAt: 2000 }]);
      await keys.revoke("shop");
      expect(keys.lookup(rotated)).toBeUndefined();
      await expect(keys.revoke("shop")).rejects.toThrow(/no key named/);
      await expect(keys.rotate("nobody")).rejects.toThrow(/no key named/);
      await close();
    });

    it("installs a given admin secret under a name, replacing the previous one", async () => {
      const { a: keys, close } = await open();
      await keys.put("admin", "admin", "first-admin-key-0123456789");
      await keys.put("admin", "admin", "second-admin-key-0123456789");
      await keys.put("admin", "admin", "second-admin-key-0123456789");
      expect(keys.lookup("first-admin-key-0123456789")).toBeUndefined();
      expect(keys.lookup("second-admin-key-0123456789")).toEqual({ name: "admin", scope: "admin" });
      expect(await keys.list()).toHaveLength(1);
      await close();
    });

    it("lets another handle (node, CLI) see every change, and keeps ephemeral keys to their own handle", async () => {
      const { a: server, b: cli, sync, close } = await open();
      server.addEphemeral("engine", "admin", "engine-admin-key-0123456789");
      const secret = await cli.create("late", "read");
      await sync();
      expect(server.lookup(secret)).toEqual({ name: "late", scope: "read" });
      const next = await cli.rotate("late");
      await sync();
      expect(server.lookup(secret)).toBeUndefined();
      expect(server.lookup(next)).toEqual({ name: "late", scope: "read" });
      await cli.revoke("late");
      await sync();
      expect(server.lookup(next)).toBeUndefined();
      expect(server.lookup("engine-admin-key-0123456789")).toEqual({ name: "engine", scope: "admin" });
      expect(cli.lookup("engine-admin-key-0123456789")).toBeUndefined();
      expect((await cli.list()).map((k) => k.name)).toEqual([]);
      await close();
    });

    it("lets several nodes install the same admin key at once (first start of a deployment)", async () => {
      const { a, b, sync, close } = await open();
      await Promise.all([
        a.put("admin", "admin", "shared-admin-key-0123456789"),
        b.put("admin", "admin", "shared-admin-key-0123456789"),
      ]);
      await sync();
      for (const keys of [a, b])
        expect(keys.lookup("shared-admin-key-0123456789")).toEqual({ name: "admin", scope: "admin" });
      expect((await a.list()).map((k) => k.name)).toEqual(["admin"]);
      await close();
    });
  });
}
