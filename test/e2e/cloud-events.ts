/**
 * The registry events service of the GCP or Azure fixture stack in that cloud's end-to-end step: its synthesized
 * Deployment's command, run against the step's own tracking server. The Slack URL is the value of the cloud's
 * secret store data source (Secret Manager's `secret_data`, Key Vault's `value`) that the stack copies into the
 * channels' Secret; the GitHub token comes from the operator's Secret. Both channels are local stand-ins. The
 * tracking server and the service name the service's in-cluster webhook URL, rewritten to its local port, so the
 * webhook the service declares passes the tracking server's guard as it would in the cluster.
 */
import { randomBytes } from "crypto";
import * as http from "http";
import * as net from "net";
import * as path from "path";
import type { Ctx } from "./context";
import { LocalDeployment, textRule, type AddressRule } from "./lib/deployment";
import { LOOPBACK, freePort, request, waitForHttp } from "./lib/net";
import { tail } from "./lib/processes";
import type { TerraformValues } from "./lib/terraform";
import { selects, workloads, type StackJson } from "./lib/workloads";
import {
  registryEventsPodLabels,
  registryEventsWebhookUrl,
  type RegistryEventsEnvironment,
} from "../../constructs/registry-events/command";

/** The value expressions of the clouds' secret store data sources (what the channels' Secret is filled from). */
const CLOUD_SECRET_VALUE = /^data\.(google_secret_manager_secret_version\.[\w-]+\.secret_data|azurerm_key_vault_secret\.[\w-]+\.value)$/;

/**
 * For a step that renders the stack's commands but runs no events service (the serving steps): a channel secret a
 * cloud's data source would read stands in as a URL nothing listens on. Only the events service's own Secret holds it.
 */
export function unusedChannelSecret(expr: string): string | undefined {
  return CLOUD_SECRET_VALUE.test(expr) ? "http://127.0.0.1:9/not-used-by-this-step" : undefined;
}

interface Recorded {
  readonly path: string;
  readonly headers: http.IncomingHttpHeaders;
  readonly body: string;
}

/** What the step reserves before it renders its commands: the service's port, the stand-ins and their URLs. */
export interface CloudEvents {
  readonly port: number;
  /** The service's in-cluster webhook URL -> its local port (the tracking server's guard and the service alike). */
  readonly rule: AddressRule;
  /** The cloud's store, stood in: a secret data source's value expression -> the Slack stand-in's URL. */
  resolve(expr: string): string | undefined;
  readonly slack: Recorded[];
  readonly github: Recorded[];
  readonly githubUrl: string;
  readonly close: () => Promise<void>;
}

function standIn(log: Recorded[], status: number): Promise<{ port: number; server: http.Server }> {
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      log.push({ path: req.url ?? "", headers: req.headers, body: Buffer.concat(chunks).toString("utf8") });
      res.writeHead(status, { "Content-Type": "text/plain" });
      res.end(status === 200 ? "ok" : "");
    });
  });
  return new Promise((resolve) => server.listen(0, LOOPBACK, () => resolve({ port: (server.address() as net.AddressInfo).port, server })));
}

