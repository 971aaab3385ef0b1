/**
 * A person's browser, for real: Debian's Chromium (headless), driven through playwright-core over the
 * DevTools protocol, opens the public hostname at the load balancer stand-in's HTTPS listener, signs in
 * at the provider, sees the training run and its `loss` chart drawn, renames the experiment from the
 * UI, and the write is checked through the REST API. Cookie (Secure, HttpOnly, SameSite, `__Host-`),
 * Origin and CORS rules are enforced by the browser itself, not by a hand-kept cookie jar.
 *
 * How the browser is wired (nothing is downloaded; no `ignoreHTTPSErrors`):
 * - the harness's `Processes` starts the Chromium binary (its own process group, log in logs/), so the
 *   cleanup stops it like every other process; playwright-core only connects to its DevTools socket;
 * - `--host-resolver-rules` maps the public hostname to the stand-in's loopback port and makes every
 *   other name unresolvable: the browser can reach nothing but this machine's loopback;
 * - `--ignore-certificate-errors-spki-list` trusts exactly the stand-in's self-signed key (certificate
 *   checks stay on for every other key: a check below shows another self-signed certificate refused).
 */
import * as fs from "fs";
import * as https from "https";
import type { AddressInfo } from "net";
import * as path from "path";
import { chromium, type Browser, type Page, type Response } from "playwright-core";
import { AUTH_PROXY_CALLBACK_PATH, AUTH_PROXY_COOKIE_NAME } from "../../constructs/auth-proxy/oauth2-proxy-command";
import { type Ctx, need } from "./context";
import { LOOPBACK, json, waitFor } from "./lib/net";
import type { Managed } from "./lib/processes";
import { runSync } from "./lib/processes";
import { selfSignedCertificate } from "./lib/tls";

/** Where Debian's `chromium` package puts the browser (`/usr/bin/chromium` is a shell wrapper). */
const CHROMIUM_CANDIDATES = ["/usr/lib/chromium/chromium", "/usr/bin/chromium"];

/** Every wait in this step is bounded by one of these. */
const TIMEOUT = { start: 30_000, action: 60_000, navigation: 120_000 } as const;

export function chromiumBinary(): string {
  const candidates = process.env.E2E_CHROMIUM ? [process.env.E2E_CHROMIUM] : CHROMIUM_CANDIDATES;
  const found = candidates.find((c) => fs.existsSync(c));
  if (!found)
    throw new Error(
      `no Chromium at ${candidates.join(" or ")}: scripts/install-tools.sh installs Debian's chromium package (or set E2E_CHROMIUM)`,
    );
  return found;
}

/** One response the browser saw: for the network log and the checks. */
interface Seen {
  readonly method: string;
  readonly url: string;
  readonly status: number;
  readonly origin?: string;
  readonly cookie: boolean;
}

