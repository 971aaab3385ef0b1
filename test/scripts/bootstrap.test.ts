/**
 * `npm run bootstrap -- <env>` (scripts/bootstrap.ts) against a stand-in AWS CLI and Terraform on PATH
 * (fake-aws.js, fake-terraform.js: they record every call and answer like the real ones from a state
 * folder). The real calls cannot run here; what is checked is the sequence, the arguments AWS needs, the
 * decisions (create only what is missing, refuse another account's credentials or bucket) and that a
 * second run changes nothing that exists.
 */
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { administeredTargets, main, stateBucketPolicy, synthStack, type BootstrapDeps } from "../../scripts/bootstrap";
import { envConfig } from "../helpers/synth";
import { stateLocation } from "../../config/state";
import type { AnyEnvironmentConfig } from "../../config";

const BIN = fs.mkdtempSync(path.join(os.tmpdir(), "bootstrap-bin-"));
fs.copyFileSync(path.join(__dirname, "fake-aws.js"), path.join(BIN, "aws"));
fs.copyFileSync(path.join(__dirname, "fake-terraform.js"), path.join(BIN, "terraform"));
fs.chmodSync(path.join(BIN, "aws"), 0o755);
fs.chmodSync(path.join(BIN, "terraform"), 0o755);

const OUTDIR = fs.mkdtempSync(path.join(os.tmpdir(), "bootstrap-out-"));
const dev = envConfig("dev");
const prod = envConfig("prod");

/** Synthesizes each configuration once for the whole file (the bootstrap reads the stack's JSON). */
const synthesized = new Map<string, string>();
const synth = (config: AnyEnvironmentConfig, outdir: string) => {
  const key = `${config.name}:${JSON.stringify(config.cloud === "aws" ? config.aws : config)}:${outdir}`;
  if (!synthesized.has(key)) synthesized.set(key, synthStack(config, outdir));
  return synthesized.get(key)!;
};

function bootstrap(args: string[], opts: { state?: string; env?: Record<string, string>; environments?: AnyEnvironmentConfig[] } = {}) {
  const state = opts.state ?? fs.mkdtempSync(path.join(os.tmpdir(), "bootstrap-state-"));
  const lines: string[] = [];
  const deps: BootstrapDeps = {
    env: { PATH: `${BIN}:${process.env.PATH}`, FAKE_AWS_STATE: state, FAKE_AWS_ACCOUNT: "111111111111", ...opts.env },
    log: (l) => lines.push(l),
    environments: () => opts.environments ?? [dev, prod],
    synth,
  };
  const code = main([...args, "--outdir", OUTDIR], deps);
  const logFile = path.join(state, "calls.log");
  const calls = fs.existsSync(logFile)
    ? fs
        .readFileSync(logFile, "utf8")
        .trim()
        .split("\n")
        .filter(Boolean)
        .map((l) => JSON.parse(l) as string[])
    : [];
  return { code, out: lines.join("\n"), calls, state };
}
const ops = (calls: string[][]) => calls.map((c) => `${c[0]} ${c[1]} ${c[2] ?? ""}`.trim());
const argOf = (call: string[], name: string) => call[call.indexOf(name) + 1];

