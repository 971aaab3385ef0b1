/**
 * Pin coverage: every pinned version in the repository is kept current by some Renovate manager of
 * renovate.json. The pins are found by pattern (PIN_KINDS: requirements, *_VERSION constants and
 * variables, version fields and schema defaults, actions, workflow toolchains, Go modules, npm
 * dependencies, conda packages), not listed by hand, so a new pin that no manager matches fails here
 * until renovate.json (or NOT_PINS, with a reason) says what keeps it current. Built-in managers are
 * credited through their default file patterns; custom regex managers through their own fileMatch and
 * matchStrings, evaluated here on the file (the pin counts when a match's currentValue is exactly it).
 */
import { execFileSync } from "child_process";
import * as fs from "fs";
import * as path from "path";

const ROOT = path.join(__dirname, "..", "..");
type Manager = {
  customType?: string;
  description?: string;
  fileMatch: string[];
  matchStrings: string[];
  datasourceTemplate?: string;
  depNameTemplate?: string;
};
type RenovateConfig = { enabledManagers: string[]; customManagers: Manager[] };
const config = JSON.parse(fs.readFileSync(path.join(ROOT, "renovate.json"), "utf8")) as RenovateConfig;

/** A kind of pin: which files, the pattern (group `v` is the version), and which built-in manager parses it, if any. */
type PinKind = { what: string; files: RegExp; pattern: RegExp; builtin?: string };
export const PIN_KINDS: PinKind[] = [
  {
    what: "a pip requirement pinned with ==",
    files: /(^|\/)[\w-]*requirements([-.]\w+)?\.txt$/,
    pattern: /^[A-Za-z0-9_.[\]-]+==(?<v>[^\s#;]+)/gm,
    builtin: "pip_requirements",
  },
  {
    what: "a pip package in an environment file",
    files: /^examples\/(conda|python_env)\.yaml$/,
    pattern: /^\s*- [A-Za-z0-9_.-]+==?(?<v>\d[^\s#]*)/gm,
  },
  {
    what: "a Python version in an environment file",
    files: /^examples\/(conda|python_env)\.yaml$/,
    pattern: /^\s*(?:- )?python[:=] ?"?(?<v>\d[\d.]*)"?/gm,
  },
  {
    what: "a *_VERSION constant, variable or build argument",
    files: /\.(ts|mjs|js|sh)$|(^|\/)Dockerfile$/,
    pattern: /\b[A-Z][A-Z0-9_]*VERSION[A-Z0-9_]*\s*[=:]\s*["']?(?<v>v?\d+(?:\.\d+)+[^"'\s]*)/g,
  },
  {
    what: "a version field or a schema default",
    files: /^(config|constructs|stacks|scripts)\/.+\.ts$/,
    pattern: /\b(?:[a-z][A-Za-z]*V|v)ersion: (?:z\.[^\n]*?\.default\()?"(?<v>v?\d+\.\d+[^"]*)"/g,
  },
  {
    what: "a GitHub action",
    files: /^\.github\/workflows\/.+\.ya?ml$/,
    pattern: /uses: [^@\s]+@(?<v>[^\s#]+)/g,
    builtin: "github-actions",
  },
  {
    what: "a toolchain version in a workflow",
    files: /^\.github\/workflows\/.+\.ya?ml$/,
    pattern: /\b[a-z_-]*version: "?(?<v>\d+(?:\.\d+)*)"?/g,
  },
  {
    what: "a Go module requirement",
    files: /(^|\/)go\.mod$/,
    pattern: /^(?:require\s+|\t)[a-z0-9.-]+\.[a-z]+\/\S+ (?<v>v\d\S*)/gm,
    builtin: "gomod",
  },
  { what: "an npm dependency", files: /^package\.json$/, pattern: /"(?!version")[@a-z0-9/._-]+": "(?<v>\d[^"]*)"/g, builtin: "npm" },
  {
    what: "an image tag",
    files: /\.(ts|ya?ml)$|(^|\/)Dockerfile$/,
    pattern: /["'\s](?:[a-z0-9.-]+\/)+[a-z0-9._-]+:(?<v>v?\d+\.\d+[\w.-]*)["'\s]/g,
  },
];

/** Built-in managers' default file patterns (Renovate's own defaults). */
const BUILTIN_FILES: Record<string, RegExp> = {
  npm: /(^|\/)package\.json$/,
  pip_requirements: /(^|\/)[\w-]*requirements([-.]\w+)?\.(txt|pip)$/,
  gomod: /(^|\/)go\.mod$/,
  "github-actions": /(^|\/)(workflow-templates|\.(?:github|gitea|forgejo)\/(?:workflows|actions))\/.+\.ya?ml$/,
  dockerfile: /(^|\/|\.)([Dd]ocker|[Cc]ontainer)file$/,
};

/** Matches of the patterns that are not pins, told by the text right before the value, each with why. */
const NOT_PINS: { before: RegExp; why: string }[] = [
  { before: /payloadFormatVersion: "$/, why: "API Gateway's Lambda payload format, not a software version" },
  { before: /conditionVersion: "$/, why: "the version of Azure's role assignment condition language (ABAC), not a software version" },
  {
    before: /[-/](runtime|training):$/,
    why: "an image built from this repository's images/ (runtime, training): its tag is the fork's own release, set when the fork builds and pushes it (a placeholder until then)",
  },
  { before: /such as[^"]*"[^"]*$/, why: 'an example inside a validation message ("such as ...")' },
  { before: /imageRef\('[^']*$/, why: "the example an image field's validation message shows (config/primitives.ts imageRef)" },
];

type Pin = { file: string; line: number; value: string; index: number; kind: PinKind; text: string };

/** Every file of the checkout (git's view when it is a repository; the fork check's copy is not). */
function allFiles(): string[] {
  try {
    return execFileSync("git", ["ls-files", "--cached", "--others", "--exclude-standard"], {
      cwd: ROOT,
      encoding: "utf8",
      stdio: ["ignore", "pipe", "ignore"],
    }).split("\n");
  } catch {
    return (fs.readdirSync(ROOT, { recursive: true }) as string[]).filter(
      (f) => !/^(node_modules|dist|cdktf\.out|\.git)(\/|$)/.test(f) && fs.statSync(path.join(ROOT, f)).isFile(),
    );
  }
}

function trackedFiles(): string[] {
  return allFiles().filter(
    (f) =>
      f && !/(^|\/)node_modules\/|package-lock\.json$|\.md$|^test\/(?!.*go\.mod$)|^docs\//.test(f) && fs.existsSync(path.join(ROOT, f)),
  );
}

export function findPins(files = trackedFiles()): Pin[] {
  const pins: Pin[] = [];
  for (const file of files) {
    const kinds = PIN_KINDS.filter((k) => k.files.test(file));
    if (kinds.length === 0) continue;
    const text = fs.readFileSync(path.join(ROOT, file), "utf8");
    for (const kind of kinds) {
      for (const m of text.matchAll(
        new RegExp(kind.pattern.source, kind.pattern.flags.includes("g") ? `${kind.pattern.flags}d` : `${kind.pattern.flags}gd`),
      )) {
        const index = m.indices!.groups!.v[0];
        const lineStart = text.lastIndexOf("\n", index) + 1;
        const lineText = text.slice(lineStart, text.indexOf("\n", index) === -1 ? undefined : text.indexOf("\n", index));
        // Comments describe pins; they are not pins (a comment line of TS, shell, YAML or Python).
        if (/^\s*(\*|\/\/|\/\*|#)/.test(lineText)) continue;
        const value = m.groups!.v;
        const before = text.slice(Math.max(0, index - 80), index);
        const excused = NOT_PINS.some((n) => n.before.test(before));
        if (excused) continue;
        pins.push({ file, line: text.slice(0, index).split("\n").length, value, index, kind, text });
      }
    }
  }
  return pins;
}

/** The managers that keep `pin` current (built-in by file pattern and kind; custom by an exact currentValue match). */
export function managersOf(pin: Pin, cfg: RenovateConfig = config): string[] {
  const found: string[] = [];
  if (pin.kind.builtin && cfg.enabledManagers.includes(pin.kind.builtin) && BUILTIN_FILES[pin.kind.builtin].test(pin.file))
    found.push(pin.kind.builtin);
  if (!cfg.enabledManagers.includes("custom.regex")) return found;
  for (const m of cfg.customManagers) {
    if (!m.fileMatch.some((f) => new RegExp(f).test(pin.file))) continue;
    for (const s of m.matchStrings) {
      for (const hit of pin.text.matchAll(new RegExp(s, "gd"))) {
        const at = hit.indices?.groups?.currentValue;
        if (at && at[0] === pin.index && hit.groups!.currentValue === pin.value) found.push(m.description ?? s);
      }
    }
  }
  return found;
}

describe("Renovate keeps every pinned version current (renovate.json)", () => {
  const pins = findPins();

  it("finds the pins of every kind the repository has (the finder itself still works)", () => {
    const where = (file: string) => pins.filter((p) => p.file === file).map((p) => p.value);
    expect(where("tools/requirements.txt").length).toBeGreaterThan(5);
    expect(where("scripts/install-tools.sh").length).toBeGreaterThan(0);
    expect(where("config/environments.ts").length).toBeGreaterThanOrEqual(2);
    expect(where("package.json").length).toBeGreaterThan(10);
    expect(pins.some((p) => p.kind.what === "a GitHub action")).toBe(true);
    expect(pins.some((p) => p.kind.what === "a Go module requirement")).toBe(true);
    expect(pins.some((p) => /CHART_VERSION|STACK_VERSION/.test(p.text.slice(p.index - 60, p.index)))).toBe(true);
  });

  it("every pin is matched by a manager", () => {
    const uncovered = pins.filter((p) => managersOf(p).length === 0).map((p) => `${p.file}:${p.line} ${p.value} (${p.kind.what})`);
    expect(uncovered).toEqual([]);
  });

  it("a new pin that no manager matches is reported", () => {
    const [pin] = findPins(["scripts/install-tools.sh"]).filter(
      (p) => p.value === pins.find((q) => q.file === "scripts/install-tools.sh")!.value,
    );
    const planted = { ...pin, text: `${pin.text}\nHELM_DOCS_VERSION=1.14.2\n` };
    const newPin = { ...planted, value: "1.14.2", index: planted.text.lastIndexOf("1.14.2") };
    expect(managersOf(pin)).not.toEqual([]);
    expect(managersOf(newPin)).toEqual([]);
  });

  it("every npm package install-tools.sh installs at a pinned variable is looked up on npm under its own name", () => {
    // The generic coverage check credits any manager that captures the value; this one checks that the manager
    // asks npm about the package the script installs (a copied manager with the wrong depName would pass above).
    const script = fs.readFileSync(path.join(ROOT, "scripts/install-tools.sh"), "utf8");
    const installs = [...script.matchAll(/npm install [^\n]*"(?<pkg>[@a-z0-9/._-]+)@\$(?<variable>[A-Z_]+)"/g)].map((m) => m.groups!);
    expect(installs.map((i) => i.pkg)).toEqual(expect.arrayContaining(["renovate", "azurite"]));
    const pinned = findPins(["scripts/install-tools.sh"]);
    const wrong = installs.flatMap(({ pkg, variable }) => {
      const pin = pinned.find((p) => new RegExp(`\\b${variable}=$`).test(p.text.slice(0, p.index)));
      if (!pin) return [`${variable} (${pkg}): no pinned value`];
      const ok = config.customManagers.some(
        (m) =>
          m.datasourceTemplate === "npm" && m.depNameTemplate === pkg && managersOf(pin, { ...config, customManagers: [m] }).length > 0,
      );
      return ok ? [] : [`${variable}=${pin.value} (${pkg}): no npm manager for ${pkg} captures it`];
    });
    expect(wrong).toEqual([]);
  });

  it("every custom manager still matches something (no stale pattern)", () => {
    const stale = config.customManagers.filter(
      (m) => !pins.some((p) => managersOf(p, { ...config, customManagers: [m] }).includes(m.description ?? "")),
    );
    expect(stale.map((m) => m.description)).toEqual([]);
  });
});