export async function realBrowser(ctx: Ctx): Promise<void> {
  const { report } = ctx;
  const started = Date.now();
  const config = need(ctx.config, "config");
  const listener = need(ctx.albHttps, "the load balancer stand-in's HTTPS listener");
  const cert = need(ctx.publicCertificate, "the public hostname's certificate");
  const oidc = need(ctx.oidc, "the OpenID provider");
  const t = need(ctx.training, "the training run");
  const token = need(ctx.token, "a signed-in user's token");
  const origin = `https://${config.hostname}`;
  const logDir = ctx.procs.logDir;
  const rest = <T = any>(endpoint: string, body?: unknown) =>
    json<T>(`${need(ctx.alb, "alb").url}/api/2.0/mlflow/${endpoint}`, {
      method: body === undefined ? "GET" : "POST",
      headers: { Authorization: `Bearer ${token}` },
      body,
    });

  const bin = chromiumBinary();
  const version = runSync([bin, "--version"]).trim();
  const home = path.join(ctx.runDir, "browser-home");
  const profile = path.join(home, "profile");
  fs.mkdirSync(profile, { recursive: true });
  const argv = [
    bin,
    "--headless",
    // Chromium refuses to start as root with its sandbox on, and the harness runs as root (here and in
    // CI). The browser only ever loads this run's loopback pages.
    "--no-sandbox",
    "--remote-debugging-port=0",
    `--user-data-dir=${profile}`,
    `--host-resolver-rules=MAP ${config.hostname} ${LOOPBACK}:${listener.port}, MAP * ~NOTFOUND, EXCLUDE ${LOOPBACK}`,
    `--ignore-certificate-errors-spki-list=${cert.spkiSha256}`,
    "--no-first-run",
    "--no-default-browser-check",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-extensions",
    "--disable-dev-shm-usage",
    "--window-size=1440,1000",
    "--lang=en-US",
    "about:blank",
  ];
  const proc = ctx.procs.start("chromium", argv, { env: { HOME: home, PATH: "/usr/bin:/bin", LANG: "C.UTF-8", TZ: "UTC" } });
  let endpoint = "";
  await waitFor(
    "chromium's DevTools endpoint",
    async () => {
      endpoint = /DevTools listening on (ws:\/\/\S+)/.exec(fs.readFileSync(proc.logFile, "utf8"))?.[1] ?? "";
      return endpoint !== "";
    },
    proc,
    TIMEOUT.start,
  );
  const browser = await chromium.connectOverCDP(endpoint, { timeout: TIMEOUT.start });
  report.info(
    `${version} (${bin}), headless, DevTools ${endpoint.replace(/\/devtools\/.*/, "")}, started in ${((Date.now() - started) / 1000).toFixed(1)} s; ${config.hostname} -> ${listener.url}`,
  );
  const seen: Seen[] = [];
  try {
    await session(ctx, browser, proc, seen, {
      origin,
      oidcIssuer: oidc.issuer,
      training: t,
      rest,
      logDir,
      proxyLog: need(ctx.proxy, "the proxy").proc.logFile,
    });
  } finally {
    fs.writeFileSync(
      path.join(logDir, "browser-network.log"),
      seen
        .map((s) => `${s.status} ${s.method} ${s.url}${s.origin ? ` (Origin ${s.origin})` : ""}${s.cookie ? " [cookie]" : ""}`)
        .join("\n") + "\n",
    );
    await browser.close().catch(() => undefined);
    await ctx.procs.stop(proc);
  }
  report.info(
    `browser step ${((Date.now() - started) / 1000).toFixed(1)} s; ${seen.length} responses seen by the browser (logs/browser-network.log)`,
  );
}

interface SessionInputs {
  readonly origin: string;
  readonly oidcIssuer: string;
  readonly training: NonNullable<Ctx["training"]>;
  readonly rest: <T = any>(endpoint: string, body?: unknown) => Promise<T>;
  readonly logDir: string;
  readonly proxyLog: string;
}

