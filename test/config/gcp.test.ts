/**
 * A GCP environment (`cloud: "gcp"`, config/gcp.ts): validated with Google's own rules (constructs/core/gcp-limits.ts),
 * AWS-only options and features not supported on GCP yet refused naming environment and field.
 */
import * as fs from "fs";
import * as path from "path";
import { gcpConfig, gcpProblems, synthGcp } from "../helpers/gcp";
import { gcpConfigRows, gcpDocWithReference } from "../../scripts/config-reference";
import { configProblems, entry, envConfig, resourcesOf } from "../helpers/synth";
import { deepMerge } from "../../config/merge";
import { ConfigError, resolveAllEnvironments, resolveEnvironments } from "../../config/load";
import { gcpEnvironment, shared } from "../fixtures/environments";
import {
  gcpProjectIdProblem,
  gcpRegionProblem,
  gcsBucketNameProblem,
  sqlInstanceIdProblem,
  gcpZoneProblem,
  gcpLabelKeyProblem,
} from "../../constructs/core/gcp-limits";

describe("cloud", () => {
  it('defaults to "aws": an AWS entry without it is what it was', () => {
    expect(envConfig("dev").cloud).toBe("aws");
  });
  it("takes gcp, and refuses any other cloud naming those it takes", () => {
    expect(gcpConfig().cloud).toBe("gcp");
    expect(configProblems({ cloud: "oracle" })).toEqual([
      'environment "dev": field cloud = "oracle": expected "aws" (the default), "gcp" or "azure"',
    ]);
  });
  it("a command for AWS environments only (the bootstrap, CI) gets the AWS ones of a configuration holding both, the GCP one validated all the same", () => {
    const dev = deepMerge(shared as Record<string, unknown>, entry("dev") as Record<string, unknown>);
    expect(resolveEnvironments({}, [dev, gcpEnvironment as never]).map((e) => [e.name, e.cloud])).toEqual([["dev", "aws"]]);
    expect(() =>
      resolveEnvironments({}, [dev, { ...gcpEnvironment, gcp: { ...gcpEnvironment.gcp, region: "eu-west-1" } } as never]),
    ).toThrow(/environment "gcp-dev": field gcp.region = "eu-west-1"/);
  });
});

describe("GCP rules (constructs/core/gcp-limits.ts)", () => {
  it.each([
    ["acme-ml-prod", undefined],
    ["abcde", /6-30/],
    ["a".repeat(31), /6-30/],
    ["Acme-ml", /project id/],
    ["1acme-ml", /starting with a letter/],
    ["acme-ml-", /not ending with a hyphen/],
    ["123456789012", /project number/],
  ])("project id %s", (id, problem) => {
    const p = gcpProjectIdProblem(id);
    if (problem) expect(p).toMatch(problem);
    else expect(p).toBeUndefined();
  });

  it.each([
    ["mlflow-dev-artifacts", undefined],
    ["ml_artifacts", undefined],
    ["a.b.c", undefined],
    [`${"a".repeat(63)}.${"b".repeat(63)}`, undefined],
    ["ab", /3-63/],
    ["a".repeat(64), /3-63/],
    [`${"a".repeat(64)}.b`, /each part between dots at most 63/],
    ["-ab", /starting and ending/],
    ["Ab-c", /lower-case/],
    ["192.168.5.4", /IP address/],
    ["goog-artifacts", /not starting with "goog"/],
    ["my-google-artifacts", /"google"/],
    ["my-g00gle-artifacts", /"google"/],
  ])("Cloud Storage bucket name %s", (name, problem) => {
    const p = gcsBucketNameProblem(name);
    if (problem) expect(p).toMatch(problem);
    else expect(p).toBeUndefined();
  });

  it.each([
    ["europe-west1", undefined],
    ["northamerica-northeast2", undefined],
    ["me-central2", undefined],
    ["eu-west-1", /not an AWS region/],
    ["us-gov-west-1", /not an AWS region/],
    ["europe-west1-b", /not a zone/],
    ["Europe", /Google Cloud region/],
  ])("region %s", (region, problem) => {
    const p = gcpRegionProblem(region);
    if (problem) expect(p).toMatch(problem);
    else expect(p).toBeUndefined();
  });

  it("zones belong to the region, Cloud SQL instance ids and label keys follow Google's rules", () => {
    expect(gcpZoneProblem("europe-west1-b", "europe-west1")).toBeUndefined();
    expect(gcpZoneProblem("europe-west4-a", "europe-west1")).toMatch(/a zone of gcp.region \(europe-west1\)/);
    expect(sqlInstanceIdProblem("mlflow-prod")).toBeUndefined();
    expect(sqlInstanceIdProblem("1mlflow")).toMatch(/starting with a letter/);
    expect(sqlInstanceIdProblem("m".repeat(99))).toMatch(/98/);
    expect(gcpLabelKeyProblem("cost-center")).toBeUndefined();
    expect(gcpLabelKeyProblem("Cost-Center")).toMatch(/lower-case/);
  });
});

