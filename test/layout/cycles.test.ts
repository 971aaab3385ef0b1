/**
 * No import cycles in the TypeScript sources (test/helpers/import-graph.ts builds the graph with the
 * compiler's own pre-processor). A cycle makes a module's exports undefined while the other one loads, in
 * an order that depends on who imported first; and two modules in a cycle cannot be understood apart.
 */
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { findCycles, importGraph, sourceFiles } from "../helpers/import-graph";

const ROOT = path.join(__dirname, "..", "..");
const rel = (cycle: string[], root: string) => cycle.map((f) => path.relative(root, f)).join(" -> ");

describe("import cycles", () => {
  it("there is none in the repository", () => {
    const files = [
      path.join(ROOT, "main.ts"),
      ...sourceFiles(ROOT, ["config", "constructs", "stacks", "policies", "scripts", "bench", "test"]),
    ];
    const graph = importGraph(files);
    // The graph is the real one: the stack reaches the constructs, the constructs their core.
    expect(graph.get(path.join(ROOT, "stacks", "mlflow-stack.ts"))).toContain(path.join(ROOT, "constructs", "tracking-server", "index.ts"));
    expect(findCycles(graph).map((c) => rel(c, ROOT))).toEqual([]);
  });

  describe("the detector, on planted sources", () => {
    let dir: string;
    const write = (name: string, text: string) => {
      fs.mkdirSync(path.dirname(path.join(dir, name)), { recursive: true });
      fs.writeFileSync(path.join(dir, name), text);
    };
    beforeEach(() => {
      dir = fs.mkdtempSync(path.join(os.tmpdir(), "import-cycles-"));
    });
    afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));
    const cyclesOf = () => findCycles(importGraph(sourceFiles(dir, ["."]))).map((c) => rel(c, dir));

    it("reports a two-file cycle", () => {
      write("a.ts", 'import { b } from "./b";\nexport const a = () => b;\n');
      write("b.ts", 'import { a } from "./a";\nexport const b = () => a;\n');
      write("c.ts", 'import { a } from "./a";\nexport const c = a;\n');
      expect(cyclesOf()).toEqual(["a.ts -> b.ts -> a.ts"]);
    });

    it("follows folder imports, re-exports and type-only imports", () => {
      write("feature/index.ts", 'export { run } from "./command";\n');
      write("feature/command.ts", 'import type { Settings } from "../settings";\nexport const run = (s: Settings) => s;\n');
      write("settings.ts", 'import { run } from "./feature";\nexport type Settings = { run: typeof run };\n');
      expect(cyclesOf()).toEqual(["feature/command.ts -> settings.ts -> feature/index.ts -> feature/command.ts"]);
    });

    it("reports nothing for a tree without a cycle, and ignores packages", () => {
      write("a.ts", 'import { b } from "./b";\nimport * as fs from "fs";\nexport const a = () => [b, fs];\n');
      write("b.ts", "export const b = 1;\n");
      expect(cyclesOf()).toEqual([]);
    });
  });
});
