/**
 * API key scopes (the Personalizer/Unleash model): `client` for the application's calls (events, rank,
 * reward, activate, recommendations), `read` for dashboards and analysts (features, decisions, policies,
 * models, evaluations, overview, metrics), `admin` for everything. A module of its own without zod, so the
 * CLI's `--help` can name them without loading the validation libraries (core/api-key.ts re-exports them).
 */
export const SCOPES = ["client", "read", "admin"] as const;
export type Scope = (typeof SCOPES)[number];

/** What a route needs: a scope, any valid key, or nothing (`public`). */
export type Requirement = Scope | "any" | "public";