async function session(ctx: Ctx, browser: Browser, proc: Managed, seen: Seen[], s: SessionInputs): Promise<void> {
  const { report } = ctx;
  const { origin, training: t } = s;
  const context = browser.contexts()[0] ?? (await browser.newContext());
  const page = await context.newPage();
  page.setDefaultTimeout(TIMEOUT.action);
  page.setDefaultNavigationTimeout(TIMEOUT.navigation);
  const consoleLog = fs.createWriteStream(path.join(s.logDir, "browser-console.log"));
  page.on("console", (m) => consoleLog.write(`${m.type()}: ${m.text()}\n`));
  page.on("pageerror", (e) => consoleLog.write(`pageerror: ${e.message}\n`));
  page.on("response", (r: Response) => {
    void r
      .request()
      .allHeaders()
      .then(
        (h) => {
          seen.push({ method: r.request().method(), url: r.url(), status: r.status(), origin: h.origin, cookie: h.cookie !== undefined });
        },
        () => seen.push({ method: r.request().method(), url: r.url(), status: r.status(), cookie: false }),
      );
  });
  const navigations: string[] = [];
  page.on("request", (r) => {
    if (r.isNavigationRequest() && r.frame() === page.mainFrame()) navigations.push(r.url());
  });
  const alive = () => {
    if (proc.exit) throw new Error(`chromium exited (code ${proc.exit.code}, signal ${proc.exit.signal}); log ${proc.logFile}`);
  };

  // Sign-in: the UI redirects to the provider, which (mockoidc) redirects straight back with a code.
  const signInStarted = Date.now();
  const landing = await page.goto(`${origin}/`, { waitUntil: "load" });
  alive();
  const hops = navigations.map((u) => u.replace(/([?&](code|state|code_challenge|nonce)=)[^&]+/g, "$1..."));
  const viaProvider = navigations.some((u) => u.startsWith(`${s.oidcIssuer}/authorize`));
  const viaCallback = navigations.some((u) => u.startsWith(`${origin}${AUTH_PROXY_CALLBACK_PATH}?`));
  report.check(
    "the browser signs in through the provider and lands on the UI at the public origin",
    viaProvider && viaCallback && page.url().startsWith(`${origin}/`) && landing?.status() === 200,
    `${hops.join(" -> ")}; final ${page.url()} ${landing?.status()} in ${((Date.now() - signInStarted) / 1000).toFixed(1)} s`,
  );

  const cookies = await context.cookies(origin);
  const sessionCookies = cookies.filter((c) => c.name.startsWith(AUTH_PROXY_COOKIE_NAME) && !c.name.includes("csrf"));
  const cookieOk =
    sessionCookies.length > 0 &&
    sessionCookies.every((c) => c.secure && c.httpOnly && c.sameSite === "Lax" && c.path === "/" && c.domain === new URL(origin).hostname);
  report.check(
    "the browser keeps the session cookie as production sets it (__Host-, Secure, HttpOnly, SameSite=Lax, host-only)",
    cookieOk,
    sessionCookies
      .map((c) => `${c.name} domain=${c.domain} path=${c.path} secure=${c.secure} httpOnly=${c.httpOnly} sameSite=${c.sameSite}`)
      .join("; ") || `none among ${cookies.map((c) => c.name).join(", ")}`,
  );
  const scriptVisible = String(await page.evaluate("document.cookie"));
  report.check(
    "scripts on the page cannot read the session cookie (HttpOnly enforced)",
    !scriptVisible.includes(AUTH_PROXY_COOKIE_NAME),
    `document.cookie = ${JSON.stringify(scriptVisible.slice(0, 80))}`,
  );

  // The training run, then its `loss` chart, as a person opens them.
  const runPage = `${origin}/#/experiments/${t.experiment_id}/runs/${t.run_id}`;
  const runStarted = Date.now();
  await page.goto(runPage, { waitUntil: "load" });
  await page.getByText(t.run_id, { exact: true }).first().waitFor({ state: "visible" });
  const lossRow = await page
    .getByRole("row")
    .filter({ hasText: /^\s*loss/ })
    .count();
  report.pass(
    "the run page shows the training run (its run ID and metrics)",
    `${runPage} in ${((Date.now() - runStarted) / 1000).toFixed(1)} s; loss rows in the metrics table: ${lossRow}`,
  );
  await lossChart(ctx, page, s);

  // A write from the UI, as the browser sends it (Origin, cookie, CORS mode).
  await tagFromUi(ctx, page, s);
  // The same write from another site's page: the browser must not lend it the session.
  await crossSiteWrite(ctx, page, s);

  // Certificate checks stay on: only the stand-in's key is trusted; a certificate with another key, on
  // another loopback HTTPS server, is refused.
  const other = selfSignedCertificate(path.join(ctx.runDir, "tls", "untrusted"), "untrusted.example.com");
  const untrusted = https.createServer({ cert: other.cert, key: other.key }, (_req, res) => res.end("should not load"));
  await new Promise<void>((resolve, reject) => {
    untrusted.once("error", reject);
    untrusted.listen(0, LOOPBACK, () => resolve());
  });
  try {
    const url = `https://${LOOPBACK}:${(untrusted.address() as AddressInfo).port}/`;
    const refused = await page.goto(url).then(
      () => "loaded",
      (e: Error) => e.message.split("\n")[0],
    );
    report.check("certificate checks stay on: a self-signed certificate with another key is refused", /ERR_CERT_/.test(refused), refused);
  } finally {
    untrusted.closeAllConnections();
    await new Promise((resolve) => untrusted.close(resolve));
  }
  consoleLog.end();
}

