/**
 * The part of an environment's configuration the Kubernetes half reads (the tracking server, the proxy,
 * monitoring): the same on every cloud. An AWS and a GCP environment both satisfy it, so the from-config
 * mappings of those features serve the stacks of either cloud.
 */
import type { EnvironmentConfig } from "./schema";

export type KubernetesEnvironment = Pick<
  EnvironmentConfig,
  | "name"
  | "project"
  | "production"
  | "hostname"
  | "mlflow"
  | "auth"
  | "monitoring"
  | "events"
  | "training"
  | "serving"
  | "registry"
  | "teams"
  | "access"
> & {
  readonly ingress: Pick<EnvironmentConfig["ingress"], "vpcCidrs" | "idleTimeoutSeconds" | "deregistrationDelaySeconds">;
};
