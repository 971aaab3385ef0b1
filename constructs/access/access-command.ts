/**
 * What a process of the MLflow image needs to work with teams (pure values, no cdktf): the policy file
 * mounted from its ConfigMap, its path in {@link ACCESS_POLICY_ENV}, and MLflow's workspaces. The commands
 * themselves (the tracking server with `--app-name platform-auth`, gc across workspaces, the sync Job) are
 * built in constructs/tracking-server/mlflow-command.ts with the other MLflow processes.
 */
import type { EnvVar, MountedFile } from "../core/command-types";
import { ACCESS_POLICY_ENV, ACCESS_POLICY_FILE, ACCESS_POLICY_PATH } from "./policy";

/** Key of the policy document in its ConfigMap. */
export const ACCESS_POLICY_KEY = ACCESS_POLICY_FILE;
/** Name of the Pod volume holding the policy. */
export const ACCESS_POLICY_VOLUME = "access-policy";

/** The access settings of the MLflow commands (MlflowCommandInputs.access). */
export interface AccessCommandSettings {
  /** The ConfigMap holding the policy document (see {@link accessPolicyConfigMapName}). */
  readonly policyConfigMapName: string;
}

/** Name of the policy's ConfigMap, for the tracking server named `trackingServerName`. */
export function accessPolicyConfigMapName(trackingServerName: string): string {
  return `${trackingServerName}-access-policy`;
}

/** The policy file a process reads, from the ConfigMap `configMapName`. */
export function accessPolicyMountedFile(configMapName: string): MountedFile {
  return { path: ACCESS_POLICY_PATH, configMapKeyRef: { name: configMapName, key: ACCESS_POLICY_KEY } };
}

/** MLflow's workspaces on (experiments, models and artifacts scoped per workspace). */
export function workspacesEnv(): EnvVar[] {
  return [{ name: "MLFLOW_ENABLE_WORKSPACES", value: "true" }];
}

/**
 * The tracking server's environment with teams: workspaces, the auth app refusing (rather than allowing) a
 * request its permission checks cannot classify, and the policy's path.
 */
export function accessServerEnv(): EnvVar[] {
  return [
    ...workspacesEnv(),
    { name: "MLFLOW_BASIC_AUTH_FAIL_CLOSED", value: "true" },
    { name: ACCESS_POLICY_ENV, value: ACCESS_POLICY_PATH },
  ];
}
