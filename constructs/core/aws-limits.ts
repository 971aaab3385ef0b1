/**
 * AWS's and Kubernetes' own rules for values a user writes (bucket names, tags, ARNs, CIDR blocks,
 * RDS windows, cron schedules), as pure functions. Each returns `undefined` for a valid value, or the
 * end of the sentence "expected ..." that says what a valid value looks like. The configuration schema
 * (config/) and the constructs call the same functions, so each limit is written down once.
 * No resources, no provider imports.
 */
import { partitionOf, type AwsPartition } from "./aws";

// ── regions ─────────────────────────────────────────────────────────────────────

/**
 * The shape of an AWS region name: `<area>-<direction>-<n>`, with the partition infix of GovCloud and
 * the isolated regions (`us-gov-west-1`, `us-isob-east-1`, `eu-isoe-west-1`). A region AWS opens after
 * this was written is accepted without a code change; `partitionOf` gives its partition.
 */
export const AWS_REGION_PATTERN = /^[a-z]{2,4}(-[a-z]+)+-\d{1,2}$/;

/** Problem with a region name, or undefined. */
export function regionProblem(region: string): string | undefined {
  if (AWS_REGION_PATTERN.test(region)) return undefined;
  if (/^[a-z]{2,4}(-[a-z]+)+-\d{1,2}[a-z]$/.test(region)) {
    return `an AWS region such as "eu-west-1", not an availability zone ("${region}" is a zone of ${region.slice(0, -1)})`;
  }
  return 'an AWS region such as "eu-west-1" or "us-gov-west-1" (lower-case <area>-<direction>-<number>)';
}

// ── S3 bucket names ──────────────────────────────────────────────────────────────

const BUCKET_PREFIXES = ["xn--", "sthree-", "amzn-s3-demo-"];
const BUCKET_SUFFIXES = ["-s3alias", "--ol-s3", ".mrap", "--x-s3", "--table-s3"];

/**
 * Problem with a general purpose S3 bucket name (AWS's naming rules: 3-63 characters of lower-case
 * letters, digits, '.' and '-', starting and ending with a letter or digit, no "..", not an IP address,
 * none of the reserved prefixes and suffixes), or undefined.
 */
export function bucketNameProblem(name: string): string | undefined {
  const rule = "an S3 bucket name: 3-63 lower-case letters, digits, '.' and '-', starting and ending with a letter or digit";
  if (name.length < 3 || name.length > 63) return `${rule} (this one has ${name.length} characters)`;
  if (!/^[a-z0-9][a-z0-9.-]*[a-z0-9]$/.test(name)) return rule;
  if (name.includes("..")) return `${rule}, with no two adjacent periods`;
  if (/^\d{1,3}(\.\d{1,3}){3}$/.test(name)) return `${rule}, not formatted as an IP address`;
  const prefix = BUCKET_PREFIXES.find((p) => name.startsWith(p));
  if (prefix) return `${rule}, not starting with "${prefix}" (reserved by AWS)`;
  const suffix = BUCKET_SUFFIXES.find((s) => name.endsWith(s));
  if (suffix) return `${rule}, not ending with "${suffix}" (reserved by AWS)`;
  return undefined;
}

// ── tags ─────────────────────────────────────────────────────────────────────────

/** AWS's limits on one resource's tags. */
export const TAG_LIMITS = { keyLength: 128, valueLength: 256, perResource: 50 } as const;
const TAG_CHARACTERS = /^[\p{L}\p{Z}\p{N}_.:/=+\-@]*$/u;

/** Problem with one tag key, or undefined. */
export function tagKeyProblem(key: string): string | undefined {
  if (key.length < 1 || key.length > TAG_LIMITS.keyLength)
    return `a tag key of 1-${TAG_LIMITS.keyLength} characters (this one has ${key.length})`;
  if (/^aws:/i.test(key)) return 'a tag key not starting with "aws:" (the prefix is reserved for AWS\'s own tags)';
  if (!TAG_CHARACTERS.test(key)) return "a tag key of letters, digits, spaces and _ . : / = + - @ only";
  return undefined;
}

