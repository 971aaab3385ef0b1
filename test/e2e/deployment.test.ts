/**
 * What the harness changes when it runs a synthesized command locally: only addresses, mount paths
 * and the entrypoint's location, each recorded; secrets resolved from the stack's own Secrets and
 * generated like Terraform would; anything it cannot resolve is an error, never a guess.
 */
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { LocalDeployment, postgresRule, postgresUris, s3Uris, serviceRule } from "./lib/deployment";
import { TerraformValues, randomString } from "./lib/terraform";
import { workloads, type StackJson } from "./lib/workloads";

const json: StackJson = {
  resource: {
    random_password: { db: { length: 24, special: false } },
    random_bytes: { seed: { length: 32 } },
    aws_s3_bucket: { artifacts: { bucket: "team-dev-artifacts" } },
    aws_db_instance: { db: { port: 5432, db_name: "mlflow" } },
    kubernetes_secret_v1: {
      db: { metadata: { name: "db", namespace: "ns" }, data: { username: "mlflow", password: "${random_password.db.result}" } },
      cookie: { metadata: { name: "cookie", namespace: "ns" }, data: { secret: '${replace(random_bytes.seed.base64, "/[+]/", "-")}' } },
    },
    kubernetes_service_v1: {
      svc: {
        metadata: { name: "tracking", namespace: "ns" },
        spec: { selector: { app: "tracking" }, port: [{ port: 5000, target_port: "http" }] },
      },
    },
    kubernetes_deployment_v1: {
      server: {
        metadata: { name: "server", namespace: "ns" },
        spec: {
          template: {
            metadata: { labels: { app: "tracking" } },
            spec: {
              container: [
                {
                  name: "server",
                  image: "img:1",
                  command: ["server"],
                  args: [
                    "--host",
                    "0.0.0.0",
                    "--port",
                    "5000",
                    "--db",
                    "$(DB_URI)",
                    "--dest",
                    "s3://${aws_s3_bucket.artifacts.bucket}/prefix",
                    "--dir",
                    "/var/run/prom",
                    "--allowed-hosts",
                    "tracking.ns.svc:5000,mlflow.example.com",
                    "--token-file",
                    "/etc/cookie/secret",
                  ],
                  env: [
                    { name: "DB_USER", value_from: { secret_key_ref: { name: "db", key: "username" } } },
                    { name: "PGPASSWORD", value_from: { secret_key_ref: { name: "db", key: "password" } } },
                    { name: "DB_URI", value: "postgresql+psycopg2://$(DB_USER)@${aws_db_instance.db.address}:5432/mlflow?sslmode=require" },
                    { name: "SELF", value: "http://tracking.ns.svc.cluster.local:5000/api" },
                    { name: "HOME", value: "/tmp" },
                  ],
                  port: [{ name: "http", container_port: 5000 }],
                  volume_mount: [
                    { name: "tmp", mount_path: "/tmp" },
                    { name: "prom", mount_path: "/var/run/prom" },
                    { name: "cookie", mount_path: "/etc/cookie" },
                  ],
                },
              ],
              volume: [
                { name: "tmp", empty_dir: {} },
                { name: "prom", empty_dir: {} },
                { name: "cookie", secret: { secret_name: "cookie" } },
              ],
            },
          },
        },
      },
    },
  },
};

