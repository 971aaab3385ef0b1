/**
 * Converts the kubernetes provider's synthesized JSON (`kubernetes_*` resources: snake_case, nested
 * blocks as single-element lists, singular block names, numbers as strings) into the objects the
 * Kubernetes API takes (camelCase, `containers`, `volumeMounts`, typed integers...).
 *
 * The conversion is driven by the API's own OpenAPI schema (served by the kube-apiserver the check
 * starts, so it is exactly the schema of the targeted Kubernetes version), plus a few rules:
 *   - names: snake_case -> camelCase, matched case-insensitively against the schema's properties
 *     (so `cluster_ip` finds `clusterIP`); a block name that is not a property is tried in the
 *     plural (`container` -> `containers`, `volume_mount` -> `volumeMounts`, `policy` -> `policies`);
 *   - shape: a list where the schema wants one object is unwrapped (`label_selector: [{...}]`), an
 *     object where the schema wants a list is wrapped;
 *   - types: strings become integers, numbers or booleans where the schema says so, digit-only
 *     strings become integers in int-or-string fields (`max_surge: "1"` -> 1, `port: "http"` stays);
 *   - maps (labels, annotations, data, resources.limits...) keep their keys verbatim;
 *   - a small table of exceptions ({@link EXCEPTIONS}) for what the provider encodes differently.
 * Anything unknown is passed through under its camelCase name: the check submits with
 * `fieldValidation=Strict`, so a field the converter got wrong is refused by the server, never hidden.
 */

/** An OpenAPI v3 schema node, as the kube-apiserver serves it under /openapi/v3. */
export interface Schema {
  type?: string;
  format?: string;
  properties?: Record<string, Schema>;
  items?: Schema;
  additionalProperties?: Schema | boolean;
  allOf?: Schema[];
  anyOf?: Schema[];
  oneOf?: Schema[];
  $ref?: string;
  "x-kubernetes-int-or-string"?: boolean;
  "x-kubernetes-preserve-unknown-fields"?: boolean;
  [key: string]: unknown;
}

/** Where the converter finds the schema of a kind. */
export interface SchemaSource {
  /** The schema of a top-level kind, or undefined when the server does not serve it. */
  root(apiVersion: string, kind: string): Schema | undefined;
  /** Follows `$ref` (and single-element `allOf` wrappers) to the schema they name. */
  resolve(schema: Schema): Schema;
}

/** A Kubernetes API object. */
export interface ApiObject {
  apiVersion: string;
  kind: string;
  metadata: {
    name?: string;
    generateName?: string;
    namespace?: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
    [k: string]: unknown;
  };
  [key: string]: unknown;
}

/** Where a kind is served: from the server's discovery documents. */
export interface KindInfo {
  apiVersion: string;
  kind: string;
  /** Plural resource name in the URL (`deployments`). */
  resource: string;
  namespaced: boolean;
}

/** Kind lookup by name (`Deployment`), optionally for one version (`v2`). */
export type KindLookup = (kind: string, version?: string) => KindInfo | undefined;

/** Result of converting one Terraform resource. */
export type Conversion = { address: string; object: ApiObject } | { address: string; skipped: string };

/**
 * Terraform resource types that are not one API object (they patch an existing object, or are
 * requests rather than objects): reported as not checked, with the reason.
 */
export const NOT_OBJECTS: Record<string, string> = {
  kubernetes_labels: "patches labels of an object it does not own (no object of its own)",
  kubernetes_annotations: "patches annotations of an object it does not own (no object of its own)",
  kubernetes_env: "patches the env of an existing workload (no object of its own)",
  kubernetes_config_map_v1_data: "patches the data of an existing ConfigMap (no object of its own)",
  kubernetes_node_taint: "patches taints of a Node (no object of its own)",
  kubernetes_token_request_v1: "a token request, answered at apply time (no stored object)",
};

/** Kinds whose name is not the PascalCase of the Terraform type (acronyms, renamed types). */
const KIND_EXCEPTIONS: Record<string, string> = {
  api_service: "APIService",
  csi_driver: "CSIDriver",
  default_service_account: "ServiceAccount",
  certificate_signing_request: "CertificateSigningRequest",
};

/**
 * What the provider encodes differently from the API, beyond the generic rules. Keyed by the API
 * property name the generic rules found.
 */
