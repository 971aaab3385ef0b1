/**
 * The Blob Storage stand-in: Azurite's blob service (npm `azurite`, installed by scripts/install-tools.sh at a
 * pinned version) on a free loopback port, plain HTTP, blobs in memory, with the container created as the
 * stack names it.
 *
 * Azurite serves exactly one storage account, named as the stack names it, with a key generated for this run
 * (AZURITE_ACCOUNTS; its built-in devstoreaccount1 and that account's published key are then disabled), so a
 * client that wrote to another account, or without the key, would be refused. Processes reach it with
 * `connectionString` in AZURE_STORAGE_CONNECTION_STRING (the key stays in the environment, never in argv);
 * the harness signs its own requests (Shared Key) to create the container and list blobs.
 */
import * as crypto from "crypto";
import * as fs from "fs";
import * as path from "path";
import { LOOPBACK, request, waitForHttp, type HttpResponse } from "../lib/net";
import type { Processes } from "../lib/processes";

/** The REST API version the harness's own requests ask for (Azurite runs with --skipApiVersionCheck for the SDK's). */
const API_VERSION = "2025-01-05";

export interface Azurite {
  /** http://127.0.0.1:<port>/<account>: the account's blob endpoint (path-style, as the emulator serves it). */
  readonly blobEndpoint: string;
  readonly account: string;
  /** What AZURE_STORAGE_CONNECTION_STRING is set to: the account, its key and the blob endpoint. */
  readonly connectionString: string;
  /** Blob names under `prefix` in `container`, with their sizes. */
  list(container: string, prefix: string): Promise<{ name: string; size: number }[]>;
  /** The containers of the account. */
  containers(): Promise<string[]>;
}

/** Azurite's blob service entry point (its `azurite-blob` command) under the tools directory. */
export function azuriteBlobMain(toolsDir: string): string {
  return path.join(toolsDir, "azurite", "node_modules", "azurite", "dist", "src", "blob", "main.js");
}

/** The Shared Key Authorization header of a request (learn.microsoft.com: "Authorize with Shared Key"). */
export function sharedKey(
  account: string,
  key: string,
  req: { method: string; url: URL; headers: Record<string, string>; contentLength?: number },
): string {
  const h = Object.fromEntries(Object.entries(req.headers).map(([k, v]) => [k.toLowerCase(), v]));
  const canonicalHeaders = Object.keys(h)
    .filter((k) => k.startsWith("x-ms-"))
    .sort()
    .map((k) => `${k}:${h[k].trim()}\n`)
    .join("");
  const params = new Map<string, string[]>();
  for (const [k, v] of req.url.searchParams) params.set(k.toLowerCase(), [...(params.get(k.toLowerCase()) ?? []), v]);
  const canonicalResource =
    `/${account}${req.url.pathname}` +
    [...params.keys()]
      .sort()
      .map((k) => `\n${k}:${params.get(k)!.sort().join(",")}`)
      .join("");
  const length = req.contentLength ? String(req.contentLength) : "";
  const stringToSign = [
    req.method,
    h["content-encoding"] ?? "",
    h["content-language"] ?? "",
    length,
    h["content-md5"] ?? "",
    h["content-type"] ?? "",
    "", // Date: x-ms-date is sent instead
    h["if-modified-since"] ?? "",
    h["if-match"] ?? "",
    h["if-none-match"] ?? "",
    h["if-unmodified-since"] ?? "",
    h.range ?? "",
  ].join("\n");
  const signature = crypto
    .createHmac("sha256", Buffer.from(key, "base64"))
    .update(`${stringToSign}\n${canonicalHeaders}${canonicalResource}`, "utf8")
    .digest("base64");
  return `SharedKey ${account}:${signature}`;
}

const xmlText = (s: string) =>
  s
    .replace(/&lt;/g, "<")
    .replace(/&gt;/g, ">")
    .replace(/&quot;/g, '"')
    .replace(/&apos;/g, "'")
    .replace(/&amp;/g, "&");

