/** Small helpers the CI scripts share: flags, and a JSON REST call with a bearer token. */

/** The value after `--name`, or undefined. */
export function flag(argv: readonly string[], name: string): string | undefined {
  const i = argv.indexOf(name);
  return i >= 0 && i + 1 < argv.length ? argv[i + 1] : undefined;
}

/** Runs an async command-line main and sets the exit code; an exception prints its message only. */
export function run(name: string, main: () => Promise<number> | number): void {
  Promise.resolve()
    .then(main)
    .then(
      (code) => {
        process.exitCode = code;
      },
      (err: Error) => {
        process.stderr.write(`${name}: ${err.message}\n`);
        process.exitCode = 1;
      },
    );
}

/** A call of MLflow's REST API (`/api/2.0/mlflow/...`) with the pipeline's OIDC token; the token is never printed. */
export async function mlflowApi<T>(
  trackingUri: string,
  token: string | undefined,
  method: "GET" | "POST" | "DELETE" | "PATCH",
  endpoint: string,
  body?: Record<string, unknown>,
): Promise<T> {
  let url = `${trackingUri.replace(/\/$/, "")}/api/2.0/mlflow/${endpoint}`;
  if (method === "GET" && body) url += `?${new URLSearchParams(Object.entries(body).map(([k, v]): [string, string] => [k, String(v)]))}`;
  const res = await fetch(url, {
    method,
    headers: { ...(token ? { Authorization: `Bearer ${token}` } : {}), "Content-Type": "application/json" },
    body: method === "GET" || body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  if (!res.ok) {
    const err = new Error(`MLflow ${method} ${endpoint}: ${res.status} ${text.slice(0, 300)}`) as Error & { status: number };
    err.status = res.status;
    throw err;
  }
  return (text ? JSON.parse(text) : {}) as T;
}
