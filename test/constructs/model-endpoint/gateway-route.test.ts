/**
 * A model's OAuth2 Proxy gateway behind a Gateway (GKE, AKS, or EKS with a Gateway API controller): an HTTPRoute
 * for the model's host name on the environment's Gateway instead of an ALB Ingress. What configures an ALB is
 * refused there, and the host name must be one the Gateway's certificate covers.
 */
import { Testing, TerraformStack } from "cdktf";
import { ModelGateway, modelGatewayPodLabels, type ModelGatewayProps } from "../../../constructs/model-endpoint/gateway";
import { onlyResource, resourcesOf, type TfJson } from "../../helpers/synth";

const base: ModelGatewayProps = {
  name: "mlflow-dev-iris-gateway",
  model: {
    namespace: "models",
    serviceName: "mlflow-dev-iris",
    port: 80,
    portName: "http",
    podLabels: { app: "iris" },
    serviceLabels: {},
  },
  podLabels: modelGatewayPodLabels("mlflow-dev-iris"),
  image: "quay.io/oauth2-proxy/oauth2-proxy:v7.12.0",
  issuerUrl: "https://login.example.com",
  clientId: "mlflow",
  allowedEmailDomains: ["example.com"],
  allowedGroups: [],
  vpcCidrs: ["10.0.0.0/16"],
  hostname: "iris.models.example.com",
  gatewayRef: { namespace: "gateway", name: "shared" },
  certificateDomains: ["*.models.example.com"],
  upstreamTimeoutSeconds: 35,
};

function synth(props: Partial<ModelGatewayProps> = {}): TfJson {
  const stack = new TerraformStack(Testing.app(), "t");
  new ModelGateway(stack, "gw", { ...base, ...props });
  return JSON.parse(Testing.synth(stack)) as TfJson;
}
const build = (props: Partial<ModelGatewayProps>) => () => synth(props);

describe("ModelGateway on a Gateway", () => {
  const json = synth();
  it("routes the model's host name on the Gateway to the proxy's Service, with no ALB Ingress", () => {
    const route = onlyResource(json, "kubernetes_manifest").manifest;
    expect(route).toMatchObject({
      apiVersion: "gateway.networking.k8s.io/v1",
      kind: "HTTPRoute",
      metadata: { name: "mlflow-dev-iris-gateway", namespace: "models" },
      spec: {
        parentRefs: [{ group: "gateway.networking.k8s.io", kind: "Gateway", namespace: "gateway", name: "shared" }],
        hostnames: ["iris.models.example.com"],
      },
    });
    expect(route.spec.rules[0].backendRefs).toEqual([{ group: "", kind: "Service", name: "mlflow-dev-iris-gateway", port: 80 }]);
    // A prediction has a deadline: the proxy's upstream timeout, and a margin.
    expect(route.spec.rules[0].timeouts).toEqual({ request: "40s" });
    expect(resourcesOf(json, "kubernetes_ingress_v1")).toEqual({});
  });

  it.each([
    ["certificateArn", "arn:aws:acm:eu-west-1:111111111111:certificate/x"],
    ["scheme", "internal"],
    ["sslPolicy", "ELBSecurityPolicy-TLS13-1-2-2021-06"],
    ["ingressGroup", "g"],
  ] as const)("refuses %s, which configures an ALB", (prop, value) => {
    expect(build({ [prop]: value })).toThrow(new RegExp(`${prop} is .*nothing with gatewayRef`));
  });

  it("refuses a host name the Gateway's certificate does not cover, and a Gateway without a name", () => {
    expect(build({ hostname: "iris.other.example.org" })).toThrow(/hostname is .*a name the Gateway's certificate covers/);
    expect(build({ certificateDomains: undefined })).toThrow(/none given/);
    expect(build({ gatewayRef: { namespace: "gateway", name: "" } })).toThrow(/gatewayRef is .*namespace and name/);
  });

  it("still requires the ALB's certificate and IngressGroup without a Gateway", () => {
    const alb = { gatewayRef: undefined, certificateDomains: undefined };
    expect(build(alb)).toThrow(/certificateArn is .*an ACM certificate ARN/);
    expect(build({ ...alb, certificateArn: "arn:aws:acm:eu-west-1:111111111111:certificate/abc" })).toThrow(/ingressGroup/);
    const json = synth({ ...alb, certificateArn: "arn:aws:acm:eu-west-1:111111111111:certificate/abc", ingressGroup: "mlflow-dev-models" });
    expect(onlyResource(json, "kubernetes_ingress_v1").spec.rule[0].host).toBe("iris.models.example.com");
    expect(resourcesOf(json, "kubernetes_manifest")).toEqual({});
  });
});
