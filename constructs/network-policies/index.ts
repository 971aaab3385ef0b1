/**
 * Default-deny networking for the namespaces the stack creates, and the allows each workload needs.
 *
 * For every namespace in `namespaces`:
 * - `default-deny`: selects every pod, denies all ingress and all egress that no other policy allows;
 * - `allow-dns`: every pod may ask the cluster DNS (the kube-dns pods, UDP and TCP 53), nothing else.
 * For every entry of `workloads`, one NetworkPolicy (`<name>`) selecting that workload's pods with the
 * ingress and/or egress it lists. NetworkPolicies add up: a flow is allowed when any policy selecting
 * the pod allows it, so a workload's own policy elsewhere (the tracking server's, the proxy's, the
 * events service's, a model endpoint's) keeps working unchanged inside the default deny.
 *
 * Enforced only where the cluster enforces NetworkPolicies (EKS: the VPC CNI with network policy support
 * on); the kubelet's probes from the pod's own node are allowed by that implementation.
 */
import type { ITerraformDependable } from "cdktf";
import { Construct } from "constructs";
import { NetworkPolicyV1, type NetworkPolicyV1Spec } from "@cdktf/provider-kubernetes/lib/network-policy-v1";
import { DNS_LABEL } from "../core/names";
import { labelSelectorProblem } from "../core/pod-spec";
import { PropError } from "../core/prop-error";

/** Pods of one namespace (selected by labels; `{}` selects every pod of it). */
export interface PodsPeer {
  readonly namespace: string;
  readonly podLabels: Readonly<Record<string, string>>;
}
/** Every pod of every namespace (Prometheus' scrapes). */
export interface AllPodsPeer {
  readonly allNamespaces: true;
}
/** Addresses (outside the cluster's pod selectors): a CIDR, minus `except`. */
export interface CidrPeer {
  readonly cidr: string;
  readonly except?: readonly string[];
}
export type Peer = PodsPeer | AllPodsPeer | CidrPeer;

/** One allow rule: from/to `peers` (every address when absent) on `ports` (every port when absent). */
export interface FlowRule {
  /** Why the flow exists (kept in the documentation and the tests' messages, not synthesized). */
  readonly why: string;
  readonly peers?: readonly Peer[];
  readonly ports?: readonly { readonly port: number; readonly protocol?: "TCP" | "UDP" }[];
}

/** The allows of one workload (its pods in its namespace). */
export interface WorkloadAllows {
  /** Name of the NetworkPolicy (a DNS label, unique in the namespace). */
  readonly name: string;
  readonly namespace: string;
  /** Labels of the workload's pods; `{}` means every pod of the namespace. */
  readonly podLabels: Readonly<Record<string, string>>;
  /** Ingress the workload accepts; absent: this policy adds none. */
  readonly ingress?: readonly FlowRule[];
  /** Egress the workload needs; absent: this policy adds none. */
  readonly egress?: readonly FlowRule[];
}

/** Props of {@link NetworkPolicies}. */
export interface NetworkPoliciesProps {
  /** Namespaces that get the default deny and the DNS allow: the ones the stack creates. Required. */
  readonly namespaces: readonly string[];
  /** The per-workload allows. @default [] */
  readonly workloads?: readonly WorkloadAllows[];
  /**
   * The cluster DNS every pod may query (port 53, UDP and TCP).
   * @default { namespace: "kube-system", podLabels: { "k8s-app": "kube-dns" } } (CoreDNS on EKS)
   */
  readonly dns?: PodsPeer;
  /** Labels of every policy. @default {} */
  readonly labels?: Readonly<Record<string, string>>;
  /** What the policies wait for: the namespaces they live in. @default [] */
  readonly dependsOn?: ITerraformDependable[];
}

/** CoreDNS on EKS (and kubeadm clusters): the `kube-dns` Service's pods. */
export const KUBE_DNS: PodsPeer = { namespace: "kube-system", podLabels: { "k8s-app": "kube-dns" } };
export const DEFAULT_DENY_POLICY = "default-deny";
/** The label Kubernetes puts on every namespace, with its name. */
export const NAMESPACE_NAME_LABEL = "kubernetes.io/metadata.name";
export const ALLOW_DNS_POLICY = "allow-dns";

const CIDR = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})\/(\d{1,2})$/;

