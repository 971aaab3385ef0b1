/** The model release pipeline's scripts: resolve, release file, smoke test, record, scan gate, notify. */
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { eventRequest, resolve } from "../../scripts/ci/resolve-version";
import { formatReleases, main as releaseFile, setRelease } from "../../scripts/ci/release-file";
import { checkAnswer, rowsOfExample, smokeTest } from "../../scripts/ci/smoke-test";
import { previous, record, rolledBack } from "../../scripts/ci/record-deployment";
import { imageDecision, main as scanGate, scanDecision } from "../../scripts/ci/scan-gate";
import { main as releaseTagMain } from "../../scripts/ci/release-tag";
import { messageText, notify } from "../../scripts/ci/notify";
import { envConfig } from "../helpers/synth";
import { stubServer } from "./stub-server";

const DIGEST = `sha256:${"a".repeat(64)}`;

describe("resolve-version", () => {
  test.each([
    [
      { event: "model_version.created", model: "iris", version: "3" },
      { model: "iris", version: "3" },
    ],
    [
      { event: "model_version_tag.set", model: "iris", version: "4", key: "production-ready", value: "true" },
      { model: "iris", version: "4" },
    ],
  ])("%j starts a release", (payload, expected) => {
    expect(eventRequest(payload)).toMatchObject(expected);
  });
  test.each([
    [{ event: "model_version_tag.set", model: "iris", version: "4", key: "validation", value: "passed" }],
    [{ event: "model_version_tag.set", model: "iris", version: "4", key: "production-ready", value: "false" }],
    [{ event: "model_version_alias.created", model: "iris", version: "4", alias: "staging" }],
    [{ event: "model_version.created" }],
  ])("%j starts none", (payload) => {
    expect(eventRequest(payload)).toHaveProperty("skip");
  });

  test("reads the version through MLflow's REST API with the bearer token", async () => {
    const srv = await stubServer((req) =>
      req.url.startsWith("/api/2.0/mlflow/model-versions/get?name=iris&version=3")
        ? { body: { model_version: { name: "iris", version: "3", run_id: "r1", source: "models:/m-1", status: "READY" } } }
        : { status: 404, body: { error_code: "RESOURCE_DOES_NOT_EXIST" } },
    );
    try {
      expect(await resolve(srv.url, "tok", { model: "iris", version: "3", reason: "x" })).toMatchObject({
        release: true,
        version: "3",
        runId: "r1",
        modelUri: "models:/iris/3",
      });
      expect(srv.seen[0].headers.authorization).toBe("Bearer tok");
      await expect(resolve(srv.url, "tok", { model: "iris", version: "9", reason: "x" })).rejects.toThrow(/404/);
    } finally {
      await srv.close();
    }
  });
});

describe("release-file", () => {
  const env = envConfig("dev", { serving: { models: { iris: {} }, gatewayCidrs: ["10.0.0.0/16"] } });
  test("sets one model's release; the file is stable (sorted, two spaces, newline)", () => {
    const { previous: prev, next } = setRelease({ zeta: { version: "1", imageDigest: DIGEST } }, env, "iris", {
      version: "3",
      imageDigest: DIGEST,
    });
    expect(prev).toBeUndefined();
    expect(formatReleases(next)).toBe(
      `{\n  "iris": {\n    "version": "3",\n    "imageDigest": "${DIGEST}"\n  },\n  "zeta": {\n    "version": "1",\n    "imageDigest": "${DIGEST}"\n  }\n}\n`,
    );
  });
  test("refuses a model the environment does not serve, a tag for a digest, a bad version", () => {
    expect(() => setRelease({}, env, "fraud", { version: "3", imageDigest: DIGEST })).toThrow(
      /does not serve model "fraud": declare it in config\/environments.ts/,
    );
    expect(() => setRelease({}, env, "iris", { version: "3", imageDigest: "latest" })).toThrow(/imageDigest: expected an image digest/);
    expect(() => setRelease({}, env, "iris", { version: "v3", imageDigest: DIGEST })).toThrow(
      /version: expected a registered model version number/,
    );
  });
  test("command line: set writes the file and prints previous and current; get reads it", async () => {
    const root = fs.mkdtempSync(path.join(os.tmpdir(), "rel-"));
    fs.mkdirSync(path.join(root, "config", "releases"), { recursive: true });
    const file = path.join(root, "config", "releases", "dev.json");
    fs.writeFileSync(file, JSON.stringify({ iris: { version: "2", imageDigest: `sha256:${"b".repeat(64)}` } }));
    let out = "";
    const opts = {
      repoRoot: root,
      envs: () => [env],
      out: (s: string) => {
        out += s;
      },
    };
    expect(await releaseFile(["set", "--env", "dev", "--model", "iris", "--version", "3", "--digest", DIGEST], opts)).toBe(0);
    expect(JSON.parse(out)).toMatchObject({ previous: { version: "2" }, current: { version: "3", imageDigest: DIGEST } });
    expect(JSON.parse(fs.readFileSync(file, "utf8")).iris.version).toBe("3");
    out = "";
    expect(await releaseFile(["get", "--env", "dev", "--model", "iris"], opts)).toBe(0);
    expect(JSON.parse(out).version).toBe("3");
    const before = fs.readFileSync(file, "utf8");
    expect(await releaseFile(["set", "--env", "dev", "--model", "iris", "--version", "4", "--digest", "sha256:bad"], opts)).toBe(2);
    expect(fs.readFileSync(file, "utf8")).toBe(before);
  });
});

