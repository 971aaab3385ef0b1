/**
 * Retention: the model-retention CronJob's synthesized command, run for real against the
 * tracking server and the S3 stand-in. With N = 2 (E2E_REGISTRY) and five versions of a model, the
 * oldest holding an alias, exactly the objects of versions 2 and 3 get the archive tag; nothing else in
 * the bucket does; a second run changes nothing.
 */
import * as fs from "fs";
import * as path from "path";
import { ARCHIVE_TAG } from "../../constructs/model-retention/command";
import { type Ctx, need } from "./context";
import type { LocalProcess } from "./lib/deployment";
import { json, request } from "./lib/net";
import { tail } from "./lib/processes";

const API = "/api/2.0/mlflow";
export const RETENTION_MODEL = "retention-demo";

export async function retention(ctx: Ctx, job: LocalProcess): Promise<void> {
  const { report } = ctx;
  const alb = need(ctx.alb, "the load balancer stand-in").url;
  const token = need(ctx.token, "token");
  const s3 = need(ctx.s3, "S3");
  const bucket = need(ctx.bucket, "bucket");
  const prefix = need(ctx.prefix, "prefix");
  const t = need(ctx.training, "the training run's experiment");
  const keep = need(ctx.config, "config").registry.retention.keepVersions;
  const auth = { Authorization: `Bearer ${token}` };
  const post = <T = any>(endpoint: string, body: unknown) => json<T>(`${alb}${API}/${endpoint}`, { method: "POST", headers: auth, body });

  // Five versions, each from its own run with a small model directory in the bucket.
  await post("registered-models/create", { name: RETENTION_MODEL });
  const runs: { id: string; dir: string }[] = [];
  for (let i = 1; i <= 5; i++) {
    const run = (await post("runs/create", { experiment_id: t.experiment_id, start_time: Date.now(), run_name: `retention-${i}` })).run;
    for (const file of ["MLmodel", "model.pkl"]) {
      const put = await request(`${alb}/api/2.0/mlflow-artifacts/artifacts/${t.experiment_id}/${run.info.run_id}/artifacts/model/${file}`, {
        method: "PUT",
        headers: { ...auth, "Content-Type": "application/octet-stream" },
        body: `retention ${i} ${file}\n`,
      });
      if (put.status !== 200) throw new Error(`artifact upload answered ${put.status}: ${put.body.slice(0, 200)}`);
    }
    await post("model-versions/create", { name: RETENTION_MODEL, source: `${run.info.artifact_uri}/model`, run_id: run.info.run_id });
    runs.push({ id: run.info.run_id, dir: `${prefix}/${t.experiment_id}/${run.info.run_id}/artifacts/model/` });
  }
  await post("registered-models/alias", { name: RETENTION_MODEL, alias: "champion", version: "1" });
  report.info(
    `${RETENTION_MODEL}: versions 1-5 (version 1 holds alias champion), N = ${keep}; artifacts under ${runs.map((r) => r.dir).join(", ")}`,
  );

  // Every object's tags, read with boto3 (GetObjectTagging) from the S3 stand-in.
  const python = need(ctx.tools, "tools").python;
  const dump = path.join(ctx.runDir, "object-tags.json");
  const reader = [
    "import boto3, json, sys",
    "s3 = boto3.client('s3', endpoint_url=sys.argv[1], region_name='us-east-1', aws_access_key_id='e2e-stand-in', aws_secret_access_key='e2e-stand-in')",
    "out = {}",
    "for page in s3.get_paginator('list_objects_v2').paginate(Bucket=sys.argv[2]):",
    "    for o in page.get('Contents', []):",
    "        out[o['Key']] = json.dumps({t['Key']: t['Value'] for t in s3.get_object_tagging(Bucket=sys.argv[2], Key=o['Key'])['TagSet']}, sort_keys=True)",
    "json.dump(out, open(sys.argv[3], 'w'))",
  ].join("\n");
  let reads = 0;
  const snapshot = async (): Promise<Record<string, string>> => {
    const r = await ctx.procs.run(`object-tags-${++reads}`, [python, "-c", reader, s3.endpoint, bucket, dump], {
      env: { PATH: "/usr/bin:/bin", LANG: "C.UTF-8" },
      timeoutMs: 120_000,
    });
    if (r.code !== 0) throw new Error(`reading the object tags exited ${r.code}: ${r.output.slice(-500)}`);
    return JSON.parse(fs.readFileSync(dump, "utf8")) as Record<string, string>;
  };
  const tagged = (snap: Record<string, string>) =>
    Object.keys(snap)
      .filter((k) => JSON.parse(snap[k])[ARCHIVE_TAG.key] === ARCHIVE_TAG.value)
      .sort();
  const env = { PATH: `${path.dirname(need(ctx.tools, "tools").python)}:/usr/bin:/bin`, LANG: "C.UTF-8", ...job.env };
  const runJob = async (name: string, extra: string[] = []) => {
    const r = await ctx.procs.run(name, [...job.argv, ...extra], { env, timeoutMs: 180_000 });
    const log = path.join(ctx.procs.logDir, `${name}.log`);
    if (r.code !== 0) throw new Error(`the retention CronJob's command exited ${r.code}:\n${tail(log)}`);
    return r.output
      .trim()
      .split("\n")
      .filter((l) => l.startsWith("retention:") || l.startsWith("archive"))
      .join(" / ");
  };

  const before = await snapshot();
  const dry = await runJob("retention-dry-run", ["--dry-run"]);
  const afterDry = await snapshot();
  report.check(
    "--dry-run lists what it would tag and changes nothing",
    JSON.stringify(afterDry) === JSON.stringify(before) && /would tag 4 objects/.test(dry),
    dry,
  );

  const first = await runJob("retention-cronjob");
  const afterFirst = await snapshot();
  const expected = [runs[1], runs[2]].flatMap((r) => Object.keys(afterFirst).filter((k) => k.startsWith(r.dir))).sort();
  const got = tagged(afterFirst);
  const untouched = Object.keys(before)
    .filter((k) => !expected.includes(k))
    .every((k) => afterFirst[k] === before[k]);
  report.check(
    `the CronJob's command tags exactly the artifacts of versions 2 and 3 (old, no alias) with ${ARCHIVE_TAG.key}=${ARCHIVE_TAG.value}`,
    expected.length === 4 && JSON.stringify(got) === JSON.stringify(expected),
    `${first}; tagged: ${got.join(", ")}`,
  );
  report.check(
    "every other object in the bucket is untouched (version 1 with its alias, versions 4 and 5, every other model and run)",
    untouched,
    `${Object.keys(afterFirst).length} objects compared with their tags before the run`,
  );

  const second = await runJob("retention-cronjob-again");
  const afterSecond = await snapshot();
  report.check(
    "a second run changes nothing",
    JSON.stringify(afterSecond) === JSON.stringify(afterFirst) && /tagged 0 objects/.test(second),
    second,
  );
}
