/**
 * A connectivity model of Kubernetes NetworkPolicies (networking.k8s.io/v1 semantics), computed from a
 * synthesized stack's `kubernetes_network_policy_v1` resources: is a flow from a pod or an address to a
 * pod or an address, on a port, allowed?
 *
 * - A pod is isolated for egress (ingress) when at least one policy of its namespace selects it and
 *   lists "Egress" ("Ingress") in its policy types; an isolated pod's flow is allowed when any rule of
 *   any such policy matches the peer and the port. Egress and ingress must both allow a pod-to-pod flow.
 * - A peer with a namespace selector and a pod selector matches pods in matching namespaces with
 *   matching labels (AND); a pod selector alone matches pods of the policy's namespace; an ipBlock
 *   matches addresses in its CIDR and not in `except`, pod addresses included (with the VPC CNI, pods
 *   have VPC addresses: the model is conservative and lets an ipBlock of the VPC match them).
 * - A rule without peers matches every peer; without ports, every port. Protocol defaults to TCP.
 * Named ports and endPort are refused (the stack uses neither): the model would have to guess.
 */
import type { TfJson } from "./synth";

export type Labels = Readonly<Record<string, string>>;
export interface PodEnd {
  readonly namespace: string;
  readonly labels: Labels;
  readonly ip: string;
}
export interface AddressEnd {
  readonly ip: string;
}
export type End = PodEnd | AddressEnd;

interface Selector {
  match_labels?: Record<string, string>;
  match_expressions?: { key: string; operator: string; values?: string[] }[];
}
interface PeerJson {
  pod_selector?: Selector;
  namespace_selector?: Selector;
  ip_block?: { cidr: string; except?: string[] };
}
interface RuleJson {
  from?: PeerJson[];
  to?: PeerJson[];
  ports?: { port?: string; protocol?: string; end_port?: number }[];
}
export interface PolicyJson {
  metadata: { name: string; namespace: string };
  spec: { pod_selector: Selector; policy_types?: string[]; ingress?: RuleJson[]; egress?: RuleJson[] };
}

const list = <T>(v: T | T[] | undefined): T[] => (v === undefined ? [] : Array.isArray(v) ? v : [v]);

/** Every NetworkPolicy of the stack. */
export function policiesOf(json: TfJson): PolicyJson[] {
  return Object.values((json.resource?.kubernetes_network_policy_v1 ?? {}) as Record<string, any>).map((p) => ({
    metadata: list(p.metadata)[0],
    spec: list(p.spec)[0],
  }));
}

function ipToInt(ip: string): number {
  const parts = ip.split(".").map(Number);
  if (parts.length !== 4 || parts.some((x) => !Number.isInteger(x) || x < 0 || x > 255)) throw new Error(`not an IPv4 address: ${ip}`);
  return ((parts[0] << 24) >>> 0) + (parts[1] << 16) + (parts[2] << 8) + parts[3];
}

/** Is `ip` in `cidr`? */
export function inCidr(ip: string, cidr: string): boolean {
  const [base, bits] = cidr.split("/");
  const n = Number(bits);
  const mask = n === 0 ? 0 : (~0 << (32 - n)) >>> 0;
  return (ipToInt(ip) & mask) >>> 0 === (ipToInt(base) & mask) >>> 0;
}

/** The `offset`-th address of `cidr` (for picking an address in a VPC). */
export function addressIn(cidr: string, offset: number): string {
  const [base] = cidr.split("/");
  const v = (ipToInt(base) + offset) >>> 0;
  return [v >>> 24, (v >>> 16) & 255, (v >>> 8) & 255, v & 255].join(".");
}

function selects(sel: Selector | undefined, labels: Labels): boolean {
  if (!sel) return true;
  for (const [k, v] of Object.entries(sel.match_labels ?? {})) if (labels[k] !== v) return false;
  for (const e of list(sel.match_expressions)) {
    const has = e.key in labels;
    const values = e.values ?? [];
    if (e.operator === "Exists" && !has) return false;
    if (e.operator === "DoesNotExist" && has) return false;
    if (e.operator === "In" && !(has && values.includes(labels[e.key]))) return false;
    if (e.operator === "NotIn" && has && values.includes(labels[e.key])) return false;
  }
  return true;
}

const isPod = (e: End): e is PodEnd => "namespace" in e;
const namespaceLabels = (ns: string): Labels => ({ "kubernetes.io/metadata.name": ns });

function peerMatches(peer: PeerJson, policyNamespace: string, other: End): boolean {
  if (peer.ip_block) {
    const b = peer.ip_block;
    return inCidr(other.ip, b.cidr) && !list(b.except).some((x) => inCidr(other.ip, x));
  }
  if (!isPod(other)) return false;
  const nsOk = peer.namespace_selector
    ? selects(peer.namespace_selector, namespaceLabels(other.namespace))
    : other.namespace === policyNamespace;
  return nsOk && selects(peer.pod_selector, other.labels);
}

function portMatches(rule: RuleJson, port: number, protocol: string): boolean {
  const ports = list(rule.ports);
  if (ports.length === 0) return true;
  return ports.some((p) => {
    if (p.end_port !== undefined) throw new Error("endPort is not modelled");
    if (p.port !== undefined && !/^\d+$/.test(String(p.port))) throw new Error(`named port ${p.port} is not modelled`);
    return (p.protocol ?? "TCP") === protocol && (p.port === undefined || Number(p.port) === port);
  });
}

function sideAllows(policies: PolicyJson[], pod: PodEnd, other: End, port: number, protocol: string, kind: "Ingress" | "Egress"): boolean {
  const selecting = policies.filter(
    (p) =>
      p.metadata.namespace === pod.namespace &&
      selects(p.spec.pod_selector, pod.labels) &&
      list(p.spec.policy_types ?? ["Ingress"]).includes(kind),
  );
  if (selecting.length === 0) return true;
  return selecting.some((p) =>
    list(kind === "Ingress" ? p.spec.ingress : p.spec.egress).some(
      (rule) =>
        portMatches(rule, port, protocol) &&
        (list(kind === "Ingress" ? rule.from : rule.to).length === 0 ||
          list(kind === "Ingress" ? rule.from : rule.to).some((peer) => peerMatches(peer, p.metadata.namespace, other))),
    ),
  );
}

/** Is a flow from `src` to `dst` on `port` allowed by `policies`? */
export function allowed(policies: PolicyJson[], src: End, dst: End, port: number, protocol: "TCP" | "UDP" = "TCP"): boolean {
  const egress = isPod(src) ? sideAllows(policies, src, dst, port, protocol, "Egress") : true;
  const ingress = isPod(dst) ? sideAllows(policies, dst, src, port, protocol, "Ingress") : true;
  return egress && ingress;
}

/** A readable name of an end, for test messages. */
export function describeEnd(e: End): string {
  return isPod(e) ? `${e.namespace}/${JSON.stringify(e.labels)}` : e.ip;
}
