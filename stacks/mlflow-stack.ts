import { TerraformStack } from "cdktf";
import type { Construct } from "constructs";
import type { EnvironmentConfig } from "../config";
import { configureBackend, configureProviders, type ClusterAccess } from "./providers";

/** The name of an environment's stack: `cdktf deploy mlflow-prod`. */
export function stackName(config: EnvironmentConfig): string {
  return `${config.project}-${config.name}`;
}

/**
 * Everything one environment needs, in its own Terraform state: providers, backend, and the platform's
 * constructs wired to each other through small typed contracts.
 */
export class MlflowStack extends TerraformStack {
  readonly config: EnvironmentConfig;
  readonly access: ClusterAccess;

  constructor(scope: Construct, config: EnvironmentConfig) {
    super(scope, stackName(config));
    this.config = config;
    configureBackend(this, config);
    this.access = configureProviders(this, config);
  }
}
