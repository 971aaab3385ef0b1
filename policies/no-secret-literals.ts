import { PolicyRule, type Finding, type TfJson } from "./rule";

/** Attribute names whose value is a secret (snake_case in the JSON, or camelCase inside Helm values). */
const SECRET_ATTRIBUTE = /^(.*[_-])?(password|passwd|secret|secret_string|token|api_key|apikey|private_key|secret_key|access_key|secret_access_key|client_secret|cookie_secret|auth_token|bearer_token)$/i;
const SECRET_CAMEL = /^(password|adminPassword|authPassword|apiKey|token|bearerToken|clientSecret|cookieSecret|secretKey|privateKey|accessKey|secretAccessKey)$/;
/** Environment variable names whose value is a secret. */
const SECRET_ENV = /(PASSWORD|PASSWD|SECRET|TOKEN|API_KEY|APIKEY|PRIVATE_KEY|ACCESS_KEY)$/i;
/** Command-line flags whose value is a secret. */
const SECRET_FLAG = /^--?(client-secret|cookie-secret|password|token|api-key|secret-key|access-key)(=(.*))?$/i;

/** Credential formats that are secrets wherever they appear. */
const CREDENTIAL_PATTERNS: [RegExp, string][] = [
  [/\b(AKIA|ASIA)[0-9A-Z]{16}\b/, "an AWS access key id"],
  [/-----BEGIN [A-Z ]*PRIVATE KEY-----/, "a private key"],
  [/https:\/\/hooks\.slack\.com\/services\/[A-Za-z0-9/]+/, "a Slack webhook URL"],
  [/\bxox[abprs]-[A-Za-z0-9-]{10,}/, "a Slack token"],
  [/\bgh[pousr]_[A-Za-z0-9]{30,}/, "a GitHub token"],
  [/\beyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}/, "a JSON Web Token"],
  [/\bsk_live_[A-Za-z0-9]{16,}/, "a Stripe live key"],
];

/** A value is safe when it is empty, a Terraform reference/expression, a Kubernetes $(VAR) reference, a file path or a template. */
export function isReference(value: string): boolean {
  const v = value.trim();
  return v === "" || v.includes("${") || /^\$\([A-Za-z_][A-Za-z0-9_]*\)$/.test(v) || v.startsWith("/") || v.startsWith("file:")
    || v.startsWith("$__file{") || v.startsWith("$__env{") || /^\{\{.*\}\}$/.test(v) || /^(null|true|false|~)$/.test(v);
}

/** A `user:password@` part of a URL whose password is a literal. */
function literalUrlPassword(value: string): boolean {
  const m = /[a-z][a-z0-9+.-]*:\/\/[^\s:/@]+:([^\s@/]+)@/i.exec(value);
  return m !== null && !isReference(m[1]) && !m[1].includes("$(");
}

/** Walks every string of the JSON, with the key and parent it sits under. */
function walk(value: unknown, path: string[], visit: (value: string, path: string[], parent: Record<string, unknown> | unknown[]) => void, parent?: Record<string, unknown> | unknown[]): void {
  if (typeof value === "string") {
    visit(value, path, parent ?? []);
  } else if (Array.isArray(value)) {
    value.forEach((v, i) => walk(v, [...path, String(i)], visit, value));
  } else if (value && typeof value === "object") {
    for (const [k, v] of Object.entries(value)) {
      if (k === "//") continue; // cdktf metadata
      walk(v, [...path, k], visit, value as Record<string, unknown>);
    }
  }
}

/** `resource.<type>.<name>...` -> `<type>.<name>`; `data.<type>.<name>` -> `data.<type>.<name>`; else the JSON path. */
function addressOf(path: string[]): string {
  if (path[0] === "resource" && path.length >= 3) return `${path[1]}.${path[2]}`;
  if (path[0] === "data" && path.length >= 3) return `data.${path[1]}.${path[2]}`;
  return path.slice(0, 3).join(".");
}

/** Secret-looking `key: value` pairs inside an embedded YAML or JSON document (Helm values, config files). */
function embeddedSecrets(text: string): string[] {
  const found: string[] = [];
  const pair = /["']?([A-Za-z_][A-Za-z0-9_-]*)["']?[ \t]*:[ \t]*("([^"]*)"|'([^']*)'|([^\s,}#]+))/g;
  for (const m of text.matchAll(pair)) {
    const key = m[1];
    const value = m[3] ?? m[4] ?? m[5] ?? "";
    if ((SECRET_CAMEL.test(key) || /^(.*_)?(password|secret|token|api_key|client_secret|cookie_secret|secret_key|private_key)$/i.test(key)) && !isReference(value)) {
      found.push(key);
    }
  }
  return found;
}

/** MLF-SEC-1: no secret value appears literally anywhere in the synthesized JSON. */
export class NoSecretLiterals extends PolicyRule {
  readonly id = "MLF-SEC-1";
  readonly reason = "Secrets never appear in code or in cdk.tf.json: use generated values (random_password), Kubernetes Secret references (secretKeyRef / $(VAR)), mounted files, or Secrets Manager.";

  check(json: TfJson): Finding[] {
    const findings: Finding[] = [];
    const add = (path: string[], message: string) => findings.push({ resource: addressOf(path), message: `${message} at ${path.join(".")}` });
    walk(json, [], (value, path, parent) => {
      const key = path[path.length - 1];
      for (const [pattern, what] of CREDENTIAL_PATTERNS) {
        if (pattern.test(value)) add(path, `${what} is written literally`);
      }
      if (literalUrlPassword(value)) add(path, "a URL embeds a literal password");
      if (SECRET_ATTRIBUTE.test(key) && !isReference(value)) add(path, `attribute "${key}" holds a literal value`);
      // Kubernetes Secret contents must come from elsewhere.
      const type = path[0] === "resource" ? path[1] : "";
      if (/^kubernetes_secret(_v1)?$/.test(type) && ["data", "string_data", "binary_data"].includes(path[path.length - 2]) && !isReference(value)) {
        add(path, "a Kubernetes Secret holds a literal value");
      }
      // Container env: { name: "X_PASSWORD", value: "literal" }.
      if (key === "value" && !Array.isArray(parent) && typeof parent.name === "string" && SECRET_ENV.test(parent.name) && !isReference(value)) {
        add(path, `environment variable ${parent.name} holds a literal value (use value_from.secret_key_ref)`);
      }
      // Container args: --client-secret=literal, or --client-secret literal.
      const flag = SECRET_FLAG.exec(value);
      if (flag && flag[3] !== undefined && !isReference(flag[3]) && !flag[3].includes("$(")) add(path, `argument ${flag[1]} holds a literal value (use a *-file flag or $(VAR))`);
      if (flag && flag[2] === undefined && Array.isArray(parent)) {
        const next = parent[Number(key) + 1];
        if (typeof next === "string" && !next.startsWith("-") && !isReference(next) && !next.includes("$(")) add(path, `argument ${flag[1]} is followed by a literal value`);
      }
      // Embedded YAML/JSON documents (Helm values, config maps).
      if (value.includes("\n") || value.trim().startsWith("{")) {
        for (const k of embeddedSecrets(value)) add(path, `embedded document sets "${k}" to a literal value`);
      }
    });
    return findings;
  }
}
