/**
 * Every path into the tracking server passes the authenticating proxy, in every shipped stack and in
 * the alternative entry configurations.
 */
import { registryEventsPodLabels } from "../../constructs/registry-events/command";
import { authProxyPodLabels } from "../../constructs/auth-proxy/oauth2-proxy-command";
import { trackingServerName } from "../../constructs/tracking-server/mlflow-command";
import { gcPodLabels } from "../../constructs/tracking-server";
import { configured, envConfig, onlyResource, resourcesOf, synthJson, SHIPPED, type TfJson } from "../helpers/synth";
import { modelRetentionPodLabels } from "../../constructs/model-retention/command";
import { driftJobPodLabels } from "../../constructs/drift-job/command";
import { driftJobsConfigured } from "../../stacks/mlflow-stack";

const variants: [string, TfJson, ReturnType<typeof envConfig>][] = [
  ...SHIPPED.map((name) => [name, synthJson(configured(name)), configured(name)] as [string, TfJson, ReturnType<typeof envConfig>]),
  (() => {
    const c = envConfig("staging", { ingress: { kind: "gateway-api", gatewayRef: { namespace: "gateways", name: "public" } } });
    return ["staging with gateway-api", synthJson(c), c] as [string, TfJson, ReturnType<typeof envConfig>];
  })(),
  (() => {
    const c = envConfig("prod", { ingress: { installLoadBalancerController: true, scheme: "internet-facing" } });
    return ["prod installing the load balancer controller", synthJson(c), c] as [string, TfJson, ReturnType<typeof envConfig>];
  })(),
];

describe.each(variants)("%s", (_name, json, config) => {
  const tracking = trackingServerName(config.project);
  const proxyDeployment = Object.values(resourcesOf(json, "kubernetes_deployment_v1")).find((d) => d.metadata.name === "oauth2-proxy");

  it("runs the proxy in the tracking server's namespace, forwarding to the tracking server's Service", () => {
    expect(proxyDeployment).toBeDefined();
    expect(proxyDeployment!.metadata.namespace).toBe(config.mlflow.namespace);
    const upstream = proxyDeployment!.spec.template.spec.container[0].env.find((e: any) => e.name === "OAUTH2_PROXY_UPSTREAMS");
    expect(upstream.value).toBe(`http://${tracking}.${config.mlflow.namespace}.svc:${config.mlflow.port}/`);
  });

  it("has no Service of type LoadBalancer or NodePort", () => {
    for (const svc of Object.values(resourcesOf(json, "kubernetes_service_v1"))) {
      expect([undefined, "ClusterIP"]).toContain(svc.spec.type);
    }
  });

  it("routes every Ingress and HTTPRoute to the proxy only, never to the tracking server", () => {
    const ingresses = Object.values(resourcesOf(json, "kubernetes_ingress_v1"));
    const routes = Object.values(resourcesOf(json, "kubernetes_manifest"))
      .map((m) => m.manifest)
      .filter((m) => m.kind === "HTTPRoute");
    expect(ingresses.length + routes.length).toBe(1);
    for (const ing of ingresses) {
      expect(ing.spec.default_backend).toBeUndefined();
      for (const rule of ing.spec.rule) {
        for (const p of rule.http.path) expect(p.backend.service).toEqual({ name: "oauth2-proxy", port: { number: 4180 } });
      }
      expect(ing.spec.ingress_class_name).toBe("alb");
      expect(ing.metadata.annotations["alb.ingress.kubernetes.io/scheme"]).toBe(config.ingress.scheme);
    }
    for (const route of routes) {
      for (const rule of route.spec.rules) {
        expect(rule.backendRefs.map((b: any) => b.name)).toEqual(["oauth2-proxy"]);
      }
    }
    expect(JSON.stringify([ingresses, routes])).not.toContain(tracking);
  });

  it("admits into the tracking server only the proxy, Prometheus, its gc job and the model-retention job (no address ranges, no whole namespace)", () => {
    const policies = Object.values(resourcesOf(json, "kubernetes_network_policy_v1"));
    const serverPolicy = policies.find((p) => p.metadata.name === tracking);
    expect(serverPolicy).toBeDefined();
    expect(serverPolicy!.spec.policy_types).toContain("Ingress");
    const peers = serverPolicy!.spec.ingress.flatMap((r: any) => r.from);
    expect(peers.some((p: any) => p.ip_block)).toBe(false);
    expect(peers).toContainEqual({ pod_selector: { match_labels: authProxyPodLabels(config.project) } });
    const allowed = [
      { pod_selector: { match_labels: authProxyPodLabels(config.project) } },
      {
        namespace_selector: { match_labels: { "kubernetes.io/metadata.name": config.monitoring.namespace } },
        pod_selector: { match_labels: { "app.kubernetes.io/name": "prometheus" } },
      },
      { pod_selector: { match_labels: gcPodLabels(`${config.project}-${config.name}`) } },
      { pod_selector: { match_labels: modelRetentionPodLabels(config) } },
      // The registry events service, where it is enabled.
      ...(config.events.enabled ? [{ pod_selector: { match_labels: registryEventsPodLabels(config) } }] : []),
      // The drift jobs of served models, where a model may have one.
      ...(driftJobsConfigured(config) ? [{ pod_selector: { match_labels: driftJobPodLabels(config) } }] : []),
    ];
    for (const peer of peers) expect(allowed).toContainEqual(peer);
  });

  it("admits the proxy's port from the VPC only", () => {
    const proxyPolicy = Object.values(resourcesOf(json, "kubernetes_network_policy_v1")).find((p) => p.metadata.name === "oauth2-proxy");
    expect(proxyPolicy!.spec.ingress[0]).toEqual({
      from: config.ingress.vpcCidrs.map((cidr) => ({ ip_block: { cidr } })),
      ports: [{ port: "4180", protocol: "TCP" }],
    });
  });

  it("installs the load balancer controller only when configured", () => {
    const releases = Object.values(resourcesOf(json, "helm_release")).filter((r) => r.chart === "aws-load-balancer-controller");
    expect(releases).toHaveLength(config.ingress.installLoadBalancerController ? 1 : 0);
    if (config.ingress.installLoadBalancerController) {
      expect(JSON.parse(releases[0].values[0]).vpcId).toBe("${data.aws_eks_cluster.eks_cluster.vpc_config[0].vpc_id}");
      const ing = onlyResource(json, "kubernetes_ingress_v1");
      expect(ing.depends_on.some((d: string) => d.startsWith("helm_release.load_balancer_controller"))).toBe(true);
    }
  });
});
