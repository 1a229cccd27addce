import { createResponseCheck, type ResponseCheck } from "../../src/server/openapi-validate.js";

/** The server's own OpenAPI document, as a checker of the responses an e2e test sees. */
export async function responseValidator(url: string, apiKey: string): Promise<ResponseCheck> {
  const res = await fetch(`${url}/v1/openapi.json`, { headers: { authorization: `Bearer ${apiKey}` } });
  if (!res.ok) throw new Error(`GET /v1/openapi.json answered ${res.status}`);
  return createResponseCheck(await res.json());
}
