/**
 * AWS's own rules, written down with their sources (constructs/core/aws-limits.ts, http-api-rules.ts and
 * ecr-rules.ts), checked over every synthesized stack: the environments the
 * configuration defines and the every-option test environment. What AWS refuses at deploy time, or
 * reports as a change in every plan, fails here first.
 */
import { parameterGroupProblems } from "../../constructs/core/aws-limits";
import { AUTOSCALING_FREE_PERCENT, storageAutoscales } from "../../constructs/backend-store";
import { lifecyclePolicyProblems, releaseTag, ruleSelecting, type EcrLifecycleRule } from "../../constructs/core/ecr-rules";
import { requestParameterProblems } from "../../constructs/core/http-api-rules";
import { configured, resourcesOf, SHIPPED, synthJson } from "../helpers/synth";

const DIGEST = `sha256:${"0f".repeat(32)}`;

describe.each(SHIPPED)("stack %s", (env) => {
  const config = configured(env);
  const json = synthJson(config);

  test("every parameter group names only parameters whose engine default is recorded, none equal to it (no perpetual apply_method change)", () => {
    const groups = Object.values(resourcesOf(json, "aws_db_parameter_group"));
    expect(groups.length).toBeGreaterThan(0);
    for (const g of groups) expect(parameterGroupProblems(g.family, g.parameter ?? [])).toEqual([]);
  });

  test("every HTTP API integration's request mapping is one AWS accepts; the JWT issuer is the configured one exactly; the stage follows the routes it names", () => {
    for (const i of Object.values(resourcesOf(json, "aws_apigatewayv2_integration")))
      expect(requestParameterProblems(i.request_parameters ?? {})).toEqual([]);
    for (const a of Object.values(resourcesOf(json, "aws_apigatewayv2_authorizer")))
      expect(a.jwt_configuration.issuer).toBe(config.auth.issuerUrl);
    const routes = Object.entries(resourcesOf(json, "aws_apigatewayv2_route"));
    for (const stage of Object.values(resourcesOf(json, "aws_apigatewayv2_stage"))) {
      for (const setting of stage.route_settings ?? []) {
        const [address] = routes.find(([, r]) => r.route_key === setting.route_key) ?? [];
        expect([setting.route_key, address && (stage.depends_on ?? []).includes(`aws_apigatewayv2_route.${address}`)]).toEqual([
          setting.route_key,
          true,
        ]);
      }
    }
  });

  test("no alarm pages on missing data (a new instance has none), and the free-storage alarm sits below where storage autoscaling starts", () => {
    const alarms = Object.values(resourcesOf(json, "aws_cloudwatch_metric_alarm"));
    expect(alarms.length).toBeGreaterThan(0);
    for (const a of alarms)
      expect([a.alarm_name, a.treat_missing_data]).toEqual([a.alarm_name, expect.stringMatching(/^(notBreaching|missing)$/)]);
    const d = config.database;
    const storage = alarms.find((a) => a.metric_name === "FreeStorageSpace" && a.namespace === "AWS/RDS")!;
    const trigger = (d.allocatedStorageGb * 1024 ** 3 * AUTOSCALING_FREE_PERCENT) / 100;
    if (storageAutoscales(d.allocatedStorageGb, d.maxAllocatedStorageGb)) expect(storage.threshold).toBeLessThan(trigger);
  });

  test("what AWS returns is what the stack writes: KMS keys by ARN, no resource tag repeating a key of the provider's default_tags", () => {
    const defaults = Object.keys(((json.provider as any).aws[0].default_tags ?? [])[0]?.tags ?? {});
    expect(defaults.length).toBeGreaterThan(0);
    const KMS_FIELDS = ["kms_key_id", "kms_master_key_id", "kms_key", "performance_insights_kms_key_id", "kms_key_arn"];
    const kms: string[] = [];
    const visit = (v: unknown, key = ""): void => {
      if (Array.isArray(v)) v.forEach((x) => visit(x, key));
      else if (v && typeof v === "object") for (const [k, x] of Object.entries(v)) visit(x, k);
      else if (typeof v === "string" && KMS_FIELDS.includes(key)) kms.push(v);
    };
    for (const [type, byName] of Object.entries(json.resource ?? {})) {
      if (!type.startsWith("aws_")) continue;
      for (const [name, r] of Object.entries(byName)) {
        visit(r);
        const own = Object.keys(((r as Record<string, unknown>).tags ?? {}) as Record<string, string>);
        expect([`${type}.${name}`, own.filter((k) => defaults.includes(k))]).toEqual([`${type}.${name}`, []]);
      }
    }
    expect(kms.length).toBeGreaterThan(0);
    for (const k of kms) expect(k).toMatch(/^(\$\{aws_kms_key\.[^}]+\.arn\}|arn:aws[a-z-]*:kms:[a-z0-9-]+:\d{12}:key\/.+)$/);
  });

  test("every model repository's lifecycle policy is one ECR accepts and never selects a release's tag", () => {
    for (const p of Object.values(resourcesOf(json, "aws_ecr_lifecycle_policy"))) {
      const rules = JSON.parse(p.policy).rules as EcrLifecycleRule[];
      expect(lifecyclePolicyProblems(rules)).toEqual([]);
      expect(ruleSelecting(rules, [releaseTag("12", DIGEST)])).toBeUndefined();
    }
  });
});
