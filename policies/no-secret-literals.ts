import { PolicyRule, type Finding, type TfJson } from "./rule";

/** Attribute names whose value is a secret (snake_case in the JSON, or camelCase inside Helm values). */
const SECRET_ATTRIBUTE =
  /^(.*[_-])?(password|passwd|secret|secret_string|token|api_key|apikey|private_key|secret_key|access_key|secret_access_key|client_secret|cookie_secret|auth_token|bearer_token)$/i;
const SECRET_CAMEL =
  /^(password|adminPassword|authPassword|apiKey|token|bearerToken|clientSecret|cookieSecret|secretKey|privateKey|accessKey|secretAccessKey)$/;
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

/**
 * Index just past the Terraform template sequence (`${...}` or `%{...}`) that opens at `start`, or -1
 * when it never closes. Braces are counted outside HCL string literals; string literals are skipped
 * with their escapes (`\"`, `$${`) and their own nested `${...}` sequences.
 */
function templateSequenceEnd(s: string, start: number): number {
  let depth = 1;
  let i = start + 2;
  while (i < s.length) {
    const c = s[i];
    if (c === '"') {
      i = stringLiteralEnd(s, i);
      if (i < 0) return -1;
      continue;
    }
    if (c === "{") depth++;
    else if (c === "}" && --depth === 0) return i + 1;
    i++;
  }
  return -1;
}

/** Index just past the HCL string literal that opens (with `"`) at `start`, or -1 when it never closes. */
function stringLiteralEnd(s: string, start: number): number {
  let i = start + 1;
  while (i < s.length) {
    const c = s[i];
    if (c === "\\") i += 2;
    else if (c === '"') return i + 1;
    else if ((c === "$" || c === "%") && s[i + 1] === c && s[i + 2] === "{")
      i += 3; // $${ and %%{ are literal text
    else if ((c === "$" || c === "%") && s[i + 1] === "{") {
      i = templateSequenceEnd(s, i);
      if (i < 0) return -1;
    } else i++;
  }
  return -1;
}

/**
 * True when the whole of `v` is one Terraform expression: `${` at the start, its balancing `}` at the
 * end. An expression that is only a string literal without interpolation (`${"hunter2"}`) is a literal.
 */
function isTerraformExpression(v: string): boolean {
  return v.startsWith("${") && templateSequenceEnd(v, 0) === v.length && !/^\$\{\s*"(?:[^"\\$]|\\.|\$\$)*"\s*\}$/.test(v);
}

/**
 * A value is safe only when the WHOLE value is a reference, never when it merely contains one:
 * empty, null or a boolean; one Terraform expression (`${...}`, braces balanced); one Kubernetes
 * `$(VAR)` expansion; one Helm/Go template action (`{{ ... }}`); or Grafana's `$__file{...}` /
 * `$__env{...}`. `"hunter2-${x}"`, `"${x}hunter2"` and `"/s3cret"` are literals.
 */
export function isReference(value: string): boolean {
  const v = value.trim();
  return (
    v === "" ||
    /^(null|true|false|~)$/.test(v) ||
    isTerraformExpression(v) ||
    /^\$\([A-Za-z_][A-Za-z0-9_]*\)$/.test(v) ||
    /^\{\{(?:(?!\}\})[\s\S])*\}\}$/.test(v) ||
    /^\$__(file|env)\{[^{}\s]+\}$/.test(v)
  );
}

/**
 * Attributes of data sources that read a secret, where a secret-like name is the secret's name in its store, not its
 * value: Google's `data.google_secret_manager_secret_version.<name>.secret` is the secret's id.
 */
const SECRET_NAME_ATTRIBUTES: Readonly<Record<string, readonly string[]>> = {
  google_secret_manager_secret_version: ["secret"],
};
const isSecretName = (path: readonly string[]): boolean =>
  path[0] === "data" && path.length === 4 && (SECRET_NAME_ATTRIBUTES[path[1]] ?? []).includes(path[3]);

/** Kubernetes Secret keys that hold a user name: an identifier that travels with the password, not a secret. */
const USER_NAME_KEY = /^(.*[_-])?(user|username|user_name)$/i;

/**
 * True when `value` holds at least one whole Terraform expression among literal text, e.g.
 * `"mlflow${random_string.u.result}"`: a user name with a generated part. Accepted only for
 * USER_NAME_KEY keys of a Kubernetes Secret; a fully literal user name is still flagged.
 */
function hasGeneratedPart(value: string): boolean {
  for (let i = value.indexOf("${"); i >= 0; i = value.indexOf("${", i + 1)) {
    if (value[i - 1] !== "$" && templateSequenceEnd(value, i) > 0) return true;
  }
  return false;
}

/** A `user:password@` part of a URL whose password is a literal. */
function literalUrlPassword(value: string): boolean {
  const m = /[a-z][a-z0-9+.-]*:\/\/[^\s:/@]+:([^\s@/]+)@/i.exec(value);
  return m !== null && !isReference(m[1]);
}

