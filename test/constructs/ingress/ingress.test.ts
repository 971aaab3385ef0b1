import { Testing, TerraformStack } from "cdktf";
import { MlflowIngress, MODERN_ALB_TLS_POLICY } from "../../../constructs/ingress";
import { mlflowIngressProps } from "../../../constructs/ingress/from-config";
import type { AuthProxyContract } from "../../../constructs/core/contracts";
import type { EnvironmentConfig } from "../../../config";
import { envConfig, onlyResource, resourcesOf, type TfJson } from "../../helpers/synth";

const proxy: AuthProxyContract = {
  namespace: "mlflow",
  serviceName: "oauth2-proxy",
  port: 4180,
  portName: "http",
  podLabels: { "app.kubernetes.io/name": "oauth2-proxy" },
  serviceLabels: {},
  metricsPort: 44180,
  metricsPortName: "metrics",
};

function synth(config: EnvironmentConfig, target: AuthProxyContract = proxy): TfJson {
  const app = Testing.app();
  const stack = new TerraformStack(app, "test");
  new MlflowIngress(stack, "entry", mlflowIngressProps(config, { target }));
  return JSON.parse(Testing.synth(stack)) as TfJson;
}

describe("ALB Ingress", () => {
  const config = envConfig("staging");
  const json = synth(config);
  const ingress = onlyResource(json, "kubernetes_ingress_v1");
  const a = ingress.metadata.annotations;

  it("uses the AWS Load Balancer Controller's IngressClass, never nginx", () => {
    expect(ingress.spec.ingress_class_name).toBe("alb");
    expect(JSON.stringify(ingress)).not.toMatch(/nginx/);
  });

  it("routes the public hostname, every path, to the proxy's Service only", () => {
    expect(ingress.metadata.namespace).toBe("mlflow");
    expect(ingress.spec.rule).toEqual([
      {
        host: "mlflow-staging.example.com",
        http: { path: [{ path: "/", path_type: "Prefix", backend: { service: { name: "oauth2-proxy", port: { number: 4180 } } } }] },
      },
    ]);
    expect(ingress.spec.default_backend).toBeUndefined();
  });

  it("serves HTTPS only with the configured certificate and a modern TLS policy; HTTP only redirects", () => {
    expect(JSON.parse(a["alb.ingress.kubernetes.io/listen-ports"])).toEqual([{ HTTP: 80 }, { HTTPS: 443 }]);
    expect(a["alb.ingress.kubernetes.io/ssl-redirect"]).toBe("443");
    expect(a["alb.ingress.kubernetes.io/certificate-arn"]).toBe(
      "arn:aws:acm:eu-west-1:222222222222:certificate/00000000-0000-0000-0000-000000000002",
    );
    expect(a["alb.ingress.kubernetes.io/ssl-policy"]).toBe("ELBSecurityPolicy-TLS13-1-2-2021-06");
  });

  it("health-checks the proxy's /ping on the traffic port and targets pods", () => {
    expect(a["alb.ingress.kubernetes.io/healthcheck-path"]).toBe("/ping");
    expect(a["alb.ingress.kubernetes.io/healthcheck-port"]).toBe("traffic-port");
    expect(a["alb.ingress.kubernetes.io/success-codes"]).toBe("200");
    expect(a["alb.ingress.kubernetes.io/target-type"]).toBe("ip");
  });

  it("sets the idle timeout the proxy's upstream timeout is derived from, and drains targets as long", () => {
    expect(a["alb.ingress.kubernetes.io/load-balancer-attributes"]).toBe(
      "idle_timeout.timeout_seconds=600,routing.http.drop_invalid_header_fields.enabled=true",
    );
    expect(a["alb.ingress.kubernetes.io/target-group-attributes"]).toBe("deregistration_delay.timeout_seconds=600");
    const long = onlyResource(synth(envConfig("staging", { ingress: { idleTimeoutSeconds: 4000 } })), "kubernetes_ingress_v1").metadata
      .annotations;
    expect(long["alb.ingress.kubernetes.io/load-balancer-attributes"]).toMatch(/^idle_timeout\.timeout_seconds=4000,/);
    expect(long["alb.ingress.kubernetes.io/target-group-attributes"]).toBe("deregistration_delay.timeout_seconds=3600");
  });

  it("is internal by default and internet-facing when configured", () => {
    expect(a["alb.ingress.kubernetes.io/scheme"]).toBe("internal");
    const pub = onlyResource(synth(envConfig("staging", { ingress: { scheme: "internet-facing" } })), "kubernetes_ingress_v1");
    expect(pub.metadata.annotations["alb.ingress.kubernetes.io/scheme"]).toBe("internet-facing");
  });

  it("tags the load balancer with project and environment", () => {
    // The environment's tags, configured ones included (the provider's default tags never reach the ALB).
    expect(a["alb.ingress.kubernetes.io/tags"]).toBe("cost-center=ml-platform,project=mlflow,environment=staging,managed-by=cdktf");
  });

  it("creates no HTTPRoute", () => {
    expect(resourcesOf(json, "kubernetes_manifest")).toEqual({});
  });
});

