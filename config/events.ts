/**
 * The `events` section: the registry events service. MLflow's registry webhooks plus a
 * scheduled reconciliation, turned into exactly one message per registry event on Slack, Discord,
 * e-mail and a GitHub `repository_dispatch`. Off unless an environment turns it on.
 *
 * Every secret is a reference: a secret of the environment's cloud (AWS Secrets Manager, Google Secret Manager,
 * Azure Key Vault) the stack copies into a Kubernetes Secret, or a Kubernetes Secret an operator creates (External
 * Secrets, sealed secrets). The webhook's signing secret and MLflow's webhook-secret encryption key are generated
 * by the stack.
 */
import { z } from "zod";
import { dnsLabel, email, imageRef } from "./primitives";
import { secretManagerSecretProblem, secretManagerVersionProblem } from "../constructs/core/gcp-limits";
import {
  keyVaultIdProblem,
  keyVaultNameProblem,
  keyVaultSecretNameProblem,
  keyVaultSecretVersionProblem,
  resourceGroupNameProblem,
} from "../constructs/core/azure-limits";

/** Every event kind the service emits (runtime/src/mlflow_platform/events/settings.py EVENT_KINDS). */
export const EVENT_KINDS = [
  "registered_model.created",
  "model_version.created",
  "model_version.stage_changed",
  "model_version_tag.set",
  "model_version_alias.created",
  "model_version_alias.deleted",
  "gate.refused",
  "delivery.failed",
  "service.behind",
] as const;
export type EventKind = (typeof EVENT_KINDS)[number];

/** What people want to hear about (the default of Slack, Discord and e-mail). */
export const NOTIFY_EVENTS: readonly EventKind[] = EVENT_KINDS;
/** What starts the model release pipeline (the default of GitHub): a new version, a watched tag, an alias change. */
export const RELEASE_EVENTS: readonly EventKind[] = [
  "model_version.created",
  "model_version_tag.set",
  "model_version_alias.created",
  "model_version_alias.deleted",
];

const ARN = /^arn:aws(-[a-z]+)*:[a-z0-9-]+:[a-z0-9-]*:(\d{12})?:.+$/;
const int = (min: number, max: number, what: string) => {
  const msg = { error: `${what}: a whole number from ${min} to ${max}` };
  return z.number(msg).int(msg).min(min, msg).max(max, msg);
};
const rule = (problem: (value: string) => string | undefined) =>
  z.string().superRefine((value, ctx) => {
    const p = problem(value);
    if (p) ctx.addIssue({ code: "custom", message: p });
  });
const events = (fallback: readonly EventKind[]) =>
  z.array(z.enum(EVENT_KINDS, { error: `an event kind: one of ${EVENT_KINDS.join(", ")}` })).default([...fallback]);

/** A secret by reference: never a value in configuration. */
export const secretRefSchema = z.discriminatedUnion(
  "source",
  [
    z
      .object({
        source: z
          .literal("secrets-manager")
          .describe(
            "The value lives in AWS Secrets Manager; the stack copies it into a Kubernetes Secret (the value passes through Terraform state).",
          ),
        secretArn: z
          .string()
          .regex(ARN, { error: "the ARN of a Secrets Manager secret, e.g. arn:aws:secretsmanager:..." })
          .describe("ARN of the Secrets Manager secret whose string is the value."),
      })
      .strict(),
    z
      .object({
        source: z
          .literal("kubernetes")
          .describe(
            "An operator creates the Kubernetes Secret in the MLflow namespace (for example with External Secrets); the value never touches Terraform state.",
          ),
        secretName: dnsLabel.describe("Name of the Kubernetes Secret in the MLflow namespace."),
        key: z.string().min(1).describe("Key of that Secret holding the value."),
      })
      .strict(),
    z
      .object({
        source: z
          .literal("secret-manager")
          .describe(
            "GCP environments: the value lives in Google Secret Manager; the stack copies it into a Kubernetes Secret (the value passes through Terraform state).",
          ),
        secret: rule(secretManagerSecretProblem).describe(
          'Full name of the secret, "projects/<project id or number>/secrets/<secret id>" (Terraform\'s identity needs roles/secretmanager.secretAccessor on it).',
        ),
        version: z
          .union([z.literal("latest"), z.number()])
          .superRefine((value, ctx) => {
            const p = secretManagerVersionProblem(value);
            if (p) ctx.addIssue({ code: "custom", message: p });
          })
          .default("latest")
          .describe('The secret version: "latest" (read again at every plan) or a version number.'),
      })
      .strict(),
    z
      .object({
        source: z
          .literal("key-vault")
          .describe(
            "Azure environments: the value lives in an Azure Key Vault; the stack copies it into a Kubernetes Secret (the value passes through Terraform state). Terraform reads it from the vault's data plane: its firewall must admit Terraform's network (docs/azure.md#registry-events).",
          ),
        vaultId: rule(keyVaultIdProblem)
          .optional()
          .describe("Resource id of the vault (az keyvault show --query id). Either this or vaultName."),
        vaultName: rule(keyVaultNameProblem).optional().describe("Name of the vault, in resourceGroupName. Either this or vaultId."),
        resourceGroupName: rule(resourceGroupNameProblem)
          .optional()
          .describe("Resource group of vaultName. Default: azure.resourceGroupName."),
        secretName: rule(keyVaultSecretNameProblem).describe(
          "Name of the secret in the vault (Terraform's identity needs Key Vault Secrets User on it).",
        ),
        version: rule(keyVaultSecretVersionProblem)
          .optional()
          .describe("A version of the secret (32 hex digits). Default: the current one."),
      })
      .strict()
      .superRefine((ref, ctx) => {
        if ((ref.vaultId === undefined) === (ref.vaultName === undefined))
          ctx.addIssue({
            code: "custom",
            path: ["vaultId"],
            message: "either vaultId or vaultName (the vault holding the secret), not both",
          });
        if (ref.vaultId !== undefined && ref.resourceGroupName !== undefined)
          ctx.addIssue({
            code: "custom",
            path: ["resourceGroupName"],
            message: "no resourceGroupName with vaultId (the id names the group)",
          });
      }),
  ],
  {
    error:
      'a secret reference: { source: "kubernetes", secretName, key }, or the cloud\'s own: { source: "secrets-manager", secretArn } (AWS), { source: "secret-manager", secret } (GCP), { source: "key-vault", vaultId or vaultName, secretName } (Azure)',
  },
);
export type SecretRefInput = z.output<typeof secretRefSchema>;

