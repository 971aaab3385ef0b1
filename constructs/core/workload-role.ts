/**
 * An IAM role for one Kubernetes service account on an EKS cluster, through EKS Pod Identity (default)
 * or IRSA, with its permissions: the one implementation the tracking server, Grafana and the AWS Load
 * Balancer Controller share.
 *
 * Trust policy:
 * - Pod Identity: the `pods.eks.amazonaws.com` service may `sts:AssumeRole` and `sts:TagSession` only
 *   when the session tags EKS Pod Identity sets match this cluster's ARN (which pins partition, region,
 *   account and cluster name), this namespace and this service account. EKS documents the tags it adds:
 *   eks-cluster-arn, eks-cluster-name, kubernetes-namespace, kubernetes-service-account,
 *   kubernetes-pod-name, kubernetes-pod-uid. The association is created with session tags on (the
 *   default); an association with `disableSessionTags` could not assume this role.
 * - IRSA: the cluster's IAM OIDC provider may `sts:AssumeRoleWithWebIdentity` only for a token whose
 *   `sub` is `system:serviceaccount:<namespace>:<serviceAccountName>` and whose `aud` is `sts.amazonaws.com`.
 */
import { Token, type ITerraformDependable } from "cdktf";
import { Construct } from "constructs";
import { DataAwsEksAddon } from "@cdktf/provider-aws/lib/data-aws-eks-addon";
import { EksPodIdentityAssociation } from "@cdktf/provider-aws/lib/eks-pod-identity-association";
import { IamRole } from "@cdktf/provider-aws/lib/iam-role";
import { IamRolePolicy } from "@cdktf/provider-aws/lib/iam-role-policy";
import { IamRolePolicyAttachment } from "@cdktf/provider-aws/lib/iam-role-policy-attachment";
import { eksClusterArn, oidcIssuerOf } from "./aws";
import { DNS_LABEL } from "./names";
import { PropError } from "./prop-error";

/** How a pod gets its role: EKS Pod Identity (needs the eks-pod-identity-agent add-on) or IRSA (needs the cluster's IAM OIDC provider). */
export type WorkloadIdentityMode = "pod-identity" | "irsa";

/** The annotation IRSA reads on a service account. */
export const IRSA_ROLE_ANNOTATION = "eks.amazonaws.com/role-arn";

/** An inline policy of the role. */
export interface WorkloadRoleInlinePolicy {
  /** Name of the policy on the role (1-128 letters, digits and +=,.@_-). Required. */
  readonly name: string;
  /** The policy document; serialized with `JSON.stringify`. Required. */
  readonly document: Record<string, unknown>;
  /**
   * Construct id of the `aws_iam_role_policy` (its Terraform address). Keep it stable once deployed.
   * @default `policy_<name>` with every character outside [A-Za-z0-9_] replaced by `_`
   */
  readonly id?: string;
}

/** A managed policy attached to the role. */
export interface WorkloadRoleManagedPolicy {
  /** ARN of the managed policy (may be a token, e.g. an `aws_iam_policy`'s `arn`). Required. */
  readonly policyArn: string;
  /**
   * Construct id of the `aws_iam_role_policy_attachment` (its Terraform address). Keep it stable once deployed.
   * @default `policy_attachment_<index>`
   */
  readonly id?: string;
}

/** Construct ids of the resources, for keeping the Terraform addresses of roles created before this construct existed. */
export interface WorkloadRoleResourceIds {
  /** @default "role" */
  readonly role?: string;
  /** @default "association" */
  readonly association?: string;
  /** @default "pod_identity_agent" */
  readonly podIdentityAgent?: string;
}

