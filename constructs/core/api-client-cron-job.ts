/**
 * What the platform's scheduled jobs that call the tracking server's API share (DriftJob, ModelRetention):
 * a CronJob of one restricted container, run as its own service account with its own IAM role (Pod
 * Identity or IRSA) that holds one inline policy on one prefix of the artifact bucket.
 *
 * A function rather than a construct: the resources are created directly in the calling construct, under
 * the ids they always had, so their Terraform addresses (and the state behind them) stay where they are.
 */
import type { ITerraformDependable } from "cdktf";
import type { Construct } from "constructs";
import { CronJobV1 } from "@cdktf/provider-kubernetes/lib/cron-job-v1";
import { ServiceAccountV1 } from "@cdktf/provider-kubernetes/lib/service-account-v1";
import type { ContainerCommand } from "./command-types";
import { DNS_LABEL } from "./names";
import {
  containerResources,
  labelSelectorProblem,
  restrictedContainerSecurityContext,
  restrictedPodSecurityContext,
  toK8sEnv,
} from "./pod-spec";
import { WorkloadRole, type WorkloadIdentityMode, type WorkloadRoleInlinePolicy } from "./workload-role";
import { PropError } from "./prop-error";

/** The Kubernetes half of every such job, on any cloud (ApiClientCronJobProps adds the AWS role's). */
export interface CronJobWorkloadProps {
  /** Namespace of the CronJob and its service account (must exist; pass it in `dependsOn`). Required. */
  readonly namespace: string;
  /** Name of the CronJob and its service account (a DNS label). Required. */
  readonly name: string;
  /** The container command (`driftCommand(...)`, `retentionCommand(...)`). Required. */
  readonly command: ContainerCommand;
  /** When it runs (five-field cron, UTC). Required. */
  readonly schedule: string;
  /** Labels of the job's pods: the tracking server's NetworkPolicy admits exactly these. Must not be empty. Required. */
  readonly podLabels: Record<string, string>;
  /** Extra labels on every Kubernetes resource. @default {} */
  readonly labels?: Record<string, string>;
  /** User and group id of the container (non-root). @default 10001 */
  readonly runAsUser?: number;
  /** Seconds after which a run is killed. @default 3600 */
  readonly deadlineSeconds?: number;
  /** Container resources. @default requests 50m CPU / 256Mi, limit 512Mi */
  readonly resources?: {
    readonly requests: { readonly cpu: string; readonly memory: string };
    readonly limits: { readonly memory: string; readonly cpu?: string };
  };
  /** What must exist first (the namespace). @default [] */
  readonly dependsOn?: ITerraformDependable[];
}

/** Props every such job takes on AWS (DriftJobProps and ModelRetentionProps extend them). */
export interface ApiClientCronJobProps extends CronJobWorkloadProps {
  /** The artifact bucket's ARN. Required. */
  readonly bucketArn: string;
  /** EKS cluster name (trust of the role). Required. */
  readonly clusterName: string;
  /** AWS account id of the cluster. Required. */
  readonly accountId: string;
  /** AWS region of the cluster. Required. */
  readonly region: string;
  /** IAM role name (unique per account: include the environment). Required. */
  readonly roleName: string;
  /** How the pod gets its role. @default "pod-identity" */
  readonly identityMode?: WorkloadIdentityMode;
  /** IRSA only: the cluster's IAM OIDC provider ARN. @default - none (required with "irsa") */
  readonly oidcProviderArn?: string;
  /**
   * Check the eks-pod-identity-agent add-on at plan time (once per cluster is enough).
   * @default false (the tracking server's role already checks it)
   */
  readonly checkPodIdentityAgent?: boolean;
}

/** What differs between the jobs. */
export interface ApiClientCronJobSpec {
  /** The container's name. */
  readonly containerName: string;
  /** The job's bucket prefix: checked as an S3 key prefix, reported under `field`. */
  readonly prefix: { readonly field: string; readonly value: string; readonly pattern: RegExp };
  /** The IAM role's description. */
  readonly roleDescription: string;
  /** The role's one inline policy. */
  readonly policy: WorkloadRoleInlinePolicy;
}

/** The resources of one job. */
export interface ApiClientCronJobParts {
  readonly cronJob: CronJobV1;
  readonly serviceAccount: ServiceAccountV1;
  readonly role: WorkloadRole;
}

/** How the job's pods get their cloud identity. */
export interface CronJobIdentity {
  /** Annotations of the Kubernetes service account (IRSA's role ARN, GKE's or AKS's identity). */
  readonly serviceAccountAnnotations: Record<string, string>;
  /** Labels the pods need for it (AKS's workload identity webhook). @default - none */
  readonly podLabels?: Record<string, string>;
  /** What must exist before a pod starts (the Pod Identity association). */
  readonly readyWith: ITerraformDependable[];
}

