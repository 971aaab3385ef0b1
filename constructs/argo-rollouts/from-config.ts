/**
 * Maps an environment's configuration (`serving.delivery`) onto the ArgoRollouts construct's props: the one
 * place that knows which configuration field becomes which prop.
 */
import type { EnvironmentConfig } from "../../config";
import type { ArgoRolloutsProps } from ".";

/** The ArgoRollouts props of an environment. */
export function argoRolloutsProps(config: EnvironmentConfig): ArgoRolloutsProps {
  return { namespace: config.serving.delivery.controllerNamespace, labels: { "app.kubernetes.io/part-of": config.project, "app.kubernetes.io/managed-by": "cdktf" } };
}
