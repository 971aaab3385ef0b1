/**
 * Maps an environment's configuration (the cluster, its identity) onto the LoadBalancerController construct's
 * props: the one place that knows which configuration field becomes which prop.
 */
import type { EnvironmentConfig } from "../../config";
import type { LoadBalancerControllerProps } from ".";
import type { PropFieldMap } from "../core/prop-error";

/** The LoadBalancerController props of an environment; `namePrefix` is the stack's name (the IAM role's prefix). */
export function loadBalancerControllerProps(
  config: EnvironmentConfig,
  namePrefix: string,
  deps: Pick<LoadBalancerControllerProps, "vpcId">,
): LoadBalancerControllerProps {
  return {
    clusterName: config.cluster.name,
    region: config.aws.region,
    vpcId: deps.vpcId,
    accountId: config.aws.accountId,
    identityMode: config.identity.mode,
    oidcProviderArn: config.cluster.oidcProviderArn,
    roleName: `${namePrefix}-aws-load-balancer-controller`,
  };
}

/** LoadBalancerController ("load_balancer_controller"), and its WorkloadRole. */
export const LOAD_BALANCER_CONTROLLER_FIELDS: PropFieldMap = {
  clusterName: "cluster.name",
  region: "aws.region",
  vpcId: null,
  accountId: "aws.accountId",
  identityMode: "identity.mode",
  oidcProviderArn: "cluster.oidcProviderArn",
  roleName: "name",
  replicas: null,
  chartVersion: null,
  namespace: null,
  serviceAccountName: null,
  maxSessionDurationSeconds: null,
  inlinePolicies: null,
};
