/**
 * PostgreSQL from the machine's own binaries (initdb, pg_ctl), in a fresh data directory, listening
 * only on 127.0.0.1 at a free port, with TLS when the stack's connection URI demands it (a self-signed
 * certificate; sslmode=require encrypts without verifying) and then TCP logins accepted over TLS only.
 * The stack's database, user and password are created as the URI names them.
 */
import { execFileSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { LOOPBACK, waitFor } from "../lib/net";
import { runSync, type Processes } from "../lib/processes";

export interface PostgresOptions {
  /** Loopback port (chosen before the commands were rendered, since they name it). */
  readonly port: number;
  readonly database: string;
  readonly user: string;
  readonly password: string;
  readonly ssl: boolean;
}

export interface Postgres {
  readonly host: string;
  readonly port: number;
  readonly version: string;
  /** Runs SQL as the superuser (over the Unix socket), returns psql's unaligned output. */
  sql(statement: string, database?: string): string;
}

function pgBin(name: string): string {
  const dirs = [
    ...(process.env.PATH ?? "").split(":"),
    ...fs
      .readdirSync("/usr/lib/postgresql")
      .sort()
      .reverse()
      .map((v) => `/usr/lib/postgresql/${v}/bin`),
  ];
  for (const d of dirs) {
    const f = path.join(d, name);
    if (fs.existsSync(f)) return f;
  }
  throw new Error(`${name} not found: install PostgreSQL server binaries (Debian: apt-get install postgresql)`);
}

export async function startPostgres(procs: Processes, runDir: string, options: PostgresOptions): Promise<Postgres> {
  const initdb = pgBin("initdb");
  const pgCtl = pgBin("pg_ctl");
  const psql = pgBin("psql");
  // PostgreSQL refuses to run as root: run it as the machine's postgres user then.
  const asUser = os.userInfo().uid === 0 ? "postgres" : undefined;
  if (asUser) {
    try {
      execFileSync("id", ["-u", asUser]);
    } catch {
      throw new Error('running as root and there is no "postgres" user to run PostgreSQL as: run the e2e as a normal user or create one');
    }
  }
  const base = path.join(runDir, "postgres");
  const data = path.join(base, "data");
  const socket = path.join(base, "socket");
  fs.mkdirSync(socket, { recursive: true });
  fs.chmodSync(runDir, 0o755);
  if (asUser) execFileSync("chown", ["-R", asUser, base]);

  runSync([initdb, "-D", data, "-U", "postgres", "--auth-local=trust", "--auth-host=scram-sha-256", "-E", "UTF8", "--no-sync"], { asUser });
  const version = runSync([pgBin("postgres"), "--version"]).trim();

  const port = options.port;
  const conf = [
    `listen_addresses = '${LOOPBACK}'`,
    `port = ${port}`,
    `unix_socket_directories = '${socket}'`,
    "fsync = off",
    "log_connections = on",
  ];
  const hba = ["local all all trust"];
  if (options.ssl) {
    const crt = path.join(data, "server.crt");
    const key = path.join(data, "server.key");
    runSync(
      ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1", "-keyout", key, "-out", crt],
      { asUser },
    );
    fs.chmodSync(key, 0o600);
    conf.push("ssl = on", `ssl_cert_file = '${crt}'`, `ssl_key_file = '${key}'`);
    hba.push(`hostssl all all ${LOOPBACK}/32 scram-sha-256`, `hostnossl all all ${LOOPBACK}/32 reject`);
  } else {
    hba.push(`host all all ${LOOPBACK}/32 scram-sha-256`);
  }
  fs.appendFileSync(path.join(data, "postgresql.conf"), `\n# mlflow-platform e2e\n${conf.join("\n")}\n`);
  fs.writeFileSync(path.join(data, "pg_hba.conf"), `${hba.join("\n")}\n`);

  const proc = procs.start("postgres", [pgCtl, "-D", data, "-l", path.join(base, "server.log"), "-w", "-t", "60", "start"], { asUser });
  proc.beforeStop = () => {
    try {
      runSync([pgCtl, "-D", data, "-m", "immediate", "-w", "stop"], { asUser });
    } catch {
      /* stopped already */
    }
  };
  const sql = (statement: string, database = "postgres") =>
    runSync([psql, "-h", socket, "-p", String(port), "-U", "postgres", "-d", database, "-v", "ON_ERROR_STOP=1", "-At", "-f", "-"], {
      input: statement,
    });
  await waitFor(
    "postgres",
    async () => {
      try {
        sql("select 1");
        return true;
      } catch {
        return false;
      }
    },
    undefined,
    60_000,
  );

  // The password travels on stdin, never in an argument.
  const ident = (s: string) => `"${s.replace(/"/g, '""')}"`;
  const literal = (s: string) => `'${s.replace(/'/g, "''")}'`;
  sql(
    `CREATE ROLE ${ident(options.user)} LOGIN PASSWORD ${literal(options.password)};\nCREATE DATABASE ${ident(options.database)} OWNER ${ident(options.user)};`,
  );
  return { host: LOOPBACK, port, version, sql };
}
