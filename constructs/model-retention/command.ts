/**
 * The model retention job (`mlflow-platform retention run`) as one pure value, like `gcCommand`: the
 * CronJob of constructs/model-retention/index.ts runs it, and the end-to-end harness runs the very same value.
 *
 * It talks to the tracking server in-cluster (admitted by the tracking server's NetworkPolicy through
 * `modelRetentionPodLabels`), and to the artifact store with its own identity (mark objects under the artifact
 * prefix only: S3 object tags, Cloud Storage Custom-Time and metadata, Azure blob index tags).
 */
import type { ArtifactStoreContract } from "../core/contracts";
import { MLFLOW_ENV, type TrackingServerLocation, trackingServerAddress, trackingServerUrl } from "../tracking-server/mlflow-command";
import type { ContainerCommand } from "../core/command-types";
import { podSelectorLabels } from "../core/labels";

/** The retention settings (config/registry.ts's `registry.retention` is one). */
export interface RetentionSettings {
  readonly image?: string;
  readonly keepVersions: number;
  readonly servedVersions: readonly string[];
  readonly dryRun: boolean;
  /** Per-model exceptions, passed to the job as JSON. */
  readonly exceptions: Readonly<Record<string, unknown>>;
}

/** What the retention job reads of an environment (an EnvironmentConfig is one). */
export interface RetentionEnvironment extends TrackingServerLocation {
  readonly name: string;
  /** An AWS environment's region (the S3 client's); other clouds have none. */
  readonly aws?: { readonly region: string };
  readonly registry: { readonly retention: RetentionSettings };
}

/** Placeholder image of the runtime package until images/runtime is built and pushed. */
export const RUNTIME_IMAGE_DEFAULT = "ghcr.io/example-org/mlflow-platform-runtime:0.1.0";
/** The S3 object tag (Azure blob index tag, Cloud Storage metadata) the job writes; S3's and Azure's lifecycle rules filter on it. */
export const ARCHIVE_TAG = { key: "mlflow-platform-retention", value: "archive" } as const;
/** Writable scratch space (an emptyDir). */
export const RETENTION_TMP_DIR = "/tmp";

/** Labels selecting the retention CronJob's pods (the tracking server's NetworkPolicy admits them). */
export function modelRetentionPodLabels(config: Pick<RetentionEnvironment, "project" | "name">): Record<string, string> {
  return podSelectorLabels("mlflow", `${config.project}-${config.name}`, "model-retention");
}

/** `mlflow-platform retention run --keep N --artifacts-destination <the server's> [--served m/v]... [--dry-run]`. */
export function retentionCommand(inputs: {
  readonly config: RetentionEnvironment;
  readonly artifactStore: Pick<ArtifactStoreContract, "destinationUri">;
}): ContainerCommand {
  const { config, artifactStore } = inputs;
  const r = config.registry.retention;
  return {
    image: r.image ?? RUNTIME_IMAGE_DEFAULT,
    command: ["mlflow-platform"],
    args: [
      "retention",
      "run",
      "--keep",
      String(r.keepVersions),
      "--artifacts-destination",
      artifactStore.destinationUri,
      ...r.servedVersions.flatMap((v) => ["--served", v]),
      ...(r.dryRun ? ["--dry-run"] : []),
    ],
    env: [
      { name: "HOME", value: RETENTION_TMP_DIR },
      { name: "TMPDIR", value: RETENTION_TMP_DIR },
      { name: "PYTHONUNBUFFERED", value: "1" },
      { name: "MLFLOW_DISABLE_TELEMETRY", value: "true" },
      ...(config.aws ? [{ name: "AWS_DEFAULT_REGION", value: config.aws.region }] : []),
      { name: MLFLOW_ENV.trackingUri, value: trackingServerUrl(trackingServerAddress(config)) },
      { name: "MLFLOW_PLATFORM_RETENTION_EXCEPTIONS", value: JSON.stringify(r.exceptions) },
    ],
  };
}
