/**
 * The registry tool against the real tracking server behind the real proxy: three versions of
 * the example model with different quality, promotion through the gates the configuration declares
 * (rendered by config/registry.ts `registryGates`, the function behind `node dist/scripts/registry-gates.js`),
 * a second identity that approves, rollback and the recorded history. Every command is the CLI a
 * pipeline runs (`mlflow-platform registry ...`), as its exit code and its records show.
 */
import * as fs from "fs";
import * as path from "path";
import { registryGates } from "../../config/registry";
import type { DeepPartial } from "../../config/merge";
import type { EnvironmentInput } from "../../config/schema";
import { type Ctx, type TrainingResult, need } from "./context";
import { json } from "./lib/net";
import { tail } from "./lib/processes";
import { claims } from "./services/oidc";

/** The model the gated flow registers (the workflow's own registry step uses another name). */
export const GATED_MODEL = "iris-gated";
/** The approver: a second person, in the approvers group of the configuration. */
export const APPROVER = { email: "rita.reviewer@example.com", sub: "e2e-rita", groups: ["ml-approvers"] };

/**
 * The registry configuration of the end-to-end run, merged into the dev entry when the stack is
 * synthesized: an accuracy gate (absolute, and not worse than the current holder) on top of the
 * defaults (signature, input example, approval for production), and N = 2 for retention.
 */
export const E2E_REGISTRY: DeepPartial<EnvironmentInput>["registry"] = {
  gates: {
    staging: { metrics: [{ metric: "accuracy", threshold: 0.5 }] },
    production: { metrics: [{ metric: "accuracy", threshold: 0.8, notWorseThanCurrent: true }], requiredTags: { validation: "passed" } },
  },
  retention: { keepVersions: 2 },
};

const API = "/api/2.0/mlflow";

interface CliResult {
  code: number | null;
  output: string;
}

