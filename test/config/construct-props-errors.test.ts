/**
 * Errors TrackingServer, AuthProxy and MlflowIngress raise name their own props (they take no
 * configuration); stacks/prop-errors.ts turns each back into the configuration field it came from
 * through the field map of the construct's from-config mapping.
 */
import { App, TerraformStack } from "cdktf";
import { PropError } from "../../constructs/core/prop-error";
import { fieldOfPropError } from "../../stacks/prop-errors";
import { AuthProxy } from "../../constructs/auth-proxy";
import { authProxyProps } from "../../constructs/auth-proxy/from-config";
import { MlflowIngress } from "../../constructs/ingress";
import { mlflowIngressProps } from "../../constructs/ingress/from-config";
import { TrackingServer } from "../../constructs/tracking-server";
import { trackingServerProps } from "../../constructs/tracking-server/from-config";
import { authProxyPodLabels } from "../../constructs/auth-proxy/oauth2-proxy-command";
import type { AuthProxyContract, TrackingServerContract } from "../../constructs/core/contracts";
import { envConfig } from "../helpers/synth";

const config = envConfig("staging");
const trackingServer: TrackingServerContract = {
  namespace: "mlflow",
  serviceName: "mlflow-tracking",
  port: 5000,
  portName: "http",
  podLabels: { "app.kubernetes.io/name": "mlflow", "app.kubernetes.io/component": "tracking-server" },
  serviceLabels: { "app.kubernetes.io/name": "mlflow" },
  metricsPath: "/metrics",
};
const target: AuthProxyContract = {
  namespace: "mlflow",
  serviceName: "oauth2-proxy",
  port: 4180,
  portName: "http",
  podLabels: authProxyPodLabels("mlflow"),
  serviceLabels: {},
  metricsPort: 44180,
  metricsPortName: "metrics",
};
const deps = {
  artifactStore: {
    bucketName: "b",
    bucketArn: "arn:aws:s3:::b",
    destinationUri: "s3://b/p",
    kmsKeyArn: "arn:aws:kms:eu-west-1:111111111111:key/k",
  },
  backendStore: { host: "db", port: 5432, database: "mlflow", credentials: { secretName: "s", usernameKey: "u", passwordKey: "p" } },
  identity: { serviceAccountName: "mlflow", roleArn: "arn:aws:iam::111111111111:role/r", serviceAccountAnnotations: {} },
  authProxyPodLabels: authProxyPodLabels("mlflow"),
};

function refusal(build: (stack: TerraformStack) => void): PropError {
  try {
    // The stack and construct ids of stacks/mlflow-stack.ts: the field maps are found by path.
    build(new TerraformStack(new App(), `${config.project}-${config.name}`));
  } catch (err) {
    if (err instanceof PropError) return err;
    throw err;
  }
  throw new Error("the construct accepted it");
}

describe("construct errors name the configuration field behind the prop", () => {
  it.each<[string, (s: TerraformStack) => void, string]>([
    [
      "TrackingServer workers",
      (s) => new TrackingServer(s, "tracking_server", { ...trackingServerProps(config, deps), workers: 0 }),
      "mlflow.workers",
    ],
    [
      "TrackingServer publicHostname",
      (s) => new TrackingServer(s, "tracking_server", { ...trackingServerProps(config, deps), publicHostname: "https://x" }),
      "hostname",
    ],
    [
      "TrackingServer clientIdleTimeoutSeconds",
      (s) => new TrackingServer(s, "tracking_server", { ...trackingServerProps(config, deps), clientIdleTimeoutSeconds: 0 }),
      "ingress.idleTimeoutSeconds",
    ],
    [
      "AuthProxy loadBalancerCidrs",
      (s) => new AuthProxy(s, "auth_proxy", { ...authProxyProps(config, { trackingServer }), loadBalancerCidrs: [] }),
      "ingress.vpcCidrs",
    ],
    [
      "AuthProxy drainSeconds",
      (s) => new AuthProxy(s, "auth_proxy", { ...authProxyProps(config, { trackingServer }), drainSeconds: 1 }),
      "auth.drainSeconds",
    ],
    [
      "AuthProxy deregistration delay",
      (s) =>
        new AuthProxy(s, "auth_proxy", { ...authProxyProps(config, { trackingServer }), loadBalancerDeregistrationDelaySeconds: 4000 }),
      "ingress.deregistrationDelaySeconds",
    ],
    [
      "MlflowIngress hostname",
      (s) => new MlflowIngress(s, "ingress", { ...mlflowIngressProps(config, { target }), hostname: "mlflow.other.org" }),
      "hostname",
    ],
    [
      "MlflowIngress deregistration delay",
      (s) => new MlflowIngress(s, "ingress", { ...mlflowIngressProps(config, { target }), deregistrationDelaySeconds: -1 }),
      "ingress.deregistrationDelaySeconds",
    ],
  ])("%s", (_what, build, field) => {
    expect(fieldOfPropError(config, refusal(build))).toBe(field);
  });
});
