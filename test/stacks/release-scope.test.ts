/**
 * A model release (a version and digest in config/releases/<env>.json, what the release pipeline commits)
 * changes only that model's own objects: its server, Services, autoscaler, policies, chart and drift job.
 * The platform's parts (the Argo Rollouts controller and its CRDs, the API Gateway with its authorizer,
 * stage, VPC link and load balancer, each configured model's route and target group, the network policies)
 * come with the platform deploy, so the first release installs nothing cluster-wide and a platform
 * deploy followed by a plan shows the serving layer.
 *
 * The comparison is of the plan-relevant JSON: every resource and data source (without cdktf's `//`
 * metadata), the outputs, the providers and the terraform block, for each environment the configuration
 * defines and the test fixture's every-option environment (SHIPPED), each model in turn.
 */
import type { EnvironmentConfig } from "../../config";
import { ConfigError } from "../../config/load";
import { TerraformDataSource, TerraformResource, Testing } from "cdktf";
import { MlflowStack } from "../../stacks/mlflow-stack";
import { configured, SHIPPED, synthJson, type TfJson } from "../helpers/synth";

const DIGEST = `sha256:${"ab".repeat(32)}`;

/** Address -> canonical JSON of everything Terraform plans from. */
function planRelevant(json: TfJson): Map<string, string> {
  const body = new Map<string, string>();
  for (const kind of ["resource", "data"] as const) {
    for (const [type, byName] of Object.entries(json[kind] ?? {})) {
      for (const [name, value] of Object.entries(byName)) {
        const rest = { ...(value as Record<string, unknown>) };
        delete rest["//"];
        body.set(`${kind === "data" ? "data." : ""}${type}.${name}`, JSON.stringify(rest));
      }
    }
  }
  for (const key of ["output", "provider", "terraform"] as const) body.set(key, JSON.stringify(json[key] ?? null));
  return body;
}

/** Address -> construct path (`<stack>/<construct id>/...`) of every resource and data source of the stack of `config`. */
function constructPaths(config: EnvironmentConfig): Map<string, string> {
  const stack = new MlflowStack(Testing.app(), config);
  const out = new Map<string, string>();
  for (const c of stack.node.findAll()) {
    if (c instanceof TerraformResource) out.set(`${c.terraformResourceType}.${c.friendlyUniqueId}`, c.node.path);
    if (c instanceof TerraformDataSource) out.set(`data.${c.terraformResourceType}.${c.friendlyUniqueId}`, c.node.path);
  }
  return out;
}

/** The construct ids of a model's own objects in the stack (stacks/mlflow-stack.ts). */
function ownConstructs(model: string): string[] {
  const id = model.replace(/-/g, "_");
  return [`model_${id}`, `drift_${id}`, `model_gateway_${id}`];
}

/** What changes when `model` gets a release in `config` (which may declare releases of other models). */
function releaseDiff(config: EnvironmentConfig, model: string): { changed: string[]; foreign: string[] } {
  const before = structuredClone(config);
  delete (before.serving.releases as Record<string, unknown>)[model];
  const a = planRelevant(synthJson(before));
  const b = planRelevant(synthJson(config));
  const changed = [...new Set([...a.keys(), ...b.keys()])].filter((k) => a.get(k) !== b.get(k)).sort();
  const paths = new Map([...constructPaths(before), ...constructPaths(config)]);
  const own = ownConstructs(model);
  const foreign = changed.filter((k) => !own.includes((paths.get(k) ?? "").split("/")[1]));
  return { changed, foreign };
}

/** The environment `env` with a release of `model` added (validated), or undefined when validation refuses one. */
function withRelease(env: string, model: string): EnvironmentConfig | undefined {
  try {
    return configured(env, { serving: { releases: { [model]: { version: "1", imageDigest: DIGEST } } } });
  } catch (err) {
    // A model validation refuses a release for (no smoke test for a blue-green release) cannot be released.
    if (err instanceof ConfigError) return undefined;
    throw err;
  }
}

const cases = SHIPPED.flatMap((env) => Object.keys(configured(env).serving.models).map((model) => [env, model] as const));

test("the environments serve models, so there is something to compare", () => {
  expect(cases.length).toBeGreaterThan(1);
});

describe.each(cases)("%s: a release of %s", (env, model) => {
  test("changes only the model's own objects, and does change them", () => {
    const config = withRelease(env, model);
    if (!config) return;
    const { changed, foreign } = releaseDiff(config, model);
    expect(foreign).toEqual([]);
    expect(changed.length).toBeGreaterThan(0);
  });
});

describe.each(SHIPPED.filter((e) => Object.keys(configured(e).serving.models).length > 0))("%s without any release", (env) => {
  const config = structuredClone(configured(env));
  config.serving.releases = {};
  const json = synthJson(config);

  test("already has the serving platform: the Rollouts controller (for Rollouts) and the API's route and target group of every configured model", () => {
    const releases = Object.values(json.resource?.helm_release ?? {}) as { name: string }[];
    if (config.serving.delivery.strategy !== "rollingUpdate" && config.serving.delivery.controller === "install") {
      expect(releases.map((r) => r.name)).toContain("argo-rollouts");
    }
    if (config.serving.exposure === "apiGateway") {
      const routes = Object.values(json.resource?.aws_apigatewayv2_route ?? {}).map((r) => (r as { route_key: string }).route_key);
      const groups = Object.keys(json.resource?.aws_lb_target_group ?? {});
      for (const model of Object.keys(config.serving.models)) {
        expect(routes).toContain(`POST /${model}/predict`);
        expect(groups.some((g) => g.includes(`tg_${model.replace(/-/g, "_")}`))).toBe(true);
      }
    }
  });
});
