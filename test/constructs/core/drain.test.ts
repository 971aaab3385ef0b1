/**
 * Drain before stop: every proxy pod behind the load balancer keeps serving longer than the
 * target group's deregistration delay before SIGTERM, within its grace period. The e2e shows it with
 * real processes (test/e2e/drain.ts); these check the synthesized timings and the refusals.
 */
import { TerraformStack, Testing } from "cdktf";
import { AuthProxy, type AuthProxyProps } from "../../../constructs/auth-proxy";
import { authProxyProps } from "../../../constructs/auth-proxy/from-config";
import type { TrackingServerContract } from "../../../constructs/core/contracts";
import { DRAIN_MARGIN_SECONDS, SHUTDOWN_AFTER_DRAIN_SECONDS, drainTimings } from "../../../constructs/core/drain";
import type { EnvironmentConfig } from "../../../config";
import { configProblems, configured, envConfig, onlyResource, resourcesOf, SHIPPED, synthJson, type TfJson } from "../../helpers/synth";

const trackingServer: TrackingServerContract = {
  namespace: "mlflow",
  serviceName: "mlflow-tracking",
  port: 5000,
  portName: "http",
  podLabels: { "app.kubernetes.io/name": "mlflow", "app.kubernetes.io/component": "tracking-server" },
  serviceLabels: { "app.kubernetes.io/name": "mlflow" },
  metricsPath: "/metrics",
};

function proxyOnly(config: EnvironmentConfig, props: Partial<AuthProxyProps> = {}): TfJson {
  const stack = new TerraformStack(Testing.app(), "test");
  new AuthProxy(stack, "auth_proxy", { ...authProxyProps(config, { trackingServer }), ...props });
  return JSON.parse(Testing.synth(stack)) as TfJson;
}

/** The proxy's preStop pause, its grace period and the Ingress's deregistration delay, as synthesized. */
function timings(json: TfJson): { drain: number; grace: number; deregistration: number | undefined; preStop: string[] } {
  const proxy = Object.values(resourcesOf(json, "kubernetes_deployment_v1")).find((d) => d.metadata.name === "oauth2-proxy")!;
  const spec = proxy.spec.template.spec;
  const preStop: string[] = spec.container[0].lifecycle.pre_stop[0].exec.command;
  const ingress = Object.values(resourcesOf(json, "kubernetes_ingress_v1"))[0];
  const attrs: string | undefined = ingress?.metadata.annotations["alb.ingress.kubernetes.io/target-group-attributes"];
  const m = attrs ? /deregistration_delay\.timeout_seconds=(\d+)/.exec(attrs) : null;
  return { preStop, drain: Number(preStop[1]), grace: spec.termination_grace_period_seconds, deregistration: m ? Number(m[1]) : undefined };
}