/** Problem with one tag value, or undefined. */
export function tagValueProblem(value: string): string | undefined {
  if (value.length > TAG_LIMITS.valueLength)
    return `a tag value of at most ${TAG_LIMITS.valueLength} characters (this one has ${value.length})`;
  if (!TAG_CHARACTERS.test(value)) return "a tag value of letters, digits, spaces and _ . : / = + - @ only";
  return undefined;
}

// ── ARNs ─────────────────────────────────────────────────────────────────────────

/** The parts of an ARN: `arn:<partition>:<service>:<region>:<account>:<resource>`. */
export interface ParsedArn {
  readonly partition: string;
  readonly service: string;
  readonly region: string;
  readonly account: string;
  readonly resource: string;
}

/** Splits an ARN into its parts; undefined when the text is not an ARN. */
export function parseArn(arn: string): ParsedArn | undefined {
  const m = /^arn:(aws(?:-[a-z]+)*):([a-z0-9-]+):([a-z0-9-]*):(\d{12}|aws)?:(.+)$/.exec(arn);
  if (!m) return undefined;
  return { partition: m[1], service: m[2], region: m[3], account: m[4] ?? "", resource: m[5] };
}

/** What an ARN field must name. */
export interface ArnExpectation {
  /** Human name, e.g. "an IAM role". */
  readonly what: string;
  readonly service: string;
  /** The resource part must match this, e.g. /^role\/.+/ for a role. */
  readonly resource: RegExp;
  /** An example of the resource part, shown in the message ("role/deployer"). */
  readonly example: string;
  /** IAM ARNs have no region; regional services name one. */
  readonly regional: boolean;
  /** The partition, from the region that uses the ARN (GovCloud, China and the isolated regions differ). */
  readonly partition: AwsPartition;
  /** The region the resource must be in (regional services only), with why. */
  readonly region?: { readonly name: string; readonly why: string };
  /** The account the resource must be in, with why. */
  readonly account?: { readonly id: string; readonly why: string };
}

/** Problem with an ARN for what `e` says, or undefined. */
export function arnProblem(arn: string, e: ArnExpectation): string | undefined {
  const example = `arn:${e.partition}:${e.service}:${e.regional ? (e.region?.name ?? "<region>") : ""}:${e.account?.id ?? "<account id>"}:${e.example}`;
  const p = parseArn(arn);
  const shape = `the ARN of ${e.what}, such as "${example}"`;
  if (!p) return shape;
  if (p.service !== e.service || !e.resource.test(p.resource)) {
    return `${shape}: this ARN names ${p.service === e.service ? "another kind of resource" : `a resource of another service (${p.service})`}`;
  }
  if (p.partition !== e.partition)
    return `${shape}: the partition must be "${e.partition}" (the environment's region is in it), not "${p.partition}"`;
  if (e.regional && !p.region) return `${shape}: the region is missing`;
  if (!e.regional && p.region) return `${shape}: ${e.service.toUpperCase()} ARNs name no region`;
  if (e.region && p.region !== e.region.name) return `${shape}: it is in ${p.region}, ${e.region.why}`;
  if (!/^\d{12}$/.test(p.account)) return `${shape}: the account id is missing`;
  if (e.account && p.account !== e.account.id) return `${shape}: it belongs to account ${p.account}, ${e.account.why}`;
  return undefined;
}

/** The partition of a region (re-exported for the callers of arnProblem). */
export { partitionOf };

// ── IPv4 CIDR blocks ─────────────────────────────────────────────────────────────

/**
 * Prefix lengths accepted for the VPC's address ranges: a VPC block is /16 to /28, and a list may name a
 * supernet of several (e.g. 100.64.0.0/10), but not /0: 0.0.0.0/0 would admit every address.
 */
export const VPC_PREFIX = { min: 1, max: 32 } as const;

