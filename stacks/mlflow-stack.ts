import { TerraformStack } from "cdktf";
import type { Construct } from "constructs";
import { NamespaceV1 } from "@cdktf/provider-kubernetes/lib/namespace-v1";
import type { EnvironmentConfig } from "../config";
import { configureBackend, configureProviders, type ClusterAccess } from "./providers";

/** The name of an environment's stack: `cdktf deploy mlflow-prod`. */
export function stackName(config: EnvironmentConfig): string {
  return `${config.project}-${config.name}`;
}

/**
 * Everything one environment needs, in its own Terraform state: providers, backend, and the platform's
 * constructs wired to each other through small typed contracts (constructs/contracts.ts).
 */
export class MlflowStack extends TerraformStack {
  readonly config: EnvironmentConfig;
  readonly access: ClusterAccess;
  /** The namespace of the tracking server, its jobs, its secrets and the proxy. */
  readonly namespace: NamespaceV1;

  constructor(scope: Construct, config: EnvironmentConfig) {
    super(scope, stackName(config));
    this.config = config;
    configureBackend(this, config);
    this.access = configureProviders(this, config);

    this.namespace = new NamespaceV1(this, "namespace", {
      metadata: {
        name: config.mlflow.namespace,
        labels: {
          "app.kubernetes.io/part-of": config.project,
          "app.kubernetes.io/managed-by": "cdktf",
          // Every pod in the namespace must meet the "restricted" Pod Security Standard.
          "pod-security.kubernetes.io/enforce": "restricted",
          "pod-security.kubernetes.io/enforce-version": "latest",
        },
      },
    });

    // ── Stores and identity (issue 3) ──────────────────────────────────────────────

    // ── Tracking server (issue 4) ──────────────────────────────────────────────────

    // ── Authenticating proxy and ingress (issue 5) ─────────────────────────────────

    // ── Monitoring and alerting (issue 6) ──────────────────────────────────────────
  }
}