describe("drainTimings", () => {
  it("keeps serving 15 s past the deregistration delay by default, and 30 s more to stop", () => {
    expect(drainTimings(60)).toEqual({
      deregistrationDelaySeconds: 60,
      drainSeconds: 60 + DRAIN_MARGIN_SECONDS,
      terminationGracePeriodSeconds: 60 + DRAIN_MARGIN_SECONDS + SHUTDOWN_AFTER_DRAIN_SECONDS,
    });
    expect(drainTimings(0, 5)).toEqual({ deregistrationDelaySeconds: 0, drainSeconds: 5, terminationGracePeriodSeconds: 35 });
  });

  it.each([
    [60, 60],
    [60, 30],
    [10, 0],
    [10, 12.5],
  ])("refuses a drain that does not outlast the deregistration delay (delay %p, drain %p)", (delay, drain) => {
    expect(drainTimings(delay, drain)).toEqual({
      problem: {
        prop: "drainSeconds",
        value: drain,
        expected: expect.stringMatching(/^a whole number above the load balancer's deregistration delay .*use at least/),
      },
    });
  });

  it.each([-1, 3601, 1.5])("refuses a deregistration delay of %p (the ALB takes 0-3600)", (delay) => {
    expect(drainTimings(delay)).toEqual({
      problem: { prop: "deregistrationDelaySeconds", value: delay, expected: expect.stringMatching(/from 0 to 3600/) },
    });
  });
});

describe("AuthProxy stop timings", () => {
  const staging = envConfig("staging");

  it("pauses with the image's sleep before SIGTERM, longer than the deregistration delay, within the grace period", () => {
    const t = timings(proxyOnly(staging, { loadBalancerDeregistrationDelaySeconds: 45 }));
    expect(t.preStop).toEqual(["sleep", "60"]);
    expect(t.grace).toBe(90);
    const image = onlyResource(proxyOnly(staging), "kubernetes_deployment_v1").spec.template.spec.container[0].image;
    // The distroless flavour has no sleep: the pause needs the -alpine one.
    expect(image).toMatch(/^quay\.io\/oauth2-proxy\/oauth2-proxy:v[\d.]+-alpine$/);
  });

  it("takes an explicit drain", () => {
    expect(timings(proxyOnly(staging, { loadBalancerDeregistrationDelaySeconds: 30, drainSeconds: 40 }))).toMatchObject({
      drain: 40,
      grace: 70,
    });
  });

  it.each([30, 20, 0])("refuses drainSeconds %p with a deregistration delay of 30 s, naming the prop and the fix", (drainSeconds) => {
    expect(() => proxyOnly(staging, { loadBalancerDeregistrationDelaySeconds: 30, drainSeconds })).toThrow(
      /^test\/auth_proxy: drainSeconds is \d+: expected a whole number above the load balancer's deregistration delay \(30 s\).*use at least 31/,
    );
  });
});

describe("configuration", () => {
  it.each([
    [600, undefined],
    [60, 60],
    [60, 10],
    [5, 5],
  ])(
    "refuses auth.drainSeconds that does not outlast the deregistration delay (delay %p, drain %p), naming environment and field",
    (delay, drain) => {
      const overrides =
        drain === undefined
          ? { ingress: { idleTimeoutSeconds: 600 }, auth: { drainSeconds: 600 } }
          : { ingress: { deregistrationDelaySeconds: delay }, auth: { drainSeconds: drain } };
      const problems = configProblems(overrides, "staging");
      expect(problems).toEqual([
        expect.stringMatching(
          /environment "staging": field auth\.drainSeconds = \d+: expected more than the load balancer's deregistration delay \(\d+ s, ingress\.deregistrationDelaySeconds\)/,
        ),
      ]);
    },
  );

  it.each([-1, 3601, 2.5])("refuses ingress.deregistrationDelaySeconds = %p, naming environment and field", (delay) => {
    expect(configProblems({ ingress: { deregistrationDelaySeconds: delay } }, "staging")).toEqual([
      expect.stringMatching(/environment "staging": field ingress\.deregistrationDelaySeconds = .*a whole number from 0 to 3600/),
    ]);
  });
});

describe.each(SHIPPED)("%s stack", (name) => {
  it("the proxy outlasts the Ingress's deregistration delay, and its grace period outlasts the drain", () => {
    const t = timings(synthJson(configured(name)));
    if (t.deregistration === undefined) return expect(configured(name).ingress.kind).toBe("gateway-api");
    expect(t.preStop[0]).toBe("sleep");
    expect(t.drain).toBeGreaterThan(t.deregistration);
    expect(t.grace).toBeGreaterThan(t.drain);
  });

  it("keeps that order with a configured deregistration delay and drain", () => {
    const config = configured(name, { ingress: { deregistrationDelaySeconds: 20 }, auth: { drainSeconds: 25 } });
    const t = timings(synthJson(config));
    expect(t).toMatchObject({ drain: 25, grace: 55 });
    expect(t.deregistration).toBe(config.ingress.kind === "alb" ? 20 : undefined);
  });
});
