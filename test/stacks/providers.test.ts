import { configured, CONFIGURED_ONLY, envConfig, synthJson, SHIPPED, type TfJson } from "../helpers/synth";
import { buildApp } from "../../main";
import { loadAllEnvironments } from "../../config";
import { stackName, TERRAFORM_REQUIRED_VERSION } from "../../stacks/mlflow-stack";
import { PROVIDER_ROLE_VARIABLE } from "../../stacks/providers";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";

const provider = (json: TfJson, name: string) => {
  const list = json.provider?.[name];
  expect(list).toHaveLength(1);
  return list![0] as Record<string, any>;
};

describe.each(SHIPPED)("stack %s", (name) => {
  const config = configured(name);
  const json = synthJson(config);

  it("requires a Terraform that honours the S3 lock file (>= 1.10), and not the next major", () => {
    expect(json.terraform?.required_version).toBe(TERRAFORM_REQUIRED_VERSION);
    expect(TERRAFORM_REQUIRED_VERSION).toMatch(/^>= 1\.(1\d|[2-9]\d)\.\d+, < 2\.0\.0$/);
  });

  it("pins the AWS provider to the environment's account and region", () => {
    const aws = provider(json, "aws");
    expect(aws.allowed_account_ids).toEqual([config.aws.accountId]);
    expect(aws.region).toBe(config.aws.region);
  });

  it("tags every AWS resource with project, environment and managed-by, plus configured tags", () => {
    expect(provider(json, "aws").default_tags).toEqual([
      { tags: { ...config.tags, project: config.project, environment: name, "managed-by": "cdktf" } },
    ]);
  });

  it('assumes the configured role through an ephemeral variable (the pipelines set it to ""), and only then', () => {
    const aws = provider(json, "aws");
    expect(aws.assume_role).toBeUndefined();
    if (config.aws.assumeRoleArn) {
      expect((json.variable as any)[PROVIDER_ROLE_VARIABLE]).toEqual({
        type: "string",
        default: config.aws.assumeRoleArn,
        nullable: false,
        ephemeral: true,
        description: expect.any(String),
      });
      expect(aws.dynamic).toEqual({
        assume_role: {
          for_each: `\${var.${PROVIDER_ROLE_VARIABLE} == "" ? [] : [var.${PROVIDER_ROLE_VARIABLE}]}`,
          content: {
            role_arn: "${assume_role.value}",
            session_name: `mlflow-${name}-cdktf`,
            ...(config.aws.assumeRoleExternalId ? { external_id: config.aws.assumeRoleExternalId } : {}),
          },
        },
      });
    } else {
      expect(aws.dynamic).toBeUndefined();
      expect((json.variable as any)?.[PROVIDER_ROLE_VARIABLE]).toBeUndefined();
    }
  });

  it("authenticates kubernetes and helm to the named cluster with short-lived tokens (exec, or the token data source), no kubeconfig", () => {
    expect(json.data?.aws_eks_cluster?.eks_cluster).toMatchObject({ name: config.cluster.name });
    const k8s = provider(json, "kubernetes");
    const helm = provider(json, "helm").kubernetes;
    for (const p of [k8s, helm]) {
      expect(p.host).toBe("${data.aws_eks_cluster.eks_cluster.endpoint}");
      expect(p.cluster_ca_certificate).toBe("${base64decode(data.aws_eks_cluster.eks_cluster.certificate_authority[0].data)}");
      expect(p.config_path).toBeUndefined();
      expect(p.config_paths).toBeUndefined();
    }
    if (config.cluster.auth === "token") {
      expect(k8s.exec).toBeUndefined();
      expect(k8s.token).toMatch(/^\$\{data\.aws_eks_cluster_auth\.[^}]+\.token\}$/);
      expect(helm.token).toBe(k8s.token);
      return;
    }
    const exec = k8s.exec[0];
    expect(helm.exec).toEqual(exec);
    expect(exec.command).toBe("aws");
    expect(exec.api_version).toBe("client.authentication.k8s.io/v1beta1");
    const base = ["eks", "get-token", "--cluster-name", config.cluster.name, "--region", config.aws.region];
    if (config.aws.assumeRoleArn) {
      // The same principal as the AWS provider: --role-arn only when the variable names a role.
      expect(exec.args).toBe(
        `\${concat(${JSON.stringify(base)}, var.${PROVIDER_ROLE_VARIABLE} == "" ? [] : ["--role-arn", var.${PROVIDER_ROLE_VARIABLE}])}`,
      );
    } else {
      expect(exec.args).toEqual(base);
    }
  });

  it("keeps its state in its own encrypted, lock-file-locked S3 object", () => {
    const state = config.state;
    if (state.backend !== "s3") throw new Error(`${name}: expected S3 state (a local state file is for experiments only)`);
    const region = state.region ?? config.aws.region;
    expect((json.terraform as any).backend).toEqual({
      s3: {
        bucket: state.bucket.replaceAll("{account}", config.aws.accountId),
        key: state.key.replaceAll("{env}", name),
        region,
        encrypt: true,
        use_lockfile: true,
        // The account's own key (the bootstrap's alias unless configured); no role: the state never leaves the account.
        kms_key_id: state.kmsKeyArn ?? `arn:aws:kms:${region}:${config.aws.accountId}:alias/${config.project}-terraform-state`,
      },
    });
  });

  it("pins provider versions", () => {
    const req = (json.terraform as any).required_providers;
    expect(req.aws.version).toBe("6.25.0");
    expect(req.kubernetes.version).toBe("2.38.0");
    expect(req.helm.version).toBe("3.1.1");
    expect(req.random.version).toBe("3.7.2");
  });
});