const webhookChannel = (what: string) =>
  z
    .object({
      webhookUrl: secretRefSchema.describe(`Where the ${what} webhook URL comes from (it is a credential: anyone with it can post).`),
      events: events(NOTIFY_EVENTS).describe(`Event kinds sent to ${what} (${EVENT_KINDS.join(", ")}). Default: all.`),
    })
    .strict();

export const eventsSchema = z
  .object({
    enabled: z.boolean().default(false).describe("Deploy the registry events service and declare MLflow's webhooks. Off by default."),
    image: imageRef('"ghcr.io/acme/mlflow-platform-runtime:0.1.0"')
      .optional()
      .describe(
        "Image with MLflow (the pinned version) and the runtime package (`mlflow-platform`), exact tag or digest. Required when enabled.",
      ),
    port: int(1024, 65535, "port").default(8080).describe("Port of the service (webhooks, /metrics, /healthz, /readyz)."),
    reconcileSeconds: int(5, 3600, "seconds")
      .default(30)
      .describe("Seconds between two reconciliation passes over the registry: the longest a lost webhook or a stage transition waits."),
    maxAgeSeconds: int(60, 31_536_000, "seconds")
      .default(86_400)
      .describe(
        'Registry objects older than this found without a valid state (first deployment onto an existing registry, or a state someone removed or forged) are not announced as new; their aliases, live stages and watched tags are announced once, marked "first seen".',
      ),
    replayWindowSeconds: int(30, 3600, "seconds")
      .default(300)
      .describe(
        "A delivery whose signed timestamp is further than this from now is refused (replays); delivery ids are remembered for twice as long.",
      ),
    behindSeconds: int(60, 86_400, "seconds")
      .default(300)
      .describe("Reconciliation failing (or one pass taking) longer than this is a `service.behind` event and an alert."),
    watchedTags: z
      .array(z.string().min(1))
      .default(["production-ready"])
      .describe(
        "Model-version tag keys whose setting is an event (`model_version_tag.set`). `platform.gate.*` tags are always watched (refused gates).",
      ),
    retry: z
      .object({
        attempts: int(1, 10, "attempts")
          .default(4)
          .describe("Attempts per message before the channel counts as failed (then `delivery.failed` goes to the other channels)."),
        backoffSeconds: z.number().positive().max(60).default(2).describe("First wait between attempts; doubled after each."),
        keepSeconds: int(60, 604_800, "seconds")
          .default(3600)
          .describe("A message a channel could not take is tried again on later passes (that channel alone) for this long, then given up."),
      })
      .strict()
      .default({ attempts: 4, backoffSeconds: 2, keepSeconds: 3600 }),
    resources: z
      .object({
        requests: z
          .object({
            cpu: z.string().default("50m").describe("CPU request."),
            memory: z.string().default("256Mi").describe("Memory request."),
          })
          .strict()
          .default({ cpu: "50m", memory: "256Mi" }),
        limits: z
          .object({ memory: z.string().default("512Mi").describe("Memory limit.") })
          .strict()
          .default({ memory: "512Mi" }),
      })
      .strict()
      .default({ requests: { cpu: "50m", memory: "256Mi" }, limits: { memory: "512Mi" } })
      .describe("Resources of the service's container."),
    slack: webhookChannel("Slack").optional().describe("Slack incoming webhook. Optional."),
    discord: webhookChannel("Discord").optional().describe("Discord channel webhook. Optional."),
    email: z
      .object({
        smtpHost: z
          .string()
          .regex(/^[a-z0-9.-]+$/, { error: 'an SMTP host name such as "email-smtp.eu-west-1.amazonaws.com"' })
          .describe("SMTP server host."),
        smtpPort: int(1, 65535, "port").default(587).describe("SMTP port (587: submission with STARTTLS)."),
        startTls: z.boolean().default(true).describe("Upgrade the connection with STARTTLS (certificate verified) before logging in."),
        username: z.string().min(1).optional().describe("SMTP user; the password comes from `password`."),
        password: secretRefSchema.optional().describe("Where the SMTP password comes from. Required with username."),
        from: email.describe("Sender address."),
        to: z.array(email).min(1, { error: "at least one recipient" }).describe("Recipients."),
        events: events(NOTIFY_EVENTS).describe("Event kinds sent by e-mail. Default: all."),
      })
      .strict()
      .optional()
      .describe("E-mail through SMTP. Optional."),
    github: z
      .object({
        repository: z
          .string()
          .regex(/^[A-Za-z0-9_.-]+\/[A-Za-z0-9_.-]+$/, { error: 'owner/name of a GitHub repository, such as "acme/model-release"' })
          .describe("Repository receiving `repository_dispatch` (event_type `mlflow.<event kind>`)."),
        apiUrl: z
          .url({ protocol: /^https$/, error: 'an https:// URL such as "https://api.github.com"' })
          .default("https://api.github.com")
          .describe("GitHub API base URL (GitHub Enterprise Server: https://<host>/api/v3)."),
        token: secretRefSchema.describe("Where the token comes from (fine-grained, Contents: read and write on that repository only)."),
        events: events(RELEASE_EVENTS).describe(`Event kinds that start the release pipeline. Default: ${RELEASE_EVENTS.join(", ")}.`),
      })
      .strict()
      .optional()
      .describe("GitHub repository_dispatch for the model release pipeline. Optional."),
  })
  .strict()
  .superRefine((e, ctx) => {
    const issue = (path: (string | number)[], message: string) => ctx.addIssue({ code: "custom", path, message });
    if (!e.enabled) return;
    if (!e.image) issue(["image"], "the image of the runtime package (MLflow + mlflow-platform) when events.enabled is true");
    if (!e.slack && !e.discord && !e.email && !e.github)
      issue(["enabled"], "at least one channel (slack, discord, email or github) when events.enabled is true, or enabled: false");
    if (e.email?.username && !e.email.password)
      issue(["email", "password"], "the Secret holding the SMTP password when email.username is set");
  })
  .default({
    enabled: false,
    port: 8080,
    reconcileSeconds: 30,
    maxAgeSeconds: 86_400,
    replayWindowSeconds: 300,
    behindSeconds: 300,
    watchedTags: ["production-ready"],
    retry: { attempts: 4, backoffSeconds: 2, keepSeconds: 3600 },
    resources: { requests: { cpu: "50m", memory: "256Mi" }, limits: { memory: "512Mi" } },
  });

