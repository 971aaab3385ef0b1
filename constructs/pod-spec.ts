/**
 * Pieces of pod specs shared by every workload of the platform, so that "the same restricted security
 * context" is one definition, not several copies.
 */
import type { EnvVar } from "./commands/types";

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
  if ("configMapKeyRef" in e) return { name: e.name, valueFrom: { configMapKeyRef: { name: e.configMapKeyRef.name, key: e.configMapKeyRef.key } } };
  return { name: e.name, valueFrom: { fieldRef: { fieldPath: e.fieldRef.fieldPath } } };
}
