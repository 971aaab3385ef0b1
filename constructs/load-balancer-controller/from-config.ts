/**
 * Maps an environment's configuration (the cluster, its identity) onto the LoadBalancerController construct's
 * props: the one place that knows which configuration field becomes which prop.
 */
import type { EnvironmentConfig } from "../../config";
import type { LoadBalancerControllerProps } from ".";

/** The LoadBalancerController props of an environment; `namePrefix` is the stack's name (the IAM role's prefix). */
export function loadBalancerControllerProps(config: EnvironmentConfig, namePrefix: string, deps: Pick<LoadBalancerControllerProps, "vpcId">): LoadBalancerControllerProps {
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