export const EXCEPTIONS = {
  /** File modes are octal strings in the provider ("0644"), decimal integers in the API (420). */
  octalModes: new Set(["defaultMode", "mode"]),
  /** Top-level attributes that only steer the provider (never sent to the API). */
  providerOnly: new Set([
    "//",
    "count",
    "for_each",
    "depends_on",
    "lifecycle",
    "provider",
    "provisioner",
    "connection",
    "timeouts",
    "wait_for_rollout",
    "wait_for_completion",
    "wait_for_load_balancer",
    "wait_for_default_service_account",
    "wait_for_service_account_token",
  ]),
};

/** `kubernetes_horizontal_pod_autoscaler_v2` -> { kind: "HorizontalPodAutoscaler", version: "v2" }. */
export function kindOfType(type: string): { kind: string; version?: string } {
  const m = /^kubernetes_(.+?)(?:_(v\d+(?:(?:alpha|beta)\d+)?))?$/.exec(type);
  if (!m) throw new Error(`${type} is not a kubernetes_* resource type`);
  const base = m[1];
  const kind =
    KIND_EXCEPTIONS[base] ??
    base
      .split("_")
      .map((p) => p[0].toUpperCase() + p.slice(1))
      .join("");
  return { kind, version: m[2] };
}

export const camel = (s: string) => s.replace(/_([a-z0-9])/g, (_, c: string) => c.toUpperCase());

export function plural(s: string): string {
  if (/[^aeiou]y$/.test(s)) return s.slice(0, -1) + "ies";
  if (/(s|x|z|ch|sh)$/.test(s)) return s + "es";
  return s + "s";
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);

export class Converter {
  constructor(
    private readonly schemas: SchemaSource,
    private readonly kinds: KindLookup,
  ) {}

