/**
 * A small client for the check's kube-apiserver: HTTPS with the server's own certificate as CA,
 * bearer token, discovery (which kinds exist, where), the OpenAPI v3 schemas (for the converter),
 * server-side dry runs and real server-side applies.
 */
import * as fs from "fs";
import * as https from "https";
import type { ApiObject, KindInfo, Schema, SchemaSource } from "./convert";

export interface Response {
  status: number;
  body: string;
  /** The texts of the `Warning` headers the server returned (RFC 7234: `299 - "text"`). */
  warnings: string[];
}

export class KubeClient {
  private readonly agent: https.Agent;
  private readonly url: URL;
  private kinds?: Map<string, KindInfo[]>;
  private readonly openapi = new Map<string, { components?: { schemas?: Record<string, Schema> } }>();
  private openapiPaths?: Record<string, { serverRelativeURL: string }>;

  constructor(private readonly conn: { url: string; token: string; caFile: string }) {
    this.url = new URL(conn.url);
    this.agent = new https.Agent({ ca: fs.readFileSync(conn.caFile), keepAlive: true, maxSockets: 8 });
  }

  request(method: string, p: string, body?: unknown, contentType = "application/json"): Promise<Response> {
    const data = body === undefined ? undefined : Buffer.from(typeof body === "string" ? body : JSON.stringify(body));
    return new Promise((resolve, reject) => {
      const req = https.request(
        {
          host: this.url.hostname,
          port: this.url.port,
          path: p,
          method,
          agent: this.agent,
          headers: {
            authorization: `Bearer ${this.conn.token}`,
            accept: "application/json",
            ...(data ? { "content-type": contentType, "content-length": data.length } : {}),
          },
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on("data", (c: Buffer) => chunks.push(c));
          res.on("end", () =>
            resolve({
              status: res.statusCode ?? 0,
              body: Buffer.concat(chunks).toString("utf8"),
              warnings: parseWarnings(res.headers.warning),
            }),
          );
          res.on("error", reject);
        },
      );
      req.on("error", reject);
      if (data) req.write(data);
      req.end();
    });
  }

  async json<T>(p: string): Promise<T> {
    const r = await this.request("GET", p);
    if (r.status !== 200) throw new Error(`GET ${p}: ${r.status} ${r.body.slice(0, 500)}`);
    return JSON.parse(r.body) as T;
  }

  /** Forgets discovery and schemas (after CRDs were installed). */
  refresh(): void {
    this.kinds = undefined;
    this.openapi.clear();
    this.openapiPaths = undefined;
  }

  /** Reads discovery: every kind the server serves, by group/version. */
  async discover(): Promise<void> {
    const kinds = new Map<string, KindInfo[]>();
    const add = (gv: string, list: { resources: { name: string; kind: string; namespaced: boolean }[] }) => {
      for (const r of list.resources) {
        if (r.name.includes("/")) continue; // sub-resources
        const all = kinds.get(r.kind) ?? [];
        all.push({ apiVersion: gv, kind: r.kind, resource: r.name, namespaced: r.namespaced });
        kinds.set(r.kind, all);
      }
    };
    add("v1", await this.json("/api/v1"));
    const groups = await this.json<{ groups: { versions: { groupVersion: string }[]; preferredVersion: { groupVersion: string } }[] }>(
      "/apis",
    );
    for (const g of groups.groups) {
      // Preferred version first, so a kind without a version hint resolves to it.
      const versions = [
        g.preferredVersion.groupVersion,
        ...g.versions.map((v) => v.groupVersion).filter((v) => v !== g.preferredVersion.groupVersion),
      ];
      for (const gv of versions) add(gv, await this.json(`/apis/${gv}`));
    }
    this.kinds = kinds;
  }

  /** Where `kind` is served; with `version` ("v2"), only that version. */
  kind(kind: string, version?: string): KindInfo | undefined {
    if (!this.kinds) throw new Error("call discover() first");
    const all = this.kinds.get(kind) ?? [];
    return version ? all.find((k) => k.apiVersion.split("/").pop() === version) : all[0];
  }