describe("smoke-test", () => {
  test("checks status, model, version and one prediction per row", () => {
    const expectIris = { model: "iris", version: "3", rows: 1 };
    expect(checkAnswer(200, { model: "iris", version: "3", predictions: [0] }, expectIris)).toBeUndefined();
    expect(checkAnswer(200, { model: "iris", version: "2", predictions: [0] }, expectIris)).toMatch(/version "2", expected "3"/);
    expect(checkAnswer(503, {}, expectIris)).toBe("status 503");
    expect(checkAnswer(200, { model: "iris", version: "3", predictions: [] }, expectIris)).toMatch(/0 prediction/);
  });
  test("rows of MLflow's serving input examples", () => {
    expect(rowsOfExample({ inputs: [[1, 2]] })).toEqual([[1, 2]]);
    expect(
      rowsOfExample({
        dataframe_split: {
          columns: ["a", "b"],
          data: [
            [1, 2],
            [3, 4],
          ],
        },
      }),
    ).toEqual([
      [1, 2],
      [3, 4],
    ]);
    expect(rowsOfExample({ dataframe_records: [{ a: 1, b: 2 }] })).toEqual([[1, 2]]);
    expect(() => rowsOfExample({})).toThrow(/no rows/);
  });
  test("retries while the new version is not there yet, then passes", async () => {
    let n = 0;
    const srv = await stubServer(() =>
      ++n < 3 ? { status: 503, body: "loading" } : { body: { model: "iris", version: "3", predictions: [1] } },
    );
    try {
      const r = await smokeTest({ url: srv.url, model: "iris", version: "3", data: [5.1, 3.5, 1.4, 0.2], timeoutMs: 5000, intervalMs: 10 });
      expect(r).toMatchObject({ ok: true, attempts: 3, status: 200 });
      expect(JSON.parse(srv.seen[0].body)).toEqual({ data: [5.1, 3.5, 1.4, 0.2] });
    } finally {
      await srv.close();
    }
  });
  test("a client error fails at once (the rollback starts)", async () => {
    const srv = await stubServer(() => ({ status: 422, body: { error: "row 0 has 3 features" } }));
    try {
      expect(
        await smokeTest({ url: srv.url, model: "iris", version: "3", data: [1, 2, 3], timeoutMs: 5000, intervalMs: 10 }),
      ).toMatchObject({ ok: false, attempts: 1, reason: "status 422" });
    } finally {
      await srv.close();
    }
  });
});