/** The metric page of `loss` (the UI's "metric details" route): one Plotly line chart. */
async function lossChart(ctx: Ctx, page: Page, s: SessionInputs): Promise<void> {
  const { report } = ctx;
  const t = s.training;
  const q = (v: unknown) => encodeURIComponent(JSON.stringify(v));
  // The link the UI itself builds (Routes.getMetricPageRoute in MLflow 3.17's bundle).
  const url =
    `${s.origin}/#/metric/?runs=${q([t.run_id])}&metric=${q("loss")}&experiments=${q([t.experiment_id])}&plot_metric_keys=${q(["loss"])}` +
    `&plot_layout=${q({})}&x_axis=step&y_axis_scale=linear&line_smoothness=1&show_point=false&deselected_curves=${q([])}&last_linear_y_axis_range=${q([])}`;
  const started = Date.now();
  await page.goto(url, { waitUntil: "load" });
  // Plotly draws each trace as an SVG path (its `d` has one M/L command per drawn point; Plotly drops
  // points of nearly straight stretches), and keeps the plotted data on the chart's element.
  const line = page.locator(".js-plotly-plot .scatterlayer .trace path.js-line").first();
  await line.waitFor({ state: "visible" });
  const drawn = ((await line.getAttribute("d")) ?? "").match(/[ML]/g)?.length ?? 0;
  const traces = JSON.parse(
    String(
      await page.evaluate(
        "JSON.stringify((document.querySelector('.js-plotly-plot').data || []).map((t) => ({ name: t.name, x: t.x, y: t.y })))",
      ),
    ),
  ) as { name?: string; x?: number[]; y?: number[] }[];
  const trace = traces.find((x) => /loss/.test(x.name ?? "")) ?? traces[0];
  const history = ((await s.rest(`metrics/get-history?run_id=${t.run_id}&metric_key=loss`)).metrics ?? []) as {
    step: string | number;
    value: number;
  }[];
  const byStep = new Map(history.map((m) => [Number(m.step), Number(m.value)]));
  const matches =
    trace?.x?.length === t.epochs && trace.x.every((step, i) => Math.abs((byStep.get(Number(step)) ?? NaN) - Number(trace.y?.[i])) < 1e-9);
  const file = path.join(s.logDir, "browser-loss-chart.png");
  await page.screenshot({ path: file });
  report.check(
    "the loss chart is drawn: a Plotly line of the run's loss at every logged step",
    drawn >= 2 && matches,
    `trace "${trace?.name}": ${trace?.x?.length ?? 0} points (${t.epochs} logged steps, values equal to metrics/get-history: ${matches}), ${drawn} drawn in the SVG path, ${((Date.now() - started) / 1000).toFixed(1)} s; screenshot ${file}`,
  );
}

const TAG_KEY = "e2e.reviewed_in_browser";

/** Adds a tag to the run through the run page's "Add tags" dialog, then reads it back through REST. */
async function tagFromUi(ctx: Ctx, page: Page, s: SessionInputs): Promise<void> {
  const { report } = ctx;
  const t = s.training;
  const value = `tagged-by-chromium-${Date.now()}`;
  await page.goto(`${s.origin}/#/experiments/${t.experiment_id}/runs/${t.run_id}`, { waitUntil: "load" });
  // "Add tags" while the run has no visible tag, the pencil button "Edit tags" once it has one (git_sha).
  await page
    .getByRole("button", { name: /^(Add tags|Edit tags)$/ })
    .first()
    .click();
  const dialog = page.getByRole("dialog", { name: "Add/Edit tags" });
  await dialog.getByRole("combobox").fill(TAG_KEY);
  await dialog.getByRole("combobox").press("Enter");
  await dialog.getByLabel("Value").fill(value);
  await dialog.getByRole("button", { name: "Add tag" }).click();
  const [write] = await Promise.all([
    page.waitForResponse(
      (r) =>
        r.url().endsWith("/ajax-api/2.0/mlflow/runs/set-tag") &&
        r.request().method() === "POST" &&
        (r.request().postData() ?? "").includes(TAG_KEY),
    ),
    dialog.getByRole("button", { name: "Save tags" }).click(),
  ]);
  await dialog.waitFor({ state: "hidden" });
  const h = await write.request().allHeaders();
  report.check(
    "the UI's write leaves the browser same-origin, with the session cookie, and succeeds",
    write.status() === 200 &&
      h.origin === s.origin &&
      h["sec-fetch-site"] === "same-origin" &&
      (h.cookie ?? "").includes(AUTH_PROXY_COOKIE_NAME),
    `POST ${new URL(write.url()).pathname}: ${write.status()}, Origin ${h.origin}, Sec-Fetch-Site ${h["sec-fetch-site"]}, cookie ${(h.cookie ?? "").includes(AUTH_PROXY_COOKIE_NAME) ? AUTH_PROXY_COOKIE_NAME : "absent"}`,
  );
  const tags = ((await s.rest("runs/get?run_id=" + t.run_id)).run.data.tags ?? []) as { key: string; value: string }[];
  const got = tags.find((x) => x.key === TAG_KEY)?.value;
  report.check("the tag written from the UI is there through the REST API", got === value, `runs/get: ${TAG_KEY}=${got ?? "(absent)"}`);
  await page.getByText(value).first().waitFor({ state: "visible" });
  await page.screenshot({ path: path.join(s.logDir, "browser-run-tagged.png") });
}

