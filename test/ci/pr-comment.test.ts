/** One pull-request comment, created once and then updated in place (found by its marker). */
import { commentBody, MARKER, upsertComment } from "../../scripts/ci/pr-comment";
import { stubServer } from "./stub-server";

describe("plan comment", () => {
  test("body: marker, sections in name order, failures counted", () => {
    const b = commentBody(
      [
        { name: "staging", markdown: "### 🔴 `staging`: plan failed\n" },
        { name: "dev", markdown: "### 🟢 `dev`: no changes" },
      ],
      "0123456789abcdef",
    );
    expect(b.startsWith(MARKER)).toBe(true);
    expect(b).toContain("## Terraform plan for 0123456 (1 failed)");
    expect(b.indexOf("`dev`")).toBeLessThan(b.indexOf("`staging`"));
  });

  test("created when absent, then updated (not repeated); other comments untouched", async () => {
    const comments: { id: number; body: string }[] = [{ id: 1, body: "LGTM" }];
    const srv = await stubServer((req) => {
      const body = req.body ? JSON.parse(req.body) : undefined;
      if (req.method === "GET") return { body: comments };
      if (req.method === "POST") {
        comments.push({ id: 2, body: body.body });
        return { status: 201, body: { id: 2 } };
      }
      if (req.method === "PATCH") {
        comments.find((c) => req.url.endsWith(`/comments/${c.id}`))!.body = body.body;
        return { body: { id: 2 } };
      }
      return { status: 405 };
    });
    try {
      const opts = { apiUrl: srv.url, repository: "acme/ml-platform", pr: 7, token: "t0k" };
      expect(await upsertComment({ ...opts, body: `${MARKER}\nfirst` })).toEqual({ action: "created", id: 2 });
      expect(await upsertComment({ ...opts, body: `${MARKER}\nsecond` })).toEqual({ action: "updated", id: 2 });
      expect(comments).toEqual([
        { id: 1, body: "LGTM" },
        { id: 2, body: `${MARKER}\nsecond` },
      ]);
      expect(srv.seen.map((s) => `${s.method} ${s.url.split("?")[0]}`)).toEqual([
        "GET /repos/acme/ml-platform/issues/7/comments",
        "POST /repos/acme/ml-platform/issues/7/comments",
        "GET /repos/acme/ml-platform/issues/7/comments",
        "PATCH /repos/acme/ml-platform/issues/comments/2",
      ]);
      expect(srv.seen[0].headers.authorization).toBe("Bearer t0k");
    } finally {
      await srv.close();
    }
  });

  test("a GitHub error is reported with its status, without the token", async () => {
    const srv = await stubServer(() => ({ status: 403, body: { message: "Resource not accessible by integration" } }));
    try {
      await expect(upsertComment({ apiUrl: srv.url, repository: "a/b", pr: 1, token: "t0k", body: "x" })).rejects.toThrow(
        /403 .*not accessible/,
      );
      await expect(upsertComment({ apiUrl: srv.url, repository: "a/b", pr: 1, token: "t0k", body: "x" })).rejects.not.toThrow(/t0k/);
    } finally {
      await srv.close();
    }
  });
});
