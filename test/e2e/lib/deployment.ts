/**
 * Turns the synthesized stack's workloads into local processes, changing only what a cluster and a
 * cloud account would supply: addresses (listen addresses, Service names, the database endpoint),
 * where a mounted volume lives, and which local binary plays the image's entrypoint. Secrets are
 * resolved to local values (generated like Terraform would, or given by the harness for Secrets an
 * operator creates), never written into an argument.
 *
 * Every change is recorded, so the log shows, per process, exactly what differs from what Kubernetes
 * would run.
 */
import * as fs from "fs";
import * as path from "path";
import { renderProcess, type RenderedProcess } from "../../../constructs/core/render";
import type { ContainerCommand, EnvVar } from "../../../constructs/core/command-types";
import { LOOPBACK } from "./net";
import { TerraformValues } from "./terraform";
import { findConfigMap, findSecret, selects, services, type Container, type Service, type StackJson, type Workload } from "./workloads";

/** One difference between what the cluster would run and what runs here. */
export interface Change {
  /** `argv[3]` or `env NAME`. */
  readonly where: string;
  readonly from: string;
  readonly to: string;
  readonly why: string;
}

export interface LocalProcess {
  readonly name: string;
  /** As Kubernetes would run it (Terraform values resolved, secrets masked). */
  readonly synthesized: RenderedProcess;
  readonly argv: string[];
  readonly env: Record<string, string>;
  readonly changes: Change[];
  /** Local port for each declared container port name. */
  readonly ports: Record<string, number>;
}

/** A rule rewriting one address in the rendered strings. */
export interface AddressRule {
  readonly why: string;
  apply(value: string, context: { argv: string[]; index: number } | { envName: string }): string;
}

/** Replaces every occurrence of `from` with `to`. */
export function textRule(from: string, to: string, why: string): AddressRule {
  return { why, apply: (v) => v.split(from).join(to) };
}

/** Names under which a Service is reachable in the cluster, most specific first. */
export function serviceNames(svc: Pick<Service, "name" | "namespace">): string[] {
  return [`${svc.name}.${svc.namespace}.svc.cluster.local`, `${svc.name}.${svc.namespace}.svc`, `${svc.name}.${svc.namespace}`, svc.name];
}

const SECRET_MASK = "<secret>";

export class LocalDeployment {
  readonly tf: TerraformValues;
  readonly services: Service[];
  /** Secret values the harness hands out, by `<secret>/<key>` (for Secrets the stack does not create). */
  private readonly external: Map<string, string>;
  /** Every value read from a Secret, so output can be masked. */
  readonly secretValues = new Set<string>();
  /**
   * The sensitive ones among them (passwords, client and cookie secrets): every Secret key except a
   * user name, which identifies but does not authenticate (it may appear in a connection URI).
   */
  readonly sensitiveValues = new Set<string>();

  constructor(
    readonly json: StackJson,
    tf: TerraformValues,
    external: Record<string, string>,
    readonly mountRoot: string,
  ) {
    this.tf = tf;
    this.services = services(json);
    this.external = new Map(Object.entries(external));
  }

  /** The value behind a Secret key reference, as the kubelet would read it. */
  secretValue(name: string, key: string): string {
    const s = findSecret(this.json, name);
    let value: string | undefined;
    if (s && key in s.data) value = this.tf.string(String(s.data[key]));
    else if (s) throw new Error(`Secret "${name}" (${s.address}) has no key "${key}"`);
    else value = this.external.get(`${name}/${key}`);
    if (value === undefined) {
      throw new Error(
        `Secret "${name}" key "${key}" is referenced, but the stack does not create that Secret and the harness has no local value for it`,
      );
    }
    this.secretValues.add(value);
    if (!/^(user(name)?|login)$/i.test(key)) this.sensitiveValues.add(value);
    return value;
  }

