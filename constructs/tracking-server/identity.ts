/**
 * The AWS identity of the tracking server's pods: an IAM role bound to one Kubernetes service account
 * through EKS Pod Identity (default) or IRSA, with a policy that allows only what MLflow does with its
 * artifact store: read, write, list and delete objects under the artifact prefix, abort multipart
 * uploads, and use the bucket's KMS key through S3. Nothing else.
 */
import { Construct } from "constructs";
import type { IamRole } from "@cdktf/provider-aws/lib/iam-role";
import type { IamRolePolicy } from "@cdktf/provider-aws/lib/iam-role-policy";
import type { EksPodIdentityAssociation } from "@cdktf/provider-aws/lib/eks-pod-identity-association";
import type { AwsTrackingIdentityContract, S3ArtifactStoreContract } from "../core/contracts";
import { WorkloadRole } from "../core/workload-role";
import { PropError } from "../core/prop-error";
import { artifactAccess } from "../core/grants";
import { isS3KeyPrefix } from "../core/s3-prefix";

/** Props of {@link TrackingIdentity}. */
export interface TrackingIdentityProps {
  /** How pods get the role: "pod-identity" (needs the eks-pod-identity-agent add-on) or "irsa". @default "pod-identity" */
  readonly mode?: "pod-identity" | "irsa";
  /** Name of the EKS cluster. Required. */
  readonly clusterName: string;
  /** Namespace of the service account. Required. */
  readonly namespace: string;
  /** Kubernetes service account the tracking server, its Job and CronJob run as. @default "mlflow" */
  readonly serviceAccountName?: string;
  /** IAM role name. Required (unique per account: include the environment). */
  readonly roleName: string;
  /** AWS account id of the cluster; the Pod Identity trust is limited to the cluster's ARN in it. Required. */
  readonly accountId: string;
  /** IRSA only: ARN of the cluster's IAM OIDC provider. @default - none (required when mode is "irsa") */
  readonly oidcProviderArn?: string;
  /** The artifact store whose bucket and key the role may use. Required. */
  readonly artifacts: S3ArtifactStoreContract;
  /** The key prefix MLflow writes under; object access is limited to it. Required. */
  readonly artifactPrefix: string;
  /** AWS region of the cluster and the bucket (KMS use is limited to requests made through S3 there). Required. */
  readonly region: string;
  /**
   * Pod Identity only: read the eks-pod-identity-agent add-on at plan time, so a cluster without it
   * fails the plan instead of leaving pods without credentials.
   * @default true
   */
  readonly checkPodIdentityAgent?: boolean;
  /** Maximum session duration in seconds (3600-43200). @default 3600 */
  readonly maxSessionDurationSeconds?: number;
}

/**
 * An IAM role for the tracking server's service account, least-privilege on the artifact store.
 */
export class TrackingIdentity extends Construct {
  /** What the tracking server needs to create its service account. */
  readonly contract: AwsTrackingIdentityContract;
  /** The role, its policy and (Pod Identity) its association. */
  readonly workloadRole: WorkloadRole;
  readonly role: IamRole;
  /** The role's only policy: the artifact store, under the prefix. */
  readonly artifactPolicy: IamRolePolicy;
  /** The Pod Identity association (Pod Identity mode only): pods started before it exists get no AWS credentials. */
  readonly association?: EksPodIdentityAssociation;

  constructor(scope: Construct, id: string, props: TrackingIdentityProps) {
    super(scope, id);
    if (!isS3KeyPrefix(props.artifactPrefix)) {
      throw new PropError(this, "artifactPrefix", props.artifactPrefix, `an S3 key prefix without leading or trailing '/'`);
    }
    const serviceAccountName = props.serviceAccountName ?? "mlflow";
    const prefix = props.artifactPrefix;

    // "Default": the role, its policy and the association keep the addresses they had when this
    // construct created them itself (tracking_identity_role_..., tracking_identity_artifact_access_...).
    this.workloadRole = new WorkloadRole(this, "Default", {
      mode: props.mode,
      clusterName: props.clusterName,
      namespace: props.namespace,
      serviceAccountName,
      roleName: props.roleName,
      description: `MLflow tracking server (${props.namespace}/${serviceAccountName} on ${props.clusterName})`,
      accountId: props.accountId,
      region: props.region,
      oidcProviderArn: props.oidcProviderArn,
      maxSessionDurationSeconds: props.maxSessionDurationSeconds ?? 3600,
      checkPodIdentityAgent: props.checkPodIdentityAgent,
      inlinePolicies: [
        {
          id: "artifact_access",
          name: "mlflow-artifacts",
          document: {
            Version: "2012-10-17",
            // What MLflow's tracking server, migration Job and gc CronJob do with artifacts. MLflow's
            // client lists with the prefix itself (no trailing '/') too.
            Statement: artifactAccess(props.artifacts, {
              prefix,
              list: "including-prefix",
              read: true,
              write: true,
              delete: true,
              abortUploads: true,
              region: props.region,
              sids: { list: "ListArtifactPrefix", objects: "ReadWriteArtifacts", key: "UseArtifactKeyThroughS3" },
            }),
          },
        },
      ],
    });
    this.role = this.workloadRole.role;
    this.artifactPolicy = this.workloadRole.inlinePolicies[0];
    this.association = this.workloadRole.association;
    this.contract = {
      serviceAccountName,
      roleArn: this.workloadRole.roleArn,
      serviceAccountAnnotations: this.workloadRole.serviceAccountAnnotations,
    };
  }
}