describe("a GCP environment's configuration", () => {
  it("the fixture resolves, with the cloud-neutral sections' defaults", () => {
    const c = gcpConfig();
    expect(c.gcp.region).toBe("europe-west1");
    expect(c.mlflow.port).toBe(5000);
    expect(c.database.pointInTimeRecoveryDays).toBe(7);
    expect(c.ingress.kind).toBe("gateway-api");
  });

  it("refuses an AWS region, naming environment and field", () => {
    expect(gcpProblems({ gcp: { region: "eu-west-1", zones: ["eu-west-1a"] } })).toEqual([
      'environment "gcp-dev": field gcp.region = "eu-west-1": expected a Google Cloud region such as "europe-west1", not an AWS region ("eu-west-1" is AWS\'s naming: <area>-<direction>-<number>)',
      'environment "gcp-dev": field gcp.zones.0 = "eu-west-1a": expected a Google Cloud zone such as "europe-west1-b" (a region name, a hyphen and a letter)',
    ]);
  });

  it("refuses a bucket name Cloud Storage refuses, and a derived one", () => {
    expect(gcpProblems({ artifacts: { bucketName: "goog-mlflow-artifacts" } })).toEqual([
      "environment \"gcp-dev\": field artifacts.bucketName = \"goog-mlflow-artifacts\": expected a Cloud Storage bucket name: 3-63 lower-case letters, digits, '-', '_' and '.', starting and ending with a letter or digit, not starting with \"goog\" (Cloud Storage refuses it)",
    ]);
    expect(gcpProblems({ gcp: { projectId: "google-ml-dev" } })[0]).toMatch(
      /field name = "gcp-dev": expected a name that gives a valid artifact bucket name: "mlflow-gcp-dev-artifacts-google-ml-dev" is not a Cloud Storage bucket name.*"google"/,
    );
  });

  it("refuses a malformed project id", () => {
    expect(gcpProblems({ gcp: { projectId: "My_Project" } })).toContainEqual(
      expect.stringMatching(/^environment "gcp-dev": field gcp.projectId = "My_Project": expected a Google Cloud project id/),
    );
  });

  it("refuses each AWS-only option, naming the field and what to write instead", () => {
    expect(
      gcpProblems({
        aws: { accountId: "111111111111", region: "eu-west-1" },
        database: { instanceClass: "db.t4g.micro", multiAz: true },
        ingress: { certificateArn: "arn:aws:acm:eu-west-1:111111111111:certificate/x" },
        state: { backend: "s3" },
      }),
    ).toEqual([
      'environment "gcp-dev": field aws = {"accountId":"111111111111","region":"eu-west-1"}: expected no aws on a GCP environment: it is an AWS-only option; write gcp.projectId and gcp.region instead',
      'environment "gcp-dev": field ingress.certificateArn = "arn:aws:acm:eu-west-1:111111111111:certificate/x": expected no ingress.certificateArn on a GCP environment: it is an AWS-only option; write nothing: TLS terminates at the GKE Gateway (its certificate) instead',
      'environment "gcp-dev": field database.instanceClass = "db.t4g.micro": expected no database.instanceClass on a GCP environment: it is an AWS-only option; write database.tier instead',
      'environment "gcp-dev": field database.multiAz = true: expected no database.multiAz on a GCP environment: it is an AWS-only option; write database.highAvailability instead',
      'environment "gcp-dev": field state.backend = "s3": expected no state.backend on a GCP environment: it is an AWS-only option; write state.backend "gcs" (with state.bucket and state.prefix) or "local" instead',
    ]);
  });

  it("leaves out the AWS-only options that come from shared (the AWS environments' common settings), and refuses them in the entry", () => {
    const [config] = resolveAllEnvironments(shared, [gcpEnvironment as never]);
    expect(config.cloud).toBe("gcp");
    expect(Object.keys(config)).not.toEqual(expect.arrayContaining(["aws", "cluster", "identity", "notifications", "ci"]));
    expect(gcpProblems({ identity: { mode: "pod-identity" } }, { identity: { mode: "pod-identity" } })).toEqual([
      'environment "gcp-dev": field identity = {"mode":"pod-identity"}: expected no identity on a GCP environment: it is an AWS-only option; write nothing: GKE Workload Identity binds each workload to its own Google service account instead',
    ]);
  });

  describe("model serving", () => {
    it("accepts the fixture's served model: released by a rolling update, reached in-cluster (exposure none)", () => {
      const s = gcpConfig().serving;
      expect([Object.keys(s.models), s.exposure, s.delivery.strategy]).toEqual([["iris-classifier"], "none", "rollingUpdate"]);
    });
    const smokeTest = { models: { "iris-classifier": { smokeTest: { row: [5.1, 3.5, 1.4, 0.2] } } } };
    it.each(["blueGreen", "canary"])(
      "releases %s through the Argo Rollouts controller the GCP stack installs, its namespace under default deny",
      (strategy) => {
        const config = gcpConfig({ serving: { ...smokeTest, delivery: { strategy } } });
        const { json } = synthGcp(config);
        const releases = Object.values(resourcesOf(json, "helm_release")).map((r) => r.chart);
        expect(releases).toContain("argo-rollouts");
        const rollout = Object.values(resourcesOf(json, "helm_release"))
          .flatMap((r) => (r.values ?? []).map((v: string) => JSON.parse(v).resources ?? []))
          .flat()
          .find((o: { kind: string }) => o.kind === "Rollout");
        expect(rollout?.spec.strategy[strategy]).toBeDefined();
        const ns = config.serving.delivery.controllerNamespace;
        expect(
          Object.values(resourcesOf(json, "kubernetes_network_policy_v1")).some(
            (p) => p.metadata.namespace === ns && p.spec.policy_types?.includes("Ingress"),
          ),
        ).toBe(true);
      },
    );
    it.each([
      ["keepImages", 5],
      ["expireTagPrefixes", { "dev-": 3 }],
    ])("refuses ECR's image lifecycle (serving.%s) written in the entry", (field, value) => {
      expect(gcpProblems({ serving: { [field]: value } })).toEqual([
        expect.stringMatching(
          new RegExp(
            `^environment "gcp-dev": field serving\\.${field} = .*: expected no serving\\.${field} on a GCP environment: it is an AWS-only option; write nothing: the Artifact Registry repository's cleanup policy`,
          ),
        ),
      ]);
    });
    it("an ECR lifecycle setting in shared (the AWS environments') is left out, not refused", () => {
      const [config] = resolveAllEnvironments({ serving: { keepImages: 5 } }, [gcpEnvironment as never]);
      expect(config.cloud === "gcp" && Object.keys(config.serving.models)).toEqual(["iris-classifier"]);
    });
  });

  it("accepts registry-aware retention on GCP, written in the entry (the job marks objects' Custom-Time)", () => {
    const retention = gcpConfig({ registry: { retention: { keepVersions: 3, storageClass: "GLACIER" } } }).registry.retention;
    expect(retention).toMatchObject({ keepVersions: 3, storageClass: "GLACIER", graceDays: 30 });
  });

  it("checks teams on GCP as on AWS, in the entry and from shared: a team without access' administrators is refused", () => {
    const teams = [{ name: "team-a", groups: ["team-a-ds"] }];
    // The fixture trains: with teams, its pipeline names the team whose workspace it works in.
    const training = { team: "team-a" };
    expect(gcpProblems({ teams, training })).toEqual([
      expect.stringMatching(/field access.platformAdminsGroup = nothing: expected the identity provider group/),
    ]);
    expect(gcpProblems({ training }, { teams })).toEqual([expect.stringMatching(/field access.platformAdminsGroup = nothing/)]);
    expect(gcpConfig({ teams, training, access: { platformAdminsGroup: "platform-admins" } }).teams).toEqual([
      expect.objectContaining({ name: "team-a", groups: ["team-a-ds"] }),
    ]);
  });

  it("production: deletion protection and a week of backups", () => {
    expect(gcpProblems({ production: true })).toEqual([
      'environment "gcp-dev": field database.deletionProtection = false: expected true in a production environment',
      'environment "gcp-dev": field artifacts.forceDestroy = true: expected false in a production environment (it would let destroy delete every artifact)',
    ]);
  });

  it("high availability needs a second zone; labels follow Google's rules", () => {
    expect(gcpProblems({ gcp: { zones: ["europe-west1-b"] }, database: { highAvailability: true } })).toEqual([
      'environment "gcp-dev": field gcp.zones = ["europe-west1-b"]: expected two zones when database.highAvailability is on (the standby lives in the second)',
    ]);
    expect(gcpProblems({ tags: { CostCenter: "ML" } })[0]).toMatch(/field tags.CostCenter = .*label key/);
  });
});

