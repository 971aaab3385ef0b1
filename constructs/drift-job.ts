/**
 * The scheduled drift job of one served model (issue 14): runs `mlflow-platform drift`
 * (constructs/commands/drift.ts) on a schedule, as its own service account with its own IAM role that may
 * only list and read the model's inference log (`<prefix>/model=<name>/`) and decrypt it: no write, no
 * delete, nothing else in the bucket. The model server writes there (PutObject only).
 *
 * It calls the tracking server's API in-cluster (the reference, the monitoring run): the tracking
 * server's NetworkPolicy must admit `podLabels` (TrackingServer `apiClientPodLabels`).
 */
import type { ITerraformDependable } from "cdktf";
import { Construct } from "constructs";
import { CronJobV1 } from "@cdktf/provider-kubernetes/lib/cron-job-v1";
import { ServiceAccountV1 } from "@cdktf/provider-kubernetes/lib/service-account-v1";
import type { ContainerCommand } from "./commands/types";
import { DNS_LABEL } from "./names";
import { containerResources, labelSelectorProblem, restrictedContainerSecurityContext, restrictedPodSecurityContext, toK8sEnv } from "./pod-spec";
import { WorkloadRole, type WorkloadIdentityMode } from "./workload-role";

/** Props of {@link DriftJob}. */
export interface DriftJobProps {
  /** Namespace of the CronJob and its service account (must exist; pass it in `dependsOn`). Required. */
  readonly namespace: string;
  /** Name of the CronJob and its service account (a DNS label). Required. */
  readonly name: string;
  /** The container command: `driftCommand(...)`. Required. */
  readonly command: ContainerCommand;
  /** When it runs (five-field cron, UTC). Required. */
  readonly schedule: string;
  /** Labels of the job's pods: the tracking server's NetworkPolicy admits exactly these. Must not be empty. Required. */
  readonly podLabels: Record<string, string>;
  /** Extra labels on every Kubernetes resource. @default {} */
  readonly labels?: Record<string, string>;
  /** The artifact bucket's ARN. Required. */
  readonly bucketArn: string;
  /** The KMS key of the bucket (the log's objects are encrypted with it). Required. */
  readonly kmsKeyArn: string;
  /** The model's log prefix, `<inference-log prefix>/model=<name>`: the role may list and read under it only. Required. */
  readonly logPrefix: string;
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
  /** User and group id of the container (non-root). @default 10001 */
  readonly runAsUser?: number;
  /** Seconds after which a run is killed. @default 3600 */
  readonly deadlineSeconds?: number;
  /** Container resources. @default requests 50m CPU / 256Mi, limit 512Mi */
  readonly resources?: { readonly requests: { readonly cpu: string; readonly memory: string }; readonly limits: { readonly memory: string; readonly cpu?: string } };
  /** What must exist first (the namespace). @default [] */
  readonly dependsOn?: ITerraformDependable[];
}

/** A scheduled `mlflow-platform drift` with read-only rights on one model's inference log. */
export class DriftJob extends Construct {
  readonly cronJob: CronJobV1;
  readonly serviceAccount: ServiceAccountV1;
  readonly role: WorkloadRole;

  constructor(scope: Construct, id: string, props: DriftJobProps) {
    super(scope, id);
    const fail = (field: string, message: string): never => {
      throw new Error(`${this.node.path}: ${field} ${message}`);
    };
    if (!DNS_LABEL.test(props.name)) fail("name", `must be a DNS label (lower-case letters, digits, '-'), got "${props.name}"`);
    if (!/^(\S+\s+){4}\S+$/.test(props.schedule)) fail("schedule", `must be a five-field cron schedule such as "15 4 * * *", got "${props.schedule}"`);
    const labelProblem = labelSelectorProblem(props.podLabels);
    if (labelProblem) fail("podLabels", `${labelProblem}: use driftJobPodLabels(config)`);
    if (!/^[a-zA-Z0-9!_.*'()=-]+(\/[a-zA-Z0-9!_.*'()=-]+)*$/.test(props.logPrefix)) {
      fail("logPrefix", `must be an S3 key prefix without leading or trailing '/', got "${props.logPrefix}"`);
    }
    const deadline = props.deadlineSeconds ?? 3600;
    if (!Number.isInteger(deadline) || deadline < 60) fail("deadlineSeconds", `must be a whole number of seconds of at least 60, got ${deadline}`);
    const uid = String(props.runAsUser ?? 10001);
    if (!(Number(uid) >= 1)) fail("runAsUser", `must be a non-zero user id (the restricted Pod Security Standard forbids root), got ${uid}`);

