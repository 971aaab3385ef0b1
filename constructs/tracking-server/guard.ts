/**
 * The ConfigMap that carries the tracking server's guard (constructs/tracking-server/guard-command.ts, the
 * Python module runtime/src/mlflow_platform_guard.py, and with teams runtime/src/mlflow_platform_access.py) into
 * the tracking server's pods and the access sync Job.
 */
import type { ITerraformDependable } from "cdktf";
import { Construct } from "constructs";
import { ConfigMapV1 } from "@cdktf/provider-kubernetes/lib/config-map-v1";
import { trackingGuardFiles } from "./guard-command";

/** Props of {@link TrackingGuard}. */
export interface TrackingGuardProps {
  /** Name of the ConfigMap. Required (use {@link trackingGuardConfigMapName}). */
  readonly name: string;
  /** Namespace of the tracking server. Required. */
  readonly namespace: string;
  /** Labels of the ConfigMap. @default {} */
  readonly labels?: Record<string, string>;
  /** Teams are on: the ConfigMap also carries the access module and the `platform-auth` app. @default false */
  readonly access?: boolean;
  /** What the ConfigMap waits for (the namespace). @default [] */
  readonly dependsOn?: ITerraformDependable[];
}

/** The ConfigMap carrying the guard into the tracking server's pods. */
export class TrackingGuard extends Construct {
  readonly configMap: ConfigMapV1;

  constructor(scope: Construct, id: string, props: TrackingGuardProps) {
    super(scope, id);
    this.configMap = new ConfigMapV1(this, "config_map", {
      metadata: { name: props.name, namespace: props.namespace, labels: { ...(props.labels ?? {}) } },
      data: Object.fromEntries(trackingGuardFiles({ access: props.access }).map((f) => [f.key, f.content])),
      dependsOn: props.dependsOn,
    });
  }
}
