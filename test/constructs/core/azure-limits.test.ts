/**
 * Azure's naming rules (constructs/core/azure-limits.ts): examples from each rule's table, then properties: for
 * thousands of random strings, each rule agrees with the documented rule written out character by character.
 */
import {
  AZURE_LOCATIONS,
  AZURE_RULE_SOURCES,
  aksClusterNameProblem,
  azureGuidProblem,
  azureLocationProblem,
  azureTagNameProblem,
  azureTagValueProblem,
  blobContainerNameProblem,
  containerRegistryNameProblem,
  keyVaultAllowedCidrProblem,
  keyVaultNameProblem,
  parseNetworkId,
  postgresFlexibleServerNameProblem,
  resourceGroupNameProblem,
  storageAccountNameProblem,
  subnetIdProblem,
  virtualNetworkIdProblem,
} from "../../../constructs/core/azure-limits";

const SUB = "0b1f6471-1bf0-4dda-aec3-111122223333";
const VNET = `/subscriptions/${SUB}/resourceGroups/ml-network/providers/Microsoft.Network/virtualNetworks/ml-vnet`;

function check(problem: (v: string) => string | undefined, value: string, expected: RegExp | undefined) {
  const p = problem(value);
  if (expected) expect(p).toMatch(expected);
  else expect(p).toBeUndefined();
}