function validate(scope: Construct, props: NetworkPoliciesProps): void {
  if (props.namespaces.length === 0)
    throw new PropError(scope, "namespaces", props.namespaces, "at least one namespace (those the stack creates)");
  for (const [i, ns] of props.namespaces.entries())
    if (!DNS_LABEL.test(ns)) throw new PropError(scope, `namespaces[${i}]`, ns, "a Kubernetes namespace name");
  const seen = new Set<string>();
  for (const [i, w] of (props.workloads ?? []).entries()) {
    const where = `workloads[${i}]`;
    if (!DNS_LABEL.test(w.name) || w.name === DEFAULT_DENY_POLICY || w.name === ALLOW_DNS_POLICY)
      throw new PropError(scope, `${where}.name`, w.name, `a DNS label other than ${DEFAULT_DENY_POLICY} and ${ALLOW_DNS_POLICY}`);
    if (seen.has(`${w.namespace}/${w.name}`))
      throw new PropError(scope, `${where}.name`, w.name, `a name not used twice in namespace ${w.namespace}`);
    seen.add(`${w.namespace}/${w.name}`);
    if (!DNS_LABEL.test(w.namespace)) throw new PropError(scope, `${where}.namespace`, w.namespace, "a Kubernetes namespace name");
    if (!w.ingress && !w.egress) throw new PropError(scope, where, w.name, "ingress or egress rules (a policy with neither adds nothing)");
    if (Object.keys(w.podLabels).length > 0 && labelSelectorProblem({ ...w.podLabels })) {
      throw new PropError(scope, `${where}.podLabels`, w.podLabels, `valid labels: it ${labelSelectorProblem({ ...w.podLabels })}`);
    }
    for (const [dir, rules] of [
      ["ingress", w.ingress],
      ["egress", w.egress],
    ] as const) {
      for (const [j, r] of (rules ?? []).entries()) {
        for (const [k, p] of (r.peers ?? []).entries()) {
          if ("cidr" in p) {
            for (const c of [p.cidr, ...(p.except ?? [])])
              if (!CIDR.test(c)) throw new PropError(scope, `${where}.${dir}[${j}].peers[${k}]`, c, 'an IPv4 CIDR such as "10.0.0.0/16"');
          } else if ("namespace" in p && !DNS_LABEL.test(p.namespace)) {
            throw new PropError(scope, `${where}.${dir}[${j}].peers[${k}].namespace`, p.namespace, "a Kubernetes namespace name");
          }
        }
        for (const [k, port] of (r.ports ?? []).entries()) {
          if (!Number.isInteger(port.port) || port.port < 1 || port.port > 65535)
            throw new PropError(scope, `${where}.${dir}[${j}].ports[${k}]`, port.port, "a port from 1 to 65535");
        }
      }
    }
  }
}

/** A peer in the kubernetes provider's shape. */
function peer(p: Peer) {
  if ("cidr" in p) return { ipBlock: { cidr: p.cidr, ...(p.except && p.except.length > 0 ? { except: [...p.except] } : {}) } };
  // Spelled out rather than `{}`: an empty selector block is easy to lose on the way to the API.
  if ("allNamespaces" in p) return { namespaceSelector: { matchExpressions: [{ key: NAMESPACE_NAME_LABEL, operator: "Exists" }] } };
  return {
    namespaceSelector: { matchLabels: { [NAMESPACE_NAME_LABEL]: p.namespace } },
    ...(Object.keys(p.podLabels).length > 0 ? { podSelector: { matchLabels: { ...p.podLabels } } } : {}),
  };
}

function ports(r: FlowRule) {
  return r.ports ? r.ports.map((p) => ({ port: String(p.port), protocol: p.protocol ?? "TCP" })) : undefined;
}

/** One egress rule in the kubernetes provider's shape (for a workload that writes its own NetworkPolicy). */
export function egressRule(r: FlowRule): Record<string, unknown> {
  return { ...(r.peers ? { to: r.peers.map(peer) } : {}), ...(r.ports ? { ports: ports(r) } : {}) };
}

export class NetworkPolicies extends Construct {
  /** Every NetworkPolicy this construct created, by `<namespace>/<name>`. */
  readonly policies: Record<string, NetworkPolicyV1> = {};

  constructor(scope: Construct, id: string, props: NetworkPoliciesProps) {
    super(scope, id);
    validate(this, props);
    const labels = { ...(props.labels ?? {}) };
    const dns = props.dns ?? KUBE_DNS;
    const add = (namespace: string, name: string, spec: NetworkPolicyV1Spec) => {
      this.policies[`${namespace}/${name}`] = new NetworkPolicyV1(this, `${namespace}_${name}`, {
        metadata: { name, namespace, labels },
        spec,
        dependsOn: props.dependsOn,
      });
    };
    for (const namespace of [...new Set(props.namespaces)]) {
      // No rule: nothing in, nothing out, unless another policy selecting the pod allows it.
      add(namespace, DEFAULT_DENY_POLICY, { podSelector: {}, policyTypes: ["Ingress", "Egress"] });
      add(namespace, ALLOW_DNS_POLICY, {
        podSelector: {},
        policyTypes: ["Egress"],
        egress: [
          {
            to: [peer(dns)],
            ports: [
              { port: "53", protocol: "UDP" },
              { port: "53", protocol: "TCP" },
            ],
          },
        ],
      });
    }
    for (const w of props.workloads ?? []) {
      const types = [...(w.ingress ? ["Ingress"] : []), ...(w.egress ? ["Egress"] : [])];
      add(w.namespace, w.name, {
        podSelector: Object.keys(w.podLabels).length > 0 ? { matchLabels: { ...w.podLabels } } : {},
        policyTypes: types,
        ...(w.ingress
          ? {
              ingress: w.ingress.map((r) => ({ ...(r.peers ? { from: r.peers.map(peer) } : {}), ...(r.ports ? { ports: ports(r) } : {}) })),
            }
          : {}),
        ...(w.egress ? { egress: w.egress.map(egressRule) } : {}),
      });
    }
  }
}
