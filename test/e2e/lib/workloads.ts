/**
 * Reads what the stack would run from its synthesized Terraform JSON: the kubernetes Deployments,
 * Jobs and CronJobs, their containers turned back into the ContainerCommand shape
 * (constructs/core/command-types.ts), the Services in front of them, the Secrets and ConfigMaps they
 * reference, and the Ingress. Nothing here knows a flag of MLflow or oauth2-proxy: it reads the JSON.
 */
import type { ContainerCommand, EnvVar, MountedFile } from "../../../constructs/core/command-types";

type Json = Record<string, any>;
/** The synthesized stack: `{ resource: { <type>: { <name>: {...} } }, data: ... }`. */
export type StackJson = {
  resource?: Record<string, Record<string, Json>>;
  data?: Record<string, Record<string, Json>>;
  [k: string]: unknown;
};

/** A single nested block: cdktf writes blocks as an object or as a one-element list. */
export function one(v: unknown): Json | undefined {
  if (Array.isArray(v)) return v[0] as Json | undefined;
  return (v ?? undefined) as Json | undefined;
}

/** A repeated nested block, as a list (absent = empty). */
export function many(v: unknown): Json[] {
  if (v === undefined || v === null) return [];
  return (Array.isArray(v) ? v : [v]) as Json[];
}

export type WorkloadKind = "Deployment" | "Job" | "CronJob";

const KINDS: Record<string, WorkloadKind> = {
  kubernetes_deployment_v1: "Deployment",
  kubernetes_deployment: "Deployment",
  kubernetes_job_v1: "Job",
  kubernetes_job: "Job",
  kubernetes_cron_job_v1: "CronJob",
  kubernetes_cron_job: "CronJob",
};

/** A volume mounted at a path, other than a file from a Secret or ConfigMap (e.g. an emptyDir). */
export interface ScratchMount {
  readonly path: string;
  readonly volume: string;
  readonly kind: string;
}

export interface Container {
  readonly name: string;
  readonly command: ContainerCommand;
  /** Writable scratch volumes (emptyDir) mounted into the container. */
  readonly scratch: readonly ScratchMount[];
  /** Where Secret and ConfigMap volumes are mounted (directories; their files are in command.files). */
  readonly fileMounts?: readonly string[];
}

export interface Workload {
  readonly kind: WorkloadKind;
  /** `<terraform type>.<terraform name>`: what depends_on lists. */
  readonly address: string;
  readonly name: string;
  readonly namespace: string;
  readonly podLabels: Record<string, string>;
  readonly initContainers: readonly Container[];
  readonly containers: readonly Container[];
  readonly dependsOn: readonly string[];
  /** The raw resource, for checks the harness makes on it. */
  readonly raw: Json;
}

function podTemplate(kind: WorkloadKind, resource: Json): Json {
  const spec = one(resource.spec);
  const template = kind === "CronJob" ? one(one(one(spec?.job_template)?.spec)?.template) : one(spec?.template);
  if (!template) throw new Error(`${kind} has no pod template`);
  return template;
}

function envVar(e: Json, where: string): EnvVar {
  if (e.value !== undefined) return { name: e.name, value: String(e.value) };
  const from = one(e.value_from);
  if (!from) return { name: e.name, value: "" };
  const secret = one(from.secret_key_ref);
  if (secret) return { name: e.name, secretKeyRef: { name: secret.name, key: secret.key } };
  const cm = one(from.config_map_key_ref);
  if (cm) return { name: e.name, configMapKeyRef: { name: cm.name, key: cm.key } };
  const field = one(from.field_ref);
  if (field) return { name: e.name, fieldRef: { fieldPath: field.field_path } };
  throw new Error(`${where}: env ${e.name} uses a value_from this harness does not understand: ${JSON.stringify(from)}`);
}

/**
 * One container of a pod spec as a ContainerCommand: command, args, env (env_from expanded from the
 * referenced Secret/ConfigMap's keys, as the kubelet does, before the explicit env), mounted files.
 */
