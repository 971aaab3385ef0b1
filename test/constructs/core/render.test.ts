import { expand, renderProcess } from "../../../constructs/core/render";

describe("Kubernetes $(VAR) expansion", () => {
  const vars = new Map([
    ["A", "1"],
    ["B", "two"],
  ]);
  it.each([
    ["$(A)", "1"],
    ["x-$(A)-$(B)-y", "x-1-two-y"],
    ["$(UNKNOWN)", "$(UNKNOWN)"],
    ["$$(A)", "$(A)"],
    ["$$", "$"],
    ["cost $5", "cost $5"],
    ["$(A", "$(A"],
    ["trailing $", "trailing $"],
  ])("%s -> %s", (input, want) => {
    expect(expand(input, vars)).toBe(want);
  });

  it("expands env in order and args with the final env; references come from the resolver", () => {
    const p = renderProcess(
      {
        image: "img:1",
        command: ["run"],
        args: ["--uri", "$(URI)", "--later", "$(LATER)"],
        env: [
          { name: "USER", secretKeyRef: { name: "db", key: "username" } },
          { name: "URI", value: "pg://$(USER)@$(HOST)" }, // HOST is defined later: stays literal
          { name: "HOST", value: "db.local" },
          { name: "LATER", value: "$(HOST)" },
        ],
      },
      (e) => ("secretKeyRef" in e ? `<${e.secretKeyRef.name}/${e.secretKeyRef.key}>` : "?"),
    );
    expect(p.argv).toEqual(["run", "--uri", "pg://<db/username>@$(HOST)", "--later", "db.local"]);
    expect(p.env).toEqual({ USER: "<db/username>", URI: "pg://<db/username>@$(HOST)", HOST: "db.local", LATER: "db.local" });
  });
});
