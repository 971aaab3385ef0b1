/**
 * The Alertmanager configuration, built as a plain object: routing per severity to Slack, Discord and e-mail.
 * Secrets are files mounted from Kubernetes Secrets (`api_url_file`, `auth_password_file`), never values.
 * The tests render this object to a file and run `amtool check-config` on it.
 */

/** Where Alertmanager mounts a Secret listed in `alertmanagerSpec.secrets` (kube-prometheus-stack). */
export function alertmanagerSecretPath(secretName: string, key: string): string {
  return `/etc/alertmanager/secrets/${secretName}/${key}`;
}

/** Slack: a channel and the mounted Secret holding the incoming-webhook URL. */
export interface SlackRouting {
  readonly channel: string;
  readonly webhookSecretName: string;
  readonly webhookSecretKey: string;
}

/** E-mail through an SMTP server. */
export interface EmailRouting {
  readonly to: readonly string[];
  readonly from: string;
  /** host:port */
  readonly smarthost: string;
  readonly authUsername?: string;
  /** Secret (mounted) holding the SMTP password, when the server needs one. */
  readonly authPasswordSecretName?: string;
  readonly authPasswordSecretKey: string;
  readonly requireTls: boolean;
}

/** Discord: the mounted Secret holding the channel webhook URL. */
export interface DiscordRouting {
  readonly webhookSecretName: string;
  readonly webhookSecretKey: string;
}

export interface AlertRouting {
  readonly slack?: SlackRouting;
  readonly email?: EmailRouting;
  readonly discord?: DiscordRouting;
}

interface Route {
  receiver: string;
  matchers?: string[];
  group_by?: string[];
  group_wait?: string;
  group_interval?: string;
  repeat_interval?: string;
  continue?: boolean;
  routes?: Route[];
}

/** The Alertmanager configuration file, as Alertmanager reads it. */
export interface AlertmanagerConfig {
  global: { resolve_timeout: string };
  route: Route;
  inhibit_rules: { source_matchers: string[]; target_matchers: string[]; equal: string[] }[];
  receivers: {
    name: string;
    slack_configs?: Record<string, unknown>[];
    email_configs?: Record<string, unknown>[];
    discord_configs?: Record<string, unknown>[];
  }[];
  templates: string[];
}

const SLACK_TITLE =
  '[{{ .Status | toUpper }}{{ if eq .Status "firing" }}:{{ .Alerts.Firing | len }}{{ end }}] {{ .CommonLabels.alertname }} ({{ .CommonLabels.severity }})';
const SLACK_TEXT =
  "{{ range .Alerts }}*{{ .Annotations.summary }}*\n{{ .Annotations.description }}\n{{ if .Annotations.runbook_url }}Runbook: {{ .Annotations.runbook_url }}\n{{ end }}{{ end }}";

/**
 * Builds the configuration. Critical alerts go to Slack and e-mail, warnings to Slack (or e-mail when
 * there is no Slack); Watchdog and info alerts go nowhere. With neither channel configured, alerts are
 * still evaluated and visible in Alertmanager's UI but reach nobody (`receivers()` tells the caller).
 */
export function buildAlertmanagerConfig(routing: AlertRouting): AlertmanagerConfig {
  const slack = routing.slack
    ? [
        {
          api_url_file: alertmanagerSecretPath(routing.slack.webhookSecretName, routing.slack.webhookSecretKey),
          channel: routing.slack.channel.startsWith("#") ? routing.slack.channel : `#${routing.slack.channel}`,
          send_resolved: true,
          title: SLACK_TITLE,
          text: SLACK_TEXT,
        },
      ]
    : undefined;
  const email = routing.email
    ? [
        {
          to: routing.email.to.join(", "),
          from: routing.email.from,
          smarthost: routing.email.smarthost,
          require_tls: routing.email.requireTls,
          send_resolved: true,
          ...(routing.email.authUsername ? { auth_username: routing.email.authUsername } : {}),
          ...(routing.email.authPasswordSecretName
            ? { auth_password_file: alertmanagerSecretPath(routing.email.authPasswordSecretName, routing.email.authPasswordSecretKey) }
            : {}),
        },
      ]
    : undefined;

  // Discord beside Slack: the same alerts, the URL read from a mounted Secret (Alertmanager >= 0.26).
  const discord = routing.discord
    ? [
        {
          webhook_url_file: alertmanagerSecretPath(routing.discord.webhookSecretName, routing.discord.webhookSecretKey),
          send_resolved: true,
          title: SLACK_TITLE,
          message: SLACK_TEXT,
        },
      ]
    : undefined;
  const chat = { ...(slack ? { slack_configs: slack } : {}), ...(discord ? { discord_configs: discord } : {}) };
  const critical = { name: "critical", ...chat, ...(email ? { email_configs: email } : {}) };
  const warning = { name: "warning", ...(slack || discord ? chat : email ? { email_configs: email } : {}) };

  return {
    global: { resolve_timeout: "5m" },
    route: {
      receiver: "null",
      group_by: ["alertname", "namespace"],
      group_wait: "30s",
      group_interval: "5m",
      repeat_interval: "12h",
      routes: [
        { receiver: "null", matchers: ['alertname="Watchdog"'] },
        { receiver: "null", matchers: ['alertname="InfoInhibitor"'] },
        { receiver: "critical", matchers: ['severity="critical"'], repeat_interval: "4h" },
        { receiver: "warning", matchers: ['severity="warning"'] },
      ],
    },
    inhibit_rules: [
      // A critical alert silences the warning of the same name (kube-prometheus-stack's default rule).
      { source_matchers: ['severity="critical"'], target_matchers: ['severity=~"warning|info"'], equal: ["namespace", "alertname"] },
      // A server that is down explains its errors and latency.
      { source_matchers: ['alertname="MlflowTrackingServerDown"'], target_matchers: ['alertname=~"MlflowHigh.*"'], equal: ["namespace"] },
      // A proxy that is down explains everything behind it.
      {
        source_matchers: ['alertname="OAuth2ProxyDown"'],
        target_matchers: ['alertname=~"OAuth2ProxyAuthFailuresHigh|MlflowHigh.*"'],
        equal: ["namespace"],
      },
    ],
    receivers: [{ name: "null" }, critical, warning],
    templates: ["/etc/alertmanager/config/*.tmpl"],
  };
}

/** Names of the Secrets Alertmanager must mount for this routing (`alertmanagerSpec.secrets`). */
export function alertmanagerSecrets(routing: AlertRouting): string[] {
  const names = [routing.slack?.webhookSecretName, routing.discord?.webhookSecretName, routing.email?.authPasswordSecretName].filter(
    (n): n is string => Boolean(n),
  );
  return [...new Set(names)];
}