  private resolveRef(e: EnvVar, workload: Workload): string {
    if ("secretKeyRef" in e) return this.secretValue(e.secretKeyRef.name, e.secretKeyRef.key);
    if ("configMapKeyRef" in e) {
      const cm = findConfigMap(this.json, e.configMapKeyRef.name);
      const v = cm?.data[e.configMapKeyRef.key];
      if (v === undefined) throw new Error(`ConfigMap "${e.configMapKeyRef.name}" key "${e.configMapKeyRef.key}" is not in the stack`);
      return this.tf.string(String(v));
    }
    if ("fieldRef" in e) {
      const f = e.fieldRef.fieldPath;
      if (f === "metadata.namespace") return workload.namespace;
      if (f === "metadata.name") return `${workload.name}-local`;
      if (f === "status.podIP" || f === "status.hostIP") return LOOPBACK;
      throw new Error(`env ${e.name}: fieldRef ${f} has no local value`);
    }
    return (e as { value: string }).value;
  }

  /** The container with every Terraform expression in its literal values resolved. */
  private resolved(c: ContainerCommand): ContainerCommand {
    return {
      ...c,
      command: c.command.map((a) => this.tf.string(a)),
      args: c.args.map((a) => this.tf.string(a)),
      env: c.env.map((e) => ("value" in e ? { name: e.name, value: this.tf.string(e.value) } : e)),
    };
  }

  /** The workloads a Service selects. */
  selected(svc: Service, all: Workload[]): Workload[] {
    return all.filter((w) => selects(svc.selector, w.podLabels));
  }