/** Problem with an IPv4 CIDR block of a VPC, or undefined (Kubernetes rejects leading zeros and host bits). */
export function vpcCidrProblem(cidr: string): string | undefined {
  const rule = `an IPv4 VPC CIDR block such as "10.0.0.0/16" (four numbers 0-255, no leading zeros, prefix /${VPC_PREFIX.min} to /${VPC_PREFIX.max})`;
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})\/(\d{1,2})$/.exec(cidr);
  if (!m) return rule;
  const octets = m.slice(1, 5);
  if (octets.some((o) => Number(o) > 255 || (o.length > 1 && o.startsWith("0"))))
    return `${rule}: "${octets.join(".")}" is not an IPv4 address`;
  const prefix = Number(m[5]);
  if (prefix > 32) return `${rule}: /${prefix} is beyond /32`;
  if (prefix < VPC_PREFIX.min) return `${rule}: /${prefix} is every address, not the VPC's`;
  const address = octets.reduce((acc, o) => acc * 256 + Number(o), 0);
  const size = 2 ** (32 - prefix);
  if (address % size !== 0) {
    const network = address - (address % size);
    const text = [24, 16, 8, 0].map((s) => Math.floor(network / 2 ** s) % 256).join(".");
    return `${rule}: host bits are set, the network is "${text}/${prefix}"`;
  }
  return undefined;
}

// ── certificates ─────────────────────────────────────────────────────────────────

/** True when a certificate for `domain` (possibly "*.example.com") is valid for `host`. */
export function certificateCovers(domain: string, host: string): boolean {
  if (domain.startsWith("*.")) {
    const parent = domain.slice(2);
    const dot = host.indexOf(".");
    return dot > 0 && host.slice(dot + 1) === parent;
  }
  return domain === host;
}

/**
 * The one check of every hostname a stack serves under an ACM certificate (the tracking server, Grafana, the
 * model API): a problem when none of `domains` (what `field` says the certificate covers) covers `host`.
 */
export function certificateCoverageProblem(domains: readonly string[], host: string, field: string): string | undefined {
  return domains.some((d) => certificateCovers(d, host)) ? undefined : `a name covered by ${field} (${domains.join(", ")})`;
}

// ── load balancers ───────────────────────────────────────────────────────────────

/** ALB TLS policies that allow only TLS 1.2 and 1.3 (the TLS13-1-2/1-3, TLS-1-2 and FS-1-2 families). */
export const MODERN_ALB_TLS_POLICY = /^ELBSecurityPolicy-(TLS13-1-[23]|TLS-1-2|FS-1-2)-/;

// ── RDS ──────────────────────────────────────────────────────────────────────────

/** The oldest PostgreSQL major version in RDS standard support. */
export const POSTGRES_MIN_MAJOR = 13;

/**
 * RDS for PostgreSQL's engine default of each parameter the stacks set, per major version, with its source.
 * A parameter set to its engine default never shows as modified: RDS keeps its own apply method for it
 * (pending-reboot), the provider plans the configured one (immediate), and AWS does not register a change of
 * the apply method alone, so every plan shows the same change again and the drift check fails daily
 * (terraform-provider-aws, aws_db_parameter_group, "Problematic Plan Changes": remove such a parameter).
 * A parameter without a row here fails the tests: add its default with a source first.
 */
export const POSTGRES_PARAMETER_DEFAULTS: Readonly<Record<string, { readonly value: (major: number) => string; readonly source: string }>> =
  {
    "rds.force_ssl": {
      value: (major) => (major >= 15 ? "1" : "0"),
      source:
        'https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/PostgreSQL.Concepts.General.SSL.html ("The rds.force_ssl parameter default value is 1 (on) for RDS for PostgreSQL version 15 and later. For all other RDS for PostgreSQL major versions 14 and older, the default value of this parameter is 0 (off).")',
    },
    ssl_min_protocol_version: {
      value: () => "TLSv1.2",
      source:
        'https://www.postgresql.org/docs/current/runtime-config-connection.html ("The default is TLSv1.2", from PostgreSQL 13 on); the pg_settings listing of the RDS page above shows TLSv1.2',
    },
    log_min_duration_statement: {
      value: () => "-1",
      source:
        'https://www.postgresql.org/docs/current/runtime-config-logging.html ("-1 (the default) disables logging statement durations")',
    },
  };

/** Where the apply-method rule above comes from. */
export const PARAMETER_GROUP_DEFAULT_RULE_SOURCE =
  "https://registry.terraform.io/providers/hashicorp/aws/6.25.0/docs/resources/db_parameter_group#problematic-plan-changes";

/**
 * The parameters to put in a `postgres<major>` parameter group for the values wanted: those equal to the
 * engine default are left out (they hold anyway, and naming them would never leave the plan).
 */
