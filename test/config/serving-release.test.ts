/** scripts/serving-release.ts: set and roll back a model's release in a scratch git repository. */
import { execFileSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { readReleases, releaseHistory, rollback, setRelease } from "../../scripts/serving-release";

const d = (c: string) => `sha256:${c.repeat(64)}`;

function scratch(): { root: string; commit: (msg: string) => void } {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), "releases-"));
  fs.mkdirSync(path.join(root, "config", "releases"), { recursive: true });
  fs.writeFileSync(path.join(root, "config", "releases", "dev.json"), "{}\n");
  const git = (...a: string[]) => execFileSync("git", a, { cwd: root, stdio: "ignore" });
  git("init", "-q");
  git("config", "user.email", "t@example.com");
  git("config", "user.name", "t");
  const commit = (msg: string) => {
    git("add", "-A");
    git("commit", "-q", "-m", msg);
  };
  commit("empty");
  return { root, commit };
}

describe("serving releases (config/releases/<env>.json)", () => {
  it("a pipeline sets a release; a rollback goes back to the previous committed one, then to a named one", () => {
    const { root, commit } = scratch();
    setRelease("dev", "iris-classifier", { version: "1", imageDigest: d("a") }, root);
    commit("v1");
    setRelease("dev", "iris-classifier", { version: "2", imageDigest: d("b") }, root);
    commit("v2");
    setRelease("dev", "iris-classifier", { version: "3", imageDigest: d("c") }, root);
    commit("v3");
    expect(releaseHistory("dev", "iris-classifier", root).map((h) => h.release.version)).toEqual(["3", "2", "1"]);
    const r = rollback("dev", "iris-classifier", { root });
    expect(r.from?.version).toBe("3");
    expect(readReleases("dev", root)["iris-classifier"]).toEqual({ version: "2", imageDigest: d("b") });
    expect(fs.readFileSync(path.join(root, "config", "releases", "dev.json"), "utf8")).toBe(
      `{\n  "iris-classifier": {\n    "version": "2",\n    "imageDigest": "${d("b")}"\n  }\n}\n`,
    );
    rollback("dev", "iris-classifier", { root, to: "1" });
    expect(readReleases("dev", root)["iris-classifier"].version).toBe("1");
  });

  it("refuses, changing nothing, when there is nothing to go back to or the value is bad", () => {
    const { root, commit } = scratch();
    setRelease("dev", "iris-classifier", { version: "1", imageDigest: d("a") }, root);
    commit("v1");
    expect(() => rollback("dev", "iris-classifier", { root })).toThrow(/no earlier release of "iris-classifier"/);
    expect(() => rollback("dev", "iris-classifier", { root, to: "7" })).toThrow(
      /no committed release of "iris-classifier" at version 7.*versions in its history: 1/,
    );
    expect(() => setRelease("dev", "iris-classifier", { version: "2", imageDigest: "latest" }, root)).toThrow(/imageDigest/);
    expect(readReleases("dev", root)["iris-classifier"].version).toBe("1");
  });
});
