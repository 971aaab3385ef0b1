import { PolicyRule, resources, type Finding, type TfJson } from "./rule";

/** MLF-RDS-2: no database is publicly accessible. */
export class DatabasePrivate extends PolicyRule {
  readonly id = "MLF-RDS-2";
  readonly reason =
    "The database is reached only from inside the VPC: publicly_accessible must be explicitly false, and it must sit in a DB subnet group (private subnets) or replicate a source that does.";

  check(json: TfJson): Finding[] {
    const findings: Finding[] = [];
    for (const type of ["aws_db_instance", "aws_rds_cluster_instance"]) {
      for (const [name, db] of resources(json, type)) {
        if (db.publicly_accessible !== false) {
          findings.push({
            resource: `${type}.${name}`,
            message: `publicly_accessible must be false, got ${JSON.stringify(db.publicly_accessible ?? "unset")}`,
          });
        }
        if (type === "aws_db_instance" && !db.db_subnet_group_name && !db.replicate_source_db) {
          findings.push({
            resource: `${type}.${name}`,
            message: "db_subnet_group_name must name a subnet group of private subnets (without it RDS uses the default VPC)",
          });
        }
      }
    }
    return findings;
  }
}