export function containerCommand(c: Json, volumes: Json[], json: StackJson, where: string): Container {
  const env: EnvVar[] = [];
  for (const ef of many(c.env_from)) {
    const prefix: string = ef.prefix ?? "";
    const sref = one(ef.secret_ref);
    const cref = one(ef.config_map_ref);
    const ref = sref ?? cref;
    if (!ref) continue;
    const found = sref ? findSecret(json, ref.name) : findConfigMap(json, ref.name);
    if (!found)
      throw new Error(
        `${where}: env_from references ${sref ? "Secret" : "ConfigMap"} "${ref.name}", which the stack does not define: its keys are unknown`,
      );
    for (const key of Object.keys(found.data ?? {})) {
      env.push(
        sref
          ? { name: prefix + key, secretKeyRef: { name: ref.name, key } }
          : { name: prefix + key, configMapKeyRef: { name: ref.name, key } },
      );
    }
  }
  for (const e of many(c.env)) {
    const v = envVar(e, where);
    const existing = env.findIndex((x) => x.name === v.name);
    if (existing >= 0) env.splice(existing, 1);
    env.push(v);
  }

  const files: MountedFile[] = [];
  const scratch: ScratchMount[] = [];
  const fileMounts: string[] = [];
  for (const m of many(c.volume_mount)) {
    const vol = volumes.find((v) => v.name === m.name);
    if (!vol) throw new Error(`${where}: volume_mount ${m.name} names no volume of the pod`);
    const secret = one(vol.secret);
    const cm = one(vol.config_map);
    if (secret || cm) {
      const refName: string = secret ? secret.secret_name : cm!.name;
      const items = many((secret ?? cm)!.items);
      const source = secret ? findSecret(json, refName) : findConfigMap(json, refName);
      const keys =
        items.length > 0
          ? items.map((i) => ({ key: i.key as string, path: i.path as string }))
          : Object.keys(source?.data ?? {}).map((k) => ({ key: k, path: k }));
      if (!m.sub_path) fileMounts.push(m.mount_path);
      if (keys.length === 0)
        throw new Error(
          `${where}: the mount of ${secret ? "Secret" : "ConfigMap"} "${refName}" at ${m.mount_path} lists no items and the stack does not define its keys`,
        );
      for (const { key, path } of keys) {
        if (m.sub_path && m.sub_path !== path) continue;
        const filePath = m.sub_path ? m.mount_path : `${m.mount_path.replace(/\/$/, "")}/${path}`;
        files.push(
          secret ? { path: filePath, secretKeyRef: { name: refName, key } } : { path: filePath, configMapKeyRef: { name: refName, key } },
        );
      }
    } else {
      const kind = Object.keys(vol).find((k) => k !== "name") ?? "unknown";
      scratch.push({ path: m.mount_path, volume: m.name, kind });
    }
  }

  const ports: Record<string, number> = {};
  for (const p of many(c.port)) ports[p.name ?? String(p.container_port)] = Number(p.container_port);

  return {
    name: c.name,
    command: {
      image: c.image,
      command: (c.command ?? []).map(String),
      args: (c.args ?? []).map(String),
      env,
      files,
      ports,
    },
    scratch,
    ...(fileMounts.length > 0 ? { fileMounts } : {}),
  };
}

/** Every Deployment, Job and CronJob of the stack, with its containers as ContainerCommands. */
export function workloads(json: StackJson): Workload[] {
  const out: Workload[] = [];
  for (const [type, kind] of Object.entries(KINDS)) {
    for (const [tfName, resource] of Object.entries(json.resource?.[type] ?? {})) {
      const meta = one(resource.metadata) ?? {};
      const template = podTemplate(kind, resource);
      const pod = one(template.spec) ?? {};
      const volumes = many(pod.volume);
      const where = `${type}.${tfName}`;
      out.push({
        kind,
        address: where,
        name: meta.name ?? meta.generate_name ?? tfName,
        namespace: meta.namespace ?? "default",
        podLabels: one(template.metadata)?.labels ?? {},
        initContainers: many(pod.init_container).map((c) => containerCommand(c, volumes, json, `${where} init container ${c.name}`)),
        containers: many(pod.container).map((c) => containerCommand(c, volumes, json, `${where} container ${c.name}`)),
        dependsOn: (resource.depends_on ?? []) as string[],
        raw: resource,
      });
    }
  }
  return out;
}