describe("Azure rules: examples", () => {
  it.each([
    ["mlflowdevartifacts", undefined],
    ["abc", undefined],
    ["a".repeat(24), undefined],
    ["ab", /3-24 .*this one has 2/],
    ["a".repeat(25), /this one has 25/],
    ["mlflow-dev", /no hyphens/],
    ["MlflowDev", /lower-case/],
  ])("storage account name %s", (name, expected) => check(storageAccountNameProblem, name, expected));

  it.each([
    ["mlflow", undefined],
    ["ml-artifacts-1", undefined],
    ["1abc", undefined],
    ["ab", /3-63/],
    ["-abc", /starting and ending with a letter or digit/],
    ["abc-", /single hyphens/],
    ["ab--c", /single hyphens/],
    ["Mlflow", /lower-case/],
  ])("blob container name %s", (name, expected) => check(blobContainerNameProblem, name, expected));

  it.each([
    ["mlflow-dev-kv", undefined],
    ["Kv1", undefined],
    ["1kv", /starting with a letter/],
    ["kv--dev", /single hyphens/],
    ["kv-", /ending with a letter or digit/],
    ["kv_dev", /letters, digits and single hyphens/],
    ["k".repeat(25), /this one has 25/],
  ])("Key Vault name %s", (name, expected) => check(keyVaultNameProblem, name, expected));

  it.each([
    ["mlflow-az-dev", undefined],
    ["1pg", undefined],
    ["pg", /3-63/],
    ["-pg-dev", /not starting or ending with a hyphen/],
    ["pg-dev-", /not starting or ending with a hyphen/],
    ["pg--dev", /single hyphens/],
    ["PG-dev", /lower-case/],
    ["p".repeat(64), /this one has 64/],
  ])("PostgreSQL flexible server name %s", (name, expected) => check(postgresFlexibleServerNameProblem, name, expected));

  it.each([
    ["mlflowdevmodels", undefined],
    ["MlflowDev1", undefined],
    ["acr1", /5-50/],
    ["mlflow-models", /no hyphens/],
    ["a".repeat(51), /this one has 51/],
  ])("container registry name %s", (name, expected) => check(containerRegistryNameProblem, name, expected));

  it.each([
    ["ml-platform_rg.(dev)", undefined],
    ["r".repeat(90), undefined],
    ["", /1-90/],
    ["r".repeat(91), /this one has 91/],
    ["ml-rg.", /not ending with '.'/],
    ["ml/rg", /letters, digits/],
  ])("resource group name %s", (name, expected) => check(resourceGroupNameProblem, name, expected));

  it("AKS cluster names, GUIDs and network resource ids", () => {
    expect(aksClusterNameProblem("ml-dev_aks1")).toBeUndefined();
    expect(aksClusterNameProblem("-aks")).toMatch(/AKS cluster name/);
    expect(aksClusterNameProblem("a".repeat(64))).toMatch(/1-63/);
    expect(azureGuidProblem(SUB, "subscription")).toBeUndefined();
    expect(azureGuidProblem("my-subscription", "subscription")).toMatch(/a GUID .*az account show --query id/);
    expect(azureGuidProblem("x", "tenant")).toMatch(/tenant id: .*--query tenantId/);
    expect(virtualNetworkIdProblem(VNET)).toBeUndefined();
    // Azure's resource ids are case-insensitive: the CLI prints some segments in lower case.
    expect(virtualNetworkIdProblem(VNET.replace("resourceGroups", "resourcegroups"))).toBeUndefined();
    expect(virtualNetworkIdProblem("ml-vnet")).toMatch(/virtual network's resource id/);
    expect(virtualNetworkIdProblem(`${VNET}/subnets/nodes`)).toMatch(/virtual network's resource id/);
    expect(virtualNetworkIdProblem(VNET.replace(SUB, "not-a-guid"))).toMatch(/virtual network's resource id/);
    expect(subnetIdProblem(`${VNET}/subnets/aks-nodes`)).toBeUndefined();
    expect(subnetIdProblem(VNET)).toMatch(/subnet's resource id/);
    expect(subnetIdProblem(`${VNET}/subnets/-x`)).toMatch(/its name 1-80/);
    expect(parseNetworkId(`${VNET}/subnets/db`)).toEqual({
      subscriptionId: SUB,
      resourceGroupName: "ml-network",
      virtualNetworkName: "ml-vnet",
      subnetName: "db",
    });
  });

  it.each([
    ["westeurope", undefined],
    ["eastus2", undefined],
    ["West Europe", /write "westeurope", not "West Europe"/],
    ["west-europe", /write "westeurope"/],
    ["eu-west-1", /not an AWS region/],
    ["us-gov-west-1", /not an AWS region/],
    ["europe-west1", /not a Google Cloud region or zone/],
    ["europe-west1-b", /not a Google Cloud region or zone/],
    ["atlantis", /add it to AZURE_LOCATIONS/],
  ])("location %s", (location, expected) => check(azureLocationProblem, location, expected));

  it("tags: names of at most 128 characters (a storage account's limit) without <>%&\\?/, values of at most 256", () => {
    expect(azureTagNameProblem("cost-center")).toBeUndefined();
    expect(azureTagNameProblem("Cost Center:ML")).toBeUndefined();
    expect(azureTagNameProblem("t".repeat(128))).toBeUndefined();
    expect(azureTagNameProblem("t".repeat(129))).toMatch(/this one has 129/);
    for (const c of ["<", ">", "%", "&", "\\", "?", "/"]) expect(azureTagNameProblem(`a${c}b`)).toMatch(/without/);
    expect(azureTagValueProblem("v".repeat(256))).toBeUndefined();
    expect(azureTagValueProblem("v".repeat(257))).toMatch(/at most 256/);
  });

  it.each([
    ["203.0.113.0/24", undefined],
    ["198.51.100.7", undefined],
    ["10.1.0.0/16", /private range/],
    ["192.168.1.0/24", /private range/],
    ["172.20.0.0/16", /private range/],
    ["203.0.113.0/4", /a prefix from \/8 to \/32/],
    ["2001:db8::/32", /public IPv4 address/],
    ["203.0.113.256", /is not one/],
  ])("Key Vault firewall range %s", (cidr, expected) => check(keyVaultAllowedCidrProblem, cidr, expected));

  it("every rule names its source, a learn.microsoft.com page", () => {
    for (const url of Object.values(AZURE_RULE_SOURCES)) expect(url).toMatch(/^https:\/\/learn\.microsoft\.com\//);
  });
});

// ── properties ───────────────────────────────────────────────────────────────────

/** A small deterministic generator (mulberry32): the same strings on every run, so a failure reproduces. */
function generator(seed: number) {
  let a = seed;
  const next = () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const int = (n: number) => Math.floor(next() * n);
  return {
    /** A string of 0..max characters from `alphabet`, with `noise` now and then any printable ASCII character. */
    string(alphabet: string, max: number, noise = true): string {
      const length = int(max + 1);
      let s = "";
      for (let i = 0; i < length; i++) s += !noise || next() < 0.97 ? alphabet[int(alphabet.length)] : String.fromCharCode(32 + int(95));
      return s;
    },
  };
}

const LOWER = "abcdefghijklmnopqrstuvwxyz";
const DIGITS = "0123456789";
const isLower = (c: string) => LOWER.includes(c);
const isDigit = (c: string) => DIGITS.includes(c);
const isLetter = (c: string) => isLower(c) || LOWER.toUpperCase().includes(c);
const noDoubleHyphen = (s: string) => ![...s].some((c, i) => c === "-" && s[i + 1] === "-");

/** Each documented rule, written out without a regular expression. */
const ORACLES: [string, (s: string) => string | undefined, string, number, (s: string) => boolean][] = [
  [
    "storage account",
    storageAccountNameProblem,
    LOWER + DIGITS + "-A",
    30,
    (s) => s.length >= 3 && s.length <= 24 && [...s].every((c) => isLower(c) || isDigit(c)),
  ],
  [
    "blob container",
    blobContainerNameProblem,
    LOWER + DIGITS + "---A",
    70,
    (s) =>
      s.length >= 3 &&
      s.length <= 63 &&
      [...s].every((c) => isLower(c) || isDigit(c) || c === "-") &&
      s[0] !== "-" &&
      s[s.length - 1] !== "-" &&
      noDoubleHyphen(s),
  ],
  [
    "Key Vault",
    keyVaultNameProblem,
    LOWER + DIGITS + "---AZ_",
    30,
    (s) =>
      s.length >= 3 &&
      s.length <= 24 &&
      [...s].every((c) => isLetter(c) || isDigit(c) || c === "-") &&
      isLetter(s[0]) &&
      s[s.length - 1] !== "-" &&
      noDoubleHyphen(s),
  ],
  [
    "PostgreSQL flexible server",
    postgresFlexibleServerNameProblem,
    LOWER + DIGITS + "---A",
    70,
    (s) =>
      s.length >= 3 &&
      s.length <= 63 &&
      [...s].every((c) => isLower(c) || isDigit(c) || c === "-") &&
      s[0] !== "-" &&
      s[s.length - 1] !== "-" &&
      noDoubleHyphen(s),
  ],
  [
    "container registry",
    containerRegistryNameProblem,
    LOWER + DIGITS + "AZ-",
    56,
    (s) => s.length >= 5 && s.length <= 50 && [...s].every((c) => isLetter(c) || isDigit(c)),
  ],
  [
    "tag name",
    azureTagNameProblem,
    LOWER + "<>%&\\?/ :-",
    140,
    (s) => s.length >= 1 && s.length <= 128 && [...s].every((c) => !"<>%&\\?/".includes(c)),
  ],
];

describe("Azure rules: properties", () => {
  it.each(ORACLES)("%s names: the rule accepts exactly what the documented rule allows", (_what, problem, alphabet, max, valid) => {
    const g = generator(25);
    let accepted = 0;
    for (let i = 0; i < 5000; i++) {
      const s = g.string(alphabet, max);
      const p = problem(s);
      if (valid(s) !== (p === undefined)) throw new Error(`${JSON.stringify(s)}: rule says ${p ?? "valid"}`);
      // A refusal completes "expected ...": it says what a valid value looks like.
      if (p !== undefined) expect(p).toMatch(/^an? /);
      else accepted++;
    }
    // The generator reaches both sides of each rule.
    expect(accepted).toBeGreaterThan(50);
  });

  it("every location of the table is accepted, and its display-name spellings refused with the name to write", () => {
    for (const location of AZURE_LOCATIONS) {
      expect(azureLocationProblem(location)).toBeUndefined();
      expect(azureLocationProblem(location.toUpperCase())).toMatch(new RegExp(`write "${location}"`));
    }
    expect(new Set(AZURE_LOCATIONS).size).toBe(AZURE_LOCATIONS.length);
  });

  it("no AWS region or Google Cloud region of any shape is an Azure location", () => {
    const g = generator(7);
    for (let i = 0; i < 500; i++) {
      const area = g.string(LOWER, 4, false).padEnd(2, "x");
      const direction = g.string(LOWER, 8, false).padEnd(4, "y");
      const n = 1 + (i % 9);
      expect(azureLocationProblem(`${area}-${direction}-${n}`)).toMatch(/not an AWS region/);
      expect(azureLocationProblem(`${area}-${direction}${n}`)).toMatch(/not a Google Cloud region/);
    }
  });
});