describe("running a synthesized container locally", () => {
  const mounts = fs.mkdtempSync(path.join(os.tmpdir(), "e2e-unit-"));
  afterAll(() => fs.rmSync(mounts, { recursive: true, force: true }));
  const tf = new TerraformValues(json, (expr) => (expr === "aws_db_instance.db.address" ? "${aws_db_instance.db.address}" : undefined));
  const dep = new LocalDeployment(json, tf, {}, mounts);
  const w = workloads(json)[0];
  const local = dep.render(w, w.containers[0], {
    binaries: { server: "/opt/bin/server" },
    ports: { http: 40001 },
    rules: [postgresRule("127.0.0.1", 40002), serviceRule(dep.services[0], 5000, 40003)],
    extraEnv: { MLFLOW_S3_ENDPOINT_URL: { value: "http://127.0.0.1:40004", why: "S3 stand-in" } },
  });
  const password = local.env.PGPASSWORD;

  it("generates the random_password as its arguments say, and keeps it out of the arguments", () => {
    expect(password).toMatch(/^[A-Za-z0-9]{24}$/);
    expect(local.argv.join(" ")).not.toContain(password);
    expect(dep.sensitiveValues.has(password)).toBe(true);
    expect(dep.sensitiveValues.has("mlflow")).toBe(false); // a user name identifies, it does not authenticate
  });

  it("rewrites only addresses, listen sockets, mounts and the entrypoint", () => {
    const tmp = path.join(mounts, "server-server", "tmp");
    expect(local.argv).toEqual([
      "/opt/bin/server",
      "--host",
      "127.0.0.1",
      "--port",
      "40001",
      "--db",
      "postgresql+psycopg2://mlflow@127.0.0.1:40002/mlflow?sslmode=require",
      "--dest",
      "s3://team-dev-artifacts/prefix",
      "--dir",
      path.join(mounts, "server-server", "var/run/prom"),
      // Accepted Host headers are not addresses the process connects to: untouched.
      "--allowed-hosts",
      "tracking.ns.svc:5000,mlflow.example.com",
      "--token-file",
      path.join(mounts, "server-server", "etc/cookie/secret"),
    ]);
    expect(local.env.SELF).toBe("http://127.0.0.1:40003/api");
    expect(local.env.HOME).toBe(tmp);
    expect(local.env.MLFLOW_S3_ENDPOINT_URL).toBe("http://127.0.0.1:40004");
    expect(local.ports).toEqual({ http: 40001 });
    expect(fs.statSync(tmp).isDirectory()).toBe(true);
  });

  it("writes a file mounted from a Secret with the resolved value, owner-only", () => {
    const file = path.join(mounts, "server-server", "etc/cookie/secret");
    const value = fs.readFileSync(file, "utf8");
    expect(value).toMatch(/^[A-Za-z0-9/=-]{44}$/); // 32 random bytes, base64 with '+' replaced
    expect(value).not.toContain("+");
    expect(fs.statSync(file).mode & 0o777).toBe(0o600);
  });

  it("records every change, with secrets masked", () => {
    const where = local.changes.map((c) => c.where);
    expect(where).toEqual(
      expect.arrayContaining([
        "argv[0]",
        "argv[2]",
        "argv[4]",
        "argv[6]",
        "argv[10]",
        "argv[14]",
        "env DB_URI",
        "env SELF",
        "env HOME",
        "env MLFLOW_S3_ENDPOINT_URL",
      ]),
    );
    expect(where).not.toContain("argv[12]"); // --allowed-hosts
    expect(JSON.stringify(local.changes)).not.toContain(password);
    expect(JSON.stringify(local.synthesized)).not.toContain(password);
    // As Kubernetes would run it: the user name is in the URI (by design), the password is not.
    expect(local.synthesized.argv[6]).toBe("postgresql+psycopg2://mlflow@${aws_db_instance.db.address}:5432/mlflow?sslmode=require");
    expect(local.synthesized.env.PGPASSWORD).toBe("<secret>");
  });

  it("parses the database and bucket the command names", () => {
    expect(postgresUris(local)).toEqual([
      expect.objectContaining({ user: "mlflow", password, host: "127.0.0.1", port: 40002, database: "mlflow", sslmode: "require" }),
    ]);
    expect(s3Uris(local)).toEqual([{ bucket: "team-dev-artifacts", prefix: "prefix" }]);
  });

  it("refuses a Secret the stack does not create and the harness was not given", () => {
    expect(() => dep.secretValue("operator-made", "key")).toThrow(
      /Secret "operator-made" key "key" is referenced, but the stack does not create that Secret/,
    );
  });

  it("refuses to run with a Terraform expression left unreplaced (an address outside a PostgreSQL URI)", () => {
    const c = {
      ...w.containers[0],
      command: {
        ...w.containers[0].command,
        env: [...w.containers[0].command.env, { name: "PGHOST", value: "${aws_db_instance.db.address}" }],
      },
    };
    expect(() =>
      dep.render(w, c, { binaries: { server: "/opt/bin/server" }, ports: { http: 1 }, rules: [postgresRule("127.0.0.1", 2)] }),
    ).toThrow(/could not replace with a local value: env PGHOST = \$\{aws_db_instance\.db\.address\}/);
  });

  it("refuses a container without a command (the image's entrypoint is not in the stack)", () => {
    const c = { ...w.containers[0], command: { ...w.containers[0].command, command: [] } };
    expect(() => dep.render(w, c, { binaries: {}, ports: { http: 1 } })).toThrow(/sets no command/);
  });
});

