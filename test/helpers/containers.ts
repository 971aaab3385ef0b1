/**
 * Walks the containers of a synthesized stack (Deployments, Jobs, CronJobs, ... of the kubernetes
 * provider) and finds secret literals in their arguments and environment.
 */
import type { TfJson } from "./synth";

/** Every container (and init container) of every workload resource in a synthesized stack. */
export function containersOf(json: TfJson): { resource: string; container: Record<string, any> }[] {
  const out: { resource: string; container: Record<string, any> }[] = [];
  const walk = (node: unknown, where: string) => {
    if (Array.isArray(node)) return node.forEach((n) => walk(n, where));
    if (!node || typeof node !== "object") return;
    for (const [k, v] of Object.entries(node)) {
      if ((k === "container" || k === "init_container") && Array.isArray(v)) v.forEach((c) => out.push({ resource: where, container: c }));
      else walk(v, where);
    }
  };
  for (const [type, byName] of Object.entries(json.resource ?? {})) {
    for (const [name, r] of Object.entries(byName)) walk(r, `${type}.${name}`);
  }
  return out;
}

/** Values that cannot be a secret even under a secret-sounding name (switches such as OAUTH2_PROXY_SKIP_JWT_BEARER_TOKENS=true). */
const NOT_A_SECRET = /^(true|false|\d+)$/i;
const SECRETISH_NAME = /(PASSWORD|PASSWD|SECRET|TOKEN|PRIVATE_KEY|ACCESS_KEY|API_KEY|CREDENTIAL)/i;
/** A credential in a URI (user:password@), a secret-looking flag with an inline value, or an AWS key id. */
const SECRET_IN_TEXT = [/:\/\/[^/\s:@]+:[^/\s@]+@/, /--[a-z-]*(password|secret|token)(?![a-z-]*-file)[a-z-]*[= ]\S+/i, /AKIA[0-9A-Z]{16}/];

/** Names every place where a container argument or env value carries a secret literal. */
export function secretLiterals(json: TfJson): string[] {
  const problems: string[] = [];
  for (const { resource, container } of containersOf(json)) {
    for (const e of container.env ?? []) {
      if (e.value !== undefined && SECRETISH_NAME.test(e.name) && !/_FILE$/.test(e.name) && !NOT_A_SECRET.test(e.value))
        problems.push(`${resource}: env ${e.name} is a literal`);
      if (e.value !== undefined && SECRET_IN_TEXT.some((re) => re.test(e.value)))
        problems.push(`${resource}: env ${e.name} contains a secret`);
    }
    const argv = [...(container.command ?? []), ...(container.args ?? [])];
    for (const a of argv) if (SECRET_IN_TEXT.some((re) => re.test(a))) problems.push(`${resource}: argument ${a}`);
    if (SECRET_IN_TEXT.some((re) => re.test(argv.join(" ")))) problems.push(`${resource}: command line ${argv.join(" ")}`);
  }
  return problems;
}
