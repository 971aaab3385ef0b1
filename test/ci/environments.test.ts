/**
 * The workflows' matrix comes from configuration: every configured environment, with its own region,
 * account and role ARNs, the ARNs being exactly those of the roles its stack creates. A fork that adds
 * a fourth environment (scripts/fork-config.mjs, the fork check's own edit) gets it planned and deployed
 * with nothing else edited.
 */
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { loadEnvironments, type EnvironmentConfig } from "../../config";
import { ciRoleArns } from "../../config/ci";
import { ciEnvironments, main, releasePath, type CiEnvironment } from "../../scripts/ci/environments";
import { resourcesOf, synthJson } from "../helpers/synth";
import { forkedConfiguration } from "../helpers/fork-config";

const run = (argv: string[], envs?: () => EnvironmentConfig[]) => {
  let out = "";
  const code = main(argv, envs, (s) => {
    out += s;
  });
  return { code, out };
};

describe("environments matrix (scripts/ci/environments.ts)", () => {
  const envs = loadEnvironments();

  test("one row per configured environment, in configuration order, with its own region, account and roles", () => {
    const { code, out } = run([]);
    expect(code).toBe(0);
    // The AWS rows: a fork's configuration may add environments of other clouds, whose rows test/ci/gcp-ci.test.ts
    // and azure-ci.test.ts check.
    const rows = JSON.parse(out).include.filter((r: { cloud: string }) => r.cloud === "aws");
    expect(rows.map((r: { env: string }) => r.env)).toEqual(envs.map((e) => e.name));
    for (const [i, e] of envs.entries()) {
      const arns = ciRoleArns(e);
      expect(rows[i]).toMatchObject({
        stack: `${e.project}-${e.name}`,
        region: e.aws.region,
        account: e.aws.accountId,
        production: e.production,
        planRoleArn: arns.plan,
        deployRoleArn: arns.deploy,
        imagePushRoleArn: arns.imagePush,
      });
      expect(rows[i].planRoleArn).toContain(`::${e.aws.accountId}:role/`);
      if (e.production) expect(rows[i].autoDeploy).toBe(false);
    }
  });

  test.each(loadEnvironments().map((e) => [e.name, e] as const))("%s: the ARNs printed are the roles its stack creates", (_n, e) => {
    const json = synthJson(e);
    const names = Object.values(resourcesOf(json, "aws_iam_role")).map((r) => r.name as string);
    const row = ciEnvironments([e])[0];
    for (const arn of [row.planRoleArn, row.deployRoleArn, row.imagePushRoleArn]) {
      expect(arn).toMatch(new RegExp(`^arn:aws[a-z-]*:iam::${e.aws.accountId}:role/`));
      expect(names).toContain(arn.split(":role/")[1]);
    }
  });

  test("--only picks one environment; an unknown one is refused with the list", () => {
    const first = loadEnvironments()[0].name;
    expect(JSON.parse(run(["--only", first]).out).include).toHaveLength(1);
    expect(run(["--only", "no-such-env"]).code).toBe(2);
  });

  test("--github-output writes the matrix for the next job", () => {
    const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "gh-out-")), "out");
    process.env.GITHUB_OUTPUT = file;
    try {
      expect(run(["--github-output"]).code).toBe(0);
    } finally {
      delete process.env.GITHUB_OUTPUT;
    }
    expect(fs.readFileSync(file, "utf8")).toMatch(/^matrix=\{"include":\[/);
  });

  test("an environment without ci, or with local state, is an error naming it: never silently left out", () => {
    const [e] = loadEnvironments();
    expect(() => ciEnvironments([{ ...e, ci: undefined }])).toThrow(`environment "${e.name}": field ci is missing`);
    expect(() => ciEnvironments([{ ...e, state: { backend: "local", path: "x.tfstate" } }])).toThrow(
      `environment "${e.name}": field state.backend = "local"`,
    );
    expect(run([], () => [{ ...e, ci: undefined }]).code).toBe(1);
  });

  test("release path: the registry is the one environment running the events service; production after the others", () => {
    const rows = ciEnvironments(loadEnvironments()).map((r, i) => ({ ...r, registry: i === 0, models: "m", production: i === 2 }));
    const p = releasePath(rows, "m");
    expect(p.registry.env).toBe(rows[0].env);
    expect(p.production.every((r) => r.production)).toBe(true);
    expect(p.stage.every((r) => !r.production)).toBe(true);
    expect(releasePath(rows, "other").stage).toEqual([]);
    expect(() =>
      releasePath(
        rows.map((r) => ({ ...r, registry: true })),
        "m",
      ),
    ).toThrow(/one environment running the events service/);
  });

  test("release path: an environment of another cloud serving the model is named to release by hand, never dropped quietly", () => {
    const aws = ciEnvironments(loadEnvironments()).map((r, i) => ({ ...r, registry: i === 0, models: "m" }));
    const gcp = { ...aws[1], env: "gcp-dev", cloud: "gcp" as const, registry: false, models: "m,n" } as unknown as CiEnvironment;
    const p = releasePath([...aws, gcp], "m");
    expect(p.byHand.map((r) => r.env)).toEqual(["gcp-dev"]);
    expect([...p.stage, ...p.production].map((r) => r.env)).not.toContain("gcp-dev");
    expect(releasePath([...aws, gcp], "other").byHand).toEqual([]);
  });
});

describe("fork: a fourth environment added to configuration, nothing else edited", () => {
  let forked: EnvironmentConfig[];
  beforeAll(() => {
    forked = forkedConfiguration().environments;
  });

  test("the plan and deploy matrix includes it, in its own account and region, with the fork's repository", () => {
    const shipped = loadEnvironments();
    expect(forked.length).toBe(shipped.length + 1);
    const added = forked.find((e) => !shipped.some((s) => s.name === e.name))!;
    const rows = ciEnvironments(forked);
    const row = rows.find((r) => r.env === added.name)!;
    expect(row).toMatchObject({ region: added.aws.region, account: added.aws.accountId, stack: `${added.project}-${added.name}` });
    expect(row.planRoleArn).toBe(`arn:aws:iam::${added.aws.accountId}:role/${added.project}-${added.name}-ci-plan`);
    expect(new Set(rows.map((r) => r.account)).size).toBe(new Set(forked.map((e) => e.aws.accountId)).size);
    // Every environment, the added one included, trusts the one repository the configuration names.
    expect(new Set(forked.map((e) => e.ci?.repository)).size).toBe(1);
    expect(added.ci?.repository).toBe(
      shipped[0].ci?.repository === "example-org/mlflow-platform" ? "acme/ml-platform" : shipped[0].ci?.repository,
    );
  });
});
