/**
 * The tracking server's guard (runtime/src/mlflow_platform_guard.py): an ASGI middleware around MLflow's
 * own app that
 * - refuses (403) a request addressed to the public hostname without an `X-Forwarded-Email` in an allowed
 *   domain: oauth2-proxy 7.15 skips its domain check for a bearer token without an e-mail claim (with
 *   neither `email` nor `sub` the request passed), so the identity is checked where nothing bypasses it;
 * - keeps MLflow's webhook API for the platform: read-only through the proxy, and a webhook may only post to
 *   the registry events service (`webhookUrls`), so the relaxed SSRF settings the in-cluster receiver needs
 *   cannot be used to send registry events anywhere else;
 * - replaces the body of every 5xx with a generic message and a reference (the original goes to the
 *   server's log), and turns a 5xx caused by a missing stored object into 404: MLflow 3.17 answers a
 *   missing artifact with 500 and a message naming the bucket, prefix and account id.
 *
 * It runs inside the official MLflow image, which does not contain the platform's runtime package: the
 * file travels in a ConfigMap, mounted with a `*.dist-info` entry point (`mlflow.app` group) on
 * PYTHONPATH, and the server starts with `mlflow server --app-name platform-guard`. The e2e runs the same
 * command with the same files (from the synthesized ConfigMap). The ConfigMap itself: constructs/tracking-server/guard.ts.
 *
 * With teams (constructs/access), the same ConfigMap also carries the access module
 * (runtime/src/mlflow_platform_access.py: MLflow's authorization function and the sync Job's command) and the
 * dist-info declares a second app, `platform-auth`: MLflow's basic-auth app with workspaces, inside the guard.
 * Without teams the files are exactly what they were, so nothing rolls.
 */
import { createHash } from "crypto";
import * as fs from "fs";
import * as path from "path";
import type { EnvVar, MountedFile } from "../core/command-types";
import { PropError } from "../core/prop-error";

/** `mlflow server --app-name` value: the entry point the dist-info below declares. */
export const TRACKING_GUARD_APP_NAME = "platform-guard";
/**
 * `mlflow server --app-name` value with teams: MLflow's auth app with workspaces inside the guard, inside the
 * access module's layer (identity headers, protected promotions), built by the access module's factory.
 */
export const TRACKING_AUTH_APP_NAME = "platform-auth";
/** The factory behind {@link TRACKING_AUTH_APP_NAME}, in the access module. */
const TRACKING_AUTH_APP_FACTORY = "create_app";
/** Python module name of the guard (the file name in the ConfigMap). */
export const TRACKING_GUARD_MODULE = "mlflow_platform_guard";
/** Python module name of the access module (teams only): `authenticate` and the `sync` command. */
export const ACCESS_MODULE = "mlflow_platform_access";
/** Where the ConfigMap is mounted; put on PYTHONPATH. */
export const TRACKING_GUARD_DIR = "/opt/mlflow-platform/python";
/** Name of the Pod volume holding the guard. */
export const TRACKING_GUARD_VOLUME = "platform-guard";
const DIST_INFO = `${TRACKING_GUARD_MODULE}-1.0.0.dist-info`;

/** The guard's environment variables (read by `Settings.from_env` in the Python module). */
export const TRACKING_GUARD_ENV = {
  publicHosts: "MLFLOW_PLATFORM_PUBLIC_HOSTS",
  internalHosts: "MLFLOW_PLATFORM_INTERNAL_HOSTS",
  emailDomains: "MLFLOW_PLATFORM_EMAIL_DOMAINS",
  anyEmailDomain: "MLFLOW_PLATFORM_ANY_EMAIL_DOMAIN",
  workloadIdentities: "MLFLOW_PLATFORM_WORKLOAD_IDENTITIES",
  webhookUrls: "MLFLOW_PLATFORM_WEBHOOK_URLS",
} as const;

/** Name of the ConfigMap holding the guard, for the tracking server named `trackingServerName`. */
export function trackingGuardConfigMapName(trackingServerName: string): string {
  return `${trackingServerName}-guard`;
}

/** What the guard checks (see {@link trackingGuardEnv}). */
export interface TrackingGuardSettings {
  /** The ConfigMap holding the guard's files (see {@link trackingGuardConfigMapName}). */
  readonly configMapName: string;
  /** Host names that need an identity: the public hostname and its extra names. */
  readonly publicHosts: readonly string[];
  /** The Service's in-cluster names: the platform's own callers, admitted by the NetworkPolicy. */
  readonly internalHosts: readonly string[];
  /** E-mail domains an identity must belong to. */
  readonly allowedEmailDomains: readonly string[];
  /** Any e-mail domain (the named choice `auth.allowAnyEmailDomain`). @default false */
  readonly allowAnyEmailDomain?: boolean;
  /**
   * Exact identities admitted besides addresses: in-cluster workloads' service-account subjects, the same
   * list the proxy admits by their projected tokens (OAuth2ProxySettings.workloadIdentities). @default []
   */
  readonly workloadIdentities?: readonly string[];
  /**
   * The only destinations a webhook may have: the registry events service's receiver
   * (`registryEventsWebhookUrl(config)`) where it is on. @default [] (no webhook can be created)
   */
  readonly webhookUrls?: readonly string[];
}