    // "Default": errors name this construct (see WorkloadRole); the resources keep distinct ids.
    this.role = new WorkloadRole(this, "Default", {
      mode: props.identityMode,
      clusterName: props.clusterName,
      namespace: props.namespace,
      serviceAccountName: props.name,
      roleName: props.roleName,
      description: `Model drift job (${props.namespace}/${props.name} on ${props.clusterName}): reads one model's inference log`,
      accountId: props.accountId,
      region: props.region,
      oidcProviderArn: props.oidcProviderArn,
      checkPodIdentityAgent: props.checkPodIdentityAgent ?? false,
      fieldNames: { mode: "identityMode" },
      inlinePolicies: [{
        name: "read-inference-log",
        document: {
          Version: "2012-10-17",
          Statement: [
            {
              Sid: "ListModelLog",
              Effect: "Allow",
              Action: "s3:ListBucket",
              Resource: props.bucketArn,
              Condition: { StringLike: { "s3:prefix": [`${props.logPrefix}/*`] } },
            },
            { Sid: "ReadModelLog", Effect: "Allow", Action: "s3:GetObject", Resource: `${props.bucketArn}/${props.logPrefix}/*` },
            {
              Sid: "DecryptThroughS3",
              Effect: "Allow",
              Action: "kms:Decrypt",
              Resource: props.kmsKeyArn,
              Condition: { StringEquals: { "kms:ViaService": `s3.${props.region}.amazonaws.com` } },
            },
          ],
        },
      }],
    });

    const labels = { ...(props.labels ?? {}), ...props.podLabels };
    this.serviceAccount = new ServiceAccountV1(this, "service-account", {
      metadata: {
        name: props.name,
        namespace: props.namespace,
        labels,
        annotations: Object.keys(this.role.serviceAccountAnnotations).length > 0 ? { ...this.role.serviceAccountAnnotations } : undefined,
      },
      automountServiceAccountToken: false,
      dependsOn: props.dependsOn,
    });

    const cmd = props.command;
    const resources = props.resources ?? { requests: { cpu: "50m", memory: "256Mi" }, limits: { memory: "512Mi" } };
    this.cronJob = new CronJobV1(this, "cron-job", {
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
              metadata: { labels },
              spec: {
                serviceAccountName: this.serviceAccount.metadata.name,
                automountServiceAccountToken: false,
                restartPolicy: "Never",
                securityContext: restrictedPodSecurityContext(uid),
                container: [{
                  name: "drift",
                  image: cmd.image,
                  imagePullPolicy: "IfNotPresent",
                  command: [...cmd.command],
                  args: [...cmd.args],
                  env: cmd.env.map(toK8sEnv),
                  workingDir: "/tmp",
                  securityContext: restrictedContainerSecurityContext(uid),
                  resources: containerResources(resources),
                  volumeMount: [{ name: "tmp", mountPath: "/tmp" }],
                }],
                volume: [{ name: "tmp", emptyDir: { sizeLimit: "256Mi" } }],
              },
            },
          },
        },
      },
      // Pods must not start before their credentials exist.
      dependsOn: [this.serviceAccount, ...this.role.readyWith, ...(props.dependsOn ?? [])],
    });
  }
}
