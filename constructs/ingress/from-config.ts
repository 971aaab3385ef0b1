/**
 * Maps an environment's configuration onto the MlflowIngress construct's props: the one place that knows
 * which configuration field becomes which prop.
 */
import type { EnvironmentConfig } from "../../config";
import type { MlflowIngressProps } from ".";
import type { PropFieldMap } from "../core/prop-error";
import { defaultTags } from "../../config/tags";

/** The MlflowIngress props of an environment. */
export function mlflowIngressProps(config: EnvironmentConfig, deps: Pick<MlflowIngressProps, "target" | "dependsOn">): MlflowIngressProps {
  const ing = config.ingress;
  return {
    hostname: config.hostname,
    kind: ing.kind,
    certificateArn: ing.certificateArn,
    certificateDomains: ing.certificateDomains,
    scheme: ing.scheme,
    sslPolicy: ing.sslPolicy,
    idleTimeoutSeconds: ing.idleTimeoutSeconds,
    deregistrationDelaySeconds: ing.deregistrationDelaySeconds,
    gatewayRef: ing.gatewayRef,
    // The environment's tags, configured ones included.
    tags: defaultTags(config),
    partOf: config.project,
    ...deps,
  };
}

/** The configuration field behind each MlflowIngress prop {@link mlflowIngressProps} sets (null: the stack's wiring). */
export const MLFLOW_INGRESS_FIELDS: PropFieldMap = {
  hostname: "hostname",
  kind: "ingress.kind",
  certificateArn: "ingress.certificateArn",
  certificateDomains: "ingress.certificateDomains",
  scheme: "ingress.scheme",
  sslPolicy: "ingress.sslPolicy",
  idleTimeoutSeconds: "ingress.idleTimeoutSeconds",
  deregistrationDelaySeconds: "ingress.deregistrationDelaySeconds",
  gatewayRef: "ingress.gatewayRef",
  tags: "tags",
  partOf: "project",
  target: null,
};
