import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { z } from "zod";
import type { CompiledSchema } from "../core/compiled-schema.js";
import { compiledEventInput, eventInputSchema } from "../events/event-schema.js";
import { compiledRankRequest, rankRequestSchema } from "./rank.js";
import { compiledRewardRequest, rewardRequestSchema } from "./reward.js";

/**
 * The compiled validators (ajv on the zod schemas' JSON Schema) must accept exactly what zod accepts and
 * produce the value zod produces: the hot routes trust the compiled verdict and run zod only on failure.
 * Inputs are mostly valid with one or two bad fields, so both verdicts are well represented.
 */
const mostly = <T, U>(valid: fc.Arbitrary<T>, invalid: fc.Arbitrary<U>) =>
  fc.oneof({ arbitrary: valid, weight: 6 }, { arbitrary: invalid, weight: 1 });

const oddValues = fc.oneof(
  fc.constantFrom(null, [], {}, true, 0, -1, Number.NaN, Number.POSITIVE_INFINITY, "", undefined),
  fc.string({ maxLength: 3 }),
);

// The id rule (events/event-schema.ts): 1–128 code points, no whitespace, control characters or lone surrogates.
const goodId = fc.oneof(
  fc.stringMatching(/^[a-z0-9_-]{1,12}$/),
  fc.constantFrom("😀", "x".repeat(128), "😀".repeat(128), "é-1", "pcs"),
);
const badId = fc.oneof(
  fc.constantFrom("", " ", "a b", "tab\t", "\u0001x", "nb\u00a0sp", "line\u2028", "x".repeat(129), "😀".repeat(129)),
  fc.constantFrom("\ud800", "a\udc00b", "\u007f", "\u009f"),
  fc.string({ maxLength: 6 }),
  oddValues,
);
const id = mostly(goodId, badId);

const manyKeys = (n: number) => Object.fromEntries(Array.from({ length: n }, (_, i) => [`k${i}`, i]));
const featureKey = mostly(fc.stringMatching(/^[a-z_]{1,8}$/), fc.constantFrom("", "k".repeat(128), "k".repeat(129)));
const featureValue = mostly(
  fc.oneof(fc.double({ noNaN: true, noDefaultInfinity: true }), fc.string({ maxLength: 5 }), fc.boolean()),
  fc.oneof(fc.double(), fc.constantFrom("y".repeat(1024), "y".repeat(1025)), oddValues),
);
const featureMap = mostly(
  fc.dictionary(featureKey, featureValue, { maxKeys: 4, noNullPrototype: true }),
  fc.oneof(fc.constantFrom(manyKeys(256), manyKeys(257)), oddValues),
);
const time = mostly(
  fc.oneof(
    fc.integer({ min: 946_684_800_000, max: 4_102_444_799_999 }),
    fc.constantFrom("2026-11-27T12:00:00Z", "2026-11-27"),
  ),
  fc.oneof(
    fc.constantFrom("2026-13-45T00:00:00Z", "yesterday", "1700000000000", Number.NaN, Number.POSITIVE_INFINITY, null),
    // Outside the accepted years 2000–2099 (events/event-schema.ts): zod refuses them in a transform.
    fc.constantFrom(0, 1e20, -1, 4_102_444_800_000, "1999-12-31T23:59:59Z", "2100-01-01T00:00:00Z"),
  ),
);
const surprise = fc.record({ surprise: fc.constant(1) }, { requiredKeys: [] });

const rankBody = fc
  .tuple(
    fc.record(
      {
        userId: id,
        sessionId: id,
        context: featureMap,
        candidates: mostly(
          fc.array(fc.record({ id, features: featureMap }, { requiredKeys: ["id"] }), { minLength: 1, maxLength: 4 }),
          fc.oneof(fc.constant([]), oddValues, fc.array(fc.record({ id, other: fc.constant(1) }), { maxLength: 2 })),
        ),
        slots: mostly(fc.integer({ min: 1, max: 100 }), fc.oneof(fc.integer({ min: -2, max: 102 }), fc.double())),
        decisionId: id,
        deferActivation: mostly(fc.boolean(), oddValues),
        policyId: id,
        exclude: mostly(fc.array(id, { maxLength: 3 }), fc.oneof(fc.constant(Array(10_001).fill("a")), oddValues)),
      },
      { requiredKeys: [] },
    ),
    mostly(fc.constant({}), surprise),
  )
  .map(([body, extra]) => ({ ...body, ...extra }));

const eventBody = fc
  .tuple(
    fc.record(
      {
        type: mostly(
          fc.constantFrom("view", "click", "purchase", "wishlist_add"),
          fc.constantFrom("View", "", "x".repeat(65), "9a"),
        ),
        userId: id,
        sessionId: id,
        itemId: id,
        category: mostly(fc.string({ minLength: 1, maxLength: 8 }), fc.constantFrom("", "c".repeat(257))),
        price: mostly(fc.double({ min: 0, noNaN: true, noDefaultInfinity: true }), fc.constantFrom(-1, Number.NaN)),
        value: mostly(fc.double({ noNaN: true, noDefaultInfinity: true }), oddValues),
        timestamp: time,
        eventId: id,
        decisionId: id,
        context: featureMap,
      },
      { requiredKeys: ["type", "userId"] },
    ),
    mostly(fc.constant({}), surprise),
  )
  .map(([body, extra]) => ({ ...body, ...extra }));

const rewardBody = fc
  .tuple(
    fc.record(
      {
        value: mostly(fc.double({ noNaN: true, noDefaultInfinity: true }), oddValues),
        itemId: id,
        type: mostly(fc.string({ minLength: 1, maxLength: 64 }), fc.constantFrom("", "t".repeat(65))),
        rewardId: id,
        timestamp: time,
      },
      { requiredKeys: [] },
    ),
    mostly(fc.constant({}), surprise),
  )
  .map(([body, extra]) => ({ ...body, ...extra }));

function agreesWithZod<S extends z.ZodType>(schema: S, compiled: CompiledSchema<z.output<S>>, body: unknown): void {
  const expected = schema.safeParse(body);
  expect(compiled.compiledAccepts(body)).toBe(expected.success);
  const got = compiled.safeParse(body);
  if (expected.success) expect(got).toEqual({ ok: true, value: expected.data });
  else expect(got.ok).toBe(false);
}

const cases = [
  { name: "rank request", schema: rankRequestSchema, compiled: compiledRankRequest, body: rankBody },
  { name: "event", schema: eventInputSchema, compiled: compiledEventInput, body: eventBody },
  { name: "reward request", schema: rewardRequestSchema, compiled: compiledRewardRequest, body: rewardBody },
] as const;

describe("compiled validators accept and reject exactly what the zod schemas do", () => {
  for (const c of cases) {
    it(`${c.name}: same verdict and same value, as an object and through JSON`, () => {
      let accepted = 0;
      fc.assert(
        fc.property(c.body, (body) => {
          agreesWithZod(c.schema as z.ZodType, c.compiled as CompiledSchema<unknown>, body);
          const json = JSON.stringify(body);
          if (json !== undefined)
            agreesWithZod(c.schema as z.ZodType, c.compiled as CompiledSchema<unknown>, JSON.parse(json));
          if (c.schema.safeParse(body).success) accepted++;
        }),
        { numRuns: 1500, seed: 20261206 },
      );
      // Both verdicts were exercised, not only rejections.
      expect(accepted).toBeGreaterThan(100);
      expect(accepted).toBeLessThan(1400);
    });
  }
});