/**
 * A page of another site (the provider's, a different origin) posts the same write to the public
 * origin with `credentials: "include"`. The SameSite=Lax session cookie must stay home, the proxy
 * must refuse, CORS must keep the answer from the page, and the run must be unchanged.
 */
async function crossSiteWrite(ctx: Ctx, page: Page, s: SessionInputs): Promise<void> {
  const { report } = ctx;
  const t = s.training;
  const target = `${s.origin}/ajax-api/2.0/mlflow/runs/set-tag`;
  const refusedBefore = anonymousTagWrites(s.proxyLog).length;
  await page.goto(`${s.oidcIssuer}/.well-known/openid-configuration`, { waitUntil: "load" });
  const outcome = await page.evaluate(
    async ({ url, runId, key }) => {
      try {
        // A "simple" request (text/plain): no preflight, so it does reach the server.
        const r = await fetch(url, {
          method: "POST",
          credentials: "include",
          headers: { "Content-Type": "text/plain" },
          body: JSON.stringify({ run_id: runId, key, value: "set-by-another-site" }),
        });
        return `read ${r.status}`;
      } catch (e) {
        return `blocked: ${(e as Error).message}`;
      }
    },
    { url: target, runId: t.run_id, key: TAG_KEY },
  );
  // The browser reports no response for a request CORS blocked: the proxy's access log tells what
  // arrived (user "-": no session came with it) and what it answered.
  let arrived: RegExpMatchArray[] = [];
  const deadline = Date.now() + 5000;
  while (arrived.length <= refusedBefore && Date.now() < deadline) {
    arrived = anonymousTagWrites(s.proxyLog);
    if (arrived.length <= refusedBefore) await new Promise((r) => setTimeout(r, 100));
  }
  const last = arrived.length > refusedBefore ? arrived[arrived.length - 1] : undefined;
  const tags = ((await s.rest("runs/get?run_id=" + t.run_id)).run.data.tags ?? []) as { key: string; value: string }[];
  const value = tags.find((x) => x.key === TAG_KEY)?.value;
  report.check(
    "another site's page cannot write with the user's session (cookie withheld, refused, answer unreadable, run unchanged)",
    outcome.startsWith("blocked") && last !== undefined && (last[1] === "401" || last[1] === "403") && value !== "set-by-another-site",
    `fetch from ${new URL(s.oidcIssuer).origin}: ${outcome}; the proxy ${last ? `got it without a session and answered ${last[1]}` : "logged no such request without a session"}; ${TAG_KEY}=${value}`,
  );
}

/** The proxy's access-log lines of set-tag POSTs that came with no signed-in user, with their status. */
function anonymousTagWrites(proxyLog: string): RegExpMatchArray[] {
  const text = fs.existsSync(proxyLog) ? fs.readFileSync(proxyLog, "utf8") : "";
  return [...text.matchAll(/ - - \[[^\]]*\] \S+ POST - "\/ajax-api\/2\.0\/mlflow\/runs\/set-tag" HTTP\/[\d.]+ "[^"]*" (\d{3}) /g)];
}
