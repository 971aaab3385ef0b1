/**
 * The scheduled drift job of one served model: runs `mlflow-platform drift`
 * (constructs/drift-job/command.ts) on a schedule, as its own service account with its own IAM role that may
 * only list and read the model's inference log (`<prefix>/model=<name>/`) and decrypt it: no write, no
 * delete, nothing else in the bucket. The model server writes there (PutObject only).
 *
 * It calls the tracking server's API in-cluster (the reference, the monitoring run): the tracking
 * server's NetworkPolicy must admit `podLabels` (TrackingServer `apiClientPodLabels`).
 *
 * On Azure ({@link AzureDriftJob}) the same CronJob runs as its own managed identity (AKS workload identity) that may
 * only list and read blobs under the model's log prefix.
 */
import { Construct } from "constructs";
import type { CronJobV1 } from "@cdktf/provider-kubernetes/lib/cron-job-v1";
import type { ServiceAccountV1 } from "@cdktf/provider-kubernetes/lib/service-account-v1";
import { apiClientCronJob, type ApiClientCronJobProps } from "../core/api-client-cron-job";
import type { GkeWorkloadIdentity } from "../gke-workload-identity";
import type { AksWorkloadIdentity } from "../aks-workload-identity";
import { aksCronJob, gkeCronJob, type AksCronJobIdentityProps, type GkeCronJobIdentityProps } from "../core/cloud-cron-jobs";
import type { WorkloadRole } from "../core/workload-role";
import { artifactAccess } from "../core/grants";
import { PARTITIONED_S3_KEY_PREFIX } from "../core/s3-prefix";

/** Props of {@link DriftJob}: those of every scheduled API client (api-client-cron-job.ts), and its log. */
export interface DriftJobProps extends ApiClientCronJobProps {
  /** The KMS key of the bucket (the log's objects are encrypted with it). Required. */
  readonly kmsKeyArn: string;
  /** The model's log prefix, `<inference-log prefix>/model=<name>`: the role may list and read under it only. Required. */
  readonly logPrefix: string;
}

/** A scheduled `mlflow-platform drift` with read-only rights on one model's inference log. */
export class DriftJob extends Construct {
  readonly cronJob: CronJobV1;
  readonly serviceAccount: ServiceAccountV1;
  readonly role: WorkloadRole;

  constructor(scope: Construct, id: string, props: DriftJobProps) {
    super(scope, id);
    ({
      cronJob: this.cronJob,
      serviceAccount: this.serviceAccount,
      role: this.role,
    } = apiClientCronJob(this, props, {
      containerName: "drift",
      prefix: { field: "logPrefix", value: props.logPrefix, pattern: PARTITIONED_S3_KEY_PREFIX },
      roleDescription: `Model drift job (${props.namespace}/${props.name} on ${props.clusterName}): reads one model's inference log`,
      policy: {
        name: "read-inference-log",
        document: {
          Version: "2012-10-17",
          Statement: artifactAccess(props, {
            prefix: props.logPrefix,
            list: true,
            read: true,
            region: props.region,
            sids: { list: "ListModelLog", objects: "ReadModelLog", key: "DecryptThroughS3" },
          }),
        },
      },
    }));
  }
}

/** Props of {@link GcpDriftJob}: the Kubernetes half, and its Google identity's. */
export interface GcpDriftJobProps extends GkeCronJobIdentityProps {
  /** The model's log prefix, `<inference-log prefix>/model=<name>`: the job may list and read under it only. Required. */
  readonly logPrefix: string;
}

/**
 * A scheduled `mlflow-platform drift` on GKE, as its own Google service account (GKE Workload Identity) that may only
 * list and read objects under one model's inference log (GkeWorkloadIdentity access "read-objects"): no write, no
 * delete, nothing else in the bucket.
 */
export class GcpDriftJob extends Construct {
  readonly cronJob: CronJobV1;
  readonly serviceAccount: ServiceAccountV1;
  readonly identity: GkeWorkloadIdentity;

  constructor(scope: Construct, id: string, props: GcpDriftJobProps) {
    super(scope, id);
    ({
      cronJob: this.cronJob,
      serviceAccount: this.serviceAccount,
      identity: this.identity,
    } = gkeCronJob(this, props, {
      containerName: "drift",
      prefix: { field: "logPrefix", value: props.logPrefix, pattern: PARTITIONED_S3_KEY_PREFIX },
      access: "read-objects",
      description: `Model drift job (${props.namespace}/${props.name}): reads one model's inference log`,
    }));
  }
}

/** Props of {@link AzureDriftJob}: the Kubernetes half, and its managed identity's. */
export interface AzureDriftJobProps extends AksCronJobIdentityProps {
  /** The model's log prefix, `<inference-log prefix>/model=<name>`: the identity may list and read under it only. Required. */
  readonly logPrefix: string;
}

/**
 * A scheduled `mlflow-platform drift` on AKS, as its own managed identity (AKS workload identity) whose custom role
 * may only read and list blobs under one model's inference log (AksWorkloadIdentity access "blob-read"): no write,
 * no delete, nothing else in the container. The model server creates the records there (access "blob-create").
 */
export class AzureDriftJob extends Construct {
  readonly cronJob: CronJobV1;
  readonly serviceAccount: ServiceAccountV1;
  readonly identity: AksWorkloadIdentity;

  constructor(scope: Construct, id: string, props: AzureDriftJobProps) {
    super(scope, id);
    ({
      cronJob: this.cronJob,
      serviceAccount: this.serviceAccount,
      identity: this.identity,
    } = aksCronJob(this, props, {
      containerName: "drift",
      prefix: { field: "logPrefix", value: props.logPrefix, pattern: PARTITIONED_S3_KEY_PREFIX },
      access: "blob-read",
    }));
  }
}
