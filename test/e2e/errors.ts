/**
 * 5xx with internal detail: MLflow 3.17 answers a missing artifact with 500 and the storage's
 * message (bucket, prefix, account id). Through the proxy, the tracking server's guard must answer 404
 * without any of it, and keep the original in the server's log under the reference it names.
 */
import * as fs from "fs";
import { type Ctx, need } from "./context";
import { request } from "./lib/net";

export async function internalErrors(ctx: Ctx): Promise<void> {
  const { report } = ctx;
  const config = need(ctx.config, "config");
  const base = need(ctx.alb, "the load balancer stand-in").url;
  const token = need(ctx.token, "a signed-in user's token");
  const bucket = need(ctx.bucket, "the bucket");
  const secrets = [bucket, config.aws.accountId, "s3://", "HeadObject", "Traceback"];
  const leaks = (body: string) => secrets.filter((s) => body.includes(s));

  for (const p of [
    "/api/2.0/mlflow-artifacts/artifacts/0/no-such-run/artifacts/missing.txt",
    "/ajax-api/2.0/mlflow-artifacts/artifacts/0/no-such-run/artifacts/model/MLmodel",
  ]) {
    const r = await request(`${base}${p}`, { headers: { Authorization: `Bearer ${token}` } });
    report.check(
      `a missing artifact through the proxy answers 404 (not 500): ${p.split("/")[1]}`,
      r.status === 404,
      `GET ${p}: ${r.status} ${r.body.slice(0, 160)}`,
    );
    const found = leaks(r.body);
    report.check(
      "its body names no bucket, account id or storage detail",
      found.length === 0,
      found.length ? `body holds ${found.join(", ")}: ${r.body.slice(0, 200)}` : `body: ${r.body.slice(0, 160)}`,
    );
    const reference = /reference ([0-9a-f]{12})/.exec(r.body)?.[1];
    const log = fs.readFileSync(need(ctx.tracking, "the tracking server").proc.logFile, "utf8");
    report.check(
      "the server's log keeps the original under the reference the answer names",
      !!reference && log.includes(`reference ${reference}`) && log.includes(bucket),
      reference ? `reference ${reference}` : "no reference in the answer",
    );
  }
}
