/**
 * Posts the plan summaries of every environment as ONE pull-request comment, updated in place on every
 * push (found by a hidden marker), never repeated:
 *
 *   node dist/scripts/ci/pr-comment.js --pr 42 --dir summaries/ [--sha <head sha>]
 *
 * Reads every `*.md` in --dir (one per environment, from plan-summary), joins them in name order under
 * a heading, and creates or updates the comment through GitHub's REST API (GITHUB_API_URL,
 * GITHUB_REPOSITORY, GITHUB_TOKEN: the workflow's token with `pull-requests: write`).
 */
import * as fs from "fs";
import * as path from "path";

export const MARKER = "<!-- mlflow-platform:plan-summary -->";

/** The comment's body. */
export function commentBody(sections: readonly { name: string; markdown: string }[], sha?: string): string {
  const sorted = [...sections].sort((a, b) => a.name.localeCompare(b.name));
  const failed = sorted.filter((s) => s.markdown.includes("plan failed")).length;
  const head = `## Terraform plan${sha ? ` for ${sha.slice(0, 7)}` : ""}${failed ? ` (${failed} failed)` : ""}`;
  const body = [
    MARKER,
    head,
    "",
    ...sorted.map((s) => s.markdown.trim()),
    "",
    "<sub>Updated in place on every push by `scripts/ci/pr-comment.ts`.</sub>",
  ].join("\n\n");
  // GitHub refuses comments over 65,536 characters.
  return body.length > 65000 ? `${body.slice(0, 64900)}\n\n... (cut: see the jobs' summaries)` : body;
}

interface Comment {
  id: number;
  body?: string;
  user?: { type?: string; login?: string };
}

/** A minimal GitHub REST client (fetch). */
export async function github<T>(method: string, url: string, token: string, body?: unknown): Promise<T> {
  const res = await fetch(url, {
    method,
    headers: {
      Authorization: `Bearer ${token}`,
      Accept: "application/vnd.github+json",
      "X-GitHub-Api-Version": "2022-11-28",
      "Content-Type": "application/json",
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (!res.ok) throw new Error(`GitHub ${method} ${new URL(url).pathname}: ${res.status} ${(await res.text()).slice(0, 300)}`);
  return (res.status === 204 ? undefined : await res.json()) as T;
}

/** Creates the comment, or updates the one carrying the marker. Returns what was done and the comment id. */
export async function upsertComment(opts: {
  apiUrl: string;
  repository: string;
  pr: number;
  token: string;
  body: string;
}): Promise<{ action: "created" | "updated"; id: number }> {
  const base = `${opts.apiUrl.replace(/\/$/, "")}/repos/${opts.repository}/issues/${opts.pr}/comments`;
  let existing: Comment | undefined;
  for (let page = 1; page <= 20 && !existing; page++) {
    const comments = await github<Comment[]>("GET", `${base}?per_page=100&page=${page}`, opts.token);
    existing = comments.find((c) => c.body?.includes(MARKER));
    if (comments.length < 100) break;
  }
  if (existing) {
    await github("PATCH", `${opts.apiUrl.replace(/\/$/, "")}/repos/${opts.repository}/issues/comments/${existing.id}`, opts.token, {
      body: opts.body,
    });
    return { action: "updated", id: existing.id };
  }
  const created = await github<Comment>("POST", base, opts.token, { body: opts.body });
  return { action: "created", id: created.id };
}

function arg(argv: readonly string[], name: string): string | undefined {
  const i = argv.indexOf(name);
  return i >= 0 ? argv[i + 1] : undefined;
}

export async function main(argv: readonly string[], env: NodeJS.ProcessEnv = process.env): Promise<number> {
  const pr = Number(arg(argv, "--pr"));
  const dir = arg(argv, "--dir");
  if (!Number.isInteger(pr) || pr <= 0 || !dir) {
    process.stderr.write("usage: pr-comment --pr <number> --dir <folder of <env>.md> [--sha <sha>]\n");
    return 2;
  }
  const { GITHUB_API_URL = "https://api.github.com", GITHUB_REPOSITORY, GITHUB_TOKEN } = env;
  if (!GITHUB_REPOSITORY || !GITHUB_TOKEN) {
    process.stderr.write("pr-comment: GITHUB_REPOSITORY and GITHUB_TOKEN must be set\n");
    return 2;
  }
  const files = fs.existsSync(dir)
    ? fs
        .readdirSync(dir, { recursive: true })
        .map(String)
        .filter((f) => f.endsWith(".md"))
    : [];
  const sections = files.map((f) => ({ name: path.basename(f, ".md"), markdown: fs.readFileSync(path.join(dir, f), "utf8") }));
  if (sections.length === 0)
    sections.push({
      name: "none",
      markdown: "### 🔴 no plan summary was produced (every plan job failed before its summary: see the checks)",
    });
  const r = await upsertComment({
    apiUrl: GITHUB_API_URL,
    repository: GITHUB_REPOSITORY,
    pr,
    token: GITHUB_TOKEN,
    body: commentBody(sections, arg(argv, "--sha")),
  });
  process.stdout.write(`pr-comment: ${r.action} comment ${r.id} on #${pr} (${sections.length} environment(s))\n`);
  return 0;
}

if (require.main === module) {
  main(process.argv.slice(2)).then(
    (c) => {
      process.exitCode = c;
    },
    (e: Error) => {
      process.stderr.write(`pr-comment: ${e.message}\n`);
      process.exitCode = 1;
    },
  );
}
