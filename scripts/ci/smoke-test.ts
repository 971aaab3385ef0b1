/**
 * The release's smoke test: `POST /predict` on the new model server until it answers 200 with the
 * expected version, or the deadline passes.
 *
 *   node dist/scripts/ci/smoke-test.js --url http://127.0.0.1:8080 --model iris --version 3 \
 *       (--data '[5.1, 3.5, 1.4, 0.2]' | --example-file serving_input_example.json) [--timeout 120] [--token-env SMOKE_TOKEN]
 *
 * Checks: status 200, `model` and `version` are the released ones, one prediction per row. Exit 0 on
 * success, 1 on failure (the pipeline then rolls back), 2 on bad input. Prints a JSON result.
 */
import * as fs from "fs";
import { flag, run } from "./cli";

/**
 * The rows of an MLflow serving input example (`serving_input_example.json`, logged with the model):
 * `{"inputs": [...]}`, `{"dataframe_split": {"data": [...]}}`, `{"dataframe_records": [{...}]}` or `{"instances": [...]}`.
 */
export function rowsOfExample(example: Record<string, unknown>): unknown[] {
  const split = example.dataframe_split as { data?: unknown[] } | undefined;
  const records = example.dataframe_records as Record<string, unknown>[] | undefined;
  const rows = (example.inputs ?? example.instances ?? split?.data ?? records?.map((r) => Object.values(r))) as unknown;
  if (!Array.isArray(rows) || rows.length === 0)
    throw new Error("the input example has no rows (expected inputs, instances, dataframe_split or dataframe_records)");
  return Array.isArray(rows[0]) ? rows : [rows];
}

export interface SmokeResult {
  readonly ok: boolean;
  readonly attempts: number;
  readonly status?: number;
  readonly latencyMs?: number;
  readonly reason: string;
  readonly body?: unknown;
}

/** One check of an answer; the reason when it is not the expected one. */
export function checkAnswer(status: number, body: unknown, expect: { model: string; version: string; rows: number }): string | undefined {
  if (status !== 200) return `status ${status}`;
  const b = body as { model?: unknown; version?: unknown; predictions?: unknown };
  if (!b || typeof b !== "object") return "the answer is not a JSON object";
  if (b.model !== expect.model) return `model ${JSON.stringify(b.model)}, expected ${JSON.stringify(expect.model)}`;
  if (String(b.version) !== expect.version)
    return `version ${JSON.stringify(b.version)}, expected "${expect.version}" (the old version still answers?)`;
  if (!Array.isArray(b.predictions) || b.predictions.length !== expect.rows)
    return `${Array.isArray(b.predictions) ? b.predictions.length : "no"} prediction(s) for ${expect.rows} row(s)`;
  return undefined;
}

export async function smokeTest(opts: {
  url: string;
  model: string;
  version: string;
  data: unknown;
  token?: string;
  timeoutMs: number;
  intervalMs?: number;
}): Promise<SmokeResult> {
  const rows = Array.isArray(opts.data) && Array.isArray(opts.data[0]) ? opts.data.length : 1;
  const deadline = Date.now() + opts.timeoutMs;
  let attempts = 0;
  let last: SmokeResult = { ok: false, attempts: 0, reason: "not tried" };
  do {
    attempts++;
    const t0 = Date.now();
    try {
      const res = await fetch(`${opts.url.replace(/\/$/, "")}/predict`, {
        method: "POST",
        headers: { "Content-Type": "application/json", ...(opts.token ? { Authorization: `Bearer ${opts.token}` } : {}) },
        body: JSON.stringify({ data: opts.data }),
        signal: AbortSignal.timeout(Math.max(1000, Math.min(30000, deadline - Date.now()))),
      });
      const text = await res.text();
      let body: unknown = text;
      try {
        body = JSON.parse(text);
      } catch {
        /* not JSON: reported below */
      }
      const problem = checkAnswer(res.status, body, { model: opts.model, version: opts.version, rows });
      last = { ok: !problem, attempts, status: res.status, latencyMs: Date.now() - t0, reason: problem ?? "ok", body };
      if (!problem) return last;
      // A client error will not heal by waiting.
      if (res.status >= 400 && res.status < 500 && res.status !== 429 && res.status !== 408) return last;
    } catch (err) {
      last = { ok: false, attempts, reason: `no answer: ${(err as Error).message}` };
    }
    await new Promise((r) => setTimeout(r, opts.intervalMs ?? 2000));
  } while (Date.now() < deadline);
  return last;
}

export async function main(
  argv: readonly string[],
  env: NodeJS.ProcessEnv = process.env,
  out: (s: string) => void = (s) => process.stdout.write(s),
): Promise<number> {
  const url = flag(argv, "--url");
  const model = flag(argv, "--model");
  const version = flag(argv, "--version");
  const exampleFile = flag(argv, "--example-file");
  const data =
    flag(argv, "--data") ??
    (exampleFile ? JSON.stringify(rowsOfExample(JSON.parse(fs.readFileSync(exampleFile, "utf8")) as Record<string, unknown>)) : undefined);
  if (!url || !model || !version || !data) {
    process.stderr.write(
      "usage: smoke-test --url <base URL> --model <name> --version <n> (--data '<JSON row or rows>' | --example-file serving_input_example.json) [--timeout <s>] [--token-env <VAR>]\n",
    );
    return 2;
  }
  const tokenEnv = flag(argv, "--token-env");
  const r = await smokeTest({
    url,
    model,
    version,
    data: JSON.parse(data),
    token: tokenEnv ? env[tokenEnv] : undefined,
    timeoutMs: Number(flag(argv, "--timeout") ?? "120") * 1000,
  });
  out(`${JSON.stringify(r)}\n`);
  return r.ok ? 0 : 1;
}

if (require.main === module) run("smoke-test", () => main(process.argv.slice(2)));
