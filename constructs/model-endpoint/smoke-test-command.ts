/**
 * The pre-promotion smoke test of a model endpoint (`mlflow-platform serve smoke`,
 * runtime/src/mlflow_platform/serving/smoke.py) as one pure value: what the Argo Rollouts
 * AnalysisTemplate's Job runs against the preview Service before a new version gets traffic, what a
 * release pipeline can run against any URL, and what the end-to-end harness runs for real against the
 * model server it starts.
 *
 * It sends the workflow's call, `POST /predict {"data": [...]}`, and passes when the answer is 200, names
 * the expected model version and (when given) the expected label. It runs in the model's own image (which
 * has Python and the runtime package), so the Job needs nothing else pulled.
 */
import type { ContainerCommand } from "../core/command-types";
import { PropError } from "../core/prop-error";

/**
 * The smoke test's caller id. The model server admits it without the identity rule (an internal caller):
 * it is never an address, so no token's e-mail can be it, and only the smoke Job's pods and the gateway
 * reach the server (the gateway overwrites the caller header from the token).
 */
export const SMOKE_TEST_CALLER = "smoke-test";

/** The workflow's request body: one iris row. */
export const SMOKE_TEST_ROW: readonly number[] = [5.1, 3.5, 1.4, 0.2];

/** What the smoke command is computed from. */
export interface SmokeTestCommandInputs {
  /** Image with the runtime package (the model's own image, by digest). */
  readonly image: string;
  /** Base URL of the service under test, e.g. `http://mlflow-dev-iris-classifier-preview.models.svc`. */
  readonly url: string;
  /** The model version the answer must name. */
  readonly expectVersion: string;
  /** The row sent as `{"data": row}`. @default SMOKE_TEST_ROW */
  readonly row?: readonly number[];
  /** The label the answer must give for the row (needs class names on the server). @default none */
  readonly expectLabel?: string;
  /** Caller id sent in the caller header, so the smoke traffic is told apart in logs. @default "smoke-test" */
  readonly caller?: string;
  /** The header the server keys callers on. @default "X-Caller-Id" */
  readonly callerHeader?: string;
  /** Attempts, and seconds between them (a preview pod may have just become ready). @default 5 and 2 */
  readonly attempts?: number;
  readonly intervalSeconds?: number;
  /** Seconds per request. @default 10 */
  readonly timeoutSeconds?: number;
}

/** `mlflow-platform serve smoke` with every value spelled out. */
export function smokeTestCommand(i: SmokeTestCommandInputs): ContainerCommand {
  const row = i.row ?? SMOKE_TEST_ROW;
  if (!/^https?:\/\/[^\s/]+(\/[^\s]*)?$/.test(i.url)) throw new PropError("smokeTestCommand", "url", i.url, "an http(s) URL");
  if (!/^[1-9]\d*$/.test(i.expectVersion))
    throw new PropError("smokeTestCommand", "expectVersion", i.expectVersion, 'a version number such as "3"');
  if (row.length === 0 || row.some((x) => !Number.isFinite(x)))
    throw new PropError("smokeTestCommand", "row", row, "a non-empty list of finite numbers");
  return {
    image: i.image,
    command: ["mlflow-platform", "serve", "smoke"],
    args: [
      "--url",
      i.url.replace(/\/$/, ""),
      "--body",
      JSON.stringify({ data: row }),
      "--expect-version",
      i.expectVersion,
      ...(i.expectLabel ? ["--expect-label", i.expectLabel] : []),
      "--caller",
      i.caller ?? SMOKE_TEST_CALLER,
      "--caller-header",
      i.callerHeader ?? "X-Caller-Id",
      "--attempts",
      String(i.attempts ?? 5),
      "--interval",
      String(i.intervalSeconds ?? 2),
      "--timeout",
      String(i.timeoutSeconds ?? 10),
    ],
    env: [
      { name: "HOME", value: "/tmp" },
      { name: "TMPDIR", value: "/tmp" },
    ],
  };
}
