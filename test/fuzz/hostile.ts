import fc from "fast-check";

/**
 * What an attacker or a careless client sends (issue 14): prototype keys, control characters and lone
 * surrogates, huge and non-finite-looking numbers, times far out of range, long strings, deep nesting, and
 * bodies that are not JSON at all. Bodies are produced as raw text, so keys such as "__proto__" reach the
 * server as own properties, the way JSON.parse gives them.
 */
export const hostileScalar: fc.Arbitrary<unknown> = fc.constantFrom(
  "__proto__",
  "constructor",
  "prototype",
  "toString",
  "hasOwnProperty",
  "",
  " ",
  "\u0000",
  "a\u0007b",
  "\ud800",
  "\udfff",
  "x".repeat(129),
  "é".repeat(200),
  "🦄".repeat(129),
  "%ED%A0%80",
  "../../etc/passwd",
  "1e20",
  "2200-01-01T00:00:00Z",
  "1970-01-01",
  1e20,
  -1e20,
  1.7e308,
  -1.7e308,
  5e-324,
  -0,
  2 ** 53 + 1,
  67108864,
  100000,
  10001,
  -1,
  0,
  true,
  null,
  [],
  {},
);

/** Raw JSON texts no generator would produce as values. */
export const hostileRawBody: fc.Arbitrary<string> = fc.constantFrom(
  "",
  "{",
  "{nope",
  "null",
  "[]",
  '"text"',
  "1e400",
  '{"__proto__": {"admin": true}, "userId": "u"}',
  '{"constructor": {"prototype": {"polluted": 1}}}',
  '{"userId": "u", "userId": "v"}',
  `{"events": [${'{"type":"view","userId":"u"},'.repeat(1200)}{"type":"view","userId":"u"}]}`,
  `${"[".repeat(5000)}${"]".repeat(5000)}`,
  `{"a": ${"[".repeat(500)}1${"]".repeat(500)}}`,
  `{"userId": "${"x".repeat(300_000)}"}`,
  "\u0000\u0001\u0002",
  "\ufeff{}",
);

/** Replaces, removes or adds one field somewhere in a JSON value (mutations of a valid body). */
export function mutate(value: unknown): fc.Arbitrary<unknown> {
  if (Array.isArray(value)) {
    if (value.length === 0) return fc.oneof(hostileScalar, fc.constant([hostileScalar]));
    return fc.nat({ max: value.length - 1 }).chain((i) =>
      mutate(value[i]).map((v) => {
        const copy = [...value];
        copy[i] = v;
        return copy;
      }),
    );
  }
  if (value === null || typeof value !== "object") return fc.oneof(hostileScalar, fc.jsonValue({ maxDepth: 2 }));
  const keys = Object.keys(value);
  const obj = value as Record<string, unknown>;
  const deleteOne = keys.length === 0 ? fc.constant(obj) : fc.constantFrom(...keys).map((k) => omit(obj, k));
  const replaceOne =
    keys.length === 0
      ? fc.constant(obj)
      : fc.constantFrom(...keys).chain((k) => mutate(obj[k]).map((v) => withKey(obj, k, v)));
  const addOne = fc
    .tuple(fc.oneof(fc.constantFrom("__proto__", "constructor", "extra"), fc.string()), hostileScalar)
    .map(([k, v]) => withKey(obj, k, v));
  return fc.oneof(deleteOne, replaceOne, addOne);
}

function omit(obj: Record<string, unknown>, key: string): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const k of Object.keys(obj)) if (k !== key) define(out, k, obj[k]);
  return out;
}

function withKey(obj: Record<string, unknown>, key: string, value: unknown): Record<string, unknown> {
  const out = omit(obj, key);
  define(out, key, value);
  return out;
}

/** An own property even for "__proto__" (plain assignment would set the prototype instead). */
function define(obj: Record<string, unknown>, key: string, value: unknown): void {
  Object.defineProperty(obj, key, { value, enumerable: true, writable: true, configurable: true });
}

/** Path parameters: known ids, fresh ones, and hostile ones (already percent-encoded where needed). */
export const hostilePathParam: fc.Arbitrary<string> = fc.constantFrom(
  "%ED%A0%80",
  "%zz",
  "%",
  "%00",
  "%0A",
  "a%20b",
  "%2F",
  "..",
  "__proto__",
  "constructor",
  "x".repeat(129),
  "x".repeat(3000),
  encodeURIComponent("🦄".repeat(128)),
  encodeURIComponent("🦄".repeat(129)),
);
