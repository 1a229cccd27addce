import { Ajv2020 } from "ajv/dist/2020.js";

/**
 * Checks real responses against the OpenAPI document (tests and e2e tests): the status must be
 * documented for the route, and a JSON body must match the documented schema. JSON Schema 2020-12 is
 * OpenAPI 3.1's dialect, hence Ajv2020.
 */
export type ResponseCheck = (method: string, path: string, status: number, body: unknown) => void;

interface Doc {
  paths: Record<string, Record<string, { responses: Record<string, ResponseSpec> }>>;
  components: { schemas: Record<string, unknown> };
}
interface ResponseSpec {
  content?: Record<string, { schema: { $ref?: string } }>;
}

export function createResponseCheck(document: unknown): ResponseCheck {
  const doc = document as Doc;
  const ajv = new Ajv2020({ strict: false, validateFormats: false, allErrors: true });
  ajv.addSchema({ $id: "openapi.json", components: doc.components });
  const routes = Object.entries(doc.paths).map(([template, ops]) => ({
    ops,
    pattern: new RegExp(`^${template.replace(/\{\w+\}/g, "[^/]+")}$`),
    literal: !template.includes("{"),
  }));
  return (method, path, status, body) => {
    const bare = path.split("?")[0] ?? path;
    // A literal path (/v1/policies/default) wins over a template that also matches (/v1/policies/{id}).
    const route =
      routes.find((r) => r.literal && r.pattern.test(bare) && r.ops[method.toLowerCase()]) ??
      routes.find((r) => r.pattern.test(bare) && r.ops[method.toLowerCase()]);
    const op = route?.ops[method.toLowerCase()];
    if (!op) throw new Error(`${method} ${bare} is not documented`);
    const spec = op.responses[String(status)] ?? (status >= 400 ? op.responses.default : undefined);
    if (!spec) throw new Error(`${method} ${bare} answered ${status}, which is not documented`);
    const media = Object.entries(spec.content ?? {}).find(([type]) => type.includes("json"));
    if (!media) return;
    const pointer = media[1].schema.$ref;
    const validate = pointer ? ajv.getSchema(`openapi.json${pointer}`) : ajv.compile(media[1].schema);
    if (!validate) throw new Error(`no schema at ${pointer}`);
    if (!validate(body)) {
      throw new Error(
        `${method} ${bare} ${status}: body does not match ${pointer}: ${ajv.errorsText(validate.errors)}`,
      );
    }
  };
}
