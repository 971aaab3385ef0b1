/**
 * The TypeScript import graph of a source tree, and its cycles: what test/layout/cycles.test.ts checks.
 * Edges come from `ts.preProcessFile` (static imports, re-exports, `import()` and `require()` calls with a
 * literal, `import type` too: a type-only cycle still means two modules that cannot be understood apart).
 * Only relative specifiers are followed; packages are leaves.
 */
import * as fs from "fs";
import * as path from "path";
import * as ts from "typescript";

/** Relative module specifier → the file it names, or undefined (a JSON file, a missing file). */
function resolveRelative(fromFile: string, spec: string): string | undefined {
  const base = path.resolve(path.dirname(fromFile), spec);
  for (const candidate of [base, `${base}.ts`, path.join(base, "index.ts")]) {
    if (candidate.endsWith(".ts") && fs.existsSync(candidate) && fs.statSync(candidate).isFile()) return candidate;
  }
  return undefined;
}

/** Every .ts file under `dirs` (absolute), skipping node_modules, dist and declaration files. */
export function sourceFiles(root: string, dirs: readonly string[]): string[] {
  const out: string[] = [];
  const walk = (p: string) => {
    if (!fs.existsSync(p)) return;
    const stat = fs.statSync(p);
    if (stat.isDirectory()) {
      if (["node_modules", "dist", "cdktf.out", ".gen"].includes(path.basename(p))) return;
      for (const name of fs.readdirSync(p).sort()) walk(path.join(p, name));
    } else if (p.endsWith(".ts") && !p.endsWith(".d.ts")) {
      out.push(p);
    }
  };
  for (const d of dirs) walk(path.join(root, d));
  return out;
}

/** file → the project files it imports (absolute paths). */
export function importGraph(files: readonly string[]): Map<string, string[]> {
  const graph = new Map<string, string[]>();
  for (const file of files) {
    const info = ts.preProcessFile(fs.readFileSync(file, "utf8"), true, true);
    const targets = new Set<string>();
    for (const ref of info.importedFiles) {
      if (!ref.fileName.startsWith(".")) continue;
      const target = resolveRelative(file, ref.fileName);
      if (target) targets.add(target);
    }
    graph.set(file, [...targets].sort());
  }
  return graph;
}

/**
 * The cycles of `graph`: one per strongly connected component with more than one file (or a file importing
 * itself), each given as a closed path through the component (first file repeated at the end).
 */
export function findCycles(graph: Map<string, string[]>): string[][] {
  // Tarjan's algorithm, iterative so that a deep chain cannot overflow the stack.
  let index = 0;
  const indices = new Map<string, number>();
  const low = new Map<string, number>();
  const onStack = new Set<string>();
  const stack: string[] = [];
  const components: string[][] = [];
  for (const start of graph.keys()) {
    if (indices.has(start)) continue;
    const work: [string, number][] = [[start, 0]];
    while (work.length > 0) {
      const frame = work[work.length - 1];
      const [v, i] = frame;
      if (i === 0) {
        indices.set(v, index);
        low.set(v, index);
        index++;
        stack.push(v);
        onStack.add(v);
      }
      const next = graph.get(v) ?? [];
      if (i < next.length) {
        frame[1]++;
        const w = next[i];
        if (!graph.has(w)) continue;
        if (!indices.has(w)) work.push([w, 0]);
        else if (onStack.has(w)) low.set(v, Math.min(low.get(v)!, indices.get(w)!));
        continue;
      }
      work.pop();
      if (work.length > 0) {
        const parent = work[work.length - 1][0];
        low.set(parent, Math.min(low.get(parent)!, low.get(v)!));
      }
      if (low.get(v) === indices.get(v)) {
        const component: string[] = [];
        let w: string;
        do {
          w = stack.pop()!;
          onStack.delete(w);
          component.push(w);
        } while (w !== v);
        if (component.length > 1 || (graph.get(v) ?? []).includes(v)) components.push(component);
      }
    }
  }
  return components.map((c) => cyclePath(graph, new Set(c)));
}

/** A closed path through one strongly connected component, starting at its first file in sort order. */
function cyclePath(graph: Map<string, string[]>, members: Set<string>): string[] {
  const start = [...members].sort()[0];
  // Breadth-first from start back to start, inside the component: the shortest cycle through it.
  const prev = new Map<string, string>();
  const queue = [start];
  const seen = new Set<string>();
  while (queue.length > 0) {
    const v = queue.shift()!;
    for (const w of graph.get(v) ?? []) {
      if (!members.has(w)) continue;
      if (w === start) {
        const pathBack = [v];
        while (pathBack[0] !== start) pathBack.unshift(prev.get(pathBack[0])!);
        return [...pathBack, start];
      }
      if (!seen.has(w)) {
        seen.add(w);
        prev.set(w, v);
        queue.push(w);
      }
    }
  }
  return [start, start];
}
