import { envConfig, resourcesOf, synthJson } from "../helpers/synth";

/** Terraform addresses a resource depends on explicitly. */
const dependsOn = (r: Record<string, any>) => (r.depends_on ?? []) as string[];

describe("stack wiring: the tracking server waits for what its pods need", () => {
  it.each(["dev", "prod"])("%s: Deployment, migration Job and gc CronJob depend on the DB Secret and the Pod Identity association", (name) => {
    const json = synthJson(envConfig(name));
    const [secret] = Object.keys(resourcesOf(json, "kubernetes_secret_v1")).filter((k) => k.startsWith("backend_store"));
    const [association] = Object.keys(resourcesOf(json, "aws_eks_pod_identity_association"));
    expect(secret).toBeDefined();
    expect(association).toBeDefined();
    const workloads = [
      ...Object.values(resourcesOf(json, "kubernetes_deployment_v1")).filter((d) => d.metadata.labels["app.kubernetes.io/component"] === "tracking-server"),
      ...Object.values(resourcesOf(json, "kubernetes_job_v1")),
      ...Object.values(resourcesOf(json, "kubernetes_cron_job_v1")),
    ];
    expect(workloads).toHaveLength(3);
    for (const w of workloads) {
      expect(dependsOn(w)).toEqual(expect.arrayContaining([
        `kubernetes_secret_v1.${secret}`,
        `aws_eks_pod_identity_association.${association}`,
      ]));
    }
  });

  it("with IRSA there is no association to wait for", () => {
    const json = synthJson(envConfig("dev", { identity: { mode: "irsa" }, cluster: { oidcProviderArn: "arn:aws:iam::111111111111:oidc-provider/oidc.eks.eu-west-1.amazonaws.com/id/ABC" } }));
    expect(resourcesOf(json, "aws_eks_pod_identity_association")).toEqual({});
    const job = Object.values(resourcesOf(json, "kubernetes_job_v1"))[0];
    expect(dependsOn(job).some((d) => d.startsWith("kubernetes_secret_v1.backend_store"))).toBe(true);
  });
});

describe("platform namespace", () => {
  const labels = (name: string, overrides = {}) =>
    resourcesOf(synthJson(envConfig(name, overrides)), "kubernetes_namespace_v1").namespace.metadata.labels as Record<string, string>;

  it("enforces the restricted Pod Security Standard", () => {
    expect(labels("prod")["pod-security.kubernetes.io/enforce"]).toBe("restricted");
  });

  it("asks the AWS Load Balancer Controller for pod readiness gates with an ALB, not with Gateway API", () => {
    expect(labels("dev")["elbv2.k8s.aws/pod-readiness-gate-inject"]).toBe("enabled");
    const gateway = labels("dev", { ingress: { kind: "gateway-api", gatewayRef: { namespace: "gw", name: "public" } } });
    expect(gateway["elbv2.k8s.aws/pod-readiness-gate-inject"]).toBeUndefined();
  });
});