/** Validates the Kubernetes props and the job's prefix (errors name `scope` and the field). */
export function validateCronJobWorkload(scope: Construct, props: CronJobWorkloadProps, prefix: ApiClientCronJobSpec["prefix"]): void {
  if (!DNS_LABEL.test(props.name)) throw new PropError(scope, "name", props.name, `a DNS label (lower-case letters, digits, '-')`);
  if (!/^(\S+\s+){4}\S+$/.test(props.schedule))
    throw new PropError(scope, "schedule", props.schedule, `a five-field cron schedule such as "15 4 * * *"`);
  const labelProblem = labelSelectorProblem(props.podLabels);
  if (labelProblem) throw new PropError(scope, "podLabels", props.podLabels, `pod labels: it ${labelProblem}`);
  if (!prefix.pattern.test(prefix.value)) {
    throw new PropError(scope, prefix.field, prefix.value, `an S3 key prefix without leading or trailing '/'`);
  }
  const deadline = props.deadlineSeconds ?? 3600;
  if (!Number.isInteger(deadline) || deadline < 60)
    throw new PropError(scope, "deadlineSeconds", deadline, `a whole number of seconds of at least 60`);
  const uid = String(props.runAsUser ?? 10001);
  if (!(Number(uid) >= 1))
    throw new PropError(scope, "runAsUser", uid, `a non-zero user id (the restricted Pod Security Standard forbids root)`);
}

/** Validates `props` (errors name `scope` and the field) and creates the job's resources in `scope`. */
export function apiClientCronJob(scope: Construct, props: ApiClientCronJobProps, spec: ApiClientCronJobSpec): ApiClientCronJobParts {
  validateCronJobWorkload(scope, props, spec.prefix);

  // "Default": errors name the calling construct (see WorkloadRole); the resources keep distinct ids.
  const role = new WorkloadRole(scope, "Default", {
    mode: props.identityMode,
    clusterName: props.clusterName,
    namespace: props.namespace,
    serviceAccountName: props.name,
    roleName: props.roleName,
    description: spec.roleDescription,
    accountId: props.accountId,
    region: props.region,
    oidcProviderArn: props.oidcProviderArn,
    checkPodIdentityAgent: props.checkPodIdentityAgent ?? false,
    fieldNames: { mode: "identityMode" },
    inlinePolicies: [spec.policy],
  });
  const parts = cronJobWorkload(scope, props, spec.containerName, {
    serviceAccountAnnotations: role.serviceAccountAnnotations,
    readyWith: role.readyWith,
  });
  return { ...parts, role };
}

/** The job's service account and CronJob (validated props), its pods running with `identity`. */
export function cronJobWorkload(
  scope: Construct,
  props: CronJobWorkloadProps,
  containerName: string,
  identity: CronJobIdentity,
): { readonly cronJob: CronJobV1; readonly serviceAccount: ServiceAccountV1 } {
  const deadline = props.deadlineSeconds ?? 3600;
  const uid = String(props.runAsUser ?? 10001);
  const labels = { ...(props.labels ?? {}), ...props.podLabels };
  const serviceAccount = new ServiceAccountV1(scope, "service-account", {
    metadata: {
      name: props.name,
      namespace: props.namespace,
      labels,
      annotations: Object.keys(identity.serviceAccountAnnotations).length > 0 ? { ...identity.serviceAccountAnnotations } : undefined,
    },
    automountServiceAccountToken: false,
    dependsOn: props.dependsOn,
  });
  const cmd = props.command;
  const resources = props.resources ?? { requests: { cpu: "50m", memory: "256Mi" }, limits: { memory: "512Mi" } };
  const cronJob = new CronJobV1(scope, "cron-job", {
    metadata: { name: props.name, namespace: props.namespace, labels },
    spec: {
      schedule: props.schedule,
      timezone: "Etc/UTC",
      concurrencyPolicy: "Forbid",
      startingDeadlineSeconds: 3600,
      successfulJobsHistoryLimit: 3,
      failedJobsHistoryLimit: 3,
      jobTemplate: {
        metadata: { labels },
        spec: {
          backoffLimit: 1,
          activeDeadlineSeconds: deadline,
          ttlSecondsAfterFinished: "86400",
          template: {
            metadata: { labels: identity.podLabels ? { ...labels, ...identity.podLabels } : labels },
            spec: {
              serviceAccountName: serviceAccount.metadata.name,
              automountServiceAccountToken: false,
              restartPolicy: "Never",
              securityContext: restrictedPodSecurityContext(uid),
              container: [
                {
                  name: containerName,
                  image: cmd.image,
                  imagePullPolicy: "IfNotPresent",
                  command: [...cmd.command],
                  args: [...cmd.args],
                  env: cmd.env.map(toK8sEnv),
                  workingDir: "/tmp",
                  securityContext: restrictedContainerSecurityContext(uid),
                  resources: containerResources(resources),
                  volumeMount: [{ name: "tmp", mountPath: "/tmp" }],
                },
              ],
              volume: [{ name: "tmp", emptyDir: { sizeLimit: "256Mi" } }],
            },
          },
        },
      },
    },
    // Pods must not start before their credentials exist.
    dependsOn: [serviceAccount, ...identity.readyWith, ...(props.dependsOn ?? [])],
  });
  return { cronJob, serviceAccount };
}
