/**
 * The Kubernetes version of the environment's (existing) EKS cluster. A fact about the cluster, kept
 * in configuration rather than as a constant because environments upgrade one at a time; the
 * Kubernetes API check (test/kube) runs a kube-apiserver of exactly this minor version, built by
 * scripts/install-tools.sh.
 */
import { z } from "zod";

/** Default minor version: the one tools/kube/go.mod builds. */
export const DEFAULT_KUBERNETES_VERSION = "1.34";

export const kubernetesVersionSchema = z
  .string()
  .regex(/^1\.\d{2}$/, { error: 'a Kubernetes minor version such as "1.34" (major.minor, no patch, no leading v)' })
  .default(DEFAULT_KUBERNETES_VERSION)
  .describe(
    'Kubernetes minor version of the cluster ("1.34"). The Kubernetes API check submits every object to a kube-apiserver of this version; all environments must target the same one while the check builds a single server.',
  );