export type EventsConfig = z.output<typeof eventsSchema>;

/** The cloud each cloud-held secret source belongs to. */
export const SECRET_SOURCE_CLOUD = {
  "secrets-manager": { cloud: "aws", what: "AWS Secrets Manager" },
  "secret-manager": { cloud: "gcp", what: "Google Secret Manager" },
  "key-vault": { cloud: "azure", what: "Azure Key Vault" },
} as const;
export type SecretCloud = (typeof SECRET_SOURCE_CLOUD)[keyof typeof SECRET_SOURCE_CLOUD]["cloud"];
const CLOUD_WORDS: Record<SecretCloud, { environment: string; source: string }> = {
  aws: { environment: "an AWS environment", source: '"secrets-manager"' },
  gcp: { environment: "a GCP environment", source: '"secret-manager"' },
  azure: { environment: "an Azure environment", source: '"key-vault"' },
};

/**
 * The channel secrets whose source is another cloud's store: the stack reads a secret through its own cloud's
 * provider only (an AWS stack has no Google or Azure provider, and the reverse), so each is refused at its field.
 */
export function secretSourceProblems(events: EventsConfig, cloud: SecretCloud): { path: (string | number)[]; message: string }[] {
  const refs: [string[], SecretRefInput | undefined][] = [
    [["slack", "webhookUrl"], events.slack?.webhookUrl],
    [["discord", "webhookUrl"], events.discord?.webhookUrl],
    [["github", "token"], events.github?.token],
    [["email", "password"], events.email?.password],
  ];
  const out: { path: (string | number)[]; message: string }[] = [];
  for (const [path, ref] of refs) {
    if (!ref || ref.source === "kubernetes") continue;
    const owner = SECRET_SOURCE_CLOUD[ref.source];
    if (owner.cloud === cloud) continue;
    const words = CLOUD_WORDS[cloud];
    out.push({
      path: ["events", ...path, "source"],
      message: `${words.source} or "kubernetes" on ${words.environment}: "${ref.source}" (${owner.what}) is for ${CLOUD_WORDS[owner.cloud].environment.replace(/^an? /, "")}s only`,
    });
  }
  return out;
}
