/**
 * The S3 stand-in: moto_server (PyPI `moto[server]`, from the tools virtualenv) on a free loopback
 * port, with the bucket created as the stack names it. Talked to over plain S3 REST calls.
 */
import { LOOPBACK, request, waitForHttp } from "../lib/net";
import type { Processes } from "../lib/processes";

export interface S3 {
  readonly endpoint: string;
  /** Keys under `prefix` in `bucket`, with their sizes. */
  list(bucket: string, prefix: string): Promise<{ key: string; size: number }[]>;
}

function xmlValues(xml: string, tag: string): string[] {
  return [...xml.matchAll(new RegExp(`<${tag}>([^<]*)</${tag}>`, "g"))].map((m) => m[1]);
}

export async function startS3(procs: Processes, motoServer: string, bucket: string, region: string, port: number): Promise<S3> {
  const endpoint = `http://${LOOPBACK}:${port}`;
  const proc = procs.start("moto-s3", [motoServer, "-H", LOOPBACK, "-p", String(port)]);
  await waitForHttp(`${endpoint}/moto-api/`, proc, 60_000);

  const body =
    region === "us-east-1"
      ? ""
      : `<CreateBucketConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><LocationConstraint>${region}</LocationConstraint></CreateBucketConfiguration>`;
  const created = await request(`${endpoint}/${bucket}`, { method: "PUT", body, caller: "probe" });
  if (created.status !== 200) throw new Error(`creating bucket ${bucket} answered ${created.status}: ${created.body.slice(0, 300)}`);

  return {
    endpoint,
    async list(b, prefix) {
      const out: { key: string; size: number }[] = [];
      let token: string | undefined;
      do {
        const q = new URLSearchParams({ "list-type": "2", prefix, ...(token ? { "continuation-token": token } : {}) });
        const res = await request(`${endpoint}/${b}?${q}`, { caller: "probe" });
        if (res.status !== 200) throw new Error(`listing s3://${b}/${prefix} answered ${res.status}: ${res.body.slice(0, 300)}`);
        const contents = [...res.body.matchAll(/<Contents>([\s\S]*?)<\/Contents>/g)].map((m) => m[1]);
        for (const c of contents) out.push({ key: xmlValues(c, "Key")[0], size: Number(xmlValues(c, "Size")[0]) });
        token = /<IsTruncated>true<\/IsTruncated>/.test(res.body) ? xmlValues(res.body, "NextContinuationToken")[0] : undefined;
      } while (token);
      return out;
    },
  };
}