  /**
   * Renders one container as a local process.
   * - `binaries`: local executable for each entrypoint the image would run (`mlflow`, `/bin/oauth2-proxy`);
   * - `ports`: local port for each declared container port (listen addresses are rewritten);
   * - `rules`: further address rules (Service names, the database endpoint);
   * - `extraEnv`: what the cloud would provide the pod besides its spec (the S3 endpoint and credentials
   *   of the stand-in, in place of Pod Identity); recorded as changes too.
   */
  render(
    workload: Workload,
    container: Container,
    options: {
      binaries: Record<string, string>;
      ports?: Record<string, number>;
      rules?: AddressRule[];
      extraEnv?: Record<string, { value: string; why: string }>;
    },
  ): LocalProcess {
    const cmd = this.resolved(container.command);
    if (cmd.command.length === 0) {
      throw new Error(
        `${workload.address} container ${container.name} sets no command: the image's entrypoint is not in the stack, so the harness cannot know what Kubernetes would run`,
      );
    }
    const rendered = renderProcess(cmd, (e) => this.resolveRef(e, workload));
    const changes: Change[] = [];
    const argv = [...rendered.argv];
    const env: Record<string, string> = { ...rendered.env };

    const note = (where: string, from: string, to: string, why: string) => {
      if (from !== to) changes.push({ where, from: this.mask(from), to: this.mask(to), why });
    };

    // The entrypoint: the image's binary -> the same program, same version, installed locally.
    const bin = options.binaries[argv[0]];
    if (!bin) throw new Error(`${workload.address}: no local binary for the entrypoint "${argv[0]}"`);
    note("argv[0]", argv[0], bin, "the image's program, installed locally at the pinned version");
    argv[0] = bin;

    // Listen addresses: all interfaces in a pod -> loopback here, declared ports -> free local ports.
    const ports: Record<string, number> = {};
    const rules: AddressRule[] = [];
    for (const [name, p] of Object.entries(cmd.ports ?? {})) {
      const q = options.ports?.[name];
      if (q === undefined) throw new Error(`${workload.address}: no local port for container port ${name} (${p})`);
      ports[name] = q;
      rules.push(textRule(`0.0.0.0:${p}`, `${LOOPBACK}:${q}`, `listen address (port ${name})`));
      rules.push({
        why: `listen port (${name})`,
        apply: (v, ctx) =>
          "argv" in ctx && v === String(p) && /^--?([a-z]+-)?(port|p)$/.test(ctx.argv[ctx.index - 1] ?? "") ? String(q) : v,
      });
    }
    rules.push({
      why: "listen address",
      apply: (v, ctx) => ("argv" in ctx && v === "0.0.0.0" && /^--?(host|h|bind)$/.test(ctx.argv[ctx.index - 1] ?? "") ? LOOPBACK : v),
    });
    rules.push(...(options.rules ?? []));

    // Mounted volumes -> local directories and files.
    const mountDir = path.join(this.mountRoot, `${workload.name}-${container.name}`);
    for (const s of container.scratch) {
      const local = path.join(mountDir, s.path);
      fs.mkdirSync(local, { recursive: true });
      rules.push(pathRule(s.path, local, `${s.kind} volume ${s.volume}`));
    }
    for (const f of container.command.files ?? []) {
      const local = path.join(mountDir, f.path);
      fs.mkdirSync(path.dirname(local), { recursive: true });
      const value = f.secretKeyRef
        ? this.secretValue(f.secretKeyRef.name, f.secretKeyRef.key)
        : this.tf.string(String(findConfigMap(this.json, f.configMapKeyRef!.name)?.data[f.configMapKeyRef!.key] ?? ""));
      fs.writeFileSync(local, value, { mode: 0o600 });
      rules.push(
        pathRule(f.path, local, `file from ${f.secretKeyRef ? `Secret ${f.secretKeyRef.name}` : `ConfigMap ${f.configMapKeyRef!.name}`}`),
      );
      // The directory the volume is mounted at (e.g. a PYTHONPATH entry), exactly as written.
      const dir = path.posix.dirname(f.path);
      rules.push({
        why: `directory of the mounted file ${f.path}`,
        apply: (v) => eachPath(v, (p) => (p === dir ? path.dirname(local) : p)),
      });
    }
    // The directory a Secret or ConfigMap volume is mounted at (e.g. on PYTHONPATH), after its files' own rules.
    for (const dir of container.fileMounts ?? []) rules.push(pathRule(dir, path.join(mountDir, dir), "Secret/ConfigMap volume directory"));

    for (let i = 1; i < argv.length; i++) {
      for (const r of rules) {
        const next = r.apply(argv[i], { argv, index: i });
        note(`argv[${i}]`, argv[i], next, r.why);
        argv[i] = next;
      }
    }
    for (const name of Object.keys(env)) {
      for (const r of rules) {
        const next = r.apply(env[name], { envName: name });
        note(`env ${name}`, env[name], next, r.why);
        env[name] = next;
      }
    }
    for (const [name, { value, why }] of Object.entries(options.extraEnv ?? {})) {
      note(`env ${name}`, env[name] ?? "(unset)", value, why);
      env[name] = value;
    }
    const unresolved = [...argv.map((a, i) => [`argv[${i}]`, a]), ...Object.entries(env).map(([k, v]) => [`env ${k}`, v])].filter(([, v]) =>
      v.includes("${"),
    );
    if (unresolved.length > 0) {
      throw new Error(
        `${workload.address}: Terraform expressions the harness could not replace with a local value: ${unresolved.map(([w, v]) => `${w} = ${this.mask(v)}`).join("; ")}`,
      );
    }
    return {
      name: `${workload.name}/${container.name}`,
      synthesized: {
        argv: rendered.argv.map((a) => this.mask(a)),
        env: Object.fromEntries(Object.entries(rendered.env).map(([k, v]) => [k, this.mask(v)])),
      },
      argv,
      env,
      changes,
      ports,
    };
  }

  /** A string with every sensitive value handed out replaced by `<secret>`. */
  mask(s: string): string {
    let out = s;
    for (const v of this.sensitiveValues) if (v.length >= 4) out = out.split(v).join(SECRET_MASK);
    return out;
  }
}