describe("record-deployment", () => {
  /** An in-memory registry: aliases and tags of one model. */
  function fakeRegistry() {
    const aliases = new Map<string, string>();
    const tags = new Map<string, Map<string, string>>();
    const calls: string[] = [];
    const api = async <T>(method: string, endpoint: string, body?: Record<string, unknown>): Promise<T> => {
      calls.push(`${method} ${endpoint}`);
      const b = body as Record<string, string>;
      if (endpoint === "registered-models/alias" && method === "GET") {
        const v = aliases.get(b.alias);
        if (!v) throw Object.assign(new Error("404 RESOURCE_DOES_NOT_EXIST"), { status: 404 });
        return {
          model_version: { version: v, tags: [...(tags.get(v) ?? new Map()).entries()].map(([key, value]) => ({ key, value })) },
        } as T;
      }
      if (endpoint === "registered-models/alias" && method === "POST") aliases.set(b.alias, b.version);
      if (endpoint === "registered-models/alias" && method === "DELETE") aliases.delete(b.alias);
      if (endpoint === "model-versions/set-tag") {
        if (!tags.has(b.version)) tags.set(b.version, new Map());
        tags.get(b.version)!.set(b.key, b.value);
      }
      return {} as T;
    };
    return { api, aliases, tags, calls };
  }

  test("record moves deployed-<env>, keeps the previous holder; previous and rolled-back return to it once", async () => {
    const r = fakeRegistry();
    const now = new Date("2026-12-01T00:00:00Z");
    await record(r.api, { model: "iris", version: "1", env: "staging", digest: `sha256:${"1".repeat(64)}`, now });
    expect(await previous(r.api, { model: "iris", env: "staging" })).toBeUndefined();
    expect(await record(r.api, { model: "iris", version: "2", env: "staging", digest: DIGEST, runUrl: "https://x/run/1", now })).toEqual({
      previous: "1",
    });
    expect(Object.fromEntries(r.aliases)).toEqual({ "deployed-staging": "2", "deployed-staging-previous": "1" });
    expect(JSON.parse(r.tags.get("2")!.get("platform.deployed.staging")!)).toEqual({
      digest: DIGEST,
      at: "2026-12-01T00:00:00.000Z",
      run: "https://x/run/1",
    });
    expect(await previous(r.api, { model: "iris", env: "staging" })).toEqual({ version: "1", digest: `sha256:${"1".repeat(64)}` });
    expect(await rolledBack(r.api, { model: "iris", version: "2", env: "staging", now })).toEqual({ restored: "1" });
    expect(Object.fromEntries(r.aliases)).toEqual({ "deployed-staging": "1" });
    expect(r.tags.get("2")!.has("platform.rolled-back.staging")).toBe(true);
    // A second rollback does not swap back.
    expect(await rolledBack(r.api, { model: "iris", version: "1", env: "staging", now })).toEqual({});
    expect(r.aliases.get("deployed-staging")).toBe("1");
  });
});

describe("scan-gate", () => {
  test.each([
    [
      { imageScanStatus: { status: "COMPLETE" }, imageScanFindings: { findingSeverityCounts: { LOW: 3, MEDIUM: 1 } } },
      true,
      /no finding at or above HIGH/,
    ],
    [
      { imageScanStatus: { status: "COMPLETE" }, imageScanFindings: { findingSeverityCounts: { HIGH: 2, CRITICAL: 1 } } },
      false,
      /2 HIGH, 1 CRITICAL/,
    ],
    [{ imageScanStatus: { status: "ACTIVE" }, imageScanFindings: { enhancedFindings: [{ severity: "CRITICAL" }] } }, false, /1 CRITICAL/],
    [
      { imageScanStatus: { status: "FAILED", description: "UnsupportedImageError" } },
      false,
      /the scan is FAILED \(UnsupportedImageError\)/,
    ],
    [{}, false, /the scan is missing/],
  ])("%j -> pass %s", (findings, pass, reason) => {
    const d = scanDecision(findings, "HIGH");
    expect(d.pass).toBe(pass);
    expect(d.reason).toMatch(reason);
  });

  const manifest = (type: string) => ({ imageDetails: [{ imageDigest: DIGEST, imageManifestMediaType: type }] });
  test.each([
    ["application/vnd.oci.image.manifest.v1+json", undefined],
    ["application/vnd.docker.distribution.manifest.v2+json", undefined],
    // What buildx pushes with --sbom / --provenance: ECR's basic scan does not scan it.
    [
      "application/vnd.oci.image.index.v1+json",
      /is an application\/vnd.oci.image.index.v1\+json, not a single image manifest: ECR's basic scan does not scan an image index/,
    ],
    ["application/vnd.docker.distribution.manifest.list.v2+json", /not a single image manifest/],
  ])("the deployed digest as %s", (type, refusal) => {
    const d = imageDecision(manifest(type), DIGEST);
    if (refusal) expect(d?.reason).toMatch(refusal);
    else expect(d).toBeUndefined();
  });

  test("refuses findings of another digest, and an image the repository does not have", () => {
    const other = `sha256:${"b".repeat(64)}`;
    expect(
      scanDecision({ imageId: { imageDigest: other }, imageScanStatus: { status: "COMPLETE" }, imageScanFindings: {} }, "HIGH", DIGEST)
        .reason,
    ).toMatch(/the findings are of sha256:b+, not of the deployed sha256:a+/);
    expect(imageDecision({ imageDetails: [] }, DIGEST)?.reason).toMatch(/the repository has no image/);
  });

  test("the command: exit 0 on a clean scan of the deployed manifest, 1 on an index, 2 without the digest", async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "scan-gate-"));
    const write = (name: string, v: unknown) => {
      fs.writeFileSync(path.join(dir, name), JSON.stringify(v));
      return path.join(dir, name);
    };
    const findings = write("f.json", {
      imageId: { imageDigest: DIGEST },
      imageScanStatus: { status: "COMPLETE" },
      imageScanFindings: { findingSeverityCounts: { LOW: 1 } },
    });
    const out: string[] = [];
    expect(
      await scanGate(
        ["--image", write("m.json", manifest("application/vnd.oci.image.manifest.v1+json")), "--findings", findings, "--digest", DIGEST],
        (x) => out.push(x),
      ),
    ).toBe(0);
    expect(
      await scanGate(
        ["--image", write("i.json", manifest("application/vnd.oci.image.index.v1+json")), "--findings", findings, "--digest", DIGEST],
        (x) => out.push(x),
      ),
    ).toBe(1);
    expect(await scanGate(["--findings", findings], (x) => out.push(x))).toBe(2);
  });
});