describe("Gateway API HTTPRoute", () => {
  const config = envConfig("staging", { ingress: { kind: "gateway-api", gatewayRef: { namespace: "gateways", name: "public" } } });
  const json = synth(config);

  it("attaches to the configured Gateway and routes the hostname to the proxy only, without a whole-request time limit", () => {
    expect(resourcesOf(json, "kubernetes_ingress_v1")).toEqual({});
    const route = onlyResource(json, "kubernetes_manifest").manifest;
    expect(route.apiVersion).toBe("gateway.networking.k8s.io/v1");
    expect(route.kind).toBe("HTTPRoute");
    expect(route.metadata.namespace).toBe("mlflow");
    expect(route.spec.parentRefs).toEqual([{ group: "gateway.networking.k8s.io", kind: "Gateway", namespace: "gateways", name: "public" }]);
    expect(route.spec.hostnames).toEqual(["mlflow-staging.example.com"]);
    expect(route.spec.rules).toEqual([
      {
        matches: [{ path: { type: "PathPrefix", value: "/" } }],
        backendRefs: [{ group: "", kind: "Service", name: "oauth2-proxy", port: 4180 }],
        timeouts: { request: "0s" },
      },
    ]);
  });
});

describe("MlflowIngress validation (synth time)", () => {
  const config = envConfig("staging");

  it.each([
    ["ELBSecurityPolicy-2016-08", false],
    ["ELBSecurityPolicy-TLS-1-1-2017-01", false],
    ["ELBSecurityPolicy-TLS13-1-0-2021-06", false],
    ["ELBSecurityPolicy-TLS13-1-2-2021-06", true],
    ["ELBSecurityPolicy-TLS13-1-3-2021-06", true],
    ["ELBSecurityPolicy-TLS13-1-2-Res-2021-06", true],
    ["ELBSecurityPolicy-TLS-1-2-Ext-2018-06", true],
    ["ELBSecurityPolicy-FS-1-2-Res-2020-10", true],
  ])("TLS policy %s is modern: %s", (policy, modern) => {
    expect(MODERN_ALB_TLS_POLICY.test(policy)).toBe(modern);
  });

  it("refuses a TLS policy that allows TLS 1.0/1.1", () => {
    const weak = { ...config, ingress: { ...config.ingress, sslPolicy: "ELBSecurityPolicy-2016-08" } };
    expect(() => synth(weak)).toThrow(/sslPolicy is "ELBSecurityPolicy-2016-08": expected a policy without TLS versions below 1\.2/);
  });

  it("refuses a hostname the certificate does not cover", () => {
    const other = { ...config, hostname: "mlflow.other.org" };
    expect(() => synth(other)).toThrow(
      /hostname is "mlflow\.other\.org": expected a name covered by certificateDomains \(\*\.example\.com\)/,
    );
  });

  it("refuses gateway-api without a Gateway", () => {
    const noRef = { ...config, ingress: { ...config.ingress, kind: "gateway-api" as const, gatewayRef: undefined } };
    expect(() => synth(noRef)).toThrow(/gatewayRef is unset: expected the Gateway's namespace and name/);
  });
});
