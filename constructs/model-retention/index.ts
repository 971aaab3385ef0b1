/**
 * The model retention CronJob: runs `mlflow-platform retention run` (constructs/model-retention/command.ts)
 * on a schedule, as its own service account with its own IAM role that may only list the artifact
 * prefix and read and write the tags of objects under it (no GetObject, no PutObject, no delete).
 * The artifact bucket's lifecycle rule (ArtifactStore `archive`) moves tagged objects to a colder
 * storage class; deletion happens only where configuration says so.
 *
 * It calls the tracking server's API in-cluster: the tracking server's NetworkPolicy must admit
 * `podLabels` (TrackingServer `apiClientPodLabels`).
 *
 * On Google Cloud ({@link GcpModelRetention}) the same CronJob runs as its own Google service account (GKE Workload
 * Identity) holding a custom role of only `storage.objects.list` and `storage.objects.update` under the prefix; the
 * bucket's `archive` rules act on the Custom-Time it sets. On Azure ({@link AzureModelRetention}) it runs as its own
 * managed identity (AKS workload identity) whose custom role lists blobs and reads and writes blob index tags under
 * the prefix only (no data read, write or delete); the account's `model-retention-archive` rule filters on the tag.
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
import { S3_KEY_PREFIX } from "../core/s3-prefix";

/** Props of {@link ModelRetention}: those of every scheduled API client (api-client-cron-job.ts), and its prefix. */
export interface ModelRetentionProps extends ApiClientCronJobProps {
  /** The key prefix MLflow writes under: the role may tag objects under it only. Required. */
  readonly artifactPrefix: string;
}

/** A scheduled `mlflow-platform retention run` with least-privilege S3 tagging rights. */
export class ModelRetention extends Construct {
  readonly cronJob: CronJobV1;
  readonly serviceAccount: ServiceAccountV1;
  readonly role: WorkloadRole;

  constructor(scope: Construct, id: string, props: ModelRetentionProps) {
    super(scope, id);
    ({
      cronJob: this.cronJob,
      serviceAccount: this.serviceAccount,
      role: this.role,
    } = apiClientCronJob(this, props, {
      containerName: "retention",
      prefix: { field: "artifactPrefix", value: props.artifactPrefix, pattern: S3_KEY_PREFIX },
      roleDescription: `MLflow model retention (${props.namespace}/${props.name} on ${props.clusterName}): tags artifacts for archival`,
      policy: {
        name: "tag-artifacts-for-archival",
        document: {
          Version: "2012-10-17",
          Statement: artifactAccess(
            { bucketArn: props.bucketArn },
            {
              prefix: props.artifactPrefix,
              list: true,
              tag: true,
              region: props.region,
              sids: { list: "ListArtifactPrefix", objects: "TagArtifactObjects" },
            },
          ),
        },
      },
    }));
  }
}

/** Props of {@link GcpModelRetention}: the Kubernetes half, and its Google identity's. */
export interface GcpModelRetentionProps extends GkeCronJobIdentityProps {
  /** The custom role's id in the project (3-64 letters, digits, '_' and '.'; unique in the project). Required. */
  readonly customRoleId: string;
  /** The object name prefix MLflow writes under: the job may list and update objects under it only. Required. */
  readonly artifactPrefix: string;
}

/** A scheduled `mlflow-platform retention run` on GKE that may only set the metadata of objects under its prefix. */
export class GcpModelRetention extends Construct {
  readonly cronJob: CronJobV1;
  readonly serviceAccount: ServiceAccountV1;
  readonly identity: GkeWorkloadIdentity;

  constructor(scope: Construct, id: string, props: GcpModelRetentionProps) {
    super(scope, id);
    ({
      cronJob: this.cronJob,
      serviceAccount: this.serviceAccount,
      identity: this.identity,
    } = gkeCronJob(this, props, {
      containerName: "retention",
      prefix: { field: "artifactPrefix", value: props.artifactPrefix, pattern: S3_KEY_PREFIX },
      access: "object-metadata",
      customRoleId: props.customRoleId,
      description: `MLflow model retention (${props.namespace}/${props.name}): marks artifacts for archival`,
    }));
  }
}

/** Props of {@link AzureModelRetention}: the Kubernetes half, and its managed identity's. */
export interface AzureModelRetentionProps extends AksCronJobIdentityProps {
  /** The blob name prefix MLflow writes under: the job may list blobs and set their index tags under it only. Required. */
  readonly artifactPrefix: string;
}

/** A scheduled `mlflow-platform retention run` on AKS that may only list blobs and set their index tags under its prefix. */
export class AzureModelRetention extends Construct {
  readonly cronJob: CronJobV1;
  readonly serviceAccount: ServiceAccountV1;
  readonly identity: AksWorkloadIdentity;

  constructor(scope: Construct, id: string, props: AzureModelRetentionProps) {
    super(scope, id);
    ({
      cronJob: this.cronJob,
      serviceAccount: this.serviceAccount,
      identity: this.identity,
    } = aksCronJob(this, props, {
      containerName: "retention",
      prefix: { field: "artifactPrefix", value: props.artifactPrefix, pattern: S3_KEY_PREFIX },
      access: "blob-tags",
    }));
  }
}
