/**
 * Records a deployment on the model version in MLflow's registry (REST, pipeline OIDC token):
 *
 *   node dist/scripts/ci/record-deployment.js record   --model iris --version 3 --env staging --digest sha256:... [--run-url URL]
 *   node dist/scripts/ci/record-deployment.js previous --model iris --env staging     # what a rollback returns to
 *   node dist/scripts/ci/record-deployment.js rolled-back --model iris --version 3 --env staging [--run-url URL]
 *
 * `record`: the tag `platform.deployed.<env>` = {"digest", "at", "run"} on the version, the alias
 * `deployed-<env>` moves to it and the version that held it gets `deployed-<env>-previous`.
 * `previous`: the version holding `deployed-<env>-previous` and the digest recorded on it.
 * `rolled-back`: tags the failed version `platform.rolled-back.<env>` and puts `deployed-<env>` back on
 * the previous version (consuming `-previous`, so a second rollback does nothing).
 */
import { flag, mlflowApi, run } from "./cli";

export const deployedAlias = (env: string) => `deployed-${env}`;
export const previousAlias = (env: string) => `deployed-${env}-previous`;
export const deployedTag = (env: string) => `platform.deployed.${env}`;

type Api = <T>(method: "GET" | "POST" | "DELETE", endpoint: string, body?: Record<string, unknown>) => Promise<T>;
interface MV {
  version: string;
  tags?: { key: string; value: string }[];
}

async function aliasHolder(api: Api, model: string, alias: string): Promise<MV | undefined> {
  try {
    return (await api<{ model_version: MV }>("GET", "registered-models/alias", { name: model, alias })).model_version;
  } catch (err) {
    if ((err as { status?: number }).status === 404 || /RESOURCE_DOES_NOT_EXIST|INVALID_PARAMETER_VALUE/.test((err as Error).message))
      return undefined;
    throw err;
  }
}

export async function record(
  api: Api,
  o: { model: string; version: string; env: string; digest: string; runUrl?: string; now?: Date },
): Promise<{ previous?: string }> {
  const holder = await aliasHolder(api, o.model, deployedAlias(o.env));
  await api("POST", "model-versions/set-tag", {
    name: o.model,
    version: o.version,
    key: deployedTag(o.env),
    value: JSON.stringify({ digest: o.digest, at: (o.now ?? new Date()).toISOString(), run: o.runUrl ?? "" }),
  });
  if (holder && holder.version !== o.version) {
    await api("POST", "registered-models/alias", { name: o.model, alias: previousAlias(o.env), version: holder.version });
  }
  await api("POST", "registered-models/alias", { name: o.model, alias: deployedAlias(o.env), version: o.version });
  return { previous: holder && holder.version !== o.version ? holder.version : undefined };
}

export async function previous(api: Api, o: { model: string; env: string }): Promise<{ version: string; digest: string } | undefined> {
  const mv = await aliasHolder(api, o.model, previousAlias(o.env));
  if (!mv) return undefined;
  const tag = mv.tags?.find((t) => t.key === deployedTag(o.env));
  if (!tag)
    throw new Error(`version ${mv.version} holds @${previousAlias(o.env)} but has no ${deployedTag(o.env)} tag: no digest to return to`);
  return { version: mv.version, digest: (JSON.parse(tag.value) as { digest: string }).digest };
}

export async function rolledBack(
  api: Api,
  o: { model: string; version: string; env: string; runUrl?: string; now?: Date },
): Promise<{ restored?: string }> {
  await api("POST", "model-versions/set-tag", {
    name: o.model,
    version: o.version,
    key: `platform.rolled-back.${o.env}`,
    value: JSON.stringify({ at: (o.now ?? new Date()).toISOString(), run: o.runUrl ?? "" }),
  });
  const prev = await aliasHolder(api, o.model, previousAlias(o.env));
  if (!prev) return {};
  await api("POST", "registered-models/alias", { name: o.model, alias: deployedAlias(o.env), version: prev.version });
  await api("DELETE", "registered-models/alias", { name: o.model, alias: previousAlias(o.env) });
  return { restored: prev.version };
}

export async function main(
  argv: readonly string[],
  env: NodeJS.ProcessEnv = process.env,
  out: (s: string) => void = (s) => process.stdout.write(s),
): Promise<number> {
  const [cmd] = argv;
  const model = flag(argv, "--model");
  const target = flag(argv, "--env");
  const version = flag(argv, "--version");
  const digest = flag(argv, "--digest");
  const uri = env.MLFLOW_TRACKING_URI;
  const usage =
    "usage: record-deployment record|previous|rolled-back --model <name> --env <env> [--version <n>] [--digest sha256:<hex>] [--run-url <url>]";
  if (
    !uri ||
    !model ||
    !target ||
    !["record", "previous", "rolled-back"].includes(cmd) ||
    (cmd !== "previous" && !version) ||
    (cmd === "record" && !/^sha256:[a-f0-9]{64}$/.test(digest ?? ""))
  ) {
    process.stderr.write(`${usage}\n(MLFLOW_TRACKING_URI and MLFLOW_TRACKING_TOKEN from the environment)\n`);
    return 2;
  }
  const api: Api = (method, endpoint, body) => mlflowApi(uri, env.MLFLOW_TRACKING_TOKEN, method, endpoint, body);
  const runUrl = flag(argv, "--run-url");
  const result =
    cmd === "record"
      ? await record(api, { model, version: version!, env: target, digest: digest!, runUrl })
      : cmd === "previous"
        ? ((await previous(api, { model, env: target })) ?? null)
        : await rolledBack(api, { model, version: version!, env: target, runUrl });
  out(`${JSON.stringify(result)}\n`);
  return 0;
}

if (require.main === module) run("record-deployment", () => main(process.argv.slice(2)));
