/**
 * MLflow's access vocabulary, shared by the `teams`/`access` configuration (config/teams.ts) and the policy
 * builder (constructs/access/policy.ts): defined once here because configuration may import only core.
 */

/** MLflow's permissions (mlflow.server.auth.permissions), weakest first. */
export const MLFLOW_PERMISSIONS = ["READ", "USE", "EDIT", "MANAGE"] as const;
export type AccessPermission = (typeof MLFLOW_PERMISSIONS)[number];

/** MLflow's default workspace: where a pre-existing installation's experiments and models are. */
export const DEFAULT_WORKSPACE = "default";

/** The aliases protected when none are given. */
export const DEFAULT_PROTECTED_ALIASES = ["production", "staging"] as const;
