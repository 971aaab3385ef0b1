import { PolicyRule, type Attrs, resources, type Finding, type TfJson } from "./rule";

const PORT = 5432;
const ANYWHERE = ["0.0.0.0/0", "::/0"];

function coversPort(protocol: unknown, from: unknown, to: unknown): boolean {
  const p = String(protocol ?? "").toLowerCase();
  if (p === "-1" || p === "all") return true;
  if (p !== "tcp" && p !== "6") return false;
  return Number(from) <= PORT && PORT <= Number(to);
}

/** MLF-SG-1: no security group admits PostgreSQL (5432) from anywhere. */
export class PostgresNotOpen extends PolicyRule {
  readonly id = "MLF-SG-1";
  readonly reason =
    "PostgreSQL must only be reachable from the cluster's security group: no ingress on port 5432 (or all ports) from 0.0.0.0/0 or ::/0.";

  check(json: TfJson): Finding[] {
    const findings: Finding[] = [];
    for (const [name, sg] of resources(json, "aws_security_group")) {
      for (const rule of (sg.ingress ?? []) as Attrs[]) {
        const cidrs = [...(rule.cidr_blocks ?? []), ...(rule.ipv6_cidr_blocks ?? [])];
        if (coversPort(rule.protocol, rule.from_port, rule.to_port) && cidrs.some((c: string) => ANYWHERE.includes(c))) {
          findings.push({ resource: `aws_security_group.${name}`, message: "inline ingress opens 5432 to the internet" });
        }
      }
    }
    for (const [name, rule] of resources(json, "aws_security_group_rule")) {
      const cidrs = [...(rule.cidr_blocks ?? []), ...(rule.ipv6_cidr_blocks ?? [])];
      if (
        rule.type === "ingress" &&
        coversPort(rule.protocol, rule.from_port, rule.to_port) &&
        cidrs.some((c: string) => ANYWHERE.includes(c))
      ) {
        findings.push({ resource: `aws_security_group_rule.${name}`, message: "ingress rule opens 5432 to the internet" });
      }
    }
    for (const [name, rule] of resources(json, "aws_vpc_security_group_ingress_rule")) {
      if (
        coversPort(rule.ip_protocol, rule.from_port, rule.to_port) &&
        (ANYWHERE.includes(rule.cidr_ipv4) || ANYWHERE.includes(rule.cidr_ipv6))
      ) {
        findings.push({ resource: `aws_vpc_security_group_ingress_rule.${name}`, message: "ingress rule opens 5432 to the internet" });
      }
    }
    return findings;
  }
}