describe("Terraform values", () => {
  it("reads literals, stays stable per resource, and refuses what the cloud computes", () => {
    const tf = new TerraformValues(json, () => undefined);
    expect(tf.string("s3://${aws_s3_bucket.artifacts.bucket}/x")).toBe("s3://team-dev-artifacts/x");
    expect(tf.string("${random_password.db.result}")).toBe(tf.string("${random_password.db.result}"));
    expect(() => tf.string("${aws_db_instance.db.address}")).toThrow(/address is not set literally on aws_db_instance\.db/);
    expect(() => tf.string("${aws_iam_role.none.arn}")).toThrow(/not in the synthesized stack/);
    expect(() => tf.string("${jsonencode(aws_s3_bucket.artifacts.bucket)}")).toThrow(
      /function jsonencode\(\) in .* has no local implementation/,
    );
  });

  it("keeps the random values of an earlier synthesis, as Terraform state does across applies", () => {
    const first = new TerraformValues(json, () => undefined);
    const password = first.string("${random_password.db.result}");
    const seed = first.string("${random_bytes.seed.base64}");
    const redeploy = new TerraformValues(json, () => undefined).keepStateOf(first);
    expect(redeploy.string("${random_password.db.result}")).toBe(password);
    expect(redeploy.string("${random_bytes.seed.base64}")).toBe(seed);
    // Without the state: a new database password (the redeployed server could not log in).
    expect(new TerraformValues(json, () => undefined).string("${random_password.db.result}")).not.toBe(password);
  });

  it("evaluates replace() with a regular expression, as Terraform does", () => {
    const tf = new TerraformValues(json, () => undefined);
    expect(tf.string('${replace(replace("a+b/c+", "/[+]/", "-"), "/[/]/", "_")}')).toBe("a-b_c-");
    expect(tf.string('${lower("AbC")}')).toBe("abc");
  });

  it("generates random_password values within the requested character sets", () => {
    for (let i = 0; i < 20; i++) {
      expect(randomString({ length: 16, special: false, upper: false })).toMatch(/^[a-z0-9]{16}$/);
      expect(randomString({ length: 12, override_special: "_-", min_special: 2 })).toMatch(/^(?=(.*[_-]){2})[A-Za-z0-9_-]{12}$/);
    }
  });
});

describe("address rules", () => {
  const svc = { address: "x", name: "tracking", namespace: "ns", type: "ClusterIP", selector: {}, ports: [] };
  it("rewrites a Service's URL authority, whichever name form, and nothing else", () => {
    const r = serviceRule(svc, 5000, 9);
    expect(r.apply("http://tracking.ns.svc:5000/", { envName: "U" })).toBe("http://127.0.0.1:9/");
    expect(r.apply("http://tracking:5000", { envName: "U" })).toBe("http://127.0.0.1:9");
    expect(r.apply("tracking.ns.svc.cluster.local:5000", { envName: "U" })).toBe("127.0.0.1:9");
    expect(r.apply("http://tracking.ns.svc:5001/", { envName: "U" })).toBe("http://tracking.ns.svc:5001/");
    expect(r.apply("a,tracking:5000,b", { envName: "U" })).toBe("a,tracking:5000,b");
    expect(r.apply("http://other-tracking:5000/", { envName: "U" })).toBe("http://other-tracking:5000/");
  });

  it("points every PostgreSQL URI at the local database, keeping user, database and options", () => {
    const r = postgresRule("127.0.0.1", 7);
    expect(r.apply("postgresql+psycopg2://u@db.example:5432/mlflow?sslmode=require", { envName: "U" })).toBe(
      "postgresql+psycopg2://u@127.0.0.1:7/mlflow?sslmode=require",
    );
    expect(r.apply("postgres://db.example/mlflow", { envName: "U" })).toBe("postgres://127.0.0.1:7/mlflow");
    expect(r.apply("postgresql://u@${aws_db_instance.x.address}:${aws_db_instance.x.port}/db", { envName: "U" })).toBe(
      "postgresql://u@127.0.0.1:7/db",
    );
  });
});
