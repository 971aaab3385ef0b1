#!/usr/bin/env node
/**
 * The fast half of `npm run synth`: brings dist/ up to date for the app (main.ts, config/, constructs/,
 * stacks/, policies/), transpiling with SWC only the TypeScript files newer than their output and copying
 * the JSON files they import. Nothing changed: a few milliseconds of `stat` calls instead of a TypeScript
 * program build. It does not type-check: `npm run typecheck` (part of `npm test`) does, and the
 * configuration is validated by its schema at synth either way. `npm run build` (tsc) stays the full,
 * type-checked build of everything (setup, cdktf's app command, the e2e harness). SWC is the same
 * transpiler the unit tests run the code through (@swc/jest), with the same settings as tsc's
 * (CommonJS, ES2022).
 */
"use strict";
const fs = require("fs");
const path = require("path");

const ROOT = path.resolve(__dirname, "..");
const OUT = path.join(ROOT, "dist");
const SOURCES = ["main.ts", "config", "constructs", "stacks", "policies"];
const SWC_OPTIONS = {
  jsc: { parser: { syntax: "typescript" }, target: "es2022" },
  module: { type: "commonjs" },
  sourceMaps: false,
  swcrc: false,
  configFile: false,
};

/** Every .ts (not .d.ts) and .json file under the app's sources. */
function* files(p) {
  const stat = fs.statSync(p);
  if (stat.isDirectory()) {
    for (const name of fs.readdirSync(p)) yield* files(path.join(p, name));
  } else if ((p.endsWith(".ts") && !p.endsWith(".d.ts")) || p.endsWith(".json")) {
    yield { file: p, mtimeMs: stat.mtimeMs };
  }
}

/** Brings dist/ up to date for the app; returns how many files it wrote. */
function transpile() {
  let swc;
  let written = 0;
  for (const src of SOURCES) {
    const start = path.join(ROOT, src);
    if (!fs.existsSync(start)) continue;
    for (const { file, mtimeMs } of files(start)) {
      const rel = path.relative(ROOT, file);
      const out = path.join(OUT, rel.endsWith(".ts") ? rel.replace(/\.ts$/, ".js") : rel);
      let outMtime = -1;
      try {
        outMtime = fs.statSync(out).mtimeMs;
      } catch {
        /* not built yet */
      }
      if (outMtime >= mtimeMs) continue;
      fs.mkdirSync(path.dirname(out), { recursive: true });
      if (file.endsWith(".json")) {
        fs.copyFileSync(file, out);
      } else {
        swc ??= require("@swc/core");
        const { code } = swc.transformSync(fs.readFileSync(file, "utf8"), { ...SWC_OPTIONS, filename: file });
        fs.writeFileSync(out, code);
      }
      written++;
    }
  }
  if (written > 0) console.error(`transpile: ${written} file${written === 1 ? "" : "s"} updated in dist/`);
  return written;
}

module.exports = { transpile };
if (require.main === module) transpile();