function runtimeSource(module: string): string {
  const candidates = [
    path.join(__dirname, "..", "..", "runtime", "src", `${module}.py`),
    path.join(__dirname, "..", "..", "..", "runtime", "src", `${module}.py`),
  ];
  const found = candidates.find((c) => fs.existsSync(c));
  if (!found) throw new Error(`tracking guard: ${module}.py not found (looked in ${candidates.join(", ")})`);
  const source = fs.readFileSync(found, "utf8");
  // Terraform would read these as interpolation or template directives inside the ConfigMap's data.
  if (source.includes("${") || source.includes("%{"))
    throw new Error(`tracking guard: ${found} contains "\${" or "%{", which Terraform would interpret`);
  return source;
}

/** What the guard's ConfigMap carries besides the guard. */
export interface TrackingGuardFileOptions {
  /** Teams are on: the access module and the `platform-auth` entry point. @default false */
  readonly access?: boolean;
}

/** The guard's files: ConfigMap key, path below {@link TRACKING_GUARD_DIR}, content. */
export function trackingGuardFiles(options: TrackingGuardFileOptions = {}): { key: string; path: string; content: string }[] {
  const access = options.access === true;
  return [
    { key: "module", path: `${TRACKING_GUARD_MODULE}.py`, content: runtimeSource(TRACKING_GUARD_MODULE) },
    ...(access ? [{ key: "access-module", path: `${ACCESS_MODULE}.py`, content: runtimeSource(ACCESS_MODULE) }] : []),
    { key: "metadata", path: `${DIST_INFO}/METADATA`, content: "Metadata-Version: 2.1\nName: mlflow-platform-guard\nVersion: 1.0.0\n" },
    {
      key: "entry-points",
      path: `${DIST_INFO}/entry_points.txt`,
      content:
        `[mlflow.app]\n${TRACKING_GUARD_APP_NAME} = ${TRACKING_GUARD_MODULE}:app\n` +
        (access ? `${TRACKING_AUTH_APP_NAME} = ${ACCESS_MODULE}:${TRACKING_AUTH_APP_FACTORY}\n` : ""),
    },
  ];
}

/** A digest of the guard's files: a pod annotation, so that a changed guard rolls the pods. */
export function trackingGuardChecksum(options: TrackingGuardFileOptions = {}): string {
  const h = createHash("sha256");
  for (const f of trackingGuardFiles(options)) h.update(`${f.key}\0${f.path}\0${f.content}\0`);
  return h.digest("hex").slice(0, 16);
}

/** The files a command reads (ContainerCommand.files), from the guard's ConfigMap `configMapName`. */
export function trackingGuardMountedFiles(configMapName: string, options: TrackingGuardFileOptions = {}): MountedFile[] {
  return trackingGuardFiles(options).map((f) => ({
    path: `${TRACKING_GUARD_DIR}/${f.path}`,
    configMapKeyRef: { name: configMapName, key: f.key },
  }));
}

/**
 * The guard's settings as environment variables: the public hostname needs an identity; the Service's
 * in-cluster names (and IP addresses, localhost) are the platform's own callers. PYTHONPATH is set by the
 * command (it also names other directories).
 */
export function trackingGuardEnv(g: TrackingGuardSettings): EnvVar[] {
  const anyDomain = g.allowAnyEmailDomain === true;
  for (const url of g.webhookUrls ?? []) {
    // The same rule the guard applies at start (Settings.from_env): an exact, absolute http(s) URL.
    if (!/^https?:\/\/[^\s/?#,]+\/[^\s?#,]*$/.test(url)) {
      throw new PropError("trackingGuardEnv", "webhookUrls", url, "absolute http(s) URLs with a path (the events service's receiver)");
    }
  }
  if (!anyDomain && g.allowedEmailDomains.length === 0) {
    throw new PropError(
      "trackingGuardEnv",
      "allowedEmailDomains",
      g.allowedEmailDomains,
      "at least one domain, or allowAnyEmailDomain: true as an explicit choice: the tracking server's guard would admit nobody",
    );
  }
  return [
    { name: TRACKING_GUARD_ENV.publicHosts, value: g.publicHosts.join(",") },
    { name: TRACKING_GUARD_ENV.internalHosts, value: g.internalHosts.join(",") },
    { name: TRACKING_GUARD_ENV.emailDomains, value: anyDomain ? "" : g.allowedEmailDomains.join(",") },
    { name: TRACKING_GUARD_ENV.anyEmailDomain, value: String(anyDomain) },
    ...((g.workloadIdentities ?? []).length > 0
      ? [{ name: TRACKING_GUARD_ENV.workloadIdentities, value: (g.workloadIdentities ?? []).join(",") }]
      : []),
    ...((g.webhookUrls ?? []).length > 0 ? [{ name: TRACKING_GUARD_ENV.webhookUrls, value: (g.webhookUrls ?? []).join(",") }] : []),
  ];
}

/** The Pod volume (ConfigMap items at their paths) and the container's mount. */
export function trackingGuardVolume(configMapName: string, options: TrackingGuardFileOptions = {}) {
  return {
    volume: {
      name: TRACKING_GUARD_VOLUME,
      configMap: {
        name: configMapName,
        items: trackingGuardFiles(options).map((f) => ({ key: f.key, path: f.path })),
        defaultMode: "0444",
      },
    },
    mount: { name: TRACKING_GUARD_VOLUME, mountPath: TRACKING_GUARD_DIR, readOnly: true },
  };
}
