import type { ContainerCommand, EnvVar } from "./command-types";

/** Supplies the value behind a reference (a Secret key, a ConfigMap key, a field) when rendering. */
export type ReferenceResolver = (env: EnvVar) => string;

/**
 * Expands `$(NAME)` the way the kubelet does (k8s.io/kubernetes third_party/forked/golang/expansion):
 * `$(NAME)` of a known variable becomes its value, `$$` becomes `$`, and a reference to an unknown
 * variable stays as written.
 */
export function expand(input: string, vars: ReadonlyMap<string, string>): string {
  let out = "";
  for (let i = 0; i < input.length; i++) {
    const c = input[i];
    if (c !== "$" || i + 1 >= input.length) {
      out += c;
      continue;
    }
    const next = input[i + 1];
    if (next === "$") {
      out += "$";
      i++;
    } else if (next === "(") {
      const close = input.indexOf(")", i + 2);
      if (close < 0) {
        out += input.slice(i);
        break;
      }
      const name = input.slice(i + 2, close);
      out += vars.has(name) ? vars.get(name)! : `$(${name})`;
      i = close;
    } else {
      out += c;
    }
  }
  return out;
}

/** The process Kubernetes would start: the argv after expansion, and the final environment. */
export interface RenderedProcess {
  readonly argv: string[];
  readonly env: Record<string, string>;
}

/**
 * Renders a container command exactly as Kubernetes would run it: env values are expanded in order
 * (each may use the ones before it), then `command` and `args` are expanded with the full environment.
 * `resolve` supplies the value of each reference (Secret, ConfigMap, field).
 */
export function renderProcess(cmd: ContainerCommand, resolve: ReferenceResolver): RenderedProcess {
  const vars = new Map<string, string>();
  for (const e of cmd.env) {
    const value = "value" in e ? expand(e.value, vars) : resolve(e);
    vars.set(e.name, value);
  }
  return {
    argv: [...cmd.command, ...cmd.args].map((a) => expand(a, vars)),
    env: Object.fromEntries(vars),
  };
}
