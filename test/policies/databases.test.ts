import { DatabaseEncrypted, DatabasePrivate, PostgresNotOpen } from "../../policies";
import { dbJson } from "./fixtures";

describe("MLF-RDS-1 database encrypted", () => {
  const rule = new DatabaseEncrypted();
  it("passes an instance encrypted with a customer key", () => expect(rule.check(dbJson({}))).toEqual([]));
  it("flags unencrypted storage and a missing key, for instances and clusters", () => {
    expect(rule.check(dbJson({ storage_encrypted: false, kms_key_id: undefined }))).toEqual([
      { resource: "aws_db_instance.db", message: "storage_encrypted must be true; kms_key_id must name a customer-managed KMS key" },
    ]);
    expect(rule.check({ resource: { aws_rds_cluster: { c: { storage_encrypted: true } } } })).toEqual([
      { resource: "aws_rds_cluster.c", message: "kms_key_id must name a customer-managed KMS key" },
    ]);
  });
});

describe("MLF-RDS-2 database private", () => {
  const rule = new DatabasePrivate();
  it("passes a private instance in a subnet group, and a replica of one", () => {
    expect(rule.check(dbJson({}))).toEqual([]);
    expect(rule.check(dbJson({ db_subnet_group_name: undefined, replicate_source_db: "${aws_db_instance.p.identifier}" }))).toEqual([]);
  });
  it("flags a public or unspecified accessibility, and a missing subnet group", () => {
    expect(rule.check(dbJson({ publicly_accessible: true }))).toEqual([
      { resource: "aws_db_instance.db", message: "publicly_accessible must be false, got true" },
    ]);
    expect(rule.check(dbJson({ publicly_accessible: undefined }))).toHaveLength(1);
    expect(rule.check(dbJson({ db_subnet_group_name: undefined }))[0].message).toMatch(/db_subnet_group_name must name a subnet group/);
  });
});

describe("MLF-SG-1 PostgreSQL not open to the internet", () => {
  const rule = new PostgresNotOpen();
  it("passes 5432 from a security group, and 443 from anywhere", () => {
    expect(
      rule.check({
        resource: {
          aws_vpc_security_group_ingress_rule: {
            a: { ip_protocol: "tcp", from_port: 5432, to_port: 5432, referenced_security_group_id: "sg-1" },
            b: { ip_protocol: "tcp", from_port: 443, to_port: 443, cidr_ipv4: "0.0.0.0/0" },
          },
        },
      }),
    ).toEqual([]);
  });
  it("flags 5432 (or a range or all traffic) from 0.0.0.0/0 or ::/0 in every way a rule can be written", () => {
    const json = {
      resource: {
        aws_vpc_security_group_ingress_rule: {
          v4: { ip_protocol: "tcp", from_port: 5432, to_port: 5432, cidr_ipv4: "0.0.0.0/0" },
          v6: { ip_protocol: "-1", cidr_ipv6: "::/0" },
        },
        aws_security_group_rule: {
          r: { type: "ingress", protocol: "tcp", from_port: 5000, to_port: 6000, cidr_blocks: ["0.0.0.0/0"] },
          e: { type: "egress", protocol: "-1", from_port: 0, to_port: 0, cidr_blocks: ["0.0.0.0/0"] },
        },
        aws_security_group: {
          g: { ingress: [{ protocol: "tcp", from_port: 5432, to_port: 5432, cidr_blocks: ["10.0.0.0/8", "0.0.0.0/0"] }] },
        },
      },
    };
    expect(
      rule
        .check(json)
        .map((f) => f.resource)
        .sort(),
    ).toEqual([
      "aws_security_group.g",
      "aws_security_group_rule.r",
      "aws_vpc_security_group_ingress_rule.v4",
      "aws_vpc_security_group_ingress_rule.v6",
    ]);
  });
});