/** Props of {@link WorkloadRole}. */
export interface WorkloadRoleProps {
  /** How pods get the role. @default "pod-identity" */
  readonly mode?: WorkloadIdentityMode;
  /** Name of the EKS cluster the service account lives on. Required. */
  readonly clusterName: string;
  /** Namespace of the service account (a DNS label; may be a token). Required. */
  readonly namespace: string;
  /** The Kubernetes service account (a DNS label). Required. */
  readonly serviceAccountName: string;
  /** IAM role name: 1-64 letters, digits and +=,.@_- (unique per account: include the environment). Required. */
  readonly roleName: string;
  /** Description of the role. @default "Workload role for <namespace>/<serviceAccountName> on <clusterName>" */
  readonly description?: string;
  /** The 12-digit AWS account of the cluster (may be a token); the Pod Identity trust names the cluster's ARN in it. Required. */
  readonly accountId: string;
  /** The cluster's region; also gives the partition of the cluster ARN. Required. */
  readonly region: string;
  /**
   * IRSA only: ARN of the cluster's IAM OIDC provider
   * (`arn:aws:iam::<account>:oidc-provider/oidc.eks.<region>.amazonaws.com/id/<id>`), a literal string.
   * @default - none (required when mode is "irsa")
   */
  readonly oidcProviderArn?: string;
  /** Inline policies of the role. @default [] (no inline policy) */
  readonly inlinePolicies?: readonly WorkloadRoleInlinePolicy[];
  /** Managed policies attached to the role. @default [] (no attachment) */
  readonly managedPolicies?: readonly WorkloadRoleManagedPolicy[];
  /**
   * Maximum session duration in seconds (3600-43200).
   * @default - not written: IAM's default, 3600 (one hour)
   */
  readonly maxSessionDurationSeconds?: number;
  /**
   * Pod Identity only: read the eks-pod-identity-agent add-on at plan time, so that a cluster without it
   * fails the plan instead of leaving pods without credentials. One check per cluster is enough: turn it
   * off on the other roles of a cluster whose add-on another role already checks.
   * @default true
   */
  readonly checkPodIdentityAgent?: boolean;
  /** Construct ids of the role, the association and the add-on check. @default see {@link WorkloadRoleResourceIds} */
  readonly resourceIds?: WorkloadRoleResourceIds;
  /** Field names to use in error messages, when the caller's props name them differently. @default the names above */
  readonly fieldNames?: { readonly mode?: string; readonly oidcProviderArn?: string };
}

/**
 * An IAM role that exactly one Kubernetes service account on one cluster can assume, with its policies,
 * and (Pod Identity) the association that hands it to the service account's pods.
 *
 * To keep the Terraform addresses of a role that a construct created itself before, create the
 * WorkloadRole with the id `"Default"` (hidden from cdktf's logical ids) and the previous resource ids.
 */
export class WorkloadRole extends Construct {
  /** The mode in use. */
  readonly mode: WorkloadIdentityMode;
  /** The role. */
  readonly role: IamRole;
  /** The role's ARN (a token). */
  readonly roleArn: string;
  /** The service account the role is for. */
  readonly serviceAccountName: string;
  /** Annotations the service account needs: IRSA's role-arn annotation, none for Pod Identity. */
  readonly serviceAccountAnnotations: Record<string, string>;
  /** The Pod Identity association (Pod Identity only): pods started before it exists get no AWS credentials. */
  readonly association?: EksPodIdentityAssociation;
  /** The inline policies, in the order given. */
  readonly inlinePolicies: IamRolePolicy[];
  /** The managed-policy attachments, in the order given. */
  readonly policyAttachments: IamRolePolicyAttachment[];
  /** What a workload must wait for before it first calls AWS: its permissions and, with Pod Identity, the association. */
  readonly readyWith: ITerraformDependable[];

