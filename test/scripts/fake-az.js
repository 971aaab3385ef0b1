#!/usr/bin/env node
/**
 * A stand-in for the Azure CLI (test/scripts/bootstrap-azure.test.ts): records every call in
 * $FAKE_AWS_STATE/calls.log (the folder the other stand-ins share) and answers the way az answers (exit 3 and an
 * "ERROR:" line for a missing resource). FAKE_AZ_* variables set the subscription and the failures to simulate.
 */
"use strict";
const fs = require("fs");
const path = require("path");
const args = process.argv.slice(2);
fs.appendFileSync(path.join(process.env.FAKE_AWS_STATE, "calls.log"), `${JSON.stringify(["az", ...args])}\n`);
const out = (v) => {
  process.stdout.write(`${v}\n`);
  process.exit(0);
};
const fail = (message, code = 3) => {
  process.stderr.write(`ERROR: ${message}\n`);
  process.exit(code);
};
const arg = (flag) => args[args.indexOf(flag) + 1];

switch (args.slice(0, 2).join(" ")) {
  case "account show":
    if (process.env.FAKE_AZ_NO_LOGIN) fail("Please run 'az login' to setup account.", 1);
    out(process.env.FAKE_AZ_SUBSCRIPTION || "0b1f6471-1bf0-4dda-aec3-111122223333");
  case "aks show":
    if (process.env.FAKE_AZ_NO_CLUSTER)
      fail(`(ResourceNotFound) The Resource 'Microsoft.ContainerService/managedClusters/${arg("--name")}' was not found.`);
    out(process.env.FAKE_AZ_NO_AZURE_RBAC ? "" : "true");
  case "storage account":
    out(`/subscriptions/x/resourceGroups/${arg("--resource-group")}/providers/Microsoft.Storage/storageAccounts/${arg("--name")}`);
  case "account get-access-token":
    out("eyJ.admin-token");
  case "identity show":
    out(arg("--name").endsWith("-plan") ? "aaaaaaaa-1111-4222-8333-444444444444" : "bbbbbbbb-5555-4666-8777-888888888888");
  default:
    fail(`fake-az: unexpected call ${args.join(" ")}`, 2);
}
