/**
 * The props a construct's source can refuse: every `new PropError(scope, "<prop>", ...)` of the files
 * given, read from the source. A prop written as a template keeps its static part ("replicas.${k}" is
 * "replicas", "alarmEmails[${i}]" is "alarmEmails",
 * "models[${m.name}].psiThreshold" is "models.psiThreshold"); a prop computed elsewhere is "(dynamic)", and the
 * test names those itself. Also `out.push(["<prop>", ...])` of problem lists (inference-log.ts).
 */
import * as fs from "fs";
import * as path from "path";

const ROOT = path.join(__dirname, "..", "..");

export const DYNAMIC = "(dynamic)";

function staticPart(literal: string): string {
  // List indices and map keys first ("models[${m.name}].psiThreshold" is "models.psiThreshold"), then the rest.
  const unindexed = literal.replace(/\[(?:[^\]$]|\$\{[^}]*\})*\]/g, "");
  const cut = unindexed.indexOf("${");
  return (cut < 0 ? unindexed : unindexed.slice(0, cut)).replace(/[.[]+$/, "");
}

/** The props refused in `files` (paths from the repository's root). */
export function refusedProps(files: readonly string[]): Set<string> {
  const out = new Set<string>();
  for (const file of files) {
    const src = fs.readFileSync(path.join(ROOT, file), "utf8");
    const re = /new PropError\(\s*[^,]+?,\s*("([^"]*)"|`([^`]*)`|[^,]+),|out\.push\(\[\s*("([^"]*)"|`([^`]*)`)/g;
    for (const m of src.matchAll(re)) {
      const literal = m[2] ?? m[3] ?? m[5] ?? m[6];
      const prop = literal === undefined ? DYNAMIC : staticPart(literal);
      out.add(prop === "" ? DYNAMIC : prop);
    }
  }
  return out;
}