  /** Loads the OpenAPI v3 documents of the group/versions the given kinds live in. */
  async loadSchemas(apiVersions: Iterable<string>): Promise<void> {
    if (!this.openapiPaths)
      this.openapiPaths = (await this.json<{ paths: Record<string, { serverRelativeURL: string }> }>("/openapi/v3")).paths;
    for (const gv of new Set(apiVersions)) {
      if (this.openapi.has(gv)) continue;
      const key = gv.includes("/") ? `apis/${gv}` : `api/${gv}`;
      const entry = this.openapiPaths[key];
      if (!entry) continue;
      this.openapi.set(gv, await this.json(entry.serverRelativeURL));
    }
  }

  /** The converter's view of the loaded schemas. */
  schemaSource(): SchemaSource {
    const docs = this.openapi;
    const all = () => [...docs.values()].map((d) => d.components?.schemas ?? {});
    const byRef = (ref: string): Schema | undefined => {
      const name = ref.replace("#/components/schemas/", "");
      for (const s of all()) if (s[name]) return s[name];
      return undefined;
    };
    return {
      root(apiVersion: string, kind: string) {
        const [group, version] = apiVersion.includes("/") ? apiVersion.split("/") : ["", apiVersion];
        const schemas = docs.get(apiVersion)?.components?.schemas ?? {};
        for (const s of Object.values(schemas)) {
          const gvks = s["x-kubernetes-group-version-kind"] as { group: string; version: string; kind: string }[] | undefined;
          if (gvks?.some((g) => g.group === group && g.version === version && g.kind === kind)) return s;
        }
        return undefined;
      },
      resolve(s: Schema): Schema {
        let cur = s;
        for (let i = 0; i < 10; i++) {
          if (cur.$ref) {
            const target = byRef(cur.$ref);
            if (!target) return cur;
            const rest: Schema = { ...cur };
            delete rest.$ref;
            cur = { ...target, ...rest };
            continue;
          }
          if (cur.allOf?.length === 1 && cur.allOf[0].$ref && !cur.properties) {
            const { allOf, ...rest } = cur;
            cur = { ...rest, $ref: allOf[0].$ref };
            continue;
          }
          return cur;
        }
        return cur;
      },
    };
  }

  private pathOf(obj: ApiObject, info: KindInfo, withName: boolean): string {
    const prefix = info.apiVersion.includes("/") ? `/apis/${info.apiVersion}` : `/api/${info.apiVersion}`;
    const ns = info.namespaced ? `/namespaces/${obj.metadata.namespace ?? "default"}` : "";
    return `${prefix}${ns}/${info.resource}${withName ? `/${obj.metadata.name}` : ""}`;
  }

  private info(obj: ApiObject): KindInfo {
    const version = obj.apiVersion.split("/").pop();
    const info = this.kind(obj.kind, version);
    if (!info || info.apiVersion !== obj.apiVersion)
      throw new Error(`the server serves no ${obj.apiVersion} ${obj.kind} (is its CRD installed?)`);
    return info;
  }

  /** Server-side dry run of a create (nothing is stored), unknown or duplicate fields refused. */
  dryRunCreate(obj: ApiObject): Promise<Response> {
    const info = this.info(obj);
    return this.request("POST", `${this.pathOf(obj, info, false)}?dryRun=All&fieldValidation=Strict&fieldManager=kube-check`, obj);
  }

  /** Real server-side apply (namespaces, service accounts, CRDs: what later objects need to exist). */
  apply(obj: ApiObject): Promise<Response> {
    const info = this.info(obj);
    return this.request(
      "PATCH",
      `${this.pathOf(obj, info, true)}?fieldManager=kube-check&force=true&fieldValidation=Strict`,
      obj,
      "application/apply-patch+yaml",
    );
  }
}

function parseWarnings(header: string | string[] | undefined): string[] {
  if (!header) return [];
  const out: string[] = [];
  const text = Array.isArray(header) ? header.join(", ") : header;
  // 299 - "text", 299 - "other text"
  const re = /\d{3}\s+\S+\s+"((?:[^"\\]|\\.)*)"/g;
  for (let m = re.exec(text); m; m = re.exec(text)) out.push(m[1].replace(/\\(.)/g, "$1"));
  return out;
}