export async function startAzurite(
  procs: Processes,
  main: string,
  account: string,
  container: string,
  port: number,
  dir: string,
): Promise<Azurite> {
  if (!/^[a-z0-9]{3,24}$/.test(account)) throw new Error(`"${account}" is not a storage account name Azure accepts`);
  const key = crypto.randomBytes(64).toString("base64");
  const blobEndpoint = `http://${LOOPBACK}:${port}/${account}`;
  fs.mkdirSync(dir, { recursive: true });
  const proc = procs.start(
    "azurite-blob",
    [
      process.execPath,
      main,
      "--blobHost",
      LOOPBACK,
      "--blobPort",
      String(port),
      "--inMemoryPersistence",
      // The Python SDK (azure-storage-blob) may ask for a newer REST version than this Azurite release knows.
      "--skipApiVersionCheck",
      // No telemetry leaves the machine.
      "--disableTelemetry",
      "--silent",
    ],
    // Nothing is persisted (--inMemoryPersistence excludes --location); the working directory is the run's all the same.
    { env: { PATH: `${path.dirname(process.execPath)}:/usr/bin:/bin`, AZURITE_ACCOUNTS: `${account}:${key}` }, cwd: dir },
  );

  const signed = (method: string, url: string, body?: string): Promise<HttpResponse> => {
    const u = new URL(url);
    const headers: Record<string, string> = { "x-ms-date": new Date().toUTCString(), "x-ms-version": API_VERSION };
    const contentLength = body === undefined ? 0 : Buffer.byteLength(body);
    headers.Authorization = sharedKey(account, key, { method, url: u, headers, contentLength });
    return request(url, { method, headers, body, caller: "probe" });
  };

  // Listing the account's containers: answers 200 once the service is up and the run's account and key are loaded.
  await waitForHttp(`http://${LOOPBACK}:${port}/`, proc, 60_000);
  const ready = await signed("GET", `${blobEndpoint}?comp=list`);
  if (ready.status !== 200) throw new Error(`Azurite refused the run's own account key (${ready.status}): ${ready.body.slice(0, 300)}`);
  const created = await signed("PUT", `${blobEndpoint}/${container}?restype=container`);
  if (created.status !== 201) throw new Error(`creating container ${container} answered ${created.status}: ${created.body.slice(0, 300)}`);

  return {
    blobEndpoint,
    account,
    connectionString: `DefaultEndpointsProtocol=http;AccountName=${account};AccountKey=${key};BlobEndpoint=${blobEndpoint};`,
    async list(c, prefix) {
      const out: { name: string; size: number }[] = [];
      let marker = "";
      do {
        const q = new URLSearchParams({ restype: "container", comp: "list", prefix, ...(marker ? { marker } : {}) });
        const res = await signed("GET", `${blobEndpoint}/${c}?${q}`);
        if (res.status !== 200) throw new Error(`listing ${c}/${prefix} answered ${res.status}: ${res.body.slice(0, 300)}`);
        for (const m of res.body.matchAll(/<Blob>([\s\S]*?)<\/Blob>/g)) {
          const name = /<Name>([\s\S]*?)<\/Name>/.exec(m[1]);
          const size = /<Content-Length>(\d+)<\/Content-Length>/.exec(m[1]);
          if (name) out.push({ name: xmlText(name[1]), size: Number(size?.[1] ?? 0) });
        }
        marker = xmlText(/<NextMarker>([\s\S]*?)<\/NextMarker>/.exec(res.body)?.[1] ?? "");
      } while (marker);
      return out;
    },
    async containers() {
      const res = await signed("GET", `${blobEndpoint}?comp=list`);
      if (res.status !== 200) throw new Error(`listing containers answered ${res.status}: ${res.body.slice(0, 300)}`);
      return [...res.body.matchAll(/<Container>\s*<Name>([\s\S]*?)<\/Name>/g)].map((m) => xmlText(m[1]));
    },
  };
}