/** Before the commands are rendered: undefined when the environment has no events service. */
export async function reserveCloudEvents(config: RegistryEventsEnvironment): Promise<CloudEvents | undefined> {
  if (!config.events.enabled) return undefined;
  const slack: Recorded[] = [];
  const github: Recorded[] = [];
  const s = await standIn(slack, 200);
  const g = await standIn(github, 204);
  const port = await freePort();
  const slackUrl = `http://${LOOPBACK}:${s.port}/services/T0001/B0001/${randomBytes(12).toString("hex")}`;
  const webhook = new URL(registryEventsWebhookUrl(config));
  return {
    port,
    rule: textRule(`${webhook.origin}/`, `http://${LOOPBACK}:${port}/`, "the events service's in-cluster Service -> its local port"),
    resolve: (expr) => (CLOUD_SECRET_VALUE.test(expr) ? slackUrl : undefined),
    slack,
    github,
    githubUrl: `http://${LOOPBACK}:${g.port}`,
    close: async () => {
      for (const server of [s.server, g.server]) await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

async function until(what: () => boolean, timeoutMs: number): Promise<boolean> {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    if (what()) return true;
    await new Promise((r) => setTimeout(r, 250));
  }
  return what();
}

/**
 * Runs the service once the registry holds `model` (registered by the step), and checks that it declared its webhook
 * in the step's tracking server and told Slack (the URL from the cloud's store) and GitHub (the operator's token).
 */
export async function runCloudEvents(
  ctx: Ctx,
  events: CloudEvents,
  i: {
    readonly cloud: string;
    readonly json: StackJson;
    readonly tf: TerraformValues;
    readonly config: RegistryEventsEnvironment;
    readonly dnsRules: AddressRule[];
    readonly binary: string;
    readonly env: (vars: Record<string, string>) => Record<string, string>;
    readonly model: string;
  },
): Promise<void> {
  const { report, procs } = ctx;
  const started = Date.now();
  const e = i.config.events;
  const wanted = registryEventsPodLabels(i.config);
  const found = workloads(i.json).filter((w) => w.kind === "Deployment" && selects(wanted, w.podLabels));
  if (found.length !== 1) throw new Error(`expected one ${i.cloud} Deployment with the registry events labels, found ${found.length}`);
  const token = `ghp_${randomBytes(18).toString("hex")}`;
  const external: Record<string, string> = {};
  for (const ref of [e.slack?.webhookUrl, e.discord?.webhookUrl, e.github?.token, e.email?.password])
    if (ref?.source === "kubernetes") external[`${ref.secretName}/${ref.key}`] = token;
  const local = new LocalDeployment(i.json, i.tf, external, path.join(ctx.runDir, `${i.cloud}-events-mounts`));
  const [w] = found;
  const lp = local.render(w, w.containers[0], {
    binaries: { "mlflow-platform": i.binary },
    ports: { http: events.port },
    rules: [
      ...i.dnsRules,
      // The tracking server's URL inside the settings document: the same Service rules, applied to the URL itself.
      {
        why: "in-cluster address of the tracking server (the service's settings)",
        apply: (v, c) =>
          v.replace(
            /"trackingUri":"([^"]+)"/,
            (_m, url: string) => `"trackingUri":"${i.dnsRules.reduce((u, rule) => rule.apply(u, c), url)}"`,
          ),
      },
      events.rule,
      textRule(
        `"host":"0.0.0.0","port":${e.port}`,
        `"host":"${LOOPBACK}","port":${events.port}`,
        "listen address (the service's settings)",
      ),
      textRule(e.github?.apiUrl ?? "https://api.github.com", events.githubUrl, "GitHub API -> its stand-in"),
    ],
  });
  report.info(`${i.cloud} registry events: ${lp.synthesized.argv.join(" ")} (env: ${Object.keys(lp.synthesized.env).join(", ")})`);
  for (const c of lp.changes) report.info(`  local change ${c.where}: ${c.from.slice(0, 160)} -> ${c.to.slice(0, 160)} (${c.why})`);
  const name = `${i.cloud}-registry-events`;
  const proc = procs.start(name, lp.argv, { env: i.env(lp.env) });
  try {
    await waitForHttp(`http://${LOOPBACK}:${events.port}/readyz`, proc, 120_000, 200);
  } catch (err) {
    throw new Error(`the ${i.cloud} events service never became ready: ${String(err)}\n${tail(path.join(procs.logDir, `${name}.log`))}`);
  }
  const metrics = (await request(`http://${LOOPBACK}:${events.port}/metrics`, { caller: "scrape" })).body;
  report.check(
    `the ${i.cloud} stack's events service is ready and declared its webhook in that stack's tracking server`,
    /mlflow_events_webhook_registered 1\.0/.test(metrics),
    `ready in ${((Date.now() - started) / 1000).toFixed(1)} s; webhook_registered ${/mlflow_events_webhook_registered (\S+)/.exec(metrics)?.[1]}`,
  );
  const told = await until(
    () => events.slack.some((m) => m.body.includes(i.model)) && events.github.some((m) => m.body.includes(i.model)),
    60_000,
  );
  const dispatch = events.github.find((m) => m.body.includes(i.model));
  report.check(
    `the ${i.cloud} events service tells Slack at the URL from the cloud's secret store, and GitHub with the operator's token`,
    told && dispatch?.headers.authorization === `Bearer ${token}` && events.slack.every((m) => m.path.startsWith("/services/T0001/B0001/")),
    `${events.slack.length} Slack messages (${events.slack.filter((m) => m.body.includes(i.model)).length} about ${i.model}), ` +
      `${events.github.length} dispatches to ${dispatch?.path ?? "nowhere"}, in ${((Date.now() - started) / 1000).toFixed(1)} s from start`,
  );
  await procs.stop(proc);
  await events.close();
}