describe("stack options", () => {
  it("uses the aws_eks_cluster_auth token when cluster.auth is token", () => {
    const json = synthJson(envConfig("dev", { cluster: { auth: "token" } }));
    expect(json.data?.aws_eks_cluster_auth?.eks_cluster_auth).toMatchObject({ name: "ml-dev" });
    expect(provider(json, "kubernetes").token).toBe("${data.aws_eks_cluster_auth.eks_cluster_auth.token}");
    expect(provider(json, "kubernetes").exec).toBeUndefined();
    expect(provider(json, "helm").kubernetes.token).toBe("${data.aws_eks_cluster_auth.eks_cluster_auth.token}");
  });

  it("writes a local backend when the configuration says so", () => {
    const json = synthJson(envConfig("dev", { state: { backend: "local", path: "state/{env}.tfstate" } }));
    expect((json.terraform as any).backend).toEqual({ local: { path: "state/dev.tfstate" } });
  });

  it("encrypts state with the configured KMS key of the environment's account, and assumes no role for it", () => {
    const json = synthJson(
      envConfig("prod", {
        state: { backend: "s3", bucket: "state-bucket-{account}", kmsKeyArn: "arn:aws:kms:eu-west-1:333333333333:key/abc" },
      }),
    );
    expect((json.terraform as any).backend.s3).toEqual({
      bucket: "state-bucket-333333333333",
      key: "mlflow/prod/terraform.tfstate",
      region: "eu-west-1",
      encrypt: true,
      kms_key_id: "arn:aws:kms:eu-west-1:333333333333:key/abc",
      use_lockfile: true,
    });
  });

  it("passes the external id of the assumed role, and needs no role variable without aws.assumeRoleArn", () => {
    const withId = synthJson(envConfig("prod", { aws: { assumeRoleExternalId: "ext-123" }, cluster: { auth: "token" } }));
    expect(provider(withId, "aws").dynamic.assume_role.content.external_id).toBe("ext-123");
    const dev = synthJson(envConfig("dev"));
    expect(dev.variable).toBeUndefined();
  });
});

describe("app", () => {
  it("synthesizes one stack per environment, named <project>-<env>", () => {
    const outdir = fs.mkdtempSync(path.join(os.tmpdir(), "mlflow-app-"));
    buildApp({ outdir, filter: "" }).synth();
    // Every configured environment of any cloud (the fork check adds a GCP one), each under <project>-<env>.
    expect(fs.readdirSync(path.join(outdir, "stacks")).sort()).toEqual(
      loadAllEnvironments()
        .map((e) => `${e.project}-${e.name}`)
        .sort(),
    );
    expect(
      CONFIGURED_ONLY.map((name) => stackName(configured(name))).every((n) =>
        loadAllEnvironments().some((e) => `${e.project}-${e.name}` === n),
      ),
    ).toBe(true);
    expect(stackName(envConfig("prod"))).toBe("mlflow-prod");
  });

  it("synthesizes only the filtered environments", () => {
    const outdir = fs.mkdtempSync(path.join(os.tmpdir(), "mlflow-app-"));
    const one = CONFIGURED_ONLY[CONFIGURED_ONLY.length - 1];
    buildApp({ outdir, filter: one }).synth();
    expect(fs.readdirSync(path.join(outdir, "stacks"))).toEqual([stackName(configured(one))]);
  });
});