export async function registryGatesFlow(ctx: Ctx): Promise<void> {
  const { report } = ctx;
  const tools = need(ctx.tools, "tools");
  const config = need(ctx.config, "config");
  const oidc = need(ctx.oidc, "the OpenID provider");
  const alb = need(ctx.alb, "the load balancer stand-in").url;
  const janeToken = need(ctx.token, "the pipeline token");
  const first = need(ctx.training, "the training run");
  const jane = claims(janeToken).email as string;
  const ritaToken = await oidc.mint({ email: APPROVER.email, sub: APPROVER.sub, groups: APPROVER.groups });

  const gatesFile = path.join(ctx.runDir, "registry-gates.json");
  const gates = registryGates(config.registry);
  fs.writeFileSync(gatesFile, JSON.stringify(gates, null, 2));
  report.info(
    `gates rendered from configuration (registry section) into ${gatesFile}: production ${JSON.stringify(gates.defaults.production)}`,
  );

  const home = path.join(ctx.runDir, "pipeline-home");
  fs.mkdirSync(home, { recursive: true });
  const bin = path.dirname(tools.python);
  const env = (token: string) => ({
    PATH: `${bin}:/usr/local/bin:/usr/bin:/bin`,
    HOME: home,
    LANG: "C.UTF-8",
    MLFLOW_TRACKING_URI: alb,
    MLFLOW_TRACKING_TOKEN: token,
    MLFLOW_PLATFORM_REGISTRY_GATES: gatesFile,
  });
  let n = 0;
  const cli = async (token: string, ...args: string[]): Promise<CliResult> => {
    const name = `registry-${String(++n).padStart(2, "0")}-${args[0]}`;
    const r = await ctx.procs.run(name, [path.join(bin, "mlflow-platform"), "registry", ...args], {
      env: env(token),
      cwd: home,
      timeoutMs: 180_000,
    });
    return r;
  };
  const last = (out: string) => out.trim().split("\n").slice(-3).join(" / ").slice(0, 400);
  const api = <T = any>(endpoint: string, q: Record<string, string>) =>
    json<T>(`${alb}${API}/${endpoint}?${new URLSearchParams(q)}`, { method: "GET", headers: { Authorization: `Bearer ${janeToken}` } });
  const versionOf = async (v: string) => (await api("model-versions/get", { name: GATED_MODEL, version: v })).model_version;
  const modelNow = async () => (await api("registered-models/get", { name: GATED_MODEL })).registered_model;
  const aliasMap = (m: any): Record<string, string> => Object.fromEntries((m.aliases ?? []).map((a: any) => [a.alias, String(a.version)]));
  const historyOf = (m: any) =>
    (m.tags ?? [])
      .filter((t: any) => t.key.startsWith("platform.history."))
      .sort((a: any, b: any) => a.key.localeCompare(b.key))
      .map((t: any) => JSON.parse(t.value));

  // ── Three versions of different quality: the workflow's first run, a starved one, another good one ──
  const trainRun = async (label: string, args: string[]): Promise<TrainingResult> => {
    const out = path.join(ctx.runDir, `training-${label}.json`);
    const r = await ctx.procs.run(
      `train-${label}`,
      [tools.python, path.join(ctx.repoRoot, "examples/train.py"), ...args, "--output", out],
      { env: { ...env(janeToken), GIT_SHA: "e2e" }, cwd: ctx.repoRoot, timeoutMs: 240_000 },
    );
    if (r.code !== 0)
      throw new Error(`examples/train.py (${label}) exited ${r.code}:\n${tail(path.join(ctx.procs.logDir, `train-${label}.log`))}`);
    return JSON.parse(fs.readFileSync(out, "utf8")) as TrainingResult;
  };
  const worse = await trainRun("worse", ["--lr", "0.0001", "--epochs", "1"]);
  const other = await trainRun("other", ["--lr", "0.02", "--epochs", "40"]);
  // The better of the two good runs is promoted second, so "not worse than the current holder" holds.
  const [goodA, goodB] = [first, other].sort((a, b) => a.accuracy - b.accuracy);
  report.info(
    `accuracy: ${first.accuracy.toFixed(3)} (lr 0.05, 30 epochs), ${worse.accuracy.toFixed(3)} (lr 0.0001, 1 epoch), ${other.accuracy.toFixed(3)} (lr 0.02, 40 epochs)`,
  );

  const versions: Record<string, string> = {};
  for (const [label, t] of [
    ["goodA", goodA],
    ["worse", worse],
    ["goodB", goodB],
  ] as const) {
    const r = await cli(
      janeToken,
      "register",
      "--model",
      GATED_MODEL,
      "--run-id",
      t.run_id,
      "--artifact-path",
      "model",
      "--tag",
      "validation=passed",
      "--description",
      `e2e ${label}, accuracy ${t.accuracy.toFixed(3)}`,
    );
    const m = /version (\d+)/.exec(r.output);
    if (r.code !== 0 || !m) throw new Error(`register ${label} exited ${r.code}: ${last(r.output)}`);
    versions[label] = m[1];
  }
  const again = await cli(
    janeToken,
    "register",
    "--model",
    GATED_MODEL,
    "--run-id",
    goodA.run_id,
    "--artifact-path",
    "model",
    "--tag",
    "validation=passed",
    "--description",
    `e2e goodA, accuracy ${goodA.accuracy.toFixed(3)}`,
  );
  const all =
    (
      await json<any>(`${alb}${API}/model-versions/search?${new URLSearchParams({ filter: `name='${GATED_MODEL}'` })}`, {
        headers: { Authorization: `Bearer ${janeToken}` },
      })
    ).model_versions ?? [];
  report.check(
    "three versions registered through the proxy; registering again changes nothing",
    all.length === 3 && again.code === 0 && /nothing changed/.test(again.output),
    `versions ${JSON.stringify(versions)}; second register: exit ${again.code}, "${last(again.output)}"; ${all.length} versions`,
  );
  const v1 = await versionOf(versions.goodA);
  const regBy = (v1.tags ?? []).find((t: any) => t.key === "platform.registered_by")?.value;
  report.check(
    "the registrant is the identity of the pipeline's token",
    regBy === jane,
    `platform.registered_by=${regBy}, token email ${jane}`,
  );

  // ── First holder of production: approved by a second person, promoted by the pipeline ──
  const selfApprove = await cli(janeToken, "approve", "--model", GATED_MODEL, "--version", versions.goodA, "--to", "production");
  report.check(
    "the registrant cannot approve her own version (bad input, exit 2)",
    selfApprove.code === 2,
    `exit ${selfApprove.code}: ${last(selfApprove.output)}`,
  );
  // Four eyes compares people: the same address written otherwise, from a second account of the provider.
  const variant = jane.replace(/^./, (c) => c.toUpperCase()).replace(/\.(.)/, (_m, c: string) => `.${c.toUpperCase()}`);
  const variantToken = await oidc.mint({ email: variant, sub: "e2e-jane-second-account", groups: APPROVER.groups });
  const variantApprove = await cli(variantToken, "approve", "--model", GATED_MODEL, "--version", versions.goodA, "--to", "production");
  report.check(
    "nor can she under a case variant of her address from another account (same person after normalization, exit 2)",
    variantApprove.code === 2 && /second person/.test(variantApprove.output),
    `${variant} (sub e2e-jane-second-account, in ${APPROVER.groups.join(", ")}): exit ${variantApprove.code}: ${last(variantApprove.output)}`,
  );
  // A version registered outside the tool (the REST API directly): nobody is recorded as its registrant.
  const outside = `${GATED_MODEL}-outside`;
  const rest = (endpoint: string, body: Record<string, unknown>) =>
    json<any>(`${alb}${API}/${endpoint}`, { method: "POST", headers: { Authorization: `Bearer ${janeToken}` }, body });
  await rest("registered-models/create", { name: outside });
  const outsideVersion = String(
    (
      await rest("model-versions/create", {
        name: outside,
        source: goodA.model_uri,
        run_id: goodA.run_id,
        ...(goodA.model_id ? { model_id: goodA.model_id } : {}),
        tags: [{ key: "validation", value: "passed" }],
      })
    ).model_version.version,
  );
  const outsideApprove = await cli(ritaToken, "approve", "--model", outside, "--version", outsideVersion, "--to", "production");
  report.check(
    "a version registered outside the tool cannot be approved: its registrant is unknown (exit 2)",
    outsideApprove.code === 2 && /no recorded registrant/.test(outsideApprove.output),
    `${outside} version ${outsideVersion} created through REST: approve by ${APPROVER.email}: exit ${outsideApprove.code}: ${last(outsideApprove.output)}`,
  );
  const a1 = await cli(ritaToken, "approve", "--model", GATED_MODEL, "--version", versions.goodA, "--to", "production");
  const p1 = await cli(janeToken, "promote", "--model", GATED_MODEL, "--version", versions.goodA, "--to", "production");
  if (a1.code !== 0 || p1.code !== 0)
    throw new Error(`first promotion: approve exit ${a1.code} (${last(a1.output)}), promote exit ${p1.code} (${last(p1.output)})`);
  report.pass(
    `version ${versions.goodA} (accuracy ${goodA.accuracy.toFixed(3)}) approved by ${APPROVER.email} and promoted to production by ${jane}`,
    last(p1.output),
  );

  // ── The worse version: refused by the metric gate ──
  const p2 = await cli(janeToken, "promote", "--model", GATED_MODEL, "--version", versions.worse, "--to", "production");
  const h2 = historyOf(await modelNow());
  const d2 = h2[h2.length - 1];
  const failed2 = (d2?.gates ?? []).filter((g: any) => g.result === "fail").map((g: any) => g.gate);
  const v2 = await versionOf(versions.worse);
  const tag2 = (v2.tags ?? []).find((t: any) => t.key === `platform.decision.${String(d2?.seq).padStart(6, "0")}`);
  report.check(
    "promoting the worse version is refused by the metric gate (exit 3)",
    p2.code === 3 && d2?.result === "refused" && d2?.version === versions.worse && failed2.includes("metric:accuracy"),
    `exit ${p2.code}; decision #${d2?.seq}: ${d2?.result} by ${d2?.by}, failed gates ${failed2.join(", ")}: ${(d2?.gates ?? []).find((g: any) => g.gate === "metric:accuracy")?.detail}`,
  );
  report.check(
    "the refusal is recorded on the version too (gate, result, who, when)",
    tag2 !== undefined && JSON.parse(tag2.value).result === "refused",
    tag2 ? `${tag2.key} = ${tag2.value.slice(0, 200)}...` : "no platform.decision tag on the version",
  );

  // ── A good version without approval: refused; with approval from a second identity: promoted ──
  const p3 = await cli(janeToken, "promote", "--model", GATED_MODEL, "--version", versions.goodB, "--to", "production");
  const h3 = historyOf(await modelNow());
  const d3 = h3[h3.length - 1];
  const failed3 = (d3?.gates ?? []).filter((g: any) => g.result === "fail").map((g: any) => g.gate);
  report.check(
    "a good version without approval is refused by the approval gate (exit 3)",
    p3.code === 3 && d3?.result === "refused" && failed3.join(",") === "approval",
    `exit ${p3.code}; decision #${d3?.seq}: failed ${failed3.join(", ")}; passed ${(d3?.gates ?? [])
      .filter((g: any) => g.result === "pass")
      .map((g: any) => g.gate)
      .join(", ")}`,
  );
  const a3 = await cli(ritaToken, "approve", "--model", GATED_MODEL, "--version", versions.goodB, "--to", "production");
  const p4 = await cli(janeToken, "promote", "--model", GATED_MODEL, "--version", versions.goodB, "--to", "production");
  const m4 = await modelNow();
  const al4 = aliasMap(m4);
  const [newHolder, oldHolder] = [await versionOf(versions.goodB), await versionOf(versions.goodA)];
  report.check(
    "with a second identity's approval it is promoted: alias and stage moved, the previous holder archived",
    a3.code === 0 &&
      p4.code === 0 &&
      al4.production === versions.goodB &&
      newHolder.current_stage === "Production" &&
      oldHolder.current_stage === "Archived" &&
      al4["production-previous"] === versions.goodA,
    `approve exit ${a3.code}, promote exit ${p4.code}; aliases ${JSON.stringify(al4)}; stages v${versions.goodB} ${newHolder.current_stage}, v${versions.goodA} ${oldHolder.current_stage}`,
  );
  const p5 = await cli(janeToken, "promote", "--model", GATED_MODEL, "--version", versions.goodB, "--to", "production");
  const h5 = historyOf(await modelNow());
  report.check(
    "promoting it again changes nothing",
    p5.code === 0 && h5.length === historyOf(m4).length && /nothing changed/.test(p5.output),
    `exit ${p5.code}: ${last(p5.output)}`,
  );

  // ── Rollback ──
  const r1 = await cli(janeToken, "rollback", "--model", GATED_MODEL, "--to", "production");
  const m6 = await modelNow();
  const al6 = aliasMap(m6);
  const [back, out] = [await versionOf(versions.goodA), await versionOf(versions.goodB)];
  report.check(
    "rollback restores the previous holder (alias and stage)",
    r1.code === 0 && al6.production === versions.goodA && back.current_stage === "Production" && out.current_stage === "Archived",
    `exit ${r1.code}; aliases ${JSON.stringify(al6)}; stages v${versions.goodA} ${back.current_stage}, v${versions.goodB} ${out.current_stage}`,
  );
  const r2 = await cli(janeToken, "rollback", "--model", GATED_MODEL, "--to", "production");
  report.check(
    "a second rollback changes nothing",
    r2.code === 0 &&
      historyOf(await modelNow()).length === historyOf(m6).length &&
      aliasMap(await modelNow()).production === versions.goodA,
    `exit ${r2.code}: ${last(r2.output)}`,
  );

  // ── Status: who holds what, and the whole history ──
  const st = await cli(janeToken, "status", "--model", GATED_MODEL, "--json");
  const start = st.output.indexOf("{\n");
  const status = start >= 0 ? JSON.parse(st.output.slice(start, st.output.lastIndexOf("}") + 1)) : undefined;
  const steps = (status?.history ?? []).map((e: any) => `${e.action}:${e.result}:v${e.version}${e.target ? `->${e.target}` : ""}:${e.by}`);
  const expected = [
    `register:registered:v${versions.goodA}:${jane}`,
    `register:registered:v${versions.worse}:${jane}`,
    `register:registered:v${versions.goodB}:${jane}`,
    `approve:approved:v${versions.goodA}->production:${APPROVER.email}`,
    `promote:promoted:v${versions.goodA}->production:${jane}`,
    `promote:refused:v${versions.worse}->production:${jane}`,
    `promote:refused:v${versions.goodB}->production:${jane}`,
    `approve:approved:v${versions.goodB}->production:${APPROVER.email}`,
    `promote:promoted:v${versions.goodB}->production:${jane}`,
    `rollback:rolled-back:v${versions.goodA}->production:${jane}`,
  ];
  report.check(
    "status shows the aliases and the whole history, in order",
    st.code === 0 && JSON.stringify(steps) === JSON.stringify(expected) && status?.aliases?.production === versions.goodA,
    `exit ${st.code}; aliases ${JSON.stringify(status?.aliases)}; history:\n    ${steps.join("\n    ")}`,
  );
}
