/**
 * The inference log's fixed names, shared by the configuration's checks (config/inference.ts), the model
 * server's construct and the drift job: kept here so that constructs need not import configuration.
 */

/** Rule kinds the model server applies (runtime/src/mlflow_platform/serving/obfuscation.py). */
export const RULE_KINDS = ["drop", "hash", "mask", "coarsen", "redact"] as const;
/** What `redact` finds in free text. */
export const REDACT_PATTERNS = ["email", "card", "phone"] as const;
/** Key prefix of the inference log in the artifact bucket (beside MLflow's own prefix, never under it). */
export const INFERENCE_LOG_PREFIX = "inference-logs";