/** Resources of the given types, by `<type>.<name>`. */
function resourcesOfTypes(json: StackJson, types: string[]): [string, Json][] {
  return types.flatMap((t) => Object.entries(json.resource?.[t] ?? {}).map(([n, r]) => [`${t}.${n}`, r] as [string, Json]));
}

/** The Kubernetes Secret of that name the stack creates (its data as written in Terraform). */
export function findSecret(json: StackJson, name: string): { address: string; data: Record<string, string> } | undefined {
  for (const [address, r] of resourcesOfTypes(json, ["kubernetes_secret_v1", "kubernetes_secret"])) {
    if (one(r.metadata)?.name === name) return { address, data: r.data ?? {} };
  }
  return undefined;
}

/** The ConfigMap of that name the stack creates. */
export function findConfigMap(json: StackJson, name: string): { address: string; data: Record<string, string> } | undefined {
  for (const [address, r] of resourcesOfTypes(json, ["kubernetes_config_map_v1", "kubernetes_config_map"])) {
    if (one(r.metadata)?.name === name) return { address, data: r.data ?? {} };
  }
  return undefined;
}

export interface ServicePort {
  readonly name?: string;
  readonly port: number;
  readonly targetPort: number | string;
}

export interface Service {
  readonly address: string;
  readonly name: string;
  readonly namespace: string;
  readonly type: string;
  readonly selector: Record<string, string>;
  readonly ports: readonly ServicePort[];
}

export function services(json: StackJson): Service[] {
  return resourcesOfTypes(json, ["kubernetes_service_v1", "kubernetes_service"]).map(([address, r]) => {
    const meta = one(r.metadata) ?? {};
    const spec = one(r.spec) ?? {};
    return {
      address,
      name: meta.name,
      namespace: meta.namespace ?? "default",
      type: spec.type ?? "ClusterIP",
      selector: spec.selector ?? {},
      ports: many(spec.port).map((p) => ({
        name: p.name,
        port: Number(p.port),
        targetPort:
          p.target_port === undefined
            ? Number(p.port)
            : /^\d+$/.test(String(p.target_port))
              ? Number(p.target_port)
              : String(p.target_port),
      })),
    };
  });
}

/** True when every label of `selector` is on `labels`. */
export function selects(selector: Record<string, string>, labels: Record<string, string>): boolean {
  const entries = Object.entries(selector);
  return entries.length > 0 && entries.every(([k, v]) => labels[k] === v);
}

export interface IngressRoute {
  readonly address: string;
  readonly host: string;
  readonly path: string;
  readonly serviceName: string;
  readonly servicePort: number | string;
}

/** Every host/path -> Service route of the stack's Ingresses (and HTTPRoutes written as manifests). */
export function ingressRoutes(json: StackJson): IngressRoute[] {
  const routes: IngressRoute[] = [];
  for (const [address, r] of resourcesOfTypes(json, ["kubernetes_ingress_v1", "kubernetes_ingress"])) {
    const spec = one(r.spec) ?? {};
    for (const rule of many(spec.rule)) {
      for (const p of many(one(rule.http)?.path)) {
        const svc = one(one(p.backend)?.service);
        const port = one(svc?.port);
        routes.push({ address, host: rule.host, path: p.path ?? "/", serviceName: svc?.name, servicePort: port?.number ?? port?.name });
      }
    }
    const def = one(one(spec.default_backend)?.service);
    if (def)
      routes.push({ address, host: "*", path: "/", serviceName: def.name, servicePort: one(def.port)?.number ?? one(def.port)?.name });
  }
  return routes;
}