/** Walks every string of the JSON, with the key and parent it sits under. */
function walk(
  value: unknown,
  path: string[],
  visit: (value: string, path: string[], parent: Record<string, unknown> | unknown[]) => void,
  parent?: Record<string, unknown> | unknown[],
): void {
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

const DOUBLE_QUOTED = /"((?:[^"\\\n]|\\.)*)"/y;
const SINGLE_QUOTED = /'((?:[^'\n]|'')*)'/y;

/**
 * The scalar that starts at `i` of an embedded document and the index just past it: a quoted string
 * (unescaped), or an unquoted scalar in which a `${...}` expression is read whole, so that
 * `${random_password.p.result}` is one value and `${x}hunter2` another. A nested mapping or list
 * (`{`, `[`) is no scalar: its own pairs are read in turn.
 */
function scalarAt(text: string, i: number): [string | undefined, number] {
  const c = text[i];
  if (c === "{" || c === "[") return [undefined, i];
  for (const [quoted, unescape] of [
    [
      DOUBLE_QUOTED,
      (raw: string) => {
        try {
          return JSON.parse(`"${raw}"`) as string;
        } catch {
          return raw;
        }
      },
    ],
    [SINGLE_QUOTED, (raw: string) => raw.replace(/''/g, "'")],
  ] as const) {
    quoted.lastIndex = i;
    const m = quoted.exec(text);
    if (m) return [unescape(m[1]), quoted.lastIndex];
  }
  let j = i;
  while (j < text.length && !/[\s,}#]/.test(text[j])) {
    const end = text.startsWith("${", j) ? templateSequenceEnd(text, j) : -1;
    j = end > 0 ? end : j + 1;
  }
  return [text.slice(i, j), j];
}

/** Secret-looking `key: value` pairs inside an embedded YAML or JSON document (Helm values, config files). */
function embeddedSecrets(text: string): string[] {
  const found: string[] = [];
  const pair = /["']?([A-Za-z_][A-Za-z0-9_-]*)["']?[ \t]*:[ \t]*/g;
  for (let m = pair.exec(text); m !== null; m = pair.exec(text)) {
    const key = m[1];
    const [value, end] = scalarAt(text, pair.lastIndex);
    if (
      value !== undefined &&
      (SECRET_CAMEL.test(key) || /^(.*_)?(password|secret|token|api_key|client_secret|cookie_secret|secret_key|private_key)$/i.test(key)) &&
      !isReference(value)
    ) {
      found.push(key);
    }
    pair.lastIndex = end;
  }
  return found;
}

/** MLF-SEC-1: no secret value appears literally anywhere in the synthesized JSON. */
export class NoSecretLiterals extends PolicyRule {
  readonly id = "MLF-SEC-1";
  readonly reason =
    "Secrets never appear in code or in cdk.tf.json: use generated values (random_password), Kubernetes Secret references (secretKeyRef / $(VAR)), mounted files, or Secrets Manager.";

  check(json: TfJson): Finding[] {
    const findings: Finding[] = [];
    const add = (path: string[], message: string) =>
      findings.push({ resource: addressOf(path), message: `${message} at ${path.join(".")}` });
    walk(json, [], (value, path, parent) => {
      const key = path[path.length - 1];
      for (const [pattern, what] of CREDENTIAL_PATTERNS) {
        if (pattern.test(value)) add(path, `${what} is written literally`);
      }
      if (literalUrlPassword(value)) add(path, "a URL embeds a literal password");
      if (SECRET_ATTRIBUTE.test(key) && !isReference(value) && !isSecretName(path)) add(path, `attribute "${key}" holds a literal value`);
      // Kubernetes Secret contents must come from elsewhere.
      const type = path[0] === "resource" ? path[1] : "";
      if (
        /^kubernetes_secret(_v1)?$/.test(type) &&
        ["data", "string_data", "binary_data"].includes(path[path.length - 2]) &&
        !isReference(value) &&
        !(USER_NAME_KEY.test(key) && hasGeneratedPart(value))
      ) {
        add(path, "a Kubernetes Secret holds a literal value");
      }
      // Container env: { name: "X_PASSWORD", value: "literal" }.
      if (
        key === "value" &&
        !Array.isArray(parent) &&
        typeof parent.name === "string" &&
        SECRET_ENV.test(parent.name) &&
        !isReference(value)
      ) {
        add(path, `environment variable ${parent.name} holds a literal value (use value_from.secret_key_ref)`);
      }
      // Container args: --client-secret=literal, or --client-secret literal.
      const flag = SECRET_FLAG.exec(value);
      if (flag && flag[3] !== undefined && !isReference(flag[3]))
        add(path, `argument ${flag[1]} holds a literal value (use a *-file flag or $(VAR))`);
      if (flag && flag[2] === undefined && Array.isArray(parent)) {
        const next = parent[Number(key) + 1];
        if (typeof next === "string" && !next.startsWith("-") && !isReference(next))
          add(path, `argument ${flag[1]} is followed by a literal value`);
      }
      // Embedded YAML/JSON documents (Helm values, config maps).
      if (value.includes("\n") || value.trim().startsWith("{")) {
        for (const k of embeddedSecrets(value)) add(path, `embedded document sets "${k}" to a literal value`);
      }
    });
    return findings;
  }
}
