#!/usr/bin/env node
/** A stand-in for Terraform (test/scripts/bootstrap.test.ts): records the call, succeeds. */
"use strict";
const fs = require("fs");
const path = require("path");
fs.appendFileSync(path.join(process.env.FAKE_AWS_STATE, "calls.log"), `${JSON.stringify(["terraform", ...process.argv.slice(2)])}\n`);
if (process.env.FAKE_TERRAFORM_FAIL) {
  process.stderr.write("Error: something\n");
  process.exit(1);
}
process.stdout.write(
  process.argv.includes("apply")
    ? "Apply complete! Resources: 12 added, 0 changed, 0 destroyed.\n"
    : "Terraform has been successfully initialized!\n",
);