describe("release-tag", () => {
  test("prints the tag no lifecycle rule selects: release-v<version>-<12 hex of the digest>", () => {
    const out: string[] = [];
    expect(releaseTagMain(["--version", "7", "--digest", DIGEST], (x) => out.push(x))).toBe(0);
    expect(out.join("")).toBe(`release-v7-${"a".repeat(12)}\n`);
    expect(() => releaseTagMain(["--version", "latest", "--digest", DIGEST])).toThrow(
      /releaseTag: version is "latest": expected a registered model version/,
    );
  });
});

describe("notify", () => {
  test("Slack and Discord get the outcome; nothing configured sends nothing; a refusal names the channel, never its URL", async () => {
    const srv = await stubServer((req) => (req.url === "/fail" ? { status: 404 } : { status: 204 }));
    try {
      const msg = { status: "rolled-back" as const, title: "iris 3 failed in staging", url: "https://x/run" };
      expect(await notify(msg, { SLACK_WEBHOOK_URL: `${srv.url}/slack`, DISCORD_WEBHOOK_URL: `${srv.url}/discord` })).toEqual([
        "slack",
        "discord",
      ]);
      expect(JSON.parse(srv.seen[0].body)).toEqual({ text: messageText(msg) });
      expect(JSON.parse(srv.seen[1].body).content).toContain("iris 3 failed in staging");
      expect(await notify(msg, {})).toEqual([]);
      const err = await notify(msg, { SLACK_WEBHOOK_URL: `${srv.url}/fail` }).catch((e: Error) => e.message);
      expect(err).toBe("slack refused the message: 404");
    } finally {
      await srv.close();
    }
  });
});

describe("environment-guard", () => {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { guardDecision, main } = require("../../scripts/ci/environment-guard") as typeof import("../../scripts/ci/environment-guard");
  test("an environment without ci.autoDeploy must keep required reviewers", () => {
    expect(guardDecision({ name: "prod", protection_rules: [{ type: "required_reviewers", reviewers: [{}] }] }, "prod", false).ok).toBe(
      true,
    );
    expect(guardDecision({ name: "prod", protection_rules: [{ type: "wait_timer" }] }, "prod", false)).toMatchObject({
      ok: false,
      reason: expect.stringMatching(/add reviewers in the repository's Settings > Environments > prod/),
    });
    expect(guardDecision(undefined, "staging", false).ok).toBe(false);
    expect(guardDecision(undefined, "dev", true).ok).toBe(true);
  });
  test("reads the GitHub Environment through the API; a missing one is refused", async () => {
    const srv = await stubServer((req) =>
      req.url.endsWith("/environments/prod")
        ? { body: { name: "prod", protection_rules: [{ type: "required_reviewers", reviewers: [{ type: "Team" }] }] } }
        : { status: 404, body: { message: "Not Found" } },
    );
    try {
      const env = { GITHUB_API_URL: srv.url, GITHUB_REPOSITORY: "acme/ml-platform", GITHUB_TOKEN: "t" };
      const quiet = () => undefined;
      expect(await main(["--environment", "prod", "--auto-deploy", "false"], env, quiet)).toBe(0);
      expect(await main(["--environment", "staging", "--auto-deploy", "false"], env, quiet)).toBe(1);
      expect(await main(["--environment", "dev", "--auto-deploy", "true"], env, quiet)).toBe(0);
      expect(srv.seen.map((s) => s.url)).toEqual([
        "/repos/acme/ml-platform/environments/prod",
        "/repos/acme/ml-platform/environments/staging",
      ]);
    } finally {
      await srv.close();
    }
  });
});
