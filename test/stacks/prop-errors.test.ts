/**
 * Every prop a construct of the stack can refuse has an entry in the field map of the mapping that builds
 * it from configuration (stacks/prop-errors.ts finds the field there), every entry names a prop the
 * construct has, and every field an entry names exists in the configuration schema. The props a
 * construct can refuse are read from its source (test/helpers/prop-scan.ts); a refusal whose prop is
 * computed is listed below by hand.
 */
import * as fs from "fs";
import * as path from "path";
import type { z } from "zod";
import { environmentSchema } from "../../config/schema";
import { fieldOfProp, type PropFieldMap } from "../../constructs/core/prop-error";
import { stackFieldMaps } from "../../stacks/prop-errors";
import { fixtureEnvironments } from "../helpers/fixture-environments";
import { DYNAMIC, refusedProps } from "../helpers/prop-scan";
import { EVERY_OPTION_NAME } from "../fixtures/environments";

const ROOT = path.join(__dirname, "..", "..");
const config = fixtureEnvironments().find((e) => e.name === EVERY_OPTION_NAME)!;
const maps = stackFieldMaps(config);
const model = Object.keys(config.serving.models)[0];
const perModel = (prefix: string) => `${prefix}_${model.replace(/-/g, "_")}`;

// The WorkloadRole a construct is made of ("Default" child: its errors carry the parent's path).
const ROLE = "constructs/core/workload-role.ts";
const KEY = "constructs/core/kms-key-policy.ts";
const CRON = "constructs/core/api-client-cron-job.ts";

/**
 * Each construct of the stack: the sources whose refusals carry its path, and the props of refusals the
 * scan cannot read (computed where the error is raised).
 */
const CONSTRUCTS: Record<
  string,
  { readonly sources: readonly string[]; readonly dynamic: readonly string[]; readonly types?: readonly string[] }
> = {
  artifact_store: { sources: ["constructs/artifact-store/index.ts", KEY], dynamic: [] },
  backend_store: { sources: ["constructs/backend-store/index.ts", KEY], dynamic: ["backupWindow", "maintenanceWindow"] },
  tracking_identity: { sources: ["constructs/tracking-server/identity.ts", ROLE], dynamic: ["mode", "oidcProviderArn"] },
  workload_boundary: { sources: ["constructs/core/permissions-boundary.ts"], dynamic: [] },
  registry_events: { sources: ["constructs/registry-events/index.ts"], dynamic: ["podLabels", "trackingServer.podLabels"] },
  tracking_server: { sources: ["constructs/tracking-server/index.ts"], dynamic: ["image", "version"] },
  "tracking_server/access": { sources: ["constructs/access/index.ts"], dynamic: [] },
  // The policy builder (pure, called by the tracking server's mapping) names its errors after itself.
  accessPolicy: {
    sources: ["constructs/access/policy.ts"],
    dynamic: [
      "teams.name",
      "teams.workspace",
      "teams.groups",
      "teams.defaultPermission",
      "teams.approversGroup",
      "defaultWorkspace.groups",
      "releaseIdentities",
    ],
  },
  model_retention: {
    sources: ["constructs/model-retention/index.ts", CRON, ROLE],
    dynamic: ["artifactPrefix", "identityMode", "oidcProviderArn"],
  },
  training: { sources: ["constructs/training/index.ts"], dynamic: [] },
  "training/role": { sources: [ROLE], dynamic: ["mode", "oidcProviderArn"] },
  auth_proxy: { sources: ["constructs/auth-proxy/index.ts"], dynamic: ["drainSeconds", "loadBalancerDeregistrationDelaySeconds"] },
  load_balancer_controller: {
    sources: ["constructs/load-balancer-controller/index.ts", ROLE],
    dynamic: ["identityMode", "oidcProviderArn"],
  },
  ingress: { sources: ["constructs/ingress/index.ts"], dynamic: [] },
  monitoring: {
    sources: ["constructs/monitoring/index.ts", "constructs/monitoring/rules.ts", "constructs/monitoring/model-serving.ts", ROLE],
    dynamic: [
      "trackingServer.serviceLabels",
      "authProxy.serviceLabels",
      "registryEvents.service.serviceLabels",
      "cloudWatch.identityMode",
      "cloudWatch.oidcProviderArn",
      "grafana.sso.authUrl",
      "grafana.sso.tokenUrl",
      "grafana.sso.userInfoUrl",
      "grafana.sso.issuerUrl",
    ],
  },
  argo_rollouts: { sources: ["constructs/argo-rollouts/index.ts"], dynamic: [] },
  model_api: { sources: ["constructs/model-endpoint/api-gateway.ts", KEY], dynamic: [] },
  network_policies: { sources: ["constructs/network-policies/index.ts"], dynamic: ["workloads"] },
  ci_roles: { sources: ["constructs/ci-roles/index.ts"], dynamic: [] },
  [perModel("model")]: {
    sources: ["constructs/model-endpoint/index.ts", "constructs/model-endpoint/inference-log.ts", KEY],
    dynamic: [
      "limits.maxConcurrency",
      "limits.maxBodyBytes",
      "limits.callerBurst",
      "limits.requestTimeoutSeconds",
      "limits.bodyTimeoutSeconds",
      "limits.maxUploadsPerCaller",
    ],
    types: ["constructs/model-endpoint/delivery.ts", "constructs/model-endpoint/analysis.ts"],
  },
  [perModel("model_gateway")]: { sources: ["constructs/model-endpoint/gateway.ts"], dynamic: [] },
  [perModel("drift")]: {
    sources: ["constructs/drift-job/index.ts", CRON, ROLE],
    dynamic: ["logPrefix", "identityMode", "oidcProviderArn"],
  },
};

