#!/usr/bin/env node
/**
 * A stand-in for the Google Cloud CLI (test/scripts/bootstrap-gcp.test.ts): records every call in
 * $FAKE_AWS_STATE/calls.log (the folder the other stand-ins share) and answers from files in that folder the
 * way gcloud answers (exit 1 and an "ERROR: (gcloud...)" line). FAKE_GCP_* variables set the project number
 * and the failures to simulate.
 */
"use strict";
const fs = require("fs");
const path = require("path");
const dir = process.env.FAKE_AWS_STATE;
const args = process.argv.slice(2);
fs.appendFileSync(path.join(dir, "calls.log"), `${JSON.stringify(["gcloud", ...args])}\n`);
const out = (v) => {
  process.stdout.write(`${v}\n`);
  process.exit(0);
};
const fail = (message) => {
  process.stderr.write(`ERROR: (gcloud.${args.slice(0, 3).join(".")}) ${message}\n`);
  process.exit(1);
};
const bucketFile = (url) => path.join(dir, `bucket-${url.replace(/\W/g, "_")}`);

switch (args.slice(0, 3).join(" ")) {
  case `projects describe ${args[2]}`:
    if (process.env.FAKE_GCP_NO_AUTH) fail("You do not currently have an active account selected.");
    out(process.env.FAKE_GCP_PROJECT_NUMBER || "123456789012");
  case "container clusters describe":
    if (process.env.FAKE_GCP_NO_CLUSTER) fail(`ResponseError: code=404, message=Not found: ${args[3]}.`);
    out("RUNNING");
  case "services enable iam.googleapis.com":
    out("Operation finished successfully.");
  case "storage buckets describe":
    if (process.env.FAKE_GCP_BUCKET_FORBIDDEN)
      fail("HTTPError 403: someone does not have storage.buckets.get access to the Google Cloud Storage bucket.");
    if (!fs.existsSync(bucketFile(args[3]))) fail(`HTTPError 404: ${args[3]} bucket does not exist.`);
    out(args[3].slice(5));
  case "storage buckets create":
    fs.writeFileSync(bucketFile(args[3]), "");
    out(`Creating ${args[3]}/...`);
  case "storage buckets update":
    out(`Updating ${args[3]}/...`);
  default:
    fail(`fake-gcloud: unexpected call ${args.join(" ")}`);
}
