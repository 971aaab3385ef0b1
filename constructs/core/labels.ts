/**
 * The Kubernetes labels the platform puts on its objects, defined once: the selector of a component's
 * pods, the labels of everything the stack manages, and the restricted Pod Security of a namespace.
 * Pure data (no cdktf): the command modules build their pod labels with it too.
 */

/**
 * A label value made from a longer name: at most 63 characters and not ending in '-' (what Kubernetes
 * accepts). Two long names cut to the same value select each other's pods: callers keep names short
 * enough to be distinct in their first 63 characters.
 */
export function labelValue(value: string): string {
  return value.slice(0, 63).replace(/-+$/, "");
}

/**
 * The labels selecting one component's pods: `app.kubernetes.io/name`, `instance` and `component`, in that
 * order. Stable across versions (a Deployment's selector is immutable), so never the version.
 */
export function podSelectorLabels(name: string, instance: string, component: string): Record<string, string> {
  return {
    "app.kubernetes.io/name": name,
    "app.kubernetes.io/instance": instance,
    "app.kubernetes.io/component": component,
  };
}

/** The labels of every object the stack manages for project `partOf`. */
export function managedLabels(partOf: string): Record<string, string> {
  return { "app.kubernetes.io/part-of": partOf, "app.kubernetes.io/managed-by": "cdktf" };
}

/** A namespace whose every pod must meet the "restricted" Pod Security Standard (at its latest version). */
export const RESTRICTED_POD_SECURITY: Readonly<Record<string, string>> = {
  "pod-security.kubernetes.io/enforce": "restricted",
  "pod-security.kubernetes.io/enforce-version": "latest",
};