  /** Converts one `kubernetes_*` resource of the synthesized JSON (references already replaced). */
  convert(type: string, name: string, body: Record<string, unknown>): Conversion {
    const address = `${type}.${name}`;
    if (NOT_OBJECTS[type]) return { address, skipped: NOT_OBJECTS[type] };
    if (type === "kubernetes_manifest") {
      // The manifest attribute already is the API object (camelCase): only references were replaced.
      const manifest = body.manifest as ApiObject;
      if (!isObject(manifest) || typeof manifest.kind !== "string") throw new Error(`${address}: manifest is not an object with a kind`);
      return { address, object: manifest };
    }
    const { kind, version } = kindOfType(type);
    const info = this.kinds(kind, version);
    if (!info) throw new Error(`${address}: the server serves no kind ${kind}${version ? ` in version ${version}` : ""}`);
    const root = this.schemas.root(info.apiVersion, info.kind);
    if (!root) throw new Error(`${address}: no OpenAPI schema for ${info.apiVersion} ${info.kind}`);
    const fields: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(body)) if (!EXCEPTIONS.providerOnly.has(k)) fields[k] = v;
    if (type === "kubernetes_default_service_account" || type === "kubernetes_default_service_account_v1") {
      fields.metadata = { ...(fields.metadata as object), name: "default" };
    }
    if (info.kind === "Secret") Object.assign(fields, secretData(fields));
    const object = this.object(fields, root);
    return {
      address,
      object: { apiVersion: info.apiVersion, kind: info.kind, ...object, metadata: (object.metadata ?? {}) as ApiObject["metadata"] },
    };
  }

  /** Converts a value against its schema (undefined when the schema does not describe it). */
  value(v: unknown, schema: Schema | undefined, key = ""): unknown {
    const s = schema ? this.flatten(schema) : undefined;
    if (v === null || v === undefined) return undefined;
    if (Array.isArray(v)) {
      if (s && s.type !== "array" && (s.type === "object" || s.properties)) {
        // A block the provider models as a list (MaxItems 1) where the API has one object.
        if (v.length === 0) return undefined;
        if (v.length > 1) throw new Error(`${key}: ${v.length} blocks where the API takes one object`);
        return this.value(v[0], s, key);
      }
      return v.map((x) => this.value(x, s?.items, key)).filter((x) => x !== undefined);
    }
    if (isObject(v)) {
      if (s?.type === "array") return [this.value(v, s.items, key)];
      if (s && !s.properties && s.additionalProperties && typeof s.additionalProperties === "object") {
        // A map (labels, annotations, data, limits): keys are data, not field names.
        const out: Record<string, unknown> = {};
        for (const [k, x] of Object.entries(v)) out[k] = this.value(x, s.additionalProperties, k);
        return out;
      }
      if (s && !s.properties && (s["x-kubernetes-preserve-unknown-fields"] || s.type === "object")) return v;
      return this.object(v, s);
    }
    return this.scalar(v, s, key);
  }

  private object(v: Record<string, unknown>, s: Schema | undefined): Record<string, unknown> {
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v)) {
      const { name, schema } = this.property(s, k);
      const converted = this.value(x, schema, name);
      if (converted !== undefined) out[name] = converted;
    }
    return out;
  }

  /** The API property a provider attribute maps to: camelCase, case-insensitive, else its plural. */
  property(s: Schema | undefined, key: string): { name: string; schema?: Schema } {
    const c = camel(key);
    const props = s?.properties;
    if (!props) return { name: c };
    const byLower = new Map(Object.keys(props).map((p) => [p.toLowerCase(), p]));
    for (const candidate of [c, plural(c)]) {
      const found = byLower.get(candidate.toLowerCase());
      if (found) return { name: found, schema: props[found] };
    }
    return { name: c };
  }

  private scalar(v: unknown, s: Schema | undefined, key: string): unknown {
    if (!s) return v;
    if (typeof v === "string") {
      if (s.type === "integer" || s.type === "number") {
        if (EXCEPTIONS.octalModes.has(key) && /^0[0-7]+$/.test(v)) return parseInt(v, 8);
        if (/^-?\d+(\.\d+)?$/.test(v)) return Number(v);
        // A whole-field Terraform reference (replaced by a `tfref-` placeholder) in a number field.
        if (v.startsWith("tfref-")) return 1;
        return v;
      }
      if ((s["x-kubernetes-int-or-string"] || s.format === "int-or-string") && /^\d+$/.test(v)) return Number(v);
      if (s.type === "boolean" && (v === "true" || v === "false")) return v === "true";
      return v;
    }
    if ((typeof v === "number" || typeof v === "boolean") && s.type === "string") return String(v);
    return v;
  }

  /** Follows references and merges allOf parts into one node. */
  private flatten(schema: Schema): Schema {
    const s = this.schemas.resolve(schema);
    if (!s.allOf || s.allOf.length === 0) return s;
    let merged: Schema = {};
    for (const part of s.allOf) merged = mergeSchemas(merged, this.flatten(part));
    const rest: Schema = { ...s };
    delete rest.allOf;
    return mergeSchemas(merged, rest);
  }
}

function mergeSchemas(a: Schema, b: Schema): Schema {
  const out: Schema = { ...a, ...b };
  if (a.properties || b.properties) out.properties = { ...(a.properties ?? {}), ...(b.properties ?? {}) };
  else delete out.properties;
  return out;
}

/**
 * The provider's Secret `data` holds plain values that it base64-encodes; `binary_data` is already
 * base64. The API has both in `data`, base64-encoded.
 */
function secretData(fields: Record<string, unknown>): Record<string, unknown> {
  const data: Record<string, string> = {};
  if (isObject(fields.data)) for (const [k, v] of Object.entries(fields.data)) data[k] = Buffer.from(String(v)).toString("base64");
  if (isObject(fields.binary_data)) for (const [k, v] of Object.entries(fields.binary_data)) data[k] = String(v);
  const out: Record<string, unknown> = { data: Object.keys(data).length > 0 ? data : undefined, binary_data: undefined };
  return out;
}

/**
 * Replaces Terraform references (`${...}`) in every string of `value` with plausible values:
 *   - a reference to an attribute of another resource of the same stack whose value is a literal
 *     (`${kubernetes_service_account_v1.x.metadata[0].name}`) is replaced by that literal, so a pod's
 *     serviceAccountName names the service account the stack really creates;
 *   - anything else (an RDS address, a random password, a function call) becomes a placeholder
 *     `tfref-<attribute>` made of lower-case letters, digits and '-' (at most 40 characters): valid
 *     as a DNS label, a label value, a host name part or free text, which is what such values are
 *     in Kubernetes objects. A reference that is a whole integer field is converted to 1 later (the
 *     schema-driven conversion turns a numeric string into a number; see `placeholderFor`).
 */
