/**
 * Schema-driven fuzzing of a running service with Schemathesis (PyPI, pinned in tools/requirements.txt):
 * inputs generated from the service's OpenAPI document, every answer checked against it. Reusable by any
 * e2e step: give it the document's URL, the base URL and the headers a gateway would set.
 *
 * Checks run (Schemathesis names): the service never answers 5xx (`not_a_server_error`), every status it
 * answers is documented (`status_code_conformance`), with the documented content type, headers and body
 * schema (`content_type_conformance`, `response_headers_conformance`, `response_schema_conformance`).
 * Phases: the document's examples, its boundary cases (coverage) and random fuzzing, with a fixed seed
 * (the same inputs each run; change FUZZ_SEED to explore others). Figures come from Schemathesis' own JSON
 * run report, never from parsing its console output.
 */
import * as fs from "fs";
import * as path from "path";
import type { Processes } from "./processes";

export const FUZZ_CHECKS = [
  "not_a_server_error",
  "status_code_conformance",
  "content_type_conformance",
  "response_headers_conformance",
  "response_schema_conformance",
] as const;

export interface FuzzOptions {
  /** The `st` executable (the tools virtualenv's). */
  readonly st: string;
  /** URL of the OpenAPI document the service serves. */
  readonly schemaUrl: string;
  /** Base URL of the operations (defaults to the document's origin). */
  readonly baseUrl?: string;
  /** Headers sent with every request (what the gateway in front would set). */
  readonly headers?: Record<string, string>;
  /** Test cases per operation and phase. @default 100 */
  readonly maxExamples?: number;
  /** @default FUZZ_SEED from the environment, else 1 */
  readonly seed?: number;
  /** @default 300_000 */
  readonly timeoutMs?: number;
}

export interface FuzzResult {
  readonly code: number | null;
  /** Operations tested / selected. */
  readonly operations: { readonly tested: number; readonly selected: number };
  /** Test cases (inputs) generated, and those with a failed check or an error. */
  readonly generated: number;
  readonly failures: number;
  readonly errors: number;
  /** One line per distinct failure (check, operation, message), for the report. */
  readonly problems: string[];
  readonly seconds: number;
  readonly report: string;
  /** The last lines of Schemathesis' console output. */
  readonly output: string;
}

export async function fuzz(procs: Processes, name: string, o: FuzzOptions): Promise<FuzzResult> {
  // Beside the logs, not among them (every file in the log directory is scanned for secrets).
  const dir = path.join(path.dirname(procs.logDir), `${name}-report`);
  fs.mkdirSync(dir, { recursive: true });
  const seed = o.seed ?? Number(process.env.FUZZ_SEED ?? 1);
  const argv = [
    o.st,
    "run",
    o.schemaUrl,
    ...(o.baseUrl ? ["--url", o.baseUrl] : []),
    ...Object.entries(o.headers ?? {}).flatMap(([k, v]) => ["-H", `${k}: ${v}`]),
    "--checks",
    FUZZ_CHECKS.join(","),
    "--phases",
    "examples,coverage,fuzzing",
    "--max-examples",
    String(o.maxExamples ?? 100),
    "--seed",
    String(seed),
    "--workers",
    "2",
    "--request-timeout",
    "30",
    "--report",
    "json",
    "--report-dir",
    dir,
    "--output-truncate",
    "true",
  ];
  const started = Date.now();
  // Run in the report's directory: Schemathesis keeps a cache (.schemathesis/) in its working directory.
  const r = await procs.run(name, argv, {
    cwd: dir,
    env: { PATH: `${path.dirname(o.st)}:/usr/bin:/bin`, HOME: dir, LANG: "C.UTF-8", NO_COLOR: "1", COLUMNS: "160" },
    timeoutMs: o.timeoutMs ?? 300_000,
  });
  const file = fs
    .readdirSync(dir)
    .filter((f) => f.endsWith(".json"))
    .sort()
    .pop();
  if (!file) throw new Error(`${name}: Schemathesis wrote no JSON report (exit ${r.code}):\n${r.output.slice(-2000)}`);
  const report = JSON.parse(fs.readFileSync(path.join(dir, file), "utf8"));
  const problems = [
    ...(report.failures ?? []).map((f: any) => JSON.stringify(f).slice(0, 400)),
    ...(report.errors ?? []).map((e: any) => JSON.stringify(e).slice(0, 400)),
  ];
  return {
    code: r.code,
    operations: { tested: report.operations?.tested ?? 0, selected: report.operations?.selected ?? 0 },
    generated: report.test_cases?.generated ?? 0,
    failures: report.test_cases?.with_failures ?? 0,
    errors: report.test_cases?.errored ?? 0,
    problems,
    seconds: (Date.now() - started) / 1000,
    report: path.join(dir, file),
    output: r.output.split("\n").slice(-25).join("\n"),
  };
}
