import { spawn } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import {
  allowedHosts,
  backendStoreEnv,
  cidrHostPattern,
  dbUpgradeCommand,
  gcCommand,
  mlflowImage,
  MLFLOW_ENV,
  PROMETHEUS_DIR,
  trackingServerCommand,
  type MlflowCommandInputs,
} from "../../../constructs/tracking-server/mlflow-command";
import { mlflowCommandInputs } from "../../../constructs/tracking-server";
import { trackingServerProps } from "../../../constructs/tracking-server/from-config";
import type { EnvironmentConfig } from "../../../config";
import { renderProcess, type RenderedProcess } from "../../../constructs/core/render";
import type { ContainerCommand, EnvVar } from "../../../constructs/core/command-types";
import type { BackendStoreContract } from "../../../constructs/core/contracts";
import { envConfig } from "../../helpers/synth";
import { mlflowCliParse, type CliResult } from "../../helpers/mlflow-cli";
import { mlflowRun, mlflowStart, venvPythonRun, type ToolRun } from "../../helpers/mlflow-tool";
import { venvPython } from "../../helpers/tools";

const DB_USER = "mlflow_admin";
// Characters that would break a URI if the password were ever spliced into one.
const DB_PASSWORD = "S3cr3t:/@?#%&+ pw";

const backendStore: BackendStoreContract = {
  host: "mlflow-dev.abcdefgh.eu-west-1.rds.amazonaws.com",
  port: 5432,
  database: "mlflow",
  credentials: { secretName: "mlflow-db", usernameKey: "username", passwordKey: "password" },
};
const withReplica: BackendStoreContract = { ...backendStore, readReplicaHost: "mlflow-dev-replica.abcdefgh.eu-west-1.rds.amazonaws.com" };
const artifactStore = { destinationUri: "s3://mlflow-dev-artifacts-111111111111/mlartifacts" };

const identity = { serviceAccountName: "mlflow", roleArn: "arn:aws:iam::111111111111:role/x", serviceAccountAnnotations: {} };
/** The command inputs of an environment, through the one mapping the stack uses (tracking-server/from-config.ts). */
const inputs = (over: { config?: EnvironmentConfig; backendStore?: BackendStoreContract } = {}): MlflowCommandInputs =>
  mlflowCommandInputs(
    trackingServerProps(over.config ?? envConfig("dev"), {
      backendStore: over.backendStore ?? backendStore,
      artifactStore: { ...artifactStore, bucketName: "b" },
      identity,
      authProxyPodLabels: { "app.kubernetes.io/name": "oauth2-proxy" },
    }),
  );
const allowedHostsOf = (config: EnvironmentConfig) => inputs({ config }).allowedHosts;

