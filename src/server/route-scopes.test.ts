import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { ROUTE_SCOPES } from "./route-scopes.js";

describe("the README's Security table", () => {
  it("lists every route of the scope table with its scope, and nothing else", () => {
    const readme = readFileSync(new URL("../../README.md", import.meta.url), "utf8");
    const section = readme.slice(readme.indexOf("## Security"), readme.indexOf("## Architecture"));
    const rows = [...section.matchAll(/^\| `([A-Z]+ [^`]+)` \| (\w+) \|$/gm)].map((m) => [m[1], m[2]]);
    expect(Object.fromEntries(rows)).toEqual(ROUTE_SCOPES);
    expect(rows).toHaveLength(Object.keys(ROUTE_SCOPES).length);
  });
});
