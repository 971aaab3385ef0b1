import { NoSecretLiterals } from "../../policies";
import { isReference } from "../../policies/no-secret-literals";
import type { TfJson } from "../../policies";

const rule = new NoSecretLiterals();
const r = (type: string, attrs: Record<string, unknown>): TfJson => ({ resource: { [type]: { x: attrs } } });

describe("MLF-SEC-1 no secret literals", () => {
  it("passes references: random_password results, $(VAR) expansion, secret refs, files, empty values", () => {
    expect(
      rule.check(r("aws_db_instance", { password: "${random_password.p.result}", username: "mlflow${random_string.u.result}" })),
    ).toEqual([]);
    expect(rule.check(r("kubernetes_secret_v1", { data: { password: "${random_password.p.result}" } }))).toEqual([]);
    expect(
      rule.check(
        r("kubernetes_deployment_v1", {
          spec: [
            {
              container: [
                {
                  args: [
                    "--backend-store-uri",
                    "postgresql+psycopg2://$(DB_USER):$(DB_PASSWORD)@db:5432/mlflow",
                    "--client-secret-file=/etc/secret/client-secret",
                    "--cookie-secret=$(COOKIE_SECRET)",
                  ],
                  env: [
                    { name: "DB_PASSWORD", value_from: [{ secret_key_ref: [{ name: "s", key: "password" }] }] },
                    { name: "LOG_LEVEL", value: "info" },
                  ],
                },
              ],
            },
          ],
        }),
      ),
    ).toEqual([]);
    expect(
      rule.check(
        r("helm_release", { values: ["grafana:\n  adminPassword: ${random_password.g.result}\n  existingSecret: grafana-admin\n"] }),
      ),
    ).toEqual([]);
    expect(
      rule.check(
        r("helm_release", {
          values: [
            JSON.stringify({
              grafana: {
                adminPassword: "${random_password.g.result}",
                admin: { existingSecret: "grafana-admin", passwordKey: "admin-password" },
              },
            }),
          ],
        }),
      ),
    ).toEqual([]);
    expect(
      rule.check(
        r("helm_release", {
          values: ["datasources:\n  password: '$__file{/etc/secrets/pw}'\n  token: \"{{ .Values.token }}\"\n  secret: { nested: 1 }\n"],
        }),
      ),
    ).toEqual([]);
    expect(rule.check({ provider: { kubernetes: [{ token: "${data.aws_eks_cluster_auth.a.token}" }] } })).toEqual([]);
  });

  it.each([
    "",
    "  ",
    "null",
    "true",
    "false",
    "~",
    "${x}",
    " ${random_password.p.result} ",
    '${jsonencode({"engine" = "postgres", "username" = "mlflow${random_string.u.result}", "password" = random_password.p.result})}',
    '${replace(replace(random_bytes.c.base64, "/[+]/", "-"), "/[/]/", "_")}',
    '${jsonencode({a = "}"})}',
    "$(VAR)",
    "{{ .Values.password }}",
    '{{- include "x" . -}}',
    "$__file{/etc/secrets/pw}",
    "$__env{GF_PASSWORD}",
  ])("isReference(%j) is true: the whole value is one reference", (value) => {
    expect(isReference(value)).toBe(true);
  });

  it.each([
    "hunter2",
    "hunter2-${x}",
    "${x}hunter2",
    "${x}-${y}",
    "x${y}",
    "/s3cret",
    "/etc/x",
    "file:/etc/x",
    "$${x}",
    "${x",
    '${"}"',
    "${a}}",
    '${"hunter2"}',
    ' ${ "hunter2" } ',
    "$(A)$(B)",
    "hunter2$(X)",
    "$(X)hunter2",
    "{{ x }}hunter2",
    "hunter2{{ x }}",
    "{{ x }}-{{ y }}",
    "$__file{/p}x",
    "x$__env{P}",
    "True1",
  ])("isReference(%j) is false: a literal, or a reference with literal text around it", (value) => {
    expect(isReference(value)).toBe(false);
  });

  it("passes a Kubernetes Secret user name made of a literal prefix and a generated suffix, and nothing looser", () => {
    const secret = (data: Record<string, string>) => rule.check(r("kubernetes_secret_v1", { data }));
    expect(
      secret({
        username: "mlflow${random_string.u.result}",
        "admin-user": "admin-${random_string.g.result}",
        password: "${random_password.p.result}",
      }),
    ).toEqual([]);
    expect(secret({ username: "admin" }).map((f) => f.message)).toEqual([
      "a Kubernetes Secret holds a literal value at resource.kubernetes_secret_v1.x.data.username",
    ]);
    expect(secret({ username: "mlflow$${x}" })).toHaveLength(1);
    expect(secret({ password: "mlflow${random_string.u.result}" }).map((f) => f.message)).toContain(
      "a Kubernetes Secret holds a literal value at resource.kubernetes_secret_v1.x.data.password",
    );
    expect(secret({ "admin-password": "admin-${random_string.g.result}" }).map((f) => f.message)).toContain(
      "a Kubernetes Secret holds a literal value at resource.kubernetes_secret_v1.x.data.admin-password",
    );
  });

  it.each<[string, TfJson, RegExp]>([
    [
      "a literal password attribute",
      r("aws_db_instance", { password: "hunter2hunter2" }),
      /attribute "password" holds a literal value at resource\.aws_db_instance\.x\.password/,
    ],
    [
      "a literal around a Terraform expression",
      r("aws_db_instance", { password: "hunter2-${x}" }),
      /attribute "password" holds a literal value/,
    ],
    [
      "a literal after a Terraform expression",
      r("aws_db_instance", { password: "${random_password.p.result}hunter2" }),
      /attribute "password" holds a literal value/,
    ],
    ["a literal that looks like a path", r("aws_db_instance", { password: "/s3cret" }), /attribute "password" holds a literal value/],
    [
      "a path-like literal in a Kubernetes Secret",
      r("kubernetes_secret_v1", { data: { password: "/s3cret" } }),
      /a Kubernetes Secret holds a literal value/,
    ],
    [
      "a path-like literal env var secret",
      r("kubernetes_deployment_v1", { env: [{ name: "DB_PASSWORD", value: "/s3cret" }] }),
      /environment variable DB_PASSWORD holds a literal value/,
    ],
    [
      "a literal glued to a $(VAR) argument",
      r("kubernetes_deployment_v1", { args: ["--client-secret=hunter2$(X)"] }),
      /argument client-secret holds a literal value/,
    ],
    [
      "a literal glued to a $(VAR) after a flag",
      r("kubernetes_deployment_v1", { args: ["--password", "$(X)hunter2"] }),
      /argument password is followed by a literal value/,
    ],
    [
      "a URI whose password glues a literal to $(VAR)",
      r("kubernetes_deployment_v1", { args: ["postgresql://mlflow:hunter2$(DB_PASSWORD)@db:5432/mlflow"] }),
      /a URL embeds a literal password/,
    ],
    [
      "a literal after an expression in YAML Helm values",
      r("helm_release", { values: ["grafana:\n  adminPassword: ${random_password.g.result}hunter2\n"] }),
      /embedded document sets "adminPassword" to a literal value/,
    ],
    [
      "an unclosed expression in YAML Helm values",
      r("helm_release", { values: ["grafana:\n  adminPassword: ${hunter2\n"] }),
      /embedded document sets "adminPassword" to a literal value/,
    ],
    [
      "a literal around an expression in JSON Helm values",
      r("helm_release", { values: [JSON.stringify({ grafana: { adminPassword: "x-${random_password.g.result}" } })] }),
      /embedded document sets "adminPassword" to a literal value/,
    ],
    [
      "a path-like literal in JSON Helm values",
      r("helm_release", { values: [JSON.stringify({ grafana: { adminPassword: "/s3cret" } })] }),
      /embedded document sets "adminPassword" to a literal value/,
    ],
    [
      "a Helm template with literal text around it",
      r("helm_release", { values: ['auth:\n  password: "{{ .Values.p }}hunter2"\n'] }),
      /embedded document sets "password" to a literal value/,
    ],
    [
      "a literal secret_string",
      r("aws_secretsmanager_secret_version", { secret_string: '{"password":"x"}' }),
      /attribute "secret_string" holds a literal value/,
    ],
    [
      "a literal Kubernetes Secret value",
      r("kubernetes_secret_v1", { data: { url: "https://example.com/private" } }),
      /a Kubernetes Secret holds a literal value/,
    ],
    [
      "a literal env var secret",
      r("kubernetes_deployment_v1", { env: [{ name: "OAUTH2_PROXY_CLIENT_SECRET", value: "abc123" }] }),
      /environment variable OAUTH2_PROXY_CLIENT_SECRET holds a literal value/,
    ],
    [
      "a --client-secret=literal argument",
      r("kubernetes_deployment_v1", { args: ["--client-secret=abc123"] }),
      /argument client-secret holds a literal value/,
    ],
    [
      "a --cookie-secret literal pair",
      r("kubernetes_deployment_v1", { args: ["--cookie-secret", "0123456789abcdef"] }),
      /argument cookie-secret is followed by a literal value/,
    ],
    [
      "a URI with a literal password",
      r("kubernetes_deployment_v1", { args: ["postgresql://mlflow:s3cret@db:5432/mlflow"] }),
      /a URL embeds a literal password/,
    ],
    [
      "an AWS access key id",
      { provider: { aws: [{ region: "eu-west-1", access_key: "AKIAABCDEFGHIJKLMNOP" }] } },
      /an AWS access key id is written literally/,
    ],
    [
      "a Slack webhook in Helm values",
      r("helm_release", {
        values: [
          "alertmanager:\n  config:\n    receivers:\n    - slack_configs:\n      - api_url: https://hooks.slack.com/services/T000/B000/XXXXXXXX\n",
        ],
      }),
      /a Slack webhook URL is written literally/,
    ],
    [
      "a literal password in Helm values",
      r("helm_release", { values: ["grafana:\n  adminPassword: prom-operator\n"] }),
      /embedded document sets "adminPassword" to a literal value/,
    ],
    [
      "a private key",
      r("kubernetes_config_map_v1", { data: { key: "-----BEGIN RSA PRIVATE KEY-----\nMIIB" } }),
      /a private key is written literally/,
    ],
  ])("flags %s", (_what, json, message) => {
    const findings = rule.check(json);
    expect(findings.length).toBeGreaterThan(0);
    expect(findings.map((f) => f.message).join("\n")).toMatch(message);
  });

  it("passes the name of a secret a data source reads (Secret Manager's secret id), and only there", () => {
    const read = { data: { google_secret_manager_secret_version: { x: { project: "p", secret: "mlflow-events-slack-url" } } } };
    expect(rule.check(read)).toEqual([]);
    // The same attribute anywhere else is still a literal: a resource's, or another data source's.
    expect(rule.check(r("google_secret_manager_secret_version", { secret: "hunter2" }))).toHaveLength(1);
    expect(rule.check({ data: { example_thing: { x: { secret: "hunter2" } } } })).toHaveLength(1);
  });

  it("names the resource that holds the literal", () => {
    expect(rule.check(r("aws_db_instance", { password: "hunter2" }))[0].resource).toBe("aws_db_instance.x");
  });
});
