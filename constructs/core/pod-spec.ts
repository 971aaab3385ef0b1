/**
 * Pieces of pod specs shared by every workload of the platform, so that "the same restricted security
 * context" is one definition, not several copies.
 */
import type { EnvVar } from "./command-types";

/** Pod-level security context meeting the "restricted" Pod Security Standard. */
export function restrictedPodSecurityContext(uid: string, options: { fsGroup?: boolean } = {}) {
  return {
    runAsNonRoot: true,
    runAsUser: uid,
    runAsGroup: uid,
    ...(options.fsGroup ? { fsGroup: uid } : {}),
    seccompProfile: { type: "RuntimeDefault" },
  };
}

/** Container-level security context: non-root, read-only root filesystem, no privilege, no capabilities. */
export function restrictedContainerSecurityContext(uid: string) {
  return {
    allowPrivilegeEscalation: false,
    privileged: false,
    readOnlyRootFilesystem: true,
    runAsNonRoot: true,
    runAsUser: uid,
    runAsGroup: uid,
    capabilities: { drop: ["ALL"] },
    seccompProfile: { type: "RuntimeDefault" },
  };
}

/** A container env entry in the kubernetes provider's shape, from a command's EnvVar. */
export function toK8sEnv(e: EnvVar) {
  if ("value" in e) return { name: e.name, value: e.value };
  if ("secretKeyRef" in e) return { name: e.name, valueFrom: { secretKeyRef: { name: e.secretKeyRef.name, key: e.secretKeyRef.key } } };
  if ("configMapKeyRef" in e)
    return { name: e.name, valueFrom: { configMapKeyRef: { name: e.configMapKeyRef.name, key: e.configMapKeyRef.key } } };
  return { name: e.name, valueFrom: { fieldRef: { fieldPath: e.fieldRef.fieldPath } } };
}

/** A container's resources in the provider's shape: CPU and memory requests, a memory limit, a CPU limit only when set. */
export function containerResources(r: {
  readonly requests: { readonly cpu: string; readonly memory: string };
  readonly limits: { readonly memory: string; readonly cpu?: string };
}) {
  return {
    requests: { cpu: r.requests.cpu, memory: r.requests.memory },
    limits: { memory: r.limits.memory, ...(r.limits.cpu ? { cpu: r.limits.cpu } : {}) },
  };
}

/** An HTTP GET probe on a named container port. `scheme` is written only when given. */
export function httpGetProbe(options: {
  readonly path: string;
  readonly port: string;
  readonly periodSeconds: number;
  readonly timeoutSeconds: number;
  readonly failureThreshold: number;
  readonly scheme?: "HTTP" | "HTTPS";
}) {
  return {
    httpGet: { path: options.path, port: options.port, ...(options.scheme ? { scheme: options.scheme } : {}) },
    periodSeconds: options.periodSeconds,
    timeoutSeconds: options.timeoutSeconds,
    failureThreshold: options.failureThreshold,
  };
}

/**
 * A topology spread constraint of one workload's pods (max skew 1). `matchLabelKeys` (e.g.
 * `["pod-template-hash"]`) counts only pods of the same revision during a rollout.
 */
export function topologySpread(
  topologyKey: string,
  whenUnsatisfiable: "DoNotSchedule" | "ScheduleAnyway",
  podLabels: Record<string, string>,
  matchLabelKeys?: string[],
) {
  return {
    maxSkew: 1,
    topologyKey,
    whenUnsatisfiable,
    labelSelector: [{ matchLabels: podLabels }],
    ...(matchLabelKeys ? { matchLabelKeys: [...matchLabelKeys] } : {}),
  };
}

/** Labels the Prometheus Operator puts on every Prometheus server pod it runs (its StatefulSet's selector). */
export const PROMETHEUS_OPERATOR_POD_LABELS: Readonly<Record<string, string>> = { "app.kubernetes.io/name": "prometheus" };

/**
 * A NetworkPolicy peer admitting only the Prometheus pods of one namespace: the namespace selector and
 * the pod selector in the same peer (AND), never the whole namespace.
 */
export function prometheusPeer(monitoringNamespace: string, prometheusPodLabels: Record<string, string>) {
  return {
    namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": monitoringNamespace } },
    podSelector: { matchLabels: { ...prometheusPodLabels } },
  };
}

/**
 * Checks labels meant to select pods: not empty (an empty selector selects every pod), keys and values
 * that Kubernetes accepts. Returns a problem, or undefined.
 */
export function labelSelectorProblem(labels: Record<string, string>): string | undefined {
  const entries = Object.entries(labels);
  if (entries.length === 0) return "must not be empty (an empty pod selector admits every pod of the namespace)";
  const key = /^([a-z0-9]([a-z0-9.-]{0,251}[a-z0-9])?\/)?[A-Za-z0-9]([A-Za-z0-9._-]{0,61}[A-Za-z0-9])?$/;
  const value = /^([A-Za-z0-9]([A-Za-z0-9._-]{0,61}[A-Za-z0-9])?)?$/;
  for (const [k, v] of entries) {
    if (!key.test(k)) return `has an invalid label key ${JSON.stringify(k)}`;
    if (typeof v !== "string" || !value.test(v)) return `has an invalid value ${JSON.stringify(v)} for ${k}`;
  }
  return undefined;
}
