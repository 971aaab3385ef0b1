/**
 * The safety net behind the schema. The schema mirrors every check a construct makes on values that
 * come from configuration (sharing the rule functions of constructs/core/aws-limits.ts), so a configuration
 * it accepts builds. Should a construct still throw while an environment's stack is built, the error
 * reaches the user as a configuration problem: named by environment and, where the message lets us
 * tell, by the configuration field it came from.
 */
import type { EnvironmentConfig } from "./schema";

/** Which configuration section feeds each construct of the stack (by construct id, stacks/mlflow-stack.ts). */
const SECTION_OF_CONSTRUCT: Record<string, string> = {
  artifact_store: "artifacts",
  backend_store: "database",
  tracking_identity: "identity",
  tracking_server: "mlflow",
  auth_proxy: "auth",
  ingress: "ingress",
  load_balancer_controller: "ingress",
  monitoring: "monitoring",
  ci_roles: "ci",
  TrackingServer: "mlflow",
  AuthProxy: "auth",
  MlflowIngress: "ingress",
  Monitoring: "monitoring",
};

/** Construct props named differently from the configuration field they come from. */
const RENAMED: Record<string, string> = {
  "database.databaseName": "database.name",
  "database.identifier": "name",
  "artifacts.lifecycle": "artifacts",
  "identity.roleName": "name",
  "identity.artifactPrefix": "artifacts.prefix",
  "monitoring.cloudWatch.roleName": "name",
  // TrackingServer, AuthProxy and MlflowIngress props (their from-config.ts mappings).
  "mlflow.instance": "name",
  "mlflow.partOf": "project",
  "mlflow.publicHostname": "hostname",
  "mlflow.podCidrs": "ingress.vpcCidrs",
  "mlflow.clientIdleTimeoutSeconds": "ingress.idleTimeoutSeconds",
  "mlflow.extraUvicornOpts": "mlflow.uvicornOpts",
  "mlflow.strictZoneSpread": "production",
  "mlflow.monitoringNamespace": "monitoring.namespace",
  "mlflow.prometheusPodLabels": "monitoring.prometheusPodLabels",
  "mlflow.allowedEmailDomains": "auth.allowedEmailDomains",
  "mlflow.allowAnyEmailDomain": "auth.allowAnyEmailDomain",
  "auth.partOf": "project",
  "auth.publicHostname": "hostname",
  "auth.loadBalancerCidrs": "ingress.vpcCidrs",
  "auth.loadBalancerIdleTimeoutSeconds": "ingress.idleTimeoutSeconds",
  "auth.loadBalancerDeregistrationDelaySeconds": "ingress.deregistrationDelaySeconds",
  "auth.deregistrationDelaySeconds": "ingress.deregistrationDelaySeconds",
  "auth.monitoringNamespace": "monitoring.namespace",
  "auth.prometheusPodLabels": "monitoring.prometheusPodLabels",
  "ingress.hostname": "hostname",
  "ingress.partOf": "project",
};

const TOP_LEVEL = ["name", "project", "production", "aws", "tags", "state", "cluster", "hostname", "identity", "artifacts", "database", "mlflow", "auth", "ingress", "monitoring", "notifications", "ci"];

/** The configuration field a construct's error message is about, when it can be told. */
export function fieldOfConstructError(message: string): string | undefined {
  // Messages that name the configuration field themselves: "TrackingServer: config.mlflow.workers = ...".
  const named = new RegExp(`(?:^|[\\s(])(?:config\\.)?((?:${TOP_LEVEL.join("|")})(?:\\.[A-Za-z0-9]+)+)`).exec(message);
  if (named) return named[1];
  // "<stack>/<construct id>[/...]: <prop> ..." or "<Construct>: <prop> ...".
  const m = /^(?:[^/\s:]+\/)?([A-Za-z_]+)(?:\/[^:\s]*)?: ([A-Za-z.[\]0-9]+)/.exec(message);
  if (!m) return undefined;
  const section = SECTION_OF_CONSTRUCT[m[1]];
  if (!section) return undefined;
  const prop = m[2].replace(/\[\d+\]/g, "");
  const candidate = `${section}.${prop}`;
  for (const [from, to] of Object.entries(RENAMED)) {
    if (candidate === from || candidate.startsWith(`${from}.`)) return to + candidate.slice(from.length);
  }
  return candidate;
}

/** One problem line for an error raised while building `config`'s stack. */
export function constructErrorProblem(config: EnvironmentConfig, err: unknown): string {
  const message = err instanceof Error ? err.message : String(err);
  const field = fieldOfConstructError(message);
  const where = field ? `field ${field}` : "configuration";
  return `environment "${config.name}": ${where}: refused while building stack ${config.project}-${config.name}: ${message}`;
}
