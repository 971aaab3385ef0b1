/**
 * Models exposed through the environment's Gateway on GKE and AKS (`serving.exposure: "ingress"`): each model's own
 * OAuth2 Proxy behind an HTTPRoute for `<model>.<serving.ingress.domain>` on `ingress.gatewayRef`, the model server
 * admitting only that proxy's pods and keying callers on the header it overwrites. API Gateway and what configures an
 * ALB are AWS's and refused, naming the field; a domain the Gateway's certificate does not cover too.
 */
import { MODEL_GATEWAY_CALLER_HEADER } from "../../constructs/model-endpoint/gateway-command";
import { modelGatewayPodLabels } from "../../constructs/model-endpoint/gateway";
import { azureConfig, azureProblems, synthAzure } from "../helpers/azure";
import { gcpConfig, gcpProblems, synthGcp } from "../helpers/gcp";
import { resourcesOf, type TfJson } from "../helpers/synth";

const exposed = {
  ingress: { certificateDomains: ["*.example.com", "*.models.example.com"] },
  serving: { exposure: "ingress", ingress: { domain: "models.example.com" } },
};

describe.each([
  ["GCP", "gcp-dev", "mlflow-gcp-dev", () => synthGcp(gcpConfig(exposed)).json, gcpProblems, gcpConfig().ingress.gatewayRef],
  ["Azure", "azure-dev", "mlflow-azure-dev", () => synthAzure(azureConfig(exposed)).json, azureProblems, azureConfig().ingress.gatewayRef],
] as const)("models through the Gateway on %s", (_cloud, env, stack, synth, problems, gatewayRef) => {
  const json: TfJson = synth();
  const name = `${stack}-iris-classifier`;
  const routes = Object.values(resourcesOf(json, "kubernetes_manifest"))
    .map((r) => r.manifest)
    .filter((m) => m.kind === "HTTPRoute" && m.metadata.name === `${name}-gateway`);

  it("routes <model>.<domain> on the environment's Gateway to the model's own proxy, with no ALB Ingress", () => {
    expect(routes).toHaveLength(1);
    expect(routes[0].spec.hostnames).toEqual(["iris-classifier.models.example.com"]);
    expect(routes[0].spec.parentRefs).toEqual([
      { group: "gateway.networking.k8s.io", kind: "Gateway", namespace: gatewayRef.namespace, name: gatewayRef.name },
    ]);
    expect(routes[0].spec.rules[0].backendRefs).toEqual([{ group: "", kind: "Service", name: `${name}-gateway`, port: 80 }]);
    expect(resourcesOf(json, "kubernetes_ingress_v1")).toEqual({});
  });

  it("the model server admits only its proxy's pods and keys callers on the header the proxy overwrites", () => {
    const server = Object.values(resourcesOf(json, "kubernetes_deployment_v1")).find((d) => d.metadata.name === name)!;
    const args: string[] = server.spec.template.spec.container[0].args;
    expect(args[args.indexOf("--caller-header") + 1]).toBe(MODEL_GATEWAY_CALLER_HEADER);
    expect(args).toContain("--allowed-email-domains");
    const policy = Object.values(resourcesOf(json, "kubernetes_network_policy_v1")).find((p) => p.metadata.name === name)!;
    expect(policy.spec.ingress[0].from).toContainEqual(
      expect.objectContaining({ pod_selector: { match_labels: modelGatewayPodLabels(name) } }),
    );
  });

  it("refuses API Gateway and the ALB's settings, naming the field", () => {
    expect(problems({ serving: { exposure: "apiGateway" } }).join("\n")).toMatch(
      new RegExp(
        `environment "${env}": field serving.exposure = "apiGateway": expected "none" or "ingress" on an? \\w+ environment: API Gateway is AWS's`,
      ),
    );
    const alb = { ...exposed, serving: { ...exposed.serving, ingress: { domain: "models.example.com", scheme: "internet-facing" } } };
    expect(problems(alb).join("\n")).toMatch(
      new RegExp(`field serving.ingress.scheme = "internet-facing": expected no serving.ingress.scheme`),
    );
  });

  it("refuses a models' domain the Gateway's certificate does not cover", () => {
    expect(problems({ serving: exposed.serving }).join("\n")).toMatch(
      /field serving.ingress.domain = "models.example.com": expected a domain whose model host names the Gateway's certificate covers/,
    );
  });
});
