/**
 * Negative controls: the Kubernetes API check must be able to fail. Each broken variant of a real
 * object of the dev stack is refused by the kube-apiserver with its own message, while the object it
 * was made from is accepted (so the refusal is about the one change, not about the setup).
 */
import type { ApiObject } from "./convert";
import { podFromTemplate, podTemplates } from "./convert";
import type { KubeClient } from "./client";
import { prepare, stackObjects } from "./check";
import { connect, helmRender, loadSchemasFor, synthStacks } from "./cluster";

const stacks = synthStacks("dev");
const dir = stacks.get("mlflow-dev")!;
let client: KubeClient;
let objects: { what: string; object: ApiObject }[];

beforeAll(async () => {
  const c = await connect();
  client = c.client;
  await loadSchemasFor(client, [dir]);
  objects = stackObjects(dir, client, helmRender(), c.info.version).objects;
  for (const [o, r] of await prepare(client, objects)) if (r.status >= 300) throw new Error(`${o.what}: ${r.status} ${r.body}`);
});

const clone = <T>(v: T): T => JSON.parse(JSON.stringify(v)) as T;
const messageOf = (body: string) => (JSON.parse(body) as { message: string }).message;

async function acceptedThenRefused(good: ApiObject, bad: ApiObject): Promise<{ status: number; message: string }> {
  const ok = await client.dryRunCreate(good);
  expect({ status: ok.status, warnings: ok.warnings }).toEqual({ status: 201, warnings: [] });
  const r = await client.dryRunCreate(bad);
  expect(r.status).toBeGreaterThanOrEqual(400);
  return { status: r.status, message: messageOf(r.body) };
}

const messages: string[] = [];

test("a container without allowPrivilegeEscalation: false is refused in the restricted namespace", async () => {
  // A Deployment of a restricted namespace (the Argo Rollouts namespace is restricted too, but its controller comes from a remote chart).
  const restricted = new Set(
    objects
      .filter((o) => o.object.kind === "Namespace" && o.object.metadata.labels?.["pod-security.kubernetes.io/enforce"] === "restricted")
      .map((o) => o.object.metadata.name),
  );
  const workload = objects.find((o) => o.object.kind === "Deployment" && restricted.has(o.object.metadata.namespace!))!.object;
  const good = podFromTemplate(workload, podTemplates(workload)[0].template, 0);
  const bad = clone(good);
  delete ((bad.spec as any).containers[0].securityContext as Record<string, unknown>).allowPrivilegeEscalation;
  const { status, message } = await acceptedThenRefused(good, bad);
  expect(status).toBe(403);
  expect(message).toMatch(/violates PodSecurity "restricted:latest": allowPrivilegeEscalation != false/);
  messages.push(message);
});

test("a label value over 63 characters is refused", async () => {
  const good = objects.find((o) => o.object.kind === "ConfigMap")!.object;
  const bad = clone(good);
  bad.metadata.labels = { ...bad.metadata.labels, "app.kubernetes.io/part-of": "x".repeat(64) };
  const { status, message } = await acceptedThenRefused(good, bad);
  expect(status).toBe(422);
  expect(message).toMatch(/metadata\.labels: Invalid value: "x{64}": must be no more than 63 (bytes|characters)/);
  messages.push(message);
});

test("a ServiceMonitor with a misspelt field is refused by its CRD's schema", async () => {
  const good = objects.find((o) => o.object.kind === "ServiceMonitor")!.object;
  const bad = clone(good);
  const endpoint = (bad.spec as any).endpoints[0] as Record<string, unknown>;
  endpoint.intervall = endpoint.interval ?? "30s";
  delete endpoint.interval;
  const { message } = await acceptedThenRefused(good, bad);
  expect(message).toMatch(/unknown field "spec\.endpoints\[0\]\.intervall"/);
  messages.push(message);
});

afterAll(() => {
  // Three controls, three different refusals.
  expect(new Set(messages).size).toBe(messages.length);
});
