/**
 * Maps an environment's configuration (`serving.delivery`) onto the ArgoRollouts construct's props: the one
 * place that knows which configuration field becomes which prop.
 */
import type { EnvironmentConfig } from "../../config";
import type { ArgoRolloutsProps } from ".";
import type { PropFieldMap } from "../core/prop-error";
import { managedLabels } from "../core/labels";

/** The ArgoRollouts props of an environment. */
export function argoRolloutsProps(config: Pick<EnvironmentConfig, "serving" | "project">): ArgoRolloutsProps {
  return { namespace: config.serving.delivery.controllerNamespace, labels: managedLabels(config.project) };
}

/** ArgoRollouts ("argo_rollouts"). */
export const ARGO_ROLLOUTS_FIELDS: PropFieldMap = {
  namespace: "serving.delivery.controllerNamespace",
  labels: "project",
  chartVersion: null,
  replicas: null,
};