export function postgresParameters(major: number, wanted: Readonly<Record<string, string>>): { name: string; value: string }[] {
  return Object.entries(wanted)
    .filter(([name, value]) => {
      const d = POSTGRES_PARAMETER_DEFAULTS[name];
      if (!d)
        throw new Error(
          `postgresParameters: no engine default is recorded for "${name}": add it to POSTGRES_PARAMETER_DEFAULTS with its source`,
        );
      return d.value(major) !== value;
    })
    .map(([name, value]) => ({ name, value }));
}

/** Parameters of a parameter group of `family` that AWS would report as a perpetual change (or that no row covers). */
export function parameterGroupProblems(family: string, parameters: readonly { name: string; value: string }[]): string[] {
  const m = /^postgres(\d+)$/.exec(family);
  if (!m) return [`family "${family}": no engine defaults are recorded for it (POSTGRES_PARAMETER_DEFAULTS covers postgres<major>)`];
  return parameters.flatMap((p) => {
    const d = POSTGRES_PARAMETER_DEFAULTS[p.name];
    if (!d) return [`${p.name}: no engine default recorded for it (add it to POSTGRES_PARAMETER_DEFAULTS with its source)`];
    return d.value(Number(m[1])) === p.value
      ? [
          `${p.name} = ${p.value} is the ${family} default: every plan would show its apply_method again (${PARAMETER_GROUP_DEFAULT_RULE_SOURCE})`,
        ]
      : [];
  });
}

// ── RDS windows ──────────────────────────────────────────────────────────────────

const DAYS = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];
/** RDS's minimum length of the backup and maintenance windows, in minutes. */
export const RDS_MIN_WINDOW_MINUTES = 30;
const BACKUP_WINDOW = /^(\d{2}):(\d{2})-(\d{2}):(\d{2})$/;
const MAINTENANCE_WINDOW = /^(mon|tue|wed|thu|fri|sat|sun):(\d{2}):(\d{2})-(mon|tue|wed|thu|fri|sat|sun):(\d{2}):(\d{2})$/;

function clock(hh: string, mm: string): number | undefined {
  const h = Number(hh);
  const m = Number(mm);
  return h <= 23 && m <= 59 ? h * 60 + m : undefined;
}

/** A daily window as [start, end) minutes of the day (end may pass midnight), or a problem. */
function backupRange(window: string): [number, number] | string {
  const rule = `a daily UTC window hh:mm-hh:mm such as "02:00-03:00", at least ${RDS_MIN_WINDOW_MINUTES} minutes long`;
  const m = BACKUP_WINDOW.exec(window);
  const start = m && clock(m[1], m[2]);
  const end = m && clock(m[3], m[4]);
  if (start === undefined || end === undefined || start === null || end === null) return `${rule} (hours 00-23, minutes 00-59)`;
  const stop = end <= start ? end + 1440 : end;
  if (stop - start < RDS_MIN_WINDOW_MINUTES) return `${rule} (this one lasts ${stop - start} minutes)`;
  return [start, stop];
}

/** A weekly window as [start, end) minutes of the week (end may pass Sunday midnight), or a problem. */
function maintenanceRange(window: string): [number, number] | string {
  const rule = `a weekly UTC window ddd:hh:mm-ddd:hh:mm such as "sun:04:00-sun:05:00" (days mon-sun), at least ${RDS_MIN_WINDOW_MINUTES} minutes long`;
  const m = MAINTENANCE_WINDOW.exec(window);
  const start = m && clock(m[2], m[3]);
  const end = m && clock(m[5], m[6]);
  if (!m || start === undefined || end === undefined || start === null || end === null) return `${rule} (hours 00-23, minutes 00-59)`;
  const s = DAYS.indexOf(m[1]) * 1440 + start;
  let e = DAYS.indexOf(m[4]) * 1440 + end;
  if (e <= s) e += 7 * 1440;
  if (e - s < RDS_MIN_WINDOW_MINUTES) return `${rule} (this one lasts ${e - s} minutes)`;
  return [s, e];
}

/**
 * Problems with an RDS instance's daily backup window and weekly maintenance window (format, RDS's
 * 30-minute minimum, and no overlap between the two), by field.
 */