/** What Kubernetes would inject for each reference. */
const resolve = (e: EnvVar): string => {
  if ("secretKeyRef" in e && e.secretKeyRef.name === "mlflow-db") {
    if (e.secretKeyRef.key === "username") return DB_USER;
    if (e.secretKeyRef.key === "password") return DB_PASSWORD;
  }
  // Other Secrets (the registry events service's webhook keys, where it is on): a stand-in value in the
  // shape the stack generates (32 random bytes, URL-safe base64: what MLflow's Fernet key must be).
  if ("secretKeyRef" in e && e.secretKeyRef.name !== "mlflow-db")
    return Buffer.alloc(32, e.secretKeyRef.key.length).toString("base64").replace(/\+/g, "-").replace(/\//g, "_");
  throw new Error(`unexpected reference ${JSON.stringify(e)}`);
};

const envOf = (cmd: ContainerCommand, name: string) => cmd.env.find((e) => e.name === name);
const argAfter = (args: readonly string[], flag: string) => {
  const i = args.indexOf(flag);
  expect(i).toBeGreaterThanOrEqual(0);
  return args[i + 1];
};

describe("image", () => {
  it("defaults to the official -full variant tagged v<version>-full from the one configured version", () => {
    expect(mlflowImage(envConfig("dev").mlflow)).toBe("ghcr.io/mlflow/mlflow:v3.17.2-full");
    expect(mlflowImage(envConfig("dev", { mlflow: { version: "3.18.0" } }).mlflow)).toBe("ghcr.io/mlflow/mlflow:v3.18.0-full");
  });

  it("uses config.mlflow.image when set, for all three processes", () => {
    const config = envConfig("dev", { mlflow: { image: "123456789012.dkr.ecr.eu-west-1.amazonaws.com/mlflow:3.17.2-r1" } });
    for (const cmd of [trackingServerCommand(inputs({ config })), dbUpgradeCommand(inputs({ config })), gcCommand(inputs({ config }))]) {
      expect(cmd.image).toBe("123456789012.dkr.ecr.eu-west-1.amazonaws.com/mlflow:3.17.2-r1");
    }
  });
});

describe("backend store environment", () => {
  it("takes user and password from the Secret and builds a psycopg2 URI with sslmode=require and no password", () => {
    expect(backendStoreEnv(backendStore)).toEqual([
      { name: "MLFLOW_DB_USER", secretKeyRef: { name: "mlflow-db", key: "username" } },
      { name: "PGPASSWORD", secretKeyRef: { name: "mlflow-db", key: "password" } },
      {
        name: "MLFLOW_BACKEND_STORE_URI",
        value: `postgresql+psycopg2://$(MLFLOW_DB_USER)@${backendStore.host}:5432/mlflow?sslmode=require`,
      },
    ]);
  });

  it("adds the read-replica URI only when the backend store has a replica", () => {
    expect(backendStoreEnv(backendStore).map((e) => e.name)).not.toContain(MLFLOW_ENV.readReplicaUri);
    expect(backendStoreEnv(withReplica).find((e) => e.name === MLFLOW_ENV.readReplicaUri)).toEqual({
      name: "MLFLOW_READ_REPLICA_BACKEND_STORE_URI",
      value: `postgresql+psycopg2://$(MLFLOW_DB_USER)@${withReplica.readReplicaHost}:5432/mlflow?sslmode=require`,
    });
  });
});

describe("tracking server command", () => {
  const cmd = trackingServerCommand(inputs());

  it("runs mlflow server on all interfaces with the configured port and workers", () => {
    expect(cmd.command).toEqual(["mlflow"]);
    expect(cmd.args[0]).toBe("server");
    expect(argAfter(cmd.args, "--host")).toBe("0.0.0.0");
    expect(argAfter(cmd.args, "--port")).toBe("5000");
    expect(argAfter(cmd.args, "--workers")).toBe("2");
    expect(argAfter(trackingServerCommand(inputs({ config: envConfig("prod") })).args, "--workers")).toBe("4");
    expect(cmd.ports).toEqual({ http: 5000 });
  });

  it("proxies artifacts to the artifact store's destination", () => {
    expect(cmd.args).toContain("--serve-artifacts");
    expect(argAfter(cmd.args, "--artifacts-destination")).toBe("s3://mlflow-dev-artifacts-111111111111/mlartifacts");
  });

  it("reads the backend store URI from the environment, and the replica URI only when there is one", () => {
    expect(argAfter(cmd.args, "--backend-store-uri")).toBe("$(MLFLOW_BACKEND_STORE_URI)");
    expect(cmd.args).not.toContain("--read-replica-backend-store-uri");
    const replica = trackingServerCommand(inputs({ backendStore: withReplica }));
    expect(argAfter(replica.args, "--read-replica-backend-store-uri")).toBe("$(MLFLOW_READ_REPLICA_BACKEND_STORE_URI)");
  });

  it("allows the public hostname with and without port, the in-cluster names, the extras and MLflow's defaults", () => {
    const config = envConfig("dev", { mlflow: { extraAllowedHosts: ["mlflow.internal.example.com"] } });
    const hosts = argAfter(trackingServerCommand(inputs({ config })).args, "--allowed-hosts").split(",");
    expect(hosts).toEqual(allowedHostsOf(config));
    expect(hosts).toEqual(
      expect.arrayContaining([
        "mlflow-dev.example.com",
        "mlflow-dev.example.com:443",
        "mlflow-tracking",
        "mlflow-tracking:5000",
        "mlflow-tracking.mlflow",
        "mlflow-tracking.mlflow:5000",
        "mlflow-tracking.mlflow.svc",
        "mlflow-tracking.mlflow.svc:5000",
        "mlflow-tracking.mlflow.svc.cluster.local",
        "mlflow-tracking.mlflow.svc.cluster.local:5000",
        "mlflow.internal.example.com",
        "localhost",
        "10.*",
      ]),
    );
    expect(hosts).not.toContain("*");
    expect(new Set(hosts).size).toBe(hosts.length);
    // The pure function needs no environment: a Service address and a hostname.
    expect(allowedHosts({ serviceName: "s", namespace: "n", port: 8080, publicHostname: "h.example.org" })).toEqual(
      expect.arrayContaining(["h.example.org", "h.example.org:443", "s.n.svc:8080", "localhost"]),
    );
  });

  it("allows pod IPs of the VPC's CIDR blocks, also outside the private ranges, but never a block wider than /8", () => {
    expect(cidrHostPattern("10.0.0.0/16")).toBe("10.0.*");
    expect(cidrHostPattern("100.64.0.0/10")).toBe("100.*");
    expect(cidrHostPattern("192.168.10.0/26")).toBe("192.168.10.*");
    expect(cidrHostPattern("0.0.0.0/0")).toBeUndefined();
    const config = envConfig("dev", { ingress: { vpcCidrs: ["10.0.0.0/16", "100.64.0.0/10", "64.0.0.0/2"] } });
    const hosts = allowedHostsOf(config);
    expect(hosts).toEqual(expect.arrayContaining(["10.0.*", "100.*"]));
    expect(hosts.filter((h) => h.startsWith("64") || h === "*")).toEqual([]);
  });

  it("allows state-changing requests from the UI's own origin (CORS)", () => {
    expect(argAfter(cmd.args, "--cors-allowed-origins")).toBe("https://mlflow-dev.example.com");
  });

  it("exposes Prometheus metrics from a writable directory", () => {
    expect(argAfter(cmd.args, "--expose-prometheus")).toBe(PROMETHEUS_DIR);
  });

  it("derives uvicorn's keep-alive from the load balancer idle timeout and appends the configured options", () => {
    expect(argAfter(cmd.args, "--uvicorn-opts")).toBe("--timeout-keep-alive 605 --timeout-graceful-shutdown 30");
    const config = envConfig("dev", { ingress: { idleTimeoutSeconds: 120 }, mlflow: { uvicornOpts: "--limit-concurrency 200" } });
    expect(argAfter(trackingServerCommand(inputs({ config })).args, "--uvicorn-opts")).toBe(
      "--timeout-keep-alive 125 --timeout-graceful-shutdown 30 --limit-concurrency 200",
    );
  });

  it("keeps connections open longer than the proxy's 90 s idle connections even with a short load balancer timeout", () => {
    const config = envConfig("dev", { ingress: { idleTimeoutSeconds: 60 } });
    expect(argAfter(trackingServerCommand(inputs({ config })).args, "--uvicorn-opts")).toBe(
      "--timeout-keep-alive 95 --timeout-graceful-shutdown 30",
    );
  });
});

describe("migration and gc commands", () => {
  it("db upgrade passes the password-free URI positionally", () => {
    const cmd = dbUpgradeCommand(inputs());
    expect([...cmd.command, ...cmd.args]).toEqual(["mlflow", "db", "upgrade", "$(MLFLOW_BACKEND_STORE_URI)"]);
    expect(envOf(cmd, "PGPASSWORD")).toEqual({ name: "PGPASSWORD", secretKeyRef: { name: "mlflow-db", key: "password" } });
  });

  it("gc deletes runs deleted more than gc.olderThanDays days ago, resolving proxied artifacts through the server", () => {
    const config = envConfig("dev", { mlflow: { gc: { olderThanDays: 7 } } });
    const cmd = gcCommand(inputs({ config }));
    expect([...cmd.command, ...cmd.args]).toEqual([
      "mlflow",
      "gc",
      "--older-than",
      "7d",
      "--backend-store-uri",
      "$(MLFLOW_BACKEND_STORE_URI)",
      "--artifacts-destination",
      "s3://mlflow-dev-artifacts-111111111111/mlartifacts",
    ]);
    expect(envOf(cmd, "MLFLOW_TRACKING_URI")).toEqual({
      name: "MLFLOW_TRACKING_URI",
      value: "http://mlflow-tracking.mlflow.svc.cluster.local:5000",
    });
    expect(inputs({ config }).trackingUri).toBe("http://mlflow-tracking.mlflow.svc.cluster.local:5000");
  });
});

describe("no secret ever reaches a process's argv or a literal", () => {
  const all = {
    server: trackingServerCommand(inputs({ backendStore: withReplica })),
    upgrade: dbUpgradeCommand(inputs()),
    gc: gcCommand(inputs()),
  };

  it.each(Object.entries(all))("%s: the password is only a Secret reference, and absent from the rendered argv", (_name, cmd) => {
    const passwordRefs = cmd.env.filter((e) => "secretKeyRef" in e && e.secretKeyRef.key === "password");
    expect(passwordRefs.map((e) => e.name)).toEqual(["PGPASSWORD"]);
    for (const e of cmd.env) if ("value" in e) expect(e.value).not.toMatch(/PGPASSWORD|password/i);
    for (const a of [...cmd.command, ...cmd.args]) expect(a).not.toMatch(/PGPASSWORD|password/i);
    const p = renderProcess(cmd, resolve);
    expect(p.argv.join(" ")).not.toContain(DB_PASSWORD);
    expect(p.argv.join(" ")).not.toContain("S3cr3t");
    expect(
      Object.entries(p.env)
        .filter(([, v]) => v.includes("S3cr3t"))
        .map(([k]) => k),
    ).toEqual(["PGPASSWORD"]);
  });
});

// ── The real MLflow CLI of the pinned version ─────────────────────────────────────

const FAKE_POSTGRES = path.join(__dirname, "fake-postgres.py");
const cliParse = mlflowCliParse;

describe("rendered exactly as Kubernetes runs them, the commands are valid for the pinned MLflow", () => {
  const config = envConfig("dev");
  // Pods of this cluster also get addresses from a secondary, non-private block (custom networking).
  const withCgnat = envConfig("dev", { ingress: { vpcCidrs: ["10.0.0.0/16", "100.64.0.0/10"] } });
  const server = renderProcess(trackingServerCommand(inputs({ config: withCgnat, backendStore: withReplica })), resolve);
  const upgrade = renderProcess(dbUpgradeCommand(inputs()), resolve);
  const gc = renderProcess(gcCommand(inputs()), resolve);
  const probes = [
    "100.64.3.17:5000",
    "mlflow-dev.example.com",
    "mlflow-dev.example.com:443",
    "mlflow-tracking.mlflow.svc.cluster.local:5000",
    "10.0.3.17:5000",
    "evil.example.net",
    "mlflow-dev.example.com.evil.net",
  ];
  let results: CliResult[];

  beforeAll(async () => {
    const broken = { ...server, argv: [...server.argv, "--no-such-flag"] };
    results = await cliParse([{ process: server, hostProbes: probes }, { process: upgrade }, { process: gc }, { process: broken }]);
  }, 120_000);

  it("the checking CLI is the configured MLflow version", () => {
    expect(results.slice(0, 3).map((r) => r.mlflowVersion)).toEqual([config.mlflow.version, config.mlflow.version, config.mlflow.version]);
  });

  it("mlflow server: click accepts the argv and resolves every option as intended", () => {
    const [r] = results;
    expect(r.error).toBeUndefined();
    expect(r.command).toBe("server");
    expect(r.params).toMatchObject({
      backend_store_uri: `postgresql+psycopg2://${DB_USER}@${backendStore.host}:5432/mlflow?sslmode=require`,
      read_replica_backend_store_uri: `postgresql+psycopg2://${DB_USER}@${withReplica.readReplicaHost}:5432/mlflow?sslmode=require`,
      serve_artifacts: true,
      artifacts_destination: artifactStore.destinationUri,
      host: "0.0.0.0",
      port: 5000,
      workers: "2", // MLflow's --workers is an untyped option
      expose_prometheus: PROMETHEUS_DIR,
      cors_allowed_origins: "https://mlflow-dev.example.com",
      gunicorn_opts: null,
      dev: false,
    });
  });

  it("mlflow server: the uvicorn command MLflow spawns is accepted by uvicorn with our options", () => {
    expect(results[0].uvicorn).toMatchObject({
      host: "0.0.0.0",
      port: 5000,
      workers: 2,
      timeout_keep_alive: 605,
      timeout_graceful_shutdown: 30,
    });
  });

  it("mlflow server: MLflow's own host check accepts the public and in-cluster names and pod IPs, and nothing else", () => {
    expect(results[0].hostCheck).toEqual({
      "mlflow-dev.example.com": true,
      "mlflow-dev.example.com:443": true,
      "mlflow-tracking.mlflow.svc.cluster.local:5000": true,
      "10.0.3.17:5000": true,
      "100.64.3.17:5000": true,
      "evil.example.net": false,
      "mlflow-dev.example.com.evil.net": false,
    });
  });

  it("the backend store URI is a psycopg2 PostgreSQL URI with TLS required and no password in it", () => {
    expect(results[0].database).toEqual({
      dbType: "postgresql",
      driver: "postgresql+psycopg2",
      connectKwargs: { host: backendStore.host, port: 5432, dbname: "mlflow", user: DB_USER, sslmode: "require" },
    });
  });

  it("mlflow db upgrade: click accepts the argv with the URL as its positional argument", () => {
    expect(results[1]).toMatchObject({
      command: "db upgrade",
      params: { url: `postgresql+psycopg2://${DB_USER}@${backendStore.host}:5432/mlflow?sslmode=require` },
    });
  });

  it("mlflow gc: click accepts the argv", () => {
    expect(results[2]).toMatchObject({
      command: "gc",
      params: {
        older_than: "30d",
        backend_store_uri: `postgresql+psycopg2://${DB_USER}@${backendStore.host}:5432/mlflow?sslmode=require`,
        artifacts_destination: artifactStore.destinationUri,
      },
    });
  });

  it("a broken argv is rejected by the same check (the check can fail)", () => {
    expect(results[3].error).toMatch(/NoSuchOption: No such option '--no-such-flag'/);
  });
});

/**
 * Runs a rendered process for real with the pinned MLflow (the `mlflow` console script's entry point, in
 * the run's MLflow process: helpers/mlflow-tool.ts), swapping only addresses in its environment.
 */
function runLocally(p: RenderedProcess, env: Record<string, string>, cwd: string): Promise<ToolRun> {
  expect(p.argv[0]).toBe("mlflow");
  return mlflowRun(p.argv, { PATH: process.env.PATH ?? "", ...p.env, ...env }, cwd);
}

describe("the rendered migration and gc commands really run", () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "mlflow-cmd-"));
  const sqlite = `sqlite:///${path.join(dir, "mlflow.db")}`;

  it("mlflow db upgrade creates the schema, then mlflow gc runs against it (SQLite in place of RDS)", async () => {
    const upgrade = renderProcess(dbUpgradeCommand(inputs()), resolve);
    const swap: Record<string, string> = { [MLFLOW_ENV.backendStoreUri]: sqlite, HOME: dir, TMPDIR: dir };
    // The URI reaches `mlflow db upgrade` through $(MLFLOW_BACKEND_STORE_URI) in args: re-render with the swapped value.
    const local = (cmd: ContainerCommand) =>
      renderProcess({ ...cmd, env: cmd.env.map((e) => (e.name in swap ? { name: e.name, value: swap[e.name] } : e)) }, resolve);
    expect(upgrade.argv).toContain(`postgresql+psycopg2://${DB_USER}@${backendStore.host}:5432/mlflow?sslmode=require`);

    const up = await runLocally(local(dbUpgradeCommand(inputs())), {}, dir);
    expect(up.output).toContain("Creating initial MLflow database tables");
    expect(up.code).toBe(0);
    const tables = await venvPythonRun(
      `import sqlite3,sys; print(sqlite3.connect(sys.argv[1]).execute("select version_num from alembic_version").fetchone()[0])`,
      [path.join(dir, "mlflow.db")],
    );
    expect(tables.output.trim()).toMatch(/^[0-9a-f]{12}$/);

    const gcLocal = local(gcCommand(inputs()));
    const gc = await runLocally(gcLocal, { [MLFLOW_ENV.trackingUri]: "http://127.0.0.1:9" }, dir);
    expect(gc.code).toBe(0);
  }, 120_000);

  it("libpq sends the user from the URI and the password from PGPASSWORD, special characters intact", async () => {
    const fake = spawn(venvPython(), [FAKE_POSTGRES]);
    const lines: string[] = [];
    let buf = "";
    let exited = false;
    fake.stdout.on("data", (d) => {
      buf += d;
      const parts = buf.split("\n");
      buf = parts.pop()!;
      lines.push(...parts);
    });
    fake.on("close", () => (exited = true)); // after its output is drained
    /** Resolves once the fake server has printed `n` lines. */
    const gotLine = async (n: number) => {
      while (lines.length < n) {
        if (exited && lines.length < n) throw new Error(`fake postgres exited early: ${lines.join("\n")}`);
        await new Promise((r) => setTimeout(r, 50));
      }
    };
    await gotLine(1);
    const port = lines[0].trim();
    // Only the address changes (and sslmode: the fake server speaks no TLS).
    const cmd = dbUpgradeCommand(inputs({ backendStore: { ...backendStore, host: "127.0.0.1", port: Number(port) } }));
    const p = renderProcess(
      { ...cmd, env: cmd.env.map((e) => ("value" in e ? { ...e, value: e.value.replace("sslmode=require", "sslmode=prefer") } : e)) },
      resolve,
    );
    expect(p.argv.join(" ")).not.toContain(DB_PASSWORD);
    expect(p.argv[0]).toBe("mlflow");
    // Stopped once the fake server has what it wanted (MLflow would retry the connection for minutes).
    const upgrade = mlflowStart(p.argv, { PATH: process.env.PATH ?? "", ...p.env, HOME: os.tmpdir(), TMPDIR: os.tmpdir() }, os.tmpdir());
    try {
      await gotLine(2);
    } finally {
      await upgrade.pid.then((pid) => process.kill(pid, "SIGKILL")).catch(() => undefined);
      fake.kill("SIGKILL");
      await upgrade.answer.catch(() => undefined);
    }
    expect(JSON.parse(lines[1])).toEqual({ message: "p", user: DB_USER, database: "mlflow", password: DB_PASSWORD });
  }, 120_000);
});

describe("runtime: job execution", () => {
  it("turns MLflow's job execution and its periodic tasks off (an idle pod's PSS halves; periodic tasks would run on every replica)", () => {
    const cmd = trackingServerCommand(inputs());
    expect(envOf(cmd, "MLFLOW_SERVER_ENABLE_JOB_EXECUTION")).toEqual({ name: "MLFLOW_SERVER_ENABLE_JOB_EXECUTION", value: "false" });
    expect(envOf(cmd, "MLFLOW_SERVER_JOB_ENABLE_PERIODIC_TASKS")).toEqual({
      name: "MLFLOW_SERVER_JOB_ENABLE_PERIODIC_TASKS",
      value: "false",
    });
  });
});
