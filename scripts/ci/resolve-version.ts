/**
 * Step 1 of the model release pipeline: which model version to release, read from MLflow's REST API
 * with the pipeline's OIDC token (MLFLOW_TRACKING_URI, MLFLOW_TRACKING_TOKEN; no static credential).
 *
 *   node dist/scripts/ci/resolve-version.js --model iris --version 3        # workflow_dispatch
 *   node dist/scripts/ci/resolve-version.js --model iris --alias staging    # by alias
 *   node dist/scripts/ci/resolve-version.js --event event.json               # repository_dispatch payload
 *
 * Prints JSON {release, model, version, runId, source, modelUri, reason}; `release` is false for an event
 * that starts no release (only a new version, or the tag `production-ready`, does). Exit 2 on bad input,
 * 1 when MLflow refuses or the version does not exist.
 */
import * as fs from "fs";
import { flag, mlflowApi, run } from "./cli";

/** The tag that asks for a release (besides a new version). */
export const RELEASE_TAG = "production-ready";

export interface Resolved {
  readonly release: boolean;
  readonly model: string;
  readonly version?: string;
  readonly runId?: string;
  readonly source?: string;
  readonly modelUri?: string;
  readonly reason: string;
}

/** What an event of the registry events service (client_payload of `mlflow.<kind>`) asks for. */
export function eventRequest(payload: Record<string, unknown>): { model: string; version?: string; reason: string } | { skip: string } {
  const kind = String(payload.event ?? "");
  const model = typeof payload.model === "string" ? payload.model : undefined;
  const version = payload.version == null ? undefined : String(payload.version);
  if (!model) return { skip: "the event names no model" };
  if (kind === "model_version.created" && version) return { model, version, reason: `new version ${version}` };
  if (kind === "model_version_tag.set" && payload.key === RELEASE_TAG && String(payload.value).toLowerCase() !== "false" && version) {
    return { model, version, reason: `version ${version} tagged ${RELEASE_TAG}` };
  }
  return { skip: `${kind || "an unknown event"} starts no release (only model_version.created and the tag ${RELEASE_TAG})` };
}

interface ModelVersion {
  name: string;
  version: string;
  run_id?: string;
  source?: string;
  status?: string;
}

export async function resolve(
  trackingUri: string,
  token: string | undefined,
  req: { model: string; version?: string; alias?: string; reason: string },
): Promise<Resolved> {
  const mv = req.alias
    ? (
        await mlflowApi<{ model_version: ModelVersion }>(trackingUri, token, "GET", "registered-models/alias", {
          name: req.model,
          alias: req.alias,
        })
      ).model_version
    : (
        await mlflowApi<{ model_version: ModelVersion }>(trackingUri, token, "GET", "model-versions/get", {
          name: req.model,
          version: req.version!,
        })
      ).model_version;
  if (mv.status && mv.status !== "READY")
    return { release: false, model: mv.name, version: mv.version, reason: `version ${mv.version} is ${mv.status}, not READY` };
  return {
    release: true,
    model: mv.name,
    version: mv.version,
    runId: mv.run_id,
    source: mv.source,
    modelUri: `models:/${mv.name}/${mv.version}`,
    reason: req.reason,
  };
}

export async function main(
  argv: readonly string[],
  env: NodeJS.ProcessEnv = process.env,
  out: (s: string) => void = (s) => process.stdout.write(s),
): Promise<number> {
  const trackingUri = env.MLFLOW_TRACKING_URI;
  if (!trackingUri) {
    process.stderr.write("resolve-version: MLFLOW_TRACKING_URI must be set (the tracking server's public URL)\n");
    return 2;
  }
  let req: { model: string; version?: string; alias?: string; reason: string };
  const eventFile = flag(argv, "--event");
  if (eventFile) {
    const e = JSON.parse(fs.readFileSync(eventFile, "utf8")) as Record<string, unknown>;
    const r = eventRequest((e.client_payload as Record<string, unknown> | undefined) ?? e);
    if ("skip" in r) {
      out(
        `${JSON.stringify({ release: false, model: String((e.client_payload as Record<string, unknown> | undefined)?.model ?? e.model ?? ""), reason: r.skip })}\n`,
      );
      return 0;
    }
    req = r;
  } else {
    const model = flag(argv, "--model");
    const version = flag(argv, "--version");
    const alias = flag(argv, "--alias");
    if (!model || (!version && !alias) || (version && !/^[1-9]\d*$/.test(version))) {
      process.stderr.write("usage: resolve-version (--model <name> (--version <n> | --alias <alias>) | --event <payload.json>)\n");
      return 2;
    }
    req = { model, version, alias, reason: version ? `version ${version} by hand` : `alias @${alias} by hand` };
  }
  out(`${JSON.stringify(await resolve(trackingUri, env.MLFLOW_TRACKING_TOKEN, req))}\n`);
  return 0;
}

if (require.main === module) run("resolve-version", () => main(process.argv.slice(2)));
