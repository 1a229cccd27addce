import { describe, expectTypeOf, it } from "vitest";
import type { z } from "zod";
import type { IngestResult, ItemResult, UpsertItemsResult } from "../app/ingest.js";
import type { RankResult } from "../app/rank.js";
import type { ActivateResult, RewardResult } from "../app/reward.js";
import type * as Wire from "./api-types.js";

/**
 * The use-cases declare their results as plain types (app/), the server declares the wire schemas (here): these
 * checks fail to compile (`tsc --noEmit`, which typechecks tests) when the two drift apart in either direction,
 * e.g. a field added to a result but not to the OpenAPI document.
 */
describe("wire schemas equal the use-cases' result types", () => {
  it("rank", () => {
    expectTypeOf<z.infer<typeof Wire.rankResponseSchema>>().toEqualTypeOf<RankResult>();
    expectTypeOf<Wire.RankResponse>().toEqualTypeOf<RankResult>();
  });

  it("reward and activate", () => {
    expectTypeOf<z.infer<typeof Wire.rewardResponseSchema>>().toEqualTypeOf<RewardResult>();
    expectTypeOf<z.infer<typeof Wire.activateResponseSchema>>().toEqualTypeOf<ActivateResult>();
  });

  it("ingest and item upserts, item by item", () => {
    expectTypeOf<z.infer<typeof Wire.itemResultSchema>>().toEqualTypeOf<ItemResult>();
    expectTypeOf<z.infer<typeof Wire.ingestResponseSchema>>().toEqualTypeOf<IngestResult>();
    expectTypeOf<z.infer<typeof Wire.upsertItemsResponseSchema>>().toEqualTypeOf<UpsertItemsResult>();
  });
});
