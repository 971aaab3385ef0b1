/**
 * The AWS identity of the tracking server's pods: an IAM role bound to one Kubernetes service account
 * through EKS Pod Identity (default) or IRSA, with a policy that allows only what MLflow does with its
 * artifact store: read, write, list and delete objects under the artifact prefix, abort multipart
 * uploads, and use the bucket's KMS key through S3. Nothing else.
 */
import { Construct } from "constructs";
import { Token } from "cdktf";
import { IamRole } from "@cdktf/provider-aws/lib/iam-role";
import { IamRolePolicy } from "@cdktf/provider-aws/lib/iam-role-policy";
import { EksPodIdentityAssociation } from "@cdktf/provider-aws/lib/eks-pod-identity-association";
import { DataAwsEksAddon } from "@cdktf/provider-aws/lib/data-aws-eks-addon";
import type { ArtifactStoreContract, TrackingIdentityContract } from "./contracts";

const DNS_LABEL = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;
const OIDC_PROVIDER_ARN = /^arn:aws(-[a-z]+)*:iam::\d{12}:oidc-provider\/(.+)$/;

/** The S3 actions MLflow's tracking server, migration Job and gc CronJob perform on artifacts. */
export const MLFLOW_OBJECT_ACTIONS = ["s3:GetObject", "s3:PutObject", "s3:DeleteObject", "s3:AbortMultipartUpload"] as const;

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
  readonly artifacts: ArtifactStoreContract;
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
  readonly contract: TrackingIdentityContract;
  readonly role: IamRole;
  /** The Pod Identity association (Pod Identity mode only): pods started before it exists get no AWS credentials. */
  readonly association?: EksPodIdentityAssociation;

  constructor(scope: Construct, id: string, props: TrackingIdentityProps) {
    super(scope, id);
    const mode = props.mode ?? "pod-identity";
    const serviceAccountName = props.serviceAccountName ?? "mlflow";
    const maxSession = props.maxSessionDurationSeconds ?? 3600;
    const fail = (field: string, message: string): never => {
      throw new Error(`${this.node.path}: ${field} ${message}`);
    };
    if (mode !== "pod-identity" && mode !== "irsa") fail("mode", `must be "pod-identity" or "irsa", got "${String(mode)}"`);
    if (!Token.isUnresolved(props.namespace) && !DNS_LABEL.test(props.namespace)) fail("namespace", `must be a DNS label, got "${props.namespace}"`);
    if (!DNS_LABEL.test(serviceAccountName)) fail("serviceAccountName", `must be a DNS label, got "${serviceAccountName}"`);
    if (!/^[\w+=,.@-]{1,64}$/.test(props.roleName)) fail("roleName", `must be 1-64 characters of letters, digits and +=,.@_-, got "${props.roleName}"`);
    if (!/^[a-zA-Z0-9!_.*'()-]+(\/[a-zA-Z0-9!_.*'()-]+)*$/.test(props.artifactPrefix)) {
      fail("artifactPrefix", `must be an S3 key prefix without leading or trailing '/', got "${props.artifactPrefix}"`);
    }
    if (!Number.isInteger(maxSession) || maxSession < 3600 || maxSession > 43200) fail("maxSessionDurationSeconds", `must be 3600-43200, got ${maxSession}`);
    const partition = props.region.startsWith("us-gov-") ? "aws-us-gov" : props.region.startsWith("cn-") ? "aws-cn" : "aws";
    let oidcIssuer: string | undefined;
    if (mode === "irsa") {
      const m = props.oidcProviderArn ? OIDC_PROVIDER_ARN.exec(props.oidcProviderArn) : null;
      if (!m) fail("oidcProviderArn", `must be the cluster's IAM OIDC provider ARN (arn:aws:iam::<account>:oidc-provider/oidc.eks.<region>.amazonaws.com/id/<id>) when mode is "irsa", got "${props.oidcProviderArn ?? "nothing"}"`);
      oidcIssuer = m![2];
    }

    const trust = mode === "irsa"
      ? {
        Sid: "ServiceAccountViaIrsa",
        Effect: "Allow",
        Principal: { Federated: props.oidcProviderArn },
        Action: "sts:AssumeRoleWithWebIdentity",
        Condition: {
          StringEquals: {
            [`${oidcIssuer}:sub`]: `system:serviceaccount:${props.namespace}:${serviceAccountName}`,
            [`${oidcIssuer}:aud`]: "sts.amazonaws.com",
          },
        },
      }
      : {
        Sid: "ServiceAccountViaPodIdentity",
        Effect: "Allow",
        Principal: { Service: "pods.eks.amazonaws.com" },
        Action: ["sts:AssumeRole", "sts:TagSession"],
        Condition: {
          StringEquals: {
            // Session tags EKS Pod Identity sets: only this service account, in this namespace, on this cluster.
            "aws:RequestTag/eks-cluster-arn": `arn:${partition}:eks:${props.region}:${props.accountId}:cluster/${props.clusterName}`,
            "aws:RequestTag/kubernetes-namespace": props.namespace,
            "aws:RequestTag/kubernetes-service-account": serviceAccountName,
          },
        },
      };

    this.role = new IamRole(this, "role", {
      name: props.roleName,
      description: `MLflow tracking server (${props.namespace}/${serviceAccountName} on ${props.clusterName})`,
      maxSessionDuration: maxSession,
      assumeRolePolicy: JSON.stringify({ Version: "2012-10-17", Statement: [trust] }),
    });

    const bucketArn = props.artifacts.bucketArn;
    const prefix = props.artifactPrefix;
    new IamRolePolicy(this, "artifact_access", {
      role: this.role.id,
      name: "mlflow-artifacts",
      policy: JSON.stringify({
        Version: "2012-10-17",
        Statement: [
          {
            Sid: "ListArtifactPrefix",
            Effect: "Allow",
            Action: "s3:ListBucket",
            Resource: bucketArn,
            Condition: { StringLike: { "s3:prefix": [prefix, `${prefix}/*`] } },
          },
          {
            Sid: "ReadWriteArtifacts",
            Effect: "Allow",
            Action: [...MLFLOW_OBJECT_ACTIONS],
            Resource: `${bucketArn}/${prefix}/*`,
          },
          {
            Sid: "UseArtifactKeyThroughS3",
            Effect: "Allow",
            Action: ["kms:Decrypt", "kms:GenerateDataKey"],
            Resource: props.artifacts.kmsKeyArn,
            Condition: { StringEquals: { "kms:ViaService": `s3.${props.region}.amazonaws.com` } },
          },
        ],
      }),
    });

    if (mode === "pod-identity") {
      if (props.checkPodIdentityAgent ?? true) {
        new DataAwsEksAddon(this, "pod_identity_agent", { clusterName: props.clusterName, addonName: "eks-pod-identity-agent" });
      }
      this.association = new EksPodIdentityAssociation(this, "association", {
        clusterName: props.clusterName,
        namespace: props.namespace,
        serviceAccount: serviceAccountName,
        roleArn: this.role.arn,
      });
    }

    const roleArn = this.role.arn;
    this.contract = {
      serviceAccountName,
      roleArn,
      serviceAccountAnnotations: mode === "irsa" ? { "eks.amazonaws.com/role-arn": roleArn } : {},
    };
  }
}
