/**
 * Teams on the tracking server: the access policy document (constructs/access/policy.ts) in a ConfigMap, and
 * the Job that applies it to MLflow's auth database before the tracking server rolls.
 *
 * Creates, in `namespace`:
 * - the ConfigMap `<name>-access-policy` holding `policy.json`, which the tracking server and the Job mount at
 *   /opt/mlflow-platform/access/policy.json;
 * - the sync Job `<name>-access-sync-<hash>`: `python -m mlflow_platform_access sync` in the MLflow image, with
 *   the migration Job's backend store environment and the access module from the guard's ConfigMap. Its name
 *   carries a hash of the policy, the image and the module, so a changed policy (or an MLflow upgrade, whose
 *   auth database may need migrating) runs a new Job; Terraform waits for it to succeed.
 *
 * The TrackingServer creates it (as its child `access`) when its `access` prop is set, after its migration Job
 * and before its Deployment. See docs/access.md.
 */
import { createHash } from "crypto";
import type { ITerraformDependable } from "cdktf";
import { Construct } from "constructs";
import { ConfigMapV1 } from "@cdktf/provider-kubernetes/lib/config-map-v1";
import { JobV1 } from "@cdktf/provider-kubernetes/lib/job-v1";
import type { BackendStoreContract } from "../core/contracts";
import { PropError } from "../core/prop-error";
import { DNS_LABEL } from "../core/names";
import { containerResources, restrictedContainerSecurityContext, restrictedPodSecurityContext, toK8sEnv } from "../core/pod-spec";
import { labelSelectorProblem } from "../core/pod-spec";
import { TMP_DIR, accessSyncCommand } from "../tracking-server/mlflow-command";
import { trackingGuardChecksum, trackingGuardVolume } from "../tracking-server/guard-command";
import { ACCESS_POLICY_KEY, ACCESS_POLICY_VOLUME, accessPolicyConfigMapName } from "./access-command";
import { ACCESS_POLICY_DIR, type AccessPolicy, accessPolicyJson } from "./policy";

/** Props of {@link TeamAccess}. */
export interface TeamAccessProps {
  /** The tracking server's name: the ConfigMap and the Job are named after it. A DNS label. */
  readonly name: string;
  /** Namespace of the tracking server. A DNS label. */
  readonly namespace: string;
  /** The policy document (use `accessPolicy(...)` from constructs/access/policy.ts). */
  readonly policy: AccessPolicy;
  /** The MLflow image (exact tag or digest): the tracking server's. */
  readonly image: string;
  /** The backend store, as the migration Job connects to it. */
  readonly backendStore: BackendStoreContract;
  /** The guard's ConfigMap (created with `access: true`): it carries the access module. */
  readonly guardConfigMapName: string;
  /** The ServiceAccount the Job runs as (the tracking server's: no Kubernetes API token is mounted). */
  readonly serviceAccountName: string;
  /** Labels selecting the Job's pods (the NetworkPolicies give them the database). Not empty. */
  readonly podLabels: Record<string, string>;
  /** Further labels of every resource. @default {} */
  readonly labels?: Record<string, string>;
  /** User and group id the container runs as (non-root). @default 10001 */
  readonly runAsUser?: number;
  /** Resources of the container. @default requests { cpu: "100m", memory: "512Mi" }, limits { memory: "1Gi" } */
  readonly resources?: {
    readonly requests: { readonly cpu: string; readonly memory: string };
    readonly limits: { readonly cpu?: string; readonly memory: string };
  };
  /** How long Terraform waits for the Job before it fails the apply. @default 10 */
  readonly timeoutMinutes?: number;
  /** What the Job waits for: the migration Job, the guard's ConfigMap, the ServiceAccount, the database Secret. @default [] */
  readonly dependsOn?: ITerraformDependable[];
}

/** Name of the sync Job: `<name>-access-sync-<hash of policy, image and access module>`. */
export function accessSyncJobName(props: Pick<TeamAccessProps, "name" | "policy" | "image">): string {
  const h = createHash("sha256")
    .update(accessPolicyJson(props.policy))
    .update("\0")
    .update(props.image)
    .update("\0")
    .update(trackingGuardChecksum({ access: true }))
    .digest("hex")
    .slice(0, 10);
  return `${props.name}-access-sync-${h}`;
}