  constructor(scope: Construct, id: string, props: WorkloadRoleProps) {
    super(scope, id);
    const mode = props.mode ?? "pod-identity";
    const sa = props.serviceAccountName;
    const ids = props.resourceIds ?? {};
    const modeField = props.fieldNames?.mode ?? "mode";
    const oidcField = props.fieldNames?.oidcProviderArn ?? "oidcProviderArn";
    const known = (v: string | undefined): v is string => v !== undefined && !Token.isUnresolved(v);

    if (mode !== "pod-identity" && mode !== "irsa") throw new PropError(this, modeField, String(mode), `"pod-identity" or "irsa"`);
    if (!props.clusterName) throw new PropError(this, "clusterName", props.clusterName, "the name of the EKS cluster");
    if (known(props.clusterName) && !/^[0-9A-Za-z][A-Za-z0-9_-]{0,99}$/.test(props.clusterName)) {
      throw new PropError(
        this,
        "clusterName",
        props.clusterName,
        `an EKS cluster name (1-100 letters, digits, '-' and '_', starting with a letter or digit)`,
      );
    }
    if (known(props.namespace) && !DNS_LABEL.test(props.namespace)) throw new PropError(this, "namespace", props.namespace, `a DNS label`);
    if (!DNS_LABEL.test(sa ?? "")) throw new PropError(this, "serviceAccountName", sa, `a DNS label`);
    if (!/^[\w+=,.@-]{1,64}$/.test(props.roleName ?? ""))
      throw new PropError(this, "roleName", props.roleName, `1-64 characters of letters, digits and +=,.@_-`);
    if (known(props.accountId) && !/^\d{12}$/.test(props.accountId))
      throw new PropError(this, "accountId", props.accountId, `a 12-digit AWS account id`);
    if (!props.accountId) throw new PropError(this, "accountId", props.accountId, "the cluster's 12-digit AWS account id");
    if (known(props.region) && !/^[a-z]{2,4}(-[a-z]+)+-\d+$/.test(props.region))
      throw new PropError(this, "region", props.region, `an AWS region such as "eu-west-1"`);
    if (!props.region) throw new PropError(this, "region", props.region, "the cluster's AWS region");
    const maxSession = props.maxSessionDurationSeconds;
    if (maxSession !== undefined && (!Number.isInteger(maxSession) || maxSession < 3600 || maxSession > 43200)) {
      throw new PropError(this, "maxSessionDurationSeconds", maxSession, `3600-43200`);
    }
    let issuer: string | undefined;
    if (mode === "irsa") {
      issuer = oidcIssuerOf(props.oidcProviderArn);
      if (!issuer) {
        throw new PropError(
          this,
          oidcField,
          props.oidcProviderArn,
          `the cluster's IAM OIDC provider ARN (arn:aws:iam::<account>:oidc-provider/oidc.eks.<region>.amazonaws.com/id/<id>) when ${modeField} is "irsa"`,
        );
      }
    }
    const inline = props.inlinePolicies ?? [];
    const seen = new Set<string>();
    for (const p of inline) {
      if (!/^[\w+=,.@-]{1,128}$/.test(p.name))
        throw new PropError(this, "inlinePolicies", p.name, "names of 1-128 characters of letters, digits and +=,.@_-");
      if (seen.has(p.name)) throw new PropError(this, "inlinePolicies", p.name, "names unique on the role (this one is given twice)");
      seen.add(p.name);
    }

    this.mode = mode;
    this.serviceAccountName = sa;
    this.role = new IamRole(this, ids.role ?? "role", {
      name: props.roleName,
      description: props.description ?? `Workload role for ${props.namespace}/${sa} on ${props.clusterName}`,
      maxSessionDuration: maxSession,
      assumeRolePolicy: JSON.stringify({ Version: "2012-10-17", Statement: [trustStatement(mode, props, issuer)] }),
    });
    this.roleArn = this.role.arn;

    this.inlinePolicies = inline.map(
      (p) =>
        new IamRolePolicy(this, p.id ?? `policy_${p.name.replace(/[^A-Za-z0-9_]/g, "_")}`, {
          role: this.role.id,
          name: p.name,
          policy: JSON.stringify(p.document),
        }),
    );
    this.policyAttachments = (props.managedPolicies ?? []).map(
      (m, i) =>
        new IamRolePolicyAttachment(this, m.id ?? `policy_attachment_${i}`, {
          role: this.role.name,
          policyArn: m.policyArn,
        }),
    );

    if (mode === "pod-identity") {
      if (props.checkPodIdentityAgent ?? true) {
        new DataAwsEksAddon(this, ids.podIdentityAgent ?? "pod_identity_agent", {
          clusterName: props.clusterName,
          addonName: "eks-pod-identity-agent",
        });
      }
      this.association = new EksPodIdentityAssociation(this, ids.association ?? "association", {
        clusterName: props.clusterName,
        namespace: props.namespace,
        serviceAccount: sa,
        roleArn: this.roleArn,
      });
    }
    this.serviceAccountAnnotations = mode === "irsa" ? { [IRSA_ROLE_ANNOTATION]: this.roleArn } : {};
    this.readyWith = [...this.inlinePolicies, ...this.policyAttachments, ...(this.association ? [this.association] : [])];
  }
}

/** The one statement of the trust policy (see the file's comment). */
function trustStatement(mode: WorkloadIdentityMode, props: WorkloadRoleProps, issuer: string | undefined): Record<string, unknown> {
  const sa = props.serviceAccountName;
  if (mode === "irsa") {
    return {
      Sid: "ServiceAccountViaIrsa",
      Effect: "Allow",
      Principal: { Federated: props.oidcProviderArn },
      Action: "sts:AssumeRoleWithWebIdentity",
      Condition: {
        StringEquals: {
          [`${issuer}:sub`]: `system:serviceaccount:${props.namespace}:${sa}`,
          [`${issuer}:aud`]: "sts.amazonaws.com",
        },
      },
    };
  }
  return {
    Sid: "ServiceAccountViaPodIdentity",
    Effect: "Allow",
    Principal: { Service: "pods.eks.amazonaws.com" },
    Action: ["sts:AssumeRole", "sts:TagSession"],
    Condition: {
      StringEquals: {
        // Session tags EKS Pod Identity sets: only this service account, in this namespace, on this cluster.
        "aws:RequestTag/eks-cluster-arn": eksClusterArn(props.region, props.accountId, props.clusterName),
        "aws:RequestTag/kubernetes-namespace": props.namespace,
        "aws:RequestTag/kubernetes-service-account": sa,
      },
    },
  };
}
