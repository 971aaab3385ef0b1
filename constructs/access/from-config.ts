/**
 * Maps an environment's `teams` and `access` onto the access policy's inputs (constructs/access/policy.ts):
 * the one place that knows which configuration field becomes which input. The TrackingServer receives the
 * built document as its `access` prop (constructs/tracking-server/from-config.ts) and creates TeamAccess.
 */
import type { EnvironmentConfig } from "../../config";
import type { KubernetesEnvironment } from "../../config/kubernetes-half";
import { teamWorkspace } from "../../config/teams";
import type { PropFieldMap } from "../core/prop-error";
import { trainingSubject } from "../auth-proxy/from-config";
import { type AccessPolicy, type AccessPolicyInputs, accessPolicy } from "./policy";

/** The role name of the training pipeline in its team (`platform.<team>.pipeline`). */
export const TRAINING_WORKLOAD_NAME = "pipeline";

/** Whether an environment has teams (everything of this feature is off otherwise). */
export function teamsEnabled(config: Pick<EnvironmentConfig, "teams">): boolean {
  return (config.teams ?? []).length > 0;
}

/** The policy inputs of an environment; undefined without teams. */
export function accessPolicyInputs(config: KubernetesEnvironment): AccessPolicyInputs | undefined {
  if (!teamsEnabled(config)) return undefined;
  const access = config.access;
  // The schema requires access.platformAdminsGroup with teams: a missing one is a bug upstream.
  if (!access) throw new Error(`environment "${config.name}": teams without access (the schema should have refused it)`);
  return {
    teams: (config.teams ?? []).map((t) => ({
      name: t.name,
      groups: t.groups,
      workspace: t.workspace,
      defaultPermission: t.defaultPermission,
      approversGroup: t.approversGroup,
    })),
    platformAdminsGroup: access.platformAdminsGroup,
    releaseIdentities: access.releaseIdentities,
    fourEyes: access.fourEyes,
    // Everyone the proxy admits by group keeps using what existed before teams, unless configured otherwise.
    defaultWorkspace: access.defaultWorkspace ?? { groups: config.auth.allowedGroups, permission: "EDIT" },
    protectedAliases: access.protectedAliases,
    // The pipeline's projected token carries no groups: its subject is a member of its team's workspace only.
    ...(config.training.enabled && config.training.team !== undefined
      ? { workloads: [{ name: TRAINING_WORKLOAD_NAME, identity: trainingSubject(config), team: config.training.team }] }
      : {}),
  };
}

/** The workspace the training pipeline works in: its team's, with teams; undefined (MLflow's default) without. */
export function trainingWorkspace(config: KubernetesEnvironment): string | undefined {
  if (!teamsEnabled(config) || config.training.team === undefined) return undefined;
  const team = (config.teams ?? []).find((t) => t.name === config.training.team);
  if (!team) throw new Error(`environment "${config.name}": training.team names no team (the schema should have refused it)`);
  return teamWorkspace(team);
}

/** The policy document of an environment; undefined without teams. */
export function accessPolicyOf(config: KubernetesEnvironment): AccessPolicy | undefined {
  const inputs = accessPolicyInputs(config);
  return inputs ? accessPolicy(inputs) : undefined;
}

/** The configuration field behind each input of accessPolicy (its PropErrors name "accessPolicy"). */
export const ACCESS_POLICY_FIELDS: PropFieldMap = {
  teams: "teams",
  platformAdminsGroup: "access.platformAdminsGroup",
  releaseIdentities: "access.releaseIdentities",
  fourEyes: "access.fourEyes",
  // Its default is auth.allowedGroups: the error names the field that overrides it.
  defaultWorkspace: "access.defaultWorkspace",
  protectedAliases: "access.protectedAliases",
  workloads: "training.team",
};

/** The configuration field behind each TeamAccess prop (the TrackingServer's child `access`). */
export const TEAM_ACCESS_FIELDS: PropFieldMap = {
  name: null,
  namespace: "mlflow.namespace",
  policy: "teams",
  image: "mlflow.image",
  backendStore: null,
  guardConfigMapName: null,
  serviceAccountName: null,
  podLabels: null,
  labels: null,
  runAsUser: null,
  resources: null,
  timeoutMinutes: null,
  dependsOn: null,
};
