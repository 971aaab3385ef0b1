/**
 * The model retention CronJob: runs `mlflow-platform retention run` (constructs/model-retention/command.ts)
 * on a schedule, as its own service account with its own IAM role that may only list the artifact
 * prefix and read and write the tags of objects under it (no GetObject, no PutObject, no delete).
 * The artifact bucket's lifecycle rule (ArtifactStore `archive`) moves tagged objects to a colder
 * storage class; deletion happens only where configuration says so.
 *
 * It calls the tracking server's API in-cluster: the tracking server's NetworkPolicy must admit
 * `podLabels` (TrackingServer `apiClientPodLabels`).
 */
import { Construct } from "constructs";
import type { CronJobV1 } from "@cdktf/provider-kubernetes/lib/cron-job-v1";
import type { ServiceAccountV1 } from "@cdktf/provider-kubernetes/lib/service-account-v1";
import { apiClientCronJob, type ApiClientCronJobProps } from "../core/api-client-cron-job";
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