function validate(scope: Construct, props: TeamAccessProps): void {
  if (!DNS_LABEL.test(props.name)) throw new PropError(scope, "name", props.name, 'a DNS label such as "mlflow-tracking"');
  // The Job's name ends in "-access-sync-" and 10 hex digits; Kubernetes labels its pods with it (63 at most).
  if (props.name.length > 63 - "-access-sync-".length - 10)
    throw new PropError(scope, "name", props.name, `at most ${63 - "-access-sync-".length - 10} characters (the sync Job's name adds 23)`);
  if (!DNS_LABEL.test(props.namespace)) throw new PropError(scope, "namespace", props.namespace, "a Kubernetes namespace name");
  if (props.policy.workspaces.length === 0)
    throw new PropError(
      scope,
      "policy",
      props.policy.workspaces,
      "a policy with at least one team's workspace (build it with accessPolicy)",
    );
  const json = accessPolicyJson(props.policy);
  // Terraform would read these as interpolation or template directives inside the ConfigMap's data.
  if (json.includes("${") || json.includes("%{"))
    throw new PropError(scope, "policy", props.policy, 'groups and identities without "${" or "%{" (Terraform would interpolate them)');
  const problem = labelSelectorProblem(props.podLabels);
  if (problem) throw new PropError(scope, "podLabels", props.podLabels, `the labels of the sync Job's pods; it ${problem}`);
  if (props.runAsUser !== undefined && (!Number.isInteger(props.runAsUser) || props.runAsUser < 1))
    throw new PropError(scope, "runAsUser", props.runAsUser, "a non-zero user id (the restricted Pod Security Standard forbids root)");
  if (props.timeoutMinutes !== undefined && !(Number.isInteger(props.timeoutMinutes) && props.timeoutMinutes >= 1))
    throw new PropError(scope, "timeoutMinutes", props.timeoutMinutes, "a whole number of minutes of at least 1");
}

/**
 * The access policy and its sync Job.
 *
 * @example
 * new TeamAccess(this, "access", {
 *   name: "mlflow-tracking", namespace: "mlflow", policy: accessPolicy({ teams, platformAdminsGroup: "platform-admins",
 *   defaultWorkspace: { groups: ["ml-users"], permission: "EDIT" } }), image: "ghcr.io/mlflow/mlflow:v3.17.2-full",
 *   backendStore: backendStore.contract, guardConfigMapName: "mlflow-tracking-guard", serviceAccountName: "mlflow-tracking",
 *   podLabels: { "app.kubernetes.io/component": "access-sync" }, dependsOn: [migrationJob],
 * });
 */
export class TeamAccess extends Construct {
  readonly policyConfigMap: ConfigMapV1;
  readonly syncJob: JobV1;

  constructor(scope: Construct, id: string, props: TeamAccessProps) {
    super(scope, id);
    validate(this, props);
    const { namespace } = props;
    const labels = { ...(props.labels ?? {}) };
    const policyConfigMapName = accessPolicyConfigMapName(props.name);
    this.policyConfigMap = new ConfigMapV1(this, "policy", {
      metadata: { name: policyConfigMapName, namespace, labels },
      data: { [ACCESS_POLICY_KEY]: accessPolicyJson(props.policy) },
      dependsOn: props.dependsOn,
    });

    const uid = String(props.runAsUser ?? 10001);
    const cmd = accessSyncCommand({
      image: props.image,
      backendStore: props.backendStore,
      guard: { configMapName: props.guardConfigMapName },
      access: { policyConfigMapName },
    });
    const guardVolume = trackingGuardVolume(props.guardConfigMapName, { access: true });
    const timeout = props.timeoutMinutes ?? 10;
    const podLabels = { ...labels, ...props.podLabels };
    this.syncJob = new JobV1(this, "sync", {
      metadata: { name: accessSyncJobName(props), namespace, labels: podLabels },
      spec: {
        backoffLimit: 2,
        // Never ttlSecondsAfterFinished: Kubernetes would delete the Job and the next plan recreate it.
        activeDeadlineSeconds: timeout * 60,
        template: {
          metadata: { labels: podLabels },
          spec: {
            serviceAccountName: props.serviceAccountName,
            automountServiceAccountToken: false,
            restartPolicy: "Never",
            securityContext: restrictedPodSecurityContext(uid, { fsGroup: true }),
            container: [
              {
                name: "access-sync",
                image: cmd.image,
                imagePullPolicy: "IfNotPresent",
                command: [...cmd.command],
                args: [...cmd.args],
                env: cmd.env.map(toK8sEnv),
                workingDir: TMP_DIR,
                securityContext: restrictedContainerSecurityContext(uid),
                resources: containerResources(props.resources ?? { requests: { cpu: "100m", memory: "512Mi" }, limits: { memory: "1Gi" } }),
                volumeMount: [
                  { name: "tmp", mountPath: TMP_DIR },
                  guardVolume.mount,
                  { name: ACCESS_POLICY_VOLUME, mountPath: ACCESS_POLICY_DIR, readOnly: true },
                ],
              },
            ],
            volume: [
              { name: "tmp", emptyDir: { sizeLimit: "256Mi" } },
              guardVolume.volume,
              {
                name: ACCESS_POLICY_VOLUME,
                configMap: { name: policyConfigMapName, items: [{ key: ACCESS_POLICY_KEY, path: ACCESS_POLICY_KEY }], defaultMode: "0444" },
              },
            ],
          },
        },
      },
      waitForCompletion: true,
      timeouts: { create: `${timeout}m`, update: `${timeout}m` },
      dependsOn: [this.policyConfigMap, ...(props.dependsOn ?? [])],
    });
  }
}
