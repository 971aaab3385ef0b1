/**
 * The Cloud Storage stand-in: fake-gcs-server (github.com/fsouza/fake-gcs-server, built by
 * scripts/install-tools.sh at a pinned version) on a free loopback port, plain HTTP, objects in memory,
 * with the bucket created as the stack names it. Clients reach it through STORAGE_EMULATOR_HOST; the
 * harness talks to its JSON API directly.
 */
import { LOOPBACK, request, waitForHttp } from "../lib/net";
import type { Processes } from "../lib/processes";

export interface Gcs {
  /** http://127.0.0.1:<port>: what STORAGE_EMULATOR_HOST is set to. */
  readonly endpoint: string;
  /** Object names under `prefix` in `bucket`, with their sizes. */
  list(bucket: string, prefix: string): Promise<{ name: string; size: number }[]>;
}

export async function startGcs(procs: Processes, fakeGcsServer: string, bucket: string, projectId: string, port: number): Promise<Gcs> {
  const endpoint = `http://${LOOPBACK}:${port}`;
  const proc = procs.start("fake-gcs-server", [
    fakeGcsServer,
    "-scheme",
    "http",
    "-host",
    LOOPBACK,
    "-port",
    String(port),
    "-backend",
    "memory",
    // The address it writes into the media links it hands out: the one clients reach it at.
    "-public-host",
    `${LOOPBACK}:${port}`,
    "-log-level",
    "warn",
  ]);
  await waitForHttp(`${endpoint}/storage/v1/b`, proc, 60_000);
  const created = await request(`${endpoint}/storage/v1/b?project=${encodeURIComponent(projectId)}`, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ name: bucket }),
    caller: "probe",
  });
  if (created.status !== 200) throw new Error(`creating bucket ${bucket} answered ${created.status}: ${created.body.slice(0, 300)}`);

  return {
    endpoint,
    async list(b, prefix) {
      const out: { name: string; size: number }[] = [];
      let token: string | undefined;
      do {
        const q = new URLSearchParams({ prefix, ...(token ? { pageToken: token } : {}) });
        const res = await request(`${endpoint}/storage/v1/b/${encodeURIComponent(b)}/o?${q}`, { caller: "probe" });
        if (res.status !== 200) throw new Error(`listing gs://${b}/${prefix} answered ${res.status}: ${res.body.slice(0, 300)}`);
        const page = JSON.parse(res.body) as { items?: { name: string; size: string }[]; nextPageToken?: string };
        for (const o of page.items ?? []) out.push({ name: o.name, size: Number(o.size) });
        token = page.nextPageToken;
      } while (token);
      return out;
    },
  };
}