export function replaceReferences(value: unknown, resources: Record<string, Record<string, unknown>>): unknown {
  if (typeof value === "string") {
    if (!value.includes("${")) return value;
    return value.replace(/\$\{((?:[^{}]|\{[^{}]*\})*)\}/g, (_, expr: string) => resolveExpression(expr.trim(), resources, 0));
  }
  if (Array.isArray(value)) return value.map((v) => replaceReferences(v, resources));
  if (isObject(value)) {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = replaceReferences(v, resources);
    return out;
  }
  return value;
}

function resolveExpression(expr: string, resources: Record<string, Record<string, unknown>>, depth: number): string {
  const m = /^([a-z][a-z0-9_]*)\.([A-Za-z0-9_-]+)((?:\.[A-Za-z0-9_-]+|\[\d+\])*)$/.exec(expr);
  if (m && depth < 5) {
    const target = resources[m[1]]?.[m[2]];
    if (target) {
      let cur: unknown = target;
      for (const tok of m[3].match(/\.[A-Za-z0-9_-]+|\[\d+\]/g) ?? []) {
        if (tok.startsWith("[")) {
          // cdktf writes single blocks as objects: metadata[0] of an object is the object itself.
          if (Array.isArray(cur)) cur = cur[Number(tok.slice(1, -1))];
        } else cur = isObject(cur) ? cur[tok.slice(1)] : undefined;
      }
      if (typeof cur === "string" && !cur.includes("${")) return cur;
      if (typeof cur === "string") {
        const inner = /^\$\{(.*)\}$/.exec(cur);
        if (inner) return resolveExpression(inner[1], resources, depth + 1);
      }
      if (typeof cur === "number") return String(cur);
    }
  }
  return placeholderFor(expr);
}

/** `aws_db_instance.backend_store_instance_60939B9B.address` -> `tfref-address`. */
export function placeholderFor(expr: string): string {
  const attr = /([A-Za-z0-9_]+)\s*$/.exec(expr.replace(/\[\d+\]/g, ""))?.[1] ?? "expression";
  const isFunction = /^[a-z_]+\(/.test(expr);
  const word = (isFunction ? "expression" : attr)
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, "-")
    .replace(/^-+|-+$/g, "");
  return `tfref-${word || "value"}`.slice(0, 40).replace(/-+$/, "");
}

/** Every pod template inside an object (Deployment, Job, CronJob, Rollout...), with its JSON path. */
export function podTemplates(
  obj: unknown,
  path = "",
): { path: string; template: { metadata?: Record<string, unknown>; spec: Record<string, unknown> } }[] {
  const found: { path: string; template: { metadata?: Record<string, unknown>; spec: Record<string, unknown> } }[] = [];
  if (Array.isArray(obj)) obj.forEach((x, i) => found.push(...podTemplates(x, `${path}[${i}]`)));
  else if (isObject(obj)) {
    for (const [k, v] of Object.entries(obj)) {
      if (k === "template" && isObject(v) && isObject(v.spec) && Array.isArray(v.spec.containers)) {
        found.push({ path: `${path}.${k}`, template: v as { metadata?: Record<string, unknown>; spec: Record<string, unknown> } });
      } else found.push(...podTemplates(v, `${path}.${k}`));
    }
  }
  return found;
}

/** A bare Pod made from a pod template, so Pod Security admission (which checks Pods only) judges it. */
export function podFromTemplate(
  owner: ApiObject,
  template: { metadata?: Record<string, unknown>; spec: Record<string, unknown> },
  index: number,
): ApiObject {
  const base = (owner.metadata.name ?? owner.metadata.generateName ?? "pod").replace(/[^a-z0-9-]/g, "-").replace(/-+$/, "");
  const name = `${base.slice(0, 50).replace(/-+$/, "")}-pod-${index}`;
  const meta = template.metadata ?? {};
  return {
    apiVersion: "v1",
    kind: "Pod",
    metadata: {
      name,
      namespace: owner.metadata.namespace,
      labels: meta.labels as Record<string, string> | undefined,
      annotations: meta.annotations as Record<string, string> | undefined,
    },
    spec: template.spec,
  };
}
