import { TerraformStack, Testing } from "cdktf";
import { KubernetesProvider } from "@cdktf/provider-kubernetes/lib/provider";
import { NetworkPolicies, type NetworkPoliciesProps } from "../../../constructs/network-policies";
import { PUBLIC_INTERNET, networkPoliciesProps } from "../../../constructs/network-policies/from-config";
import { gcPodLabels, migrationPodLabels, trackingServerPodLabels } from "../../../constructs/tracking-server";
import { trackingInstance } from "../../../constructs/tracking-server/from-config";
import { envConfig, resourcesOf, type TfJson } from "../../helpers/synth";

function synth(props: NetworkPoliciesProps): TfJson {
  const stack = new TerraformStack(Testing.app(), "test");
  new KubernetesProvider(stack, "kubernetes", {});
  new NetworkPolicies(stack, "np", props);
  return JSON.parse(Testing.synth(stack)) as TfJson;
}

const byName = (json: TfJson) =>
  Object.fromEntries(
    Object.values(resourcesOf(json, "kubernetes_network_policy_v1")).map((p) => [`${p.metadata.namespace}/${p.metadata.name}`, p]),
  );

describe("NetworkPolicies", () => {
  const json = synth({
    namespaces: ["mlflow", "serving"],
    workloads: [
      {
        name: "job-egress",
        namespace: "mlflow",
        podLabels: { app: "job" },
        egress: [
          { why: "db", peers: [{ cidr: "10.0.0.0/16" }], ports: [{ port: 5432 }] },
          { why: "scrapes", peers: [{ allNamespaces: true }] },
          {
            why: "peer",
            peers: [
              { namespace: "monitoring", podLabels: { app: "prometheus" } },
              { namespace: "mlflow", podLabels: {} },
            ],
            ports: [{ port: 53, protocol: "UDP" }],
          },
        ],
      },
    ],
  });
  const p = byName(json);

  it("denies ingress and egress by default in every namespace, with a DNS allow to kube-dns", () => {
    for (const ns of ["mlflow", "serving"]) {
      expect(p[`${ns}/default-deny`].spec).toEqual({ pod_selector: {}, policy_types: ["Ingress", "Egress"] });
      expect(p[`${ns}/allow-dns`].spec).toEqual({
        pod_selector: {},
        policy_types: ["Egress"],
        egress: [
          {
            to: [
              {
                namespace_selector: { match_labels: { "kubernetes.io/metadata.name": "kube-system" } },
                pod_selector: { match_labels: { "k8s-app": "kube-dns" } },
              },
            ],
            ports: [
              { port: "53", protocol: "UDP" },
              { port: "53", protocol: "TCP" },
            ],
          },
        ],
      });
    }
  });

  it("writes a workload's allows as one policy of the listed direction only", () => {
    expect(p["mlflow/job-egress"].spec).toEqual({
      pod_selector: { match_labels: { app: "job" } },
      policy_types: ["Egress"],
      egress: [
        { to: [{ ip_block: { cidr: "10.0.0.0/16" } }], ports: [{ port: "5432", protocol: "TCP" }] },
        { to: [{ namespace_selector: { match_expressions: [{ key: "kubernetes.io/metadata.name", operator: "Exists" }] } }] },
        {
          to: [
            {
              namespace_selector: { match_labels: { "kubernetes.io/metadata.name": "monitoring" } },
              pod_selector: { match_labels: { app: "prometheus" } },
            },
            { namespace_selector: { match_labels: { "kubernetes.io/metadata.name": "mlflow" } } },
          ],
          ports: [{ port: "53", protocol: "UDP" }],
        },
      ],
    });
  });

  it.each([
    [{ namespaces: [] }, /namespaces is \[\]: expected at least one namespace/],
    [{ namespaces: ["Bad_NS"] }, /namespaces\[0\] is "Bad_NS": expected a Kubernetes namespace name/],
    [
      { namespaces: ["a"], workloads: [{ name: "default-deny", namespace: "a", podLabels: { x: "y" }, egress: [] }] },
      /workloads\[0\]\.name is "default-deny"/,
    ],
    [
      { namespaces: ["a"], workloads: [{ name: "w", namespace: "a", podLabels: { x: "y" } }] },
      /workloads\[0\] is "w": expected ingress or egress rules/,
    ],
    [
      {
        namespaces: ["a"],
        workloads: [{ name: "w", namespace: "a", podLabels: { x: "y" }, egress: [{ why: "x", peers: [{ cidr: "10.0.0.0" }] }] }],
      },
      /egress\[0\]\.peers\[0\] is "10\.0\.0\.0": expected an IPv4 CIDR/,
    ],
    [
      {
        namespaces: ["a"],
        workloads: [{ name: "w", namespace: "a", podLabels: { x: "y" }, egress: [{ why: "x", ports: [{ port: 70000 }] }] }],
      },
      /ports\[0\] is 70000: expected a port from 1 to 65535/,
    ],
    [
      {
        namespaces: ["a"],
        workloads: [
          { name: "w", namespace: "a", podLabels: { x: "y" }, ingress: [] },
          { name: "w", namespace: "a", podLabels: { x: "y" }, ingress: [] },
        ],
      },
      /workloads\[1\]\.name is "w": expected a name not used twice/,
    ],
  ] as [NetworkPoliciesProps, RegExp][])("refuses bad props, naming the field: %#", (props, message) => {
    expect(() => synth(props)).toThrow(message);
  });
});

describe("networkPoliciesProps: the mapping from configuration", () => {
  const dev = envConfig("dev");
  const props = networkPoliciesProps(dev, { namespaces: ["mlflow", "monitoring"] });
  const w = (name: string) => props.workloads!.find((x) => x.name === name)!;

  it("names each job's pods by the labels their templates carry", () => {
    expect(w("tracking-server-egress").podLabels).toEqual(trackingServerPodLabels(trackingInstance(dev)));
    expect(w("db-migration-egress").podLabels).toEqual(migrationPodLabels(trackingInstance(dev)));
    expect(w("gc-egress").podLabels).toEqual(gcPodLabels(trackingInstance(dev)));
  });

  it("the migration Job reaches only the database; the internet rule never includes private or link-local ranges", () => {
    expect(w("db-migration-egress").egress).toEqual([expect.objectContaining({ ports: [{ port: 5432 }] })]);
    expect(PUBLIC_INTERNET.except).toEqual(expect.arrayContaining(["10.0.0.0/8", "169.254.0.0/16"]));
  });

  it("credentials from the Pod Identity agent only in pod-identity mode", () => {
    const has = (p: NetworkPoliciesProps) => JSON.stringify(p.workloads).includes("169.254.170.23/32");
    expect(has(props)).toBe(dev.identity.mode === "pod-identity");
    const irsa = envConfig("dev", {
      identity: { mode: "irsa" },
      cluster: { oidcProviderArn: "arn:aws:iam::111111111111:oidc-provider/oidc.eks.eu-west-1.amazonaws.com/id/ABCDEF0123456789" },
    });
    expect(has(networkPoliciesProps(irsa, { namespaces: ["mlflow"] }))).toBe(false);
  });

  it("monitoring allows only when the stack creates the monitoring namespace", () => {
    expect(props.workloads!.some((x) => x.namespace === "monitoring")).toBe(true);
    expect(networkPoliciesProps(dev, { namespaces: ["mlflow"] }).workloads!.some((x) => x.namespace === "monitoring")).toBe(false);
  });
});