/** Rewrites a container path (and anything below it) to a local one. */
/** `fn` over each entry of a colon-separated list of absolute paths (PYTHONPATH), or over `v` itself. */
function eachPath(v: string, fn: (p: string) => string): string {
  const parts = v.split(":");
  return parts.length > 1 && parts.every((x) => x.startsWith("/")) ? parts.map(fn).join(":") : fn(v);
}

function pathRule(containerPath: string, local: string, why: string): AddressRule {
  const p = containerPath.replace(/\/$/, "");
  return {
    why,
    apply: (whole) =>
      eachPath(whole, (v) => {
        if (v === p) return local;
        if (v.startsWith(`${p}/`)) return local + v.slice(p.length);
        // --flag=/path forms
        const eq = v.indexOf("=");
        if (eq > 0 && (v.slice(eq + 1) === p || v.slice(eq + 1).startsWith(`${p}/`)))
          return v.slice(0, eq + 1) + local + v.slice(eq + 1 + p.length);
        return v;
      }),
  };
}

/** Rewrites `<service name>[:port]` occurrences to the loopback stand-in of that Service port. */
export function serviceRule(svc: Service, port: number, localPort: number): AddressRule {
  const names = serviceNames(svc);
  const why = `in-cluster address of Service ${svc.name}`;
  return {
    why,
    apply: (v) => {
      let out = v;
      for (const n of names) {
        const esc = n.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
        // Only where a client connects to it (a URL's authority, or a bare host:port value), never in
        // lists of accepted Host headers such as --allowed-hosts.
        const withPort = new RegExp(`(^|://)${esc}:${port}(?=$|/|\\?)`, "g");
        out = out.replace(withPort, `$1${LOOPBACK}:${localPort}`);
        if (port === 80) out = out.replace(new RegExp(`(//)${esc}(?=$|/)`, "g"), `$1${LOOPBACK}:${localPort}`);
      }
      return out;
    },
  };
}

/** Rewrites the host:port of every PostgreSQL URI to the local database. */
export function postgresRule(host: string, port: number): AddressRule {
  return {
    why: "database endpoint",
    apply: (v) =>
      v.replace(/(postgres(?:ql)?(?:\+\w+)?:\/\/(?:[^@/\s]*@)?)([^:/?\s,]+)(:[^/?\s,]+)?/g, (_m, pre: string) => `${pre}${host}:${port}`),
  };
}

/** Every PostgreSQL URI in a rendered process, parsed. */
export function postgresUris(
  p: RenderedProcess,
): { user: string; password: string; host: string; port: number; database: string; sslmode: string | null; raw: string }[] {
  const out = [];
  const seen = new Set<string>();
  for (const s of [...p.argv, ...Object.values(p.env)]) {
    for (const m of s.matchAll(/postgres(?:ql)?(?:\+\w+)?:\/\/[^\s,]+/g)) {
      if (seen.has(m[0])) continue;
      seen.add(m[0]);
      const u = new URL(m[0].replace(/^[^:]+:/, "postgres:"));
      out.push({
        user: decodeURIComponent(u.username),
        password: decodeURIComponent(u.password) || p.env.PGPASSWORD || "",
        host: u.hostname,
        port: Number(u.port || 5432),
        database: u.pathname.replace(/^\//, ""),
        sslmode: u.searchParams.get("sslmode"),
        raw: m[0],
      });
    }
  }
  return out;
}

/** Every `s3://bucket/prefix` in a rendered process. */
export function s3Uris(p: RenderedProcess): { bucket: string; prefix: string }[] {
  const out = new Map<string, { bucket: string; prefix: string }>();
  for (const s of [...p.argv, ...Object.values(p.env)]) {
    for (const m of s.matchAll(/s3:\/\/([a-z0-9.-]+)\/?([^\s,]*)/g)) out.set(m[0], { bucket: m[1], prefix: m[2].replace(/\/$/, "") });
  }
  return [...out.values()];
}
