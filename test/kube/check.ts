/**
 * The Kubernetes API check of one synthesized stack: every `kubernetes_*` resource converted to its API
 * object, every local Helm chart rendered by Helm, then submitted to the real kube-apiserver:
 *   1. namespaces, CRDs and service accounts are applied for real (later objects need them to exist;
 *      every namespace an object names is created, and its `default` service account);
 *   2. every other object is submitted as a server-side dry run (`?dryRun=All`, strict field validation);
 *   3. every pod template is also submitted as a bare Pod in its namespace (dry run): Pod Security
 *      admission enforces on Pods only (on a Deployment it only warns).
 * A warning from the server is a failure unless {@link ALLOWED_WARNINGS} lists it with a reason.
 */
import { execFileSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import type { KubeClient, Response } from "./client";
import { type ApiObject, Converter, podFromTemplate, podTemplates, replaceReferences } from "./convert";

/** Server warnings that are not failures, each with the reason. Empty: every warning so far was a defect. */
export const ALLOWED_WARNINGS: { pattern: RegExp; reason: string }[] = [];

export interface Submitted {
  /** What was submitted: `kubernetes_deployment_v1.x`, `helm_release.y: ServiceMonitor/z`, `... (bare Pod)`. */
  what: string;
  object: ApiObject;
  ok: boolean;
  message: string;
}

export interface StackReport {
  stack: string;
  accepted: Submitted[];
  refused: Submitted[];
  notChecked: { address: string; reason: string }[];
}

const isLocalChart = (stackDir: string, chart: string) => fs.existsSync(path.join(stackDir, chart, "Chart.yaml"));

/** Objects of one stack: converted resources, rendered local charts; remote charts not checked. */
export function stackObjects(
  stackDir: string,
  client: KubeClient,
  helmRender: string,
  kubeVersion: string,
): {
  objects: { what: string; object: ApiObject }[];
  notChecked: { address: string; reason: string }[];
} {
  const json = JSON.parse(fs.readFileSync(path.join(stackDir, "cdk.tf.json"), "utf8")) as {
    resource?: Record<string, Record<string, Record<string, unknown>>>;
    data?: Record<string, Record<string, Record<string, unknown>>>;
  };
  const resources: Record<string, Record<string, unknown>> = { ...(json.resource ?? {}) };
  const converter = new Converter(client.schemaSource(), (kind, version) => client.kind(kind, version));
  const objects: { what: string; object: ApiObject }[] = [];
  const notChecked: { address: string; reason: string }[] = [];
  for (const [type, byName] of Object.entries(json.resource ?? {})) {
    for (const [name, raw] of Object.entries(byName)) {
      const address = `${type}.${name}`;
      if (type.startsWith("kubernetes_")) {
        const body = replaceReferences(raw, resources) as Record<string, unknown>;
        const c = converter.convert(type, name, body);
        if ("skipped" in c) notChecked.push({ address, reason: c.skipped });
        else objects.push({ what: address, object: c.object });
      } else if (type === "helm_release") {
        const body = replaceReferences(raw, resources) as Record<string, any>;
        if (body.repository || !isLocalChart(stackDir, String(body.chart))) {
          notChecked.push({
            address,
            reason: `remote chart ${body.repository ?? ""}/${body.chart} ${body.version ?? ""}: no chart repository is reachable offline, so Helm cannot render it here (its values are checked by the monitoring tests, its objects are not)`,
          });
          continue;
        }
        for (const o of renderChart(helmRender, stackDir, body, kubeVersion))
          objects.push({ what: `${address}: ${o.kind}/${o.metadata.name}`, object: o });
      }
    }
  }
  return { objects, notChecked };
}

/** Renders a local chart with Helm (helm-render), with the values and `set` entries of the release. */
export function renderChart(helmRender: string, stackDir: string, release: Record<string, any>, kubeVersion: string): ApiObject[] {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "kube-values-"));
  try {
    const args = [
      "chart",
      "--chart",
      path.join(stackDir, release.chart),
      "--name",
      release.name,
      "--namespace",
      release.namespace ?? "default",
      "--kube-version",
      kubeVersion,
    ];
    (release.values ?? []).forEach((v: string, i: number) => {
      const f = path.join(dir, `values-${i}.yaml`);
      fs.writeFileSync(f, v);
      args.push("--values", f);
    });
    const sets = [...(release.set ?? []), ...(release.set_sensitive ?? [])] as { name: string; value: unknown }[];
    if (sets.length > 0) {
      const nested: Record<string, any> = {};
      for (const s of sets) {
        const keys = s.name.split(/(?<!\\)\./).map((k) => k.replace(/\\\./g, "."));
        let cur = nested;
        keys.slice(0, -1).forEach((k) => (cur = cur[k] ??= {}));
        cur[keys[keys.length - 1]] = s.value;
      }
      const f = path.join(dir, "set.json");
      fs.writeFileSync(f, JSON.stringify(nested));
      args.push("--values", f);
    }
    const out = execFileSync(helmRender, args, { encoding: "utf8", maxBuffer: 64 * 1024 * 1024 });
    return (JSON.parse(out) as ApiObject[]).map((o) => ({
      ...o,
      metadata: { ...o.metadata, namespace: o.metadata.namespace ?? release.namespace },
    }));
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

function verdict(r: Response): { ok: boolean; message: string } {
  const warnings = r.warnings.filter((w) => !ALLOWED_WARNINGS.some((a) => a.pattern.test(w)));
  if (r.status >= 200 && r.status < 300 && warnings.length === 0) return { ok: true, message: "" };
  let message = "";
  if (r.status >= 300) {
    try {
      message = (JSON.parse(r.body) as { message?: string }).message ?? r.body;
    } catch {
      message = r.body;
    }
    message = `${r.status}: ${message}`;
  }
  if (warnings.length > 0) message += `${message ? "; " : ""}warnings: ${warnings.join(" | ")}`;
  return { ok: false, message };
}

const SETUP_KINDS = new Set(["Namespace", "CustomResourceDefinition", "ServiceAccount"]);

/** Submits the objects of one stack; see the file comment for the order. */
export async function checkObjects(
  client: KubeClient,
  stack: string,
  objects: { what: string; object: ApiObject }[],
): Promise<StackReport> {
  const report: StackReport = { stack, accepted: [], refused: [], notChecked: [] };
  const record = (what: string, object: ApiObject, r: Response) => {
    const v = verdict(r);
    (v.ok ? report.accepted : report.refused).push({ what, object, ...v });
  };
  // 1. What later objects need, for real.
  for (const [o, r] of await prepare(client, objects)) record(o.what, o.object, r);

  // 2. and 3. Everything else as a dry run, and every pod template as a bare Pod.
  const rest: { what: string; object: ApiObject }[] = [];
  for (const o of objects) {
    if (SETUP_KINDS.has(o.object.kind)) continue;
    rest.push(o);
    podTemplates(o.object).forEach((t, i) =>
      rest.push({ what: `${o.what} ${t.path} (bare Pod)`, object: podFromTemplate(o.object, t.template, i) }),
    );
  }
  const results = await mapLimit(rest, 6, async (o) => {
    try {
      return await client.dryRunCreate(o.object);
    } catch (err) {
      return { status: 0, body: JSON.stringify({ message: String(err) }), warnings: [] } as Response;
    }
  });
  rest.forEach((o, i) => record(o.what, o.object, results[i]));
  return report;
}

/**
 * Applies for real what later objects need: namespaces (the stack's, then any other one an object
 * names, without labels: the server's Pod Security default, restricted, applies), each namespace's
 * `default` service account (the controller that makes it is not running), CRDs, service accounts.
 * Returns the responses to the stack's own objects.
 */
export async function prepare(
  client: KubeClient,
  objects: { what: string; object: ApiObject }[],
): Promise<[{ what: string; object: ApiObject }, Response][]> {
  const out: [{ what: string; object: ApiObject }, Response][] = [];
  const namespaces = objects.filter((o) => o.object.kind === "Namespace");
  for (const o of namespaces) out.push([o, await client.apply(o.object)]);
  const named = new Set(objects.map((o) => o.object.metadata.namespace).filter((n): n is string => !!n));
  for (const ns of named) {
    if (!namespaces.some((o) => o.object.metadata.name === ns)) {
      const r = await client.apply({ apiVersion: "v1", kind: "Namespace", metadata: { name: ns } });
      if (r.status >= 300) throw new Error(`creating namespace ${ns}: ${r.status} ${r.body}`);
    }
    const r = await client.apply({ apiVersion: "v1", kind: "ServiceAccount", metadata: { name: "default", namespace: ns } });
    if (r.status >= 300) throw new Error(`creating the default service account of ${ns}: ${r.status} ${r.body}`);
  }
  const crds = objects.filter((x) => x.object.kind === "CustomResourceDefinition");
  for (const o of crds) out.push([o, await client.apply(o.object)]);
  if (crds.length > 0) {
    // The stack's own CRDs: served once Established; then discovery knows their kinds.
    await installCrds(
      client,
      crds.map((o) => o.object),
    );
    await client.discover();
  }
  for (const o of objects.filter((x) => x.object.kind === "ServiceAccount")) out.push([o, await client.apply(o.object)]);
  return out;
}

async function mapLimit<T, R>(items: T[], limit: number, fn: (t: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(limit, items.length) }, async () => {
      while (next < items.length) {
        const i = next++;
        out[i] = await fn(items[i]);
      }
    }),
  );
  return out;
}

/** Installs CRDs for real and waits until each is Established (its kind is then served). */
export async function installCrds(client: KubeClient, crds: ApiObject[], timeoutMs = 120_000): Promise<void> {
  // Applied concurrently: each large CRD costs the server seconds of schema work, mostly waiting.
  await mapLimit(crds, 4, async (crd) => {
    const r = await client.apply(crd);
    if (r.status >= 300) throw new Error(`installing CRD ${crd.metadata.name}: ${r.status} ${r.body.slice(0, 500)}`);
  });
  const deadline = Date.now() + timeoutMs;
  for (const crd of crds) {
    for (;;) {
      const r = await client.request("GET", `/apis/apiextensions.k8s.io/v1/customresourcedefinitions/${crd.metadata.name}`);
      const status =
        r.status === 200 ? (JSON.parse(r.body) as { status?: { conditions?: { type: string; status: string }[] } }).status : undefined;
      if (status?.conditions?.some((c) => c.type === "Established" && c.status === "True")) break;
      if (Date.now() > deadline) throw new Error(`CRD ${crd.metadata.name} not established after ${timeoutMs / 1000} s`);
      await new Promise((res) => setTimeout(res, 200));
    }
  }
}