describe("npm run bootstrap -- <env>", () => {
  const first = bootstrap(["dev", "--yes"]);
  const s = stateLocation(dev)!;

  test("in an empty account: checks, creates the state key and bucket, applies the administered resources, says what is left", () => {
    expect(first.code).toBe(0);
    expect(ops(first.calls)).toEqual([
      "aws sts get-caller-identity",
      "aws eks describe-cluster",
      "aws acm describe-certificate",
      "aws secretsmanager describe-secret",
      "aws s3api head-bucket",
      "aws kms describe-key",
      "aws kms create-key",
      "aws kms create-alias",
      "aws kms enable-key-rotation",
      "aws s3api create-bucket",
      "aws s3api put-public-access-block",
      "aws s3api put-bucket-ownership-controls",
      "aws s3api put-bucket-versioning",
      "aws s3api put-bucket-encryption",
      "aws s3api put-bucket-lifecycle-configuration",
      "aws s3api put-bucket-policy",
      "aws s3api put-bucket-tagging",
      `terraform -chdir=${path.join(OUTDIR, "stacks", "mlflow-dev")} init`,
      `terraform -chdir=${path.join(OUTDIR, "stacks", "mlflow-dev")} apply`,
    ]);
    expect(first.out).toMatch(/Left to do:\n1\. create the Kubernetes Secrets/);
    expect(first.out).toContain("npm run deploy -- mlflow-dev");
  });

  test("the state key: customer-managed, the bootstrap's alias, rotated; tagged so the deploy role cannot manage it", () => {
    const create = first.calls.find((c) => c[2] === "create-key")!;
    expect(argOf(create, "--region")).toBe(s.region);
    expect(create).toContain("TagKey=mlflow-platform/administered-by,TagValue=bootstrap");
    expect(create.some((a) => a.startsWith("TagKey=environment"))).toBe(false);
    expect(
      argOf(
        first.calls.find((c) => c[2] === "create-alias")!,
        "--alias-name",
      ),
    ).toBe("alias/mlflow-terraform-state");
    expect(
      argOf(
        first.calls.find((c) => c[2] === "enable-key-rotation")!,
        "--key-id",
      ),
    ).toMatch(/^arn:aws:kms:eu-west-1:111111111111:key\//);
  });

  test("the bucket: in this account and region, ACLs off, versioned, encrypted with the key, public access blocked, TLS only, no other account", () => {
    const create = first.calls.find((c) => c[2] === "create-bucket")!;
    expect(argOf(create, "--bucket")).toBe("example-org-terraform-state-111111111111");
    expect(argOf(create, "--create-bucket-configuration")).toBe("LocationConstraint=eu-west-1");
    expect(argOf(create, "--object-ownership")).toBe("BucketOwnerEnforced");
    for (const c of first.calls.filter((x) => x[1] === "s3api" && x[2].startsWith("put-")))
      expect([c[2], argOf(c, "--expected-bucket-owner")]).toEqual([c[2], "111111111111"]);
    const enc = JSON.parse(
      argOf(
        first.calls.find((c) => c[2] === "put-bucket-encryption")!,
        "--server-side-encryption-configuration",
      ),
    );
    expect(enc.Rules[0].ApplyServerSideEncryptionByDefault).toEqual({
      SSEAlgorithm: "aws:kms",
      KMSMasterKeyID: "arn:aws:kms:eu-west-1:111111111111:key/1234abcd-12ab-34cd-56ef-1234567890ab",
    });
    expect(
      argOf(
        first.calls.find((c) => c[2] === "put-public-access-block")!,
        "--public-access-block-configuration",
      ),
    ).toBe("BlockPublicAcls=true,IgnorePublicAcls=true,BlockPublicPolicy=true,RestrictPublicBuckets=true");
    expect(
      JSON.parse(
        argOf(
          first.calls.find((c) => c[2] === "put-bucket-policy")!,
          "--policy",
        ),
      ),
    ).toEqual(stateBucketPolicy(s));
    expect(stateBucketPolicy(s).Statement).toEqual([
      expect.objectContaining({ Sid: "TlsOnly", Effect: "Deny", Condition: { Bool: { "aws:SecureTransport": "false" } } }),
      expect.objectContaining({
        Sid: "OnlyThisAccount",
        Effect: "Deny",
        Condition: { StringNotEquals: { "aws:PrincipalAccount": "111111111111" } },
      }),
    ]);
  });

  test("applies exactly what only an administrator may: the CI roles, their policies and cluster access, the OIDC provider, the boundary, the namespaces", () => {
    const apply = first.calls.find((c) => c[0] === "terraform" && c.includes("apply"))!;
    expect(apply).toContain("-auto-approve");
    const targets = apply.filter((a) => a.startsWith("-target=")).map((a) => a.slice("-target=".length));
    const types = [...new Set(targets.map((t) => t.split(".")[0]))].sort();
    expect(types).toEqual([
      "aws_eks_access_entry",
      "aws_eks_access_policy_association",
      "aws_iam_openid_connect_provider",
      "aws_iam_policy",
      "aws_iam_role",
      "aws_iam_role_policy",
      "aws_iam_role_policy_attachment",
      "kubernetes_namespace_v1",
    ]);
    expect(targets.filter((t) => t.startsWith("aws_iam_role.")).length).toBe(3);
    expect(targets.some((t) => t.startsWith("aws_iam_policy.workload_boundary"))).toBe(true);
    expect(targets.some((t) => t.startsWith("aws_db_instance") || t.startsWith("helm_release"))).toBe(false);
  });

  test("a second run creates nothing (the key, alias and bucket exist) and puts every setting again", () => {
    const again = bootstrap(["dev", "--yes"], { state: first.state });
    expect(again.code).toBe(0);
    const second = again.calls.slice(first.calls.length);
    expect(ops(second).filter((o) => /create-|apply/.test(o) && !o.startsWith("terraform"))).toEqual([]);
    expect(ops(second)).toContain("aws s3api put-bucket-encryption");
    expect(again.out).toContain("ok: state key alias/mlflow-terraform-state exists");
    expect(again.out).toContain("ok: state bucket example-org-terraform-state-111111111111 exists in 111111111111");
  });

  test("credentials of another account: refused before anything is read or changed", () => {
    const r = bootstrap(["dev"], { env: { FAKE_AWS_ACCOUNT: "999999999999" } });
    expect(r.code).toBe(1);
    expect(r.out).toMatch(/the AWS credentials are for account 999999999999; environment "dev" lives in 111111111111 \(aws\.accountId\)/);
    expect(ops(r.calls)).toEqual(["aws sts get-caller-identity"]);
  });

  test("a bucket name another account owns: refused naming the field, no bucket created", () => {
    const r = bootstrap(["dev"], { env: { FAKE_AWS_BUCKET_ELSEWHERE: "1" } });
    expect(r.code).toBe(1);
    expect(r.out).toMatch(
      /environment "dev": field state\.bucket: the bucket "example-org-terraform-state-111111111111" exists but not in account 111111111111/,
    );
    expect(r.calls.some((c) => /^(create|put-|enable)/.test(c[2] ?? "") || c[0] === "terraform")).toBe(false);
  });

  test("a missing prerequisite: reported with how to fix it, nothing changed", () => {
    const r = bootstrap(["dev"], { env: { FAKE_AWS_NO_SECRET: "1", FAKE_AWS_CERT_STATUS: "PENDING_VALIDATION" } });
    expect(r.code).toBe(1);
    expect(r.out).toContain("prerequisites missing (nothing was changed");
    expect(r.out).toMatch(/the certificate of mlflow-dev\.example\.com is PENDING_VALIDATION, not ISSUED/);
    expect(r.out).toMatch(/the OIDC client secret: .*can't find the specified secret.* -> aws secretsmanager create-secret/);
    expect(r.calls.some((c) => /create|put-/.test(c[2] ?? ""))).toBe(false);
  });

  test("prod: its role for people (aws.assumeRoleArn) and that role's EKS access entry are prerequisites too", () => {
    const r = bootstrap(["prod", "--yes"], { env: { FAKE_AWS_ACCOUNT: "333333333333" } });
    expect(r.code).toBe(0);
    expect(r.calls.find((c) => c[2] === "get-role")).toContain("mlflow-deployer");
    expect(
      argOf(
        r.calls.find((c) => c[2] === "describe-access-entry")!,
        "--principal-arn",
      ),
    ).toBe("arn:aws:iam::333333333333:role/mlflow-deployer");
    const missing = bootstrap(["prod"], { env: { FAKE_AWS_ACCOUNT: "333333333333", FAKE_AWS_NO_ACCESS_ENTRY: "1" } });
    expect(missing.code).toBe(1);
    expect(missing.out).toMatch(
      /the EKS access entry of aws\.assumeRoleArn: .* -> aws eks create-access-entry --cluster-name ml-prod --principal-arn arn:aws:iam::333333333333:role\/mlflow-deployer && aws eks associate-access-policy/,
    );
  });

  test("a configured state key that does not exist: refused naming the field", () => {
    const withKey = envConfig("dev", {
      state: { kmsKeyArn: "arn:aws:kms:eu-west-1:111111111111:key/00000000-0000-0000-0000-00000000abcd" },
    });
    const r = bootstrap(["dev"], { environments: [withKey] });
    expect(r.code).toBe(1);
    expect(r.out).toMatch(
      /environment "dev": field state\.kmsKeyArn = "arn:aws:kms:eu-west-1:111111111111:key\/00000000-0000-0000-0000-00000000abcd": the key does not exist/,
    );
    expect(ops(r.calls)).not.toContain("aws kms create-key");
  });

  test("us-east-1: no LocationConstraint (S3 refuses one there)", () => {
    const east = envConfig("dev", {
      aws: { region: "us-east-1" },
      auth: { clientSecret: { source: "kubernetes", secretName: "oidc" } },
      ingress: { certificateArn: "arn:aws:acm:us-east-1:111111111111:certificate/00000000-0000-0000-0000-000000000001" },
    });
    const r = bootstrap(["dev", "--skip-checks"], { environments: [east] });
    expect(r.code).toBe(0);
    expect(r.calls.find((c) => c[2] === "create-bucket")).not.toContain("--create-bucket-configuration");
  });

  test("--dry-run prints the whole first-deploy sequence and runs nothing", () => {
    const r = bootstrap(["dev", "--dry-run"]);
    expect(r.code).toBe(0);
    expect(r.calls).toEqual([]);
    expect(r.out).toMatch(/would run aws kms create-key/);
    expect(r.out).toMatch(
      /would run aws s3api create-bucket --bucket example-org-terraform-state-111111111111 --region eu-west-1 --object-ownership BucketOwnerEnforced --create-bucket-configuration LocationConstraint=eu-west-1/,
    );
    expect(r.out).toMatch(/would run terraform -chdir=\S+ apply -input=false/);
  });

  test("bad arguments", () => {
    expect(bootstrap([]).code).toBe(2);
    expect(bootstrap(["nope"]).out).toMatch(/no environment "nope"; expected one of dev, prod/);
    const local = envConfig("dev", { state: { backend: "local", path: "x/{env}.tfstate" } });
    expect(bootstrap(["dev"], { environments: [local] }).out).toMatch(/field state\.backend = "local": expected "s3"/);
  });

  test("the administered stack is synthesized with every environment: a copying environment's deploy role gets the pull of its source (config/image-copies.ts)", () => {
    const model = {
      replicas: { min: 1, max: 2 },
      classNames: ["setosa", "versicolor", "virginica"],
      smokeTest: { row: [5.1, 3.5, 1.4, 0.2], expectLabel: "setosa" },
    };
    const serving = envConfig("prod", { serving: { models: { "iris-classifier": model } } });
    const seen: string[][] = [];
    const out = fs.mkdtempSync(path.join(os.tmpdir(), "bootstrap-copies-"));
    const deps: BootstrapDeps = {
      env: {
        PATH: `${BIN}:${process.env.PATH}`,
        FAKE_AWS_STATE: fs.mkdtempSync(path.join(os.tmpdir(), "bootstrap-state-")),
        FAKE_AWS_ACCOUNT: "333333333333",
      },
      log: () => undefined,
      environments: () => [dev, serving],
      synth: (config, outdir, environments) => {
        seen.push(environments.map((e) => e.name));
        return synthStack(config, outdir, environments);
      },
    };
    expect(main(["prod", "--yes", "--outdir", out], deps)).toBe(0);
    expect(seen).toEqual([["dev", "prod"]]);
    const stack = JSON.parse(fs.readFileSync(path.join(out, "stacks", "mlflow-prod", "cdk.tf.json"), "utf8"));
    const deploy = Object.values(stack.resource.aws_iam_role_policy as Record<string, { name: string; policy: string }>).find(
      (p) => p.name === "deploy",
    )!;
    expect(JSON.parse(deploy.policy).Statement).toContainEqual({
      Sid: "PullReleasedImagesFromTheirSource",
      Effect: "Allow",
      Action: ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"],
      Resource: ["arn:aws:ecr:eu-west-1:111111111111:repository/mlflow-dev/iris-classifier"],
    });
  });

  test("a stack without CI roles has nothing to bootstrap", () => {
    expect(() => administeredTargets({ resource: { aws_s3_bucket: { b: {} } } }, "s")).toThrow(/has no CI roles: add a ci section/);
  });
});