/** Every prop `id` can refuse: read from its sources, plus the computed ones. */
function refusable(id: string): string[] {
  const c = CONSTRUCTS[id];
  return [...refusedProps(c.sources), ...c.dynamic].filter((p) => p !== DYNAMIC);
}

/** Whether `field` (dotted, a model's key in place of "*") is a field of the configuration schema. */
function isConfigField(field: string): boolean {
  const unwrap = (t: z.ZodType): z.ZodType[] => {
    const def = (t as unknown as { _zod: { def: Record<string, unknown> & { type: string } } })._zod.def;
    switch (def.type) {
      case "optional":
      case "default":
      case "prefault":
      case "nullable":
      case "readonly":
      case "catch":
      case "nonoptional":
        return unwrap(def.innerType as z.ZodType);
      case "pipe":
        return [...unwrap(def.in as z.ZodType), ...unwrap(def.out as z.ZodType)];
      case "union":
        return (def.options as z.ZodType[]).flatMap(unwrap);
      default:
        return [t];
    }
  };
  let current: z.ZodType[] = [environmentSchema];
  for (const key of field.replace(/\*/g, model).split(".")) {
    current = current.flatMap(unwrap).flatMap((t) => {
      const def = (t as unknown as { _zod: { def: Record<string, unknown> & { type: string } } })._zod.def;
      if (def.type === "object") {
        const shape = def.shape as Record<string, z.ZodType>;
        return key in shape ? [shape[key]] : [];
      }
      if (def.type === "record") return [def.valueType as z.ZodType];
      return [];
    });
    if (current.length === 0) return false;
  }
  return true;
}

/** Whether `prop` (dotted) names a prop the construct's sources declare (`readonly <name>` at every step). */
function declared(id: string, prop: string): boolean {
  const src = [
    ...CONSTRUCTS[id].sources,
    ...(CONSTRUCTS[id].types ?? []),
    "constructs/core/contracts.ts",
    "constructs/auth-proxy/oauth2-proxy-command.ts",
  ]
    .map((f) => fs.readFileSync(path.join(ROOT, f), "utf8"))
    .join("\n");
  return prop.split(".").every((segment) => new RegExp(`readonly ${segment}\\??:`).test(src));
}

describe("every refusal of a construct reaches the user as a configuration field", () => {
  it("covers every construct the every-option stack maps (the commands' maps and other models' aside)", () => {
    const others = Object.keys(config.serving.models)
      .slice(1)
      .map((m) => m.replace(/-/g, "_"));
    const ids = Object.keys(maps).filter((id) => !/Command$/.test(id) && !others.some((m) => id.endsWith(`_${m}`)));
    expect(ids.sort()).toEqual(Object.keys(CONSTRUCTS).sort());
  });

  it.each(Object.keys(CONSTRUCTS))("%s: every prop it can refuse is mapped (a field, or null: set by the stack)", (id) => {
    const unmapped = refusable(id).filter((prop) => fieldOfProp(maps[id], prop) === undefined);
    expect(unmapped).toEqual([]);
  });

  it.each(Object.keys(CONSTRUCTS))("%s: every prop its map lists is one the construct has", (id) => {
    const refused = new Set(refusable(id));
    const unknown = Object.keys(maps[id]).filter((prop) => !refused.has(prop) && !declared(id, prop));
    expect(unknown).toEqual([]);
  });

  it.each(Object.entries(maps))("%s: every field its map names is a configuration field", (_id, map: PropFieldMap) => {
    const unknown = Object.values(map).filter((field): field is string => field !== null && !isConfigField(field));
    expect(unknown).toEqual([]);
  });
});
