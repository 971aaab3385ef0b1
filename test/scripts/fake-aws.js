#!/usr/bin/env node
/**
 * A stand-in for the AWS CLI (test/scripts/bootstrap.test.ts): records every call in $FAKE_AWS_STATE/calls.log
 * and answers from files in that folder, the way the real CLI answers (exit 254 and an "An error occurred"
 * line on a service error). FAKE_AWS_* variables set the account and the failures to simulate.
 */
"use strict";
const fs = require("fs");
const path = require("path");
const dir = process.env.FAKE_AWS_STATE;
const args = process.argv.slice(2);
fs.appendFileSync(path.join(dir, "calls.log"), `${JSON.stringify(["aws", ...args])}\n`);
const has = (f) => fs.existsSync(path.join(dir, f));
const read = (f) => fs.readFileSync(path.join(dir, f), "utf8");
const write = (f, v = "") => fs.writeFileSync(path.join(dir, f), v);
const out = (v) => {
  process.stdout.write(`${v}\n`);
  process.exit(0);
};
const fail = (code, op, message) => {
  process.stderr.write(`\nAn error occurred (${code}) when calling the ${op} operation: ${message}\n`);
  process.exit(254);
};
const opt = (name) => args[args.indexOf(name) + 1];
const account = process.env.FAKE_AWS_ACCOUNT;

switch (`${args[0]} ${args[1]}`) {
  case "sts get-caller-identity":
    out(account);
  case "eks describe-cluster":
    out("ACTIVE");
  case "acm describe-certificate":
    out(process.env.FAKE_AWS_CERT_STATUS || "ISSUED");
  case "secretsmanager describe-secret":
    if (process.env.FAKE_AWS_NO_SECRET)
      fail("ResourceNotFoundException", "DescribeSecret", "Secrets Manager can't find the specified secret.");
    out(opt("--secret-id"));
  case "iam get-role":
    out(`arn:aws:iam::${account}:role/${opt("--role-name")}`);
  case "eks describe-access-entry":
    if (process.env.FAKE_AWS_NO_ACCESS_ENTRY)
      fail("ResourceNotFoundException", "DescribeAccessEntry", "The specified principalArn could not be found.");
    out(opt("--principal-arn"));
  case "kms describe-key":
    if (has("key")) out(read("key"));
    fail("NotFoundException", "DescribeKey", `Alias arn:aws:kms:${opt("--region")}:${account}:${opt("--key-id")} is not found.`);
  case "kms create-key":
    write("key", `arn:aws:kms:${opt("--region")}:${account}:key/1234abcd-12ab-34cd-56ef-1234567890ab`);
    out(read("key"));
  case "kms create-alias":
    write("alias", opt("--alias-name"));
    out("");
  case "kms enable-key-rotation":
    out("");
  case "s3api head-bucket":
    if (process.env.FAKE_AWS_BUCKET_ELSEWHERE) fail("403", "HeadBucket", "Forbidden");
    if (has("bucket")) out("");
    fail("404", "HeadBucket", "Not Found");
  case "s3api create-bucket":
    write("bucket");
    out(JSON.stringify({ Location: `/${opt("--bucket")}` }));
  default:
    if (args[0] === "s3api" && args[1].startsWith("put-")) out("");
    process.stderr.write(`fake aws: no answer for ${args.slice(0, 2).join(" ")}\n`);
    process.exit(252);
}