describe("docs/gcp.md", () => {
  it("its reference is the one rendered from config/gcp.ts (run `npm run docs`), every field described", () => {
    const doc = fs.readFileSync(path.join(__dirname, "..", "..", "docs", "gcp.md"), "utf8");
    expect(gcpDocWithReference(doc)).toBe(doc);
    expect(
      gcpConfigRows()
        .filter((r) => !r.type.startsWith("object") && !r.own)
        .map((r) => r.field),
    ).toEqual([]);
  });
});

describe("GCP state locations", () => {
  it("two GCP environments may not share a state location", () => {
    const second = {
      ...gcpEnvironment,
      name: "gcp-prod",
      state: { backend: "gcs", bucket: "example-org-terraform-state-ml-dev", prefix: "mlflow" },
    };
    const first = { ...gcpEnvironment, state: { backend: "gcs", bucket: "example-org-terraform-state-ml-dev", prefix: "mlflow" } };
    let problems: string[] = [];
    try {
      resolveAllEnvironments({}, [first as never, second as never]);
    } catch (err) {
      problems = (err as ConfigError).problems;
    }
    expect(problems).toEqual([
      'environment "gcp-prod": field state.prefix = "mlflow": expected a state location no other environment uses: environment "gcp-dev" also keeps its state in gs://example-org-terraform-state-ml-dev/mlflow; put {env} in it',
    ]);
    // With {env} in the prefix (the default), each has its own.
    expect(resolveAllEnvironments({}, [gcpEnvironment as never, { ...gcpEnvironment, name: "gcp-prod" } as never])).toHaveLength(2);
  });
});
