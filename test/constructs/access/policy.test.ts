import {
  DEFAULT_PROTECTED_ALIASES as CONFIG_DEFAULT_PROTECTED_ALIASES,
  DEFAULT_WORKSPACE as CONFIG_DEFAULT_WORKSPACE,
} from "../../../config/teams";
import {
  ACCESS_POLICY_VERSION,
  DEFAULT_PROTECTED_ALIASES,
  DEFAULT_WORKSPACE,
  type AccessPolicyInputs,
  accessPolicy,
  accessPolicyHash,
  accessPolicyJson,
} from "../../../constructs/access/policy";
import { PropError } from "../../../constructs/core/prop-error";

const INPUTS: AccessPolicyInputs = {
  teams: [
    { name: "team-a", groups: ["team-a-ds"], approversGroup: "team-a-approvers" },
    { name: "team-b", groups: ["team-b-ds"], workspace: "ws-b", defaultPermission: "READ" },
  ],
  platformAdminsGroup: "platform-admins",
  releaseIdentities: ["system:serviceaccount:ci:release", "release-bot@example.com"],
  defaultWorkspace: { groups: ["engineering"], permission: "EDIT" },
};

describe("accessPolicy: the document the tracking server and the sync Job read", () => {
  it("builds the contract's document: admins, one workspace per team, platform.* roles, protected promotions", () => {
    expect(accessPolicy(INPUTS)).toEqual({
      version: ACCESS_POLICY_VERSION,
      admins: { groups: ["platform-admins"] },
      workspaces: [
        { name: "team-a", description: "team team-a" },
        { name: "ws-b", description: "team team-b" },
      ],
      roles: [
        { name: "platform.team-a.members", workspace: "team-a", permission: "EDIT", groups: ["team-a-ds"], identities: [] },
        // MLflow requires EDIT to set a model version's tag: approving is writing platform.approval.*.
        { name: "platform.team-a.approvers", workspace: "team-a", permission: "EDIT", groups: ["team-a-approvers"], identities: [] },
        { name: "platform.team-b.members", workspace: "ws-b", permission: "READ", groups: ["team-b-ds"], identities: [] },
        { name: "platform.default.members", workspace: "default", permission: "EDIT", groups: ["engineering"], identities: [] },
      ],
      protected: {
        aliases: ["production", "staging"],
        stages: ["Production", "Staging"],
        releaseIdentities: ["system:serviceaccount:ci:release", "release-bot@example.com"],
        approvers: { "team-a": ["team-a-approvers"] },
        fourEyes: true,
      },
    });
  });

  it("names every role platform.*: the sync deletes only those", () => {
    expect(accessPolicy(INPUTS).roles.every((r) => r.name.startsWith("platform."))).toBe(true);
  });

  it("gives the default workspace no role when nobody is named for it (administrators still see it)", () => {
    const p = accessPolicy({ ...INPUTS, defaultWorkspace: { groups: [], permission: "EDIT" } });
    expect(p.roles.map((r) => r.name)).not.toContain("platform.default.members");
  });

  it("gives a workload a role by its lower-cased identity in its team's workspace only, with EDIT or the team's higher permission", () => {
    const pipeline = "System:ServiceAccount:ML-Pipelines:Training-Pipeline";
    const p = accessPolicy({ ...INPUTS, workloads: [{ name: "pipeline", identity: pipeline, team: "team-b" }] });
    const mine = p.roles.filter((r) => r.identities.length > 0);
    // team-b's members have READ, which could not log a run: the workload gets EDIT, in ws-b and nowhere else.
    expect(mine).toEqual([
      { name: "platform.team-b.pipeline", workspace: "ws-b", permission: "EDIT", groups: [], identities: [pipeline.toLowerCase()] },
    ]);
    // No other role names it, and the teams' own roles are unchanged.
    expect(p.roles.filter((r) => r.identities.length === 0)).toEqual(accessPolicy(INPUTS).roles);
    const manage = accessPolicy({
      ...INPUTS,
      teams: [INPUTS.teams[0], { ...INPUTS.teams[1], defaultPermission: "MANAGE" }],
      workloads: [{ name: "pipeline", identity: pipeline, team: "team-b" }],
    });
    expect(manage.roles.find((r) => r.name === "platform.team-b.pipeline")?.permission).toBe("MANAGE");
    const edit = accessPolicy({ ...INPUTS, workloads: [{ name: "pipeline", identity: pipeline, team: "team-a" }] });
    expect(edit.roles.find((r) => r.name === "platform.team-a.pipeline")).toMatchObject({ workspace: "team-a", permission: "EDIT" });
  });

  it("takes the protected aliases and four eyes as given", () => {
    const p = accessPolicy({ ...INPUTS, protectedAliases: ["champion"], fourEyes: false });
    expect(p.protected.aliases).toEqual(["champion"]);
    expect(p.protected.fourEyes).toBe(false);
    expect(p.protected.releaseIdentities).toEqual(INPUTS.releaseIdentities);
    expect(accessPolicy({ ...INPUTS, releaseIdentities: undefined }).protected.releaseIdentities).toEqual([]);
  });

  it("refuses what the configuration schema refuses, naming the input", () => {
    const bad: [Partial<AccessPolicyInputs>, RegExp][] = [
      [{ teams: [] }, /teams is \[\]: expected at least one team/],
      [{ teams: [{ name: "a", groups: [] }] }, /teams\[0\]\.groups is \[\]: expected at least one group/],
      [
        {
          teams: [
            { name: "a", groups: ["x"] },
            { name: "b", groups: ["y"], workspace: "a" },
          ],
        },
        /teams\[1\]\.workspace is "a": expected a workspace no other team works in/,
      ],
      [
        {
          teams: [
            { name: "a", groups: ["x"] },
            { name: "a", groups: ["y"], workspace: "c" },
          ],
        },
        /teams\[1\]\.name is "a": expected a name no other team has/,
      ],
      [
        { teams: [{ name: "a", groups: ["x"], approversGroup: "x" }] },
        /teams\[0\]\.approversGroup is "x": expected a group that is not one of the team's groups/,
      ],
      [
        { teams: [{ name: "a", groups: ["x,y"] }] },
        /teams\[0\]\.groups\[0\] is "x,y": expected an identity provider group name; it contains ","/,
      ],
      [{ platformAdminsGroup: "" }, /platformAdminsGroup is "": expected an identity provider group name; it is empty/],
      [{ teams: [{ name: "default", groups: ["x"] }] }, /teams\[0\]\.name is "default"/],
      [{ teams: [{ name: "a", groups: ["x"], workspace: "default" }] }, /teams\[0\]\.workspace is "default"/],
      [{ releaseIdentities: ["a b"] }, /releaseIdentities\[0\] is "a b"/],
      [
        { workloads: [{ name: "pipeline", identity: "sa", team: "team-c" }] },
        /workloads\[0\]\.team is "team-c": expected one of the teams/,
      ],
      [{ workloads: [{ name: "members", identity: "sa", team: "team-a" }] }, /workloads\[0\]\.name is "members"/],
      [{ workloads: [{ name: "pipeline", identity: "a,b", team: "team-a" }] }, /workloads\[0\]\.identity is "a,b"/],
    ];
    for (const [override, message] of bad) {
      expect(() => accessPolicy({ ...INPUTS, ...override })).toThrow(PropError);
      expect(() => accessPolicy({ ...INPUTS, ...override })).toThrow(message);
    }
    // Four eyes off: an approvers group may be a member group.
    expect(() => accessPolicy({ ...INPUTS, fourEyes: false, teams: [{ name: "a", groups: ["x"], approversGroup: "x" }] })).not.toThrow();
  });

  it("serializes stably, and its hash changes with the document", () => {
    const json = accessPolicyJson(accessPolicy(INPUTS));
    expect(JSON.parse(json)).toEqual(accessPolicy(INPUTS));
    expect(json.endsWith("\n")).toBe(true);
    expect(json).not.toMatch(/\$\{|%\{/);
    const hash = accessPolicyHash(accessPolicy(INPUTS));
    expect(hash).toMatch(/^[0-9a-f]{10}$/);
    expect(accessPolicyHash(accessPolicy(INPUTS))).toBe(hash);
    const revoked = { ...INPUTS, teams: [{ ...INPUTS.teams[0], groups: ["team-a-other"] }, INPUTS.teams[1]] };
    expect(accessPolicyHash(accessPolicy(revoked))).not.toBe(hash);
  });
});

describe("the configuration's copies of the policy's constants (config/ may not import constructs/)", () => {
  it("agree", () => {
    expect(CONFIG_DEFAULT_WORKSPACE).toBe(DEFAULT_WORKSPACE);
    expect(CONFIG_DEFAULT_PROTECTED_ALIASES).toEqual(DEFAULT_PROTECTED_ALIASES);
  });
});