export function rdsWindowProblems(
  backupWindow: string,
  maintenanceWindow: string,
): { field: "backupWindow" | "maintenanceWindow"; expected: string }[] {
  const backup = backupRange(backupWindow);
  const maint = maintenanceRange(maintenanceWindow);
  const problems: { field: "backupWindow" | "maintenanceWindow"; expected: string }[] = [];
  if (typeof backup === "string") problems.push({ field: "backupWindow", expected: backup });
  if (typeof maint === "string") problems.push({ field: "maintenanceWindow", expected: maint });
  if (typeof backup === "string" || typeof maint === "string") return problems;
  const week = 7 * 1440;
  for (let day = -1; day <= 7; day++) {
    const s = day * 1440 + backup[0];
    const e = day * 1440 + backup[1];
    for (const shift of [-week, 0, week]) {
      if (s < maint[1] + shift && maint[0] + shift < e) {
        return [
          {
            field: "maintenanceWindow",
            expected: `a window that does not overlap the daily backup window ${backupWindow} (RDS refuses overlapping windows)`,
          },
        ];
      }
    }
  }
  return [];
}

// ── cron ─────────────────────────────────────────────────────────────────────────

const MONTHS = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"];
const WEEKDAYS = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"];
const CRON_FIELDS = [
  { name: "minute", min: 0, max: 59 },
  { name: "hour", min: 0, max: 23 },
  { name: "day of month", min: 1, max: 31 },
  { name: "month", min: 1, max: 12, names: MONTHS, base: 1 },
  { name: "day of week", min: 0, max: 6, names: WEEKDAYS, base: 0 },
] as const;
const CRON_DESCRIPTORS = ["@yearly", "@annually", "@monthly", "@weekly", "@daily", "@midnight", "@hourly"];

/**
 * Problem with a Kubernetes CronJob schedule (five fields as parsed by robfig/cron's standard parser,
 * or one of its @-descriptors except @every), or undefined.
 */
export function cronProblem(schedule: string): string | undefined {
  const rule = 'a five-field cron schedule "minute hour day-of-month month day-of-week" such as "30 3 * * *"';
  if (/^(CRON_)?TZ=/.test(schedule)) return `${rule}, without a time zone (schedules run in UTC)`;
  if (schedule.startsWith("@")) return CRON_DESCRIPTORS.includes(schedule) ? undefined : `${rule} or one of ${CRON_DESCRIPTORS.join(", ")}`;
  const fields = schedule.trim().split(/\s+/);
  if (fields.length !== 5) return `${rule} (this one has ${fields.length} field${fields.length === 1 ? "" : "s"})`;
  for (const [i, text] of fields.entries()) {
    const spec = CRON_FIELDS[i];
    const value = (v: string): number | undefined => {
      if (/^\d+$/.test(v)) return Number(v);
      const names = "names" in spec ? (spec.names as readonly string[]) : undefined;
      const at = names?.indexOf(v.toLowerCase()) ?? -1;
      return at >= 0 ? at + ("base" in spec ? spec.base : 0) : undefined;
    };
    for (const item of text.split(",")) {
      const m = /^([^/]+)(?:\/(\d+))?$/.exec(item);
      if (!m) return `${rule}: ${spec.name} "${item}" is not a value, range or step`;
      if (m[2] !== undefined && Number(m[2]) === 0) return `${rule}: ${spec.name} "${item}" has a step of 0`;
      if (m[1] === "*" || m[1] === "?") continue;
      const [lo, hi, extra] = m[1].split("-");
      if (extra !== undefined) return `${rule}: ${spec.name} "${item}" is not a value, range or step`;
      const start = value(lo);
      const end = hi === undefined ? start : value(hi);
      if (start === undefined || end === undefined)
        return `${rule}: ${spec.name} "${item}" is not a number${"names" in spec ? " or name" : ""}`;
      for (const n of [start, end]) {
        if (n < spec.min || n > spec.max) return `${rule}: ${spec.name} ${n} is outside ${spec.min}-${spec.max}`;
      }
      if (start > end) return `${rule}: ${spec.name} range "${m[1]}" starts after it ends`;
    }
  }
  return undefined;
}
