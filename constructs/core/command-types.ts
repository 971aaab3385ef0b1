/**
 * A container's command as one pure value: what Kubernetes runs and what the end-to-end harness runs
 * for real. Secret values are references, never literals.
 */

/** One environment variable, as in a Kubernetes container spec. */
export type EnvVar =
  | { readonly name: string; readonly value: string }
  | { readonly name: string; readonly secretKeyRef: { readonly name: string; readonly key: string } }
  | { readonly name: string; readonly configMapKeyRef: { readonly name: string; readonly key: string } }
  | { readonly name: string; readonly fieldRef: { readonly fieldPath: string } };

/** A file the container expects, mounted from a Secret or ConfigMap key. */
export interface MountedFile {
  /** Absolute path inside the container. */
  readonly path: string;
  readonly secretKeyRef?: { readonly name: string; readonly key: string };
  readonly configMapKeyRef?: { readonly name: string; readonly key: string };
}

export interface ContainerCommand {
  /** Image with an exact tag or digest. */
  readonly image: string;
  /** Entrypoint (Kubernetes `command`). */
  readonly command: readonly string[];
  /** Arguments (Kubernetes `args`); may reference env vars as `$(NAME)`. */
  readonly args: readonly string[];
  /** Environment, in order (a value may reference an earlier variable as `$(NAME)`). */
  readonly env: readonly EnvVar[];
  /** Files read from mounted Secrets or ConfigMaps. */
  readonly files?: readonly MountedFile[];
  /** Container ports by name. */
  readonly ports?: Readonly<Record<string, number>>;
}
