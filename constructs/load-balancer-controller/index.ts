/**
 * Optionally installs the AWS Load Balancer Controller (Helm chart from aws/eks-charts), which turns the
 * `alb` Ingress into an Application Load Balancer, with the IAM role it needs (EKS Pod Identity or IRSA).
 *
 * Most clusters already run the controller (as an EKS add-on, or from a platform team's stack): then
 * leave `ingress.installLoadBalancerController` off and this construct is not used.
 *
 * The IAM policy is the controller's own `docs/install/iam_policy.json` at the pinned version
 * (kubernetes-sigs/aws-load-balancer-controller, Apache-2.0), kept in constructs/core (the workload boundary reads it too).
 */
import type { ITerraformDependable } from "cdktf";
import { Construct } from "constructs";
import { IamPolicy } from "@cdktf/provider-aws/lib/iam-policy";
import type { IamRole } from "@cdktf/provider-aws/lib/iam-role";
import { Release } from "@cdktf/provider-helm/lib/release";
import iamPolicy from "../core/load-balancer-controller-iam-policy.json";
import { WorkloadRole } from "../core/workload-role";
import { PropError } from "../core/prop-error";

/** Chart version, pinned exactly (checked against the controller's Chart.yaml at tag v3.5.0: app v3.5.0). */
export const LOAD_BALANCER_CONTROLLER_CHART_VERSION = "3.5.0";
export const LOAD_BALANCER_CONTROLLER_REPOSITORY = "https://aws.github.io/eks-charts";
/** The controller's IAM policy at the pinned version. */
export const LOAD_BALANCER_CONTROLLER_IAM_POLICY: object = iamPolicy;

export interface LoadBalancerControllerProps {
  /** Name of the EKS cluster the controller manages load balancers for. */
  readonly clusterName: string;

  /** The cluster's region (the controller cannot always read it from instance metadata). */
  readonly region: string;

  /** The cluster's VPC id (same reason; may be a token from the aws_eks_cluster data source). */
  readonly vpcId: string;

  /** The AWS account of the cluster; the Pod Identity trust names the cluster's ARN in it. */
  readonly accountId: string;

  /**
   * How the controller's pods get the role: EKS Pod Identity (needs the eks-pod-identity-agent add-on)
   * or IRSA (needs `oidcProviderArn`).
   * @default "pod-identity"
   */
  readonly identityMode?: "pod-identity" | "irsa";

  /**
   * IRSA only: ARN of the cluster's IAM OIDC provider.
   * @default - none (required when identityMode is "irsa")
   */
  readonly oidcProviderArn?: string;

  /**
   * Name of the IAM role (and prefix of its policy).
   * @default `${clusterName}-aws-load-balancer-controller`
   */
  readonly roleName?: string;

  /**
   * Namespace the controller runs in.
   * @default "kube-system"
   */
  readonly namespace?: string;

  /**
   * Controller replicas (two for a highly available webhook).
   * @default 2
   */
  readonly replicas?: number;

  /**
   * Chart version (exact).
   * @default LOAD_BALANCER_CONTROLLER_CHART_VERSION
   */
  readonly chartVersion?: string;

  /** Resources to create first. @default none */
  readonly dependsOn?: ITerraformDependable[];
}

/** The controller's service account name. */
export const LOAD_BALANCER_CONTROLLER_SERVICE_ACCOUNT = "aws-load-balancer-controller";

export class LoadBalancerController extends Construct {
  /** The controller's role, its policy attachment and (Pod Identity) its association. */
  readonly workloadRole: WorkloadRole;
  readonly role: IamRole;
  readonly release: Release;

  constructor(scope: Construct, id: string, props: LoadBalancerControllerProps) {
    super(scope, id);
    const mode = props.identityMode ?? "pod-identity";
    const namespace = props.namespace ?? "kube-system";
    const replicas = props.replicas ?? 2;
    const chartVersion = props.chartVersion ?? LOAD_BALANCER_CONTROLLER_CHART_VERSION;
    const roleName = props.roleName ?? `${props.clusterName}-aws-load-balancer-controller`;
    const sa = LOAD_BALANCER_CONTROLLER_SERVICE_ACCOUNT;

    if (!Number.isInteger(replicas) || replicas < 1 || replicas > 10)
      throw new PropError(this, "replicas", replicas, `a whole number from 1 to 10`);
    if (!/^\d+\.\d+\.\d+$/.test(chartVersion))
      throw new PropError(this, "chartVersion", chartVersion, `an exact chart version such as "${LOAD_BALANCER_CONTROLLER_CHART_VERSION}"`);

    const policy = new IamPolicy(this, "policy", {
      name: roleName,
      description: `AWS Load Balancer Controller ${chartVersion} permissions`,
      policy: JSON.stringify(LOAD_BALANCER_CONTROLLER_IAM_POLICY),
    });
    // "Default": the role, the attachment and the association keep the addresses they had when this
    // construct created them itself (load_balancer_controller_role_..., ..._policy_attachment_..., ..._association_...).
    this.workloadRole = new WorkloadRole(this, "Default", {
      mode,
      clusterName: props.clusterName,
      namespace,
      serviceAccountName: sa,
      roleName,
      description: `AWS Load Balancer Controller (${namespace}/${sa} on ${props.clusterName})`,
      accountId: props.accountId,
      region: props.region,
      oidcProviderArn: props.oidcProviderArn,
      managedPolicies: [{ id: "policy_attachment", policyArn: policy.arn }],
      // As before, no add-on check of its own: in this project's stack the tracking identity checks the cluster's agent.
      checkPodIdentityAgent: false,
      fieldNames: { mode: "identityMode" },
    });
    this.role = this.workloadRole.role;

    this.release = new Release(this, "release", {
      name: "aws-load-balancer-controller",
      namespace,
      repository: LOAD_BALANCER_CONTROLLER_REPOSITORY,
      chart: "aws-load-balancer-controller",
      version: chartVersion,
      values: [
        JSON.stringify({
          clusterName: props.clusterName,
          region: props.region,
          vpcId: props.vpcId,
          replicaCount: replicas,
          serviceAccount: {
            create: true,
            name: sa,
            annotations: this.workloadRole.serviceAccountAnnotations,
          },
          // Pods as targets, internal unless an Ingress says otherwise.
          defaultTargetType: "ip",
          defaultLoadBalancerScheme: "internal",
          defaultSSLPolicy: "ELBSecurityPolicy-TLS13-1-2-2021-06",
          securityContext: {
            readOnlyRootFilesystem: true,
            runAsNonRoot: true,
            allowPrivilegeEscalation: false,
            capabilities: { drop: ["ALL"] },
            seccompProfile: { type: "RuntimeDefault" },
          },
        }),
      ],
      atomic: true,
      cleanupOnFail: true,
      wait: true,
      timeout: 600,
      maxHistory: 5,
      // The role must be assumable, and hold its permissions, before the controller first reconciles.
      dependsOn: [...(props.dependsOn ?? []), policy, ...this.workloadRole.readyWith],
    });
  }
}
