import { configProblems as problems, envConfig } from "../helpers/synth";
import { deepMerge } from "../../config/merge";
import { TRAINING } from "../fixtures/training";

/** Two valid teams and their administrators: each test breaks one thing. */
const TEAMS = [
  { name: "team-a", groups: ["team-a-ds"], approversGroup: "team-a-approvers" },
  { name: "team-b", groups: ["team-b-ds", "team-b-eng"] },
];
const ACCESS = { platformAdminsGroup: "platform-admins" };
// Typed loosely on purpose: the tests hand the schema what it must refuse.
const teams = (overrides: object[] = TEAMS, access: object | null = ACCESS): any => ({ teams: overrides, ...(access ? { access } : {}) });

describe("teams and access configuration", () => {
  it("is off by default, and accepts valid teams with their defaults applied", () => {
    expect(envConfig("dev").teams).toBeUndefined();
    expect(envConfig("dev").access).toBeUndefined();
    const c = envConfig("dev", teams());
    expect(c.teams).toEqual([
      { name: "team-a", groups: ["team-a-ds"], approversGroup: "team-a-approvers", defaultPermission: "EDIT" },
      { name: "team-b", groups: ["team-b-ds", "team-b-eng"], defaultPermission: "EDIT" },
    ]);
    expect(c.access).toEqual({
      platformAdminsGroup: "platform-admins",
      releaseIdentities: [],
      fourEyes: true,
      protectedAliases: ["production", "staging"],
    });
  });

  it("refuses two teams on one workspace, naming the second team's field", () => {
    expect(problems(teams([TEAMS[0], { ...TEAMS[1], workspace: "team-a" }]))).toEqual([
      expect.stringMatching(
        /environment "dev": field teams\.1\.workspace = "team-a": expected a workspace of its own: two teams on one workspace \(teams\[0\] already works in "team-a"\); set teams\[1\]\.workspace to another name/,
      ),
    ]);
    // The workspace defaults to the name: a team named like another's workspace collides too.
    expect(
      problems(
        teams([
          { ...TEAMS[0], workspace: "shared" },
          { name: "shared", groups: ["x"] },
        ]),
      ),
    ).toEqual([expect.stringMatching(/field teams\.1\.name = "shared": expected a workspace of its own: two teams on one workspace/)]);
  });

  it("refuses training without training.team when teams are set, and a team name that is not one of them", () => {
    // The pipeline's projected token has no groups: without a team it would have no role anywhere.
    expect(problems(deepMerge(TRAINING, teams()))).toEqual([
      expect.stringMatching(
        /environment "dev": field training\.team = nothing: expected the team whose workspace the training pipeline logs to and registers in \(one of "team-a", "team-b"\) when teams are set/,
      ),
    ]);
    expect(problems(deepMerge(TRAINING, { ...teams(), training: { team: "team-c" } }))).toEqual([
      expect.stringMatching(
        /environment "dev": field training\.team = "team-c": expected the name of a team \(one of "team-a", "team-b"\), not "team-c"/,
      ),
    ]);
    expect(envConfig("dev", deepMerge(TRAINING, { ...teams(), training: { team: "team-b" } })).training.team).toBe("team-b");
    // Without teams there is no team to name; training without teams needs none.
    expect(problems({ training: { team: "team-a" } })).toEqual([
      expect.stringMatching(/field training\.team = "team-a": expected unset without teams/),
    ]);
    expect(envConfig("dev", TRAINING).training.team).toBeUndefined();
  });

  it("refuses a team without groups", () => {
    expect(problems(teams([{ name: "team-a", groups: [] }]))).toEqual([
      expect.stringMatching(
        /environment "dev": field teams\.0\.groups = \[\]: expected at least one group \(a team without groups would have no members\)/,
      ),
    ]);
  });

  it("refuses an approvers group that is one of the team's groups while four eyes is on (the default), not when it is off", () => {
    const same = [{ name: "team-a", groups: ["team-a-ds", "team-a-leads"], approversGroup: "team-a-leads" }];
    expect(problems(teams(same))).toEqual([
      expect.stringMatching(
        /environment "dev": field teams\.0\.approversGroup = "team-a-leads": expected a group that is not one of the team's own groups \(team-a-ds, team-a-leads\) while access\.fourEyes is on.*set access\.fourEyes: false/,
      ),
    ]);
    expect(envConfig("dev", teams(same, { ...ACCESS, fourEyes: false })).teams?.[0].approversGroup).toBe("team-a-leads");
  });

  it("refuses team, approvers, administrators and default-workspace groups the proxy does not admit (auth.allowedGroups set)", () => {
    const allowed = { auth: { allowedGroups: ["team-a-ds", "platform-admins"] } };
    expect(
      problems({
        ...allowed,
        ...teams([TEAMS[0]], { platformAdminsGroup: "admins", defaultWorkspace: { groups: ["everyone"], permission: "READ" } }),
      }),
    ).toEqual([
      expect.stringMatching(
        /field teams\.0\.approversGroup = "team-a-approvers": expected a group the proxy admits: "team-a-approvers" is not in auth\.allowedGroups \(team-a-ds, platform-admins\); add it there or name another/,
      ),
      expect.stringMatching(/field access\.platformAdminsGroup = "admins": expected a group the proxy admits/),
      expect.stringMatching(/field access\.defaultWorkspace\.groups\.0 = "everyone": expected a group the proxy admits/),
    ]);
    expect(problems({ ...allowed, ...teams([{ name: "team-b", groups: ["team-a-ds", "team-b-ds"] }]) })).toEqual([
      expect.stringMatching(/environment "dev": field teams\.0\.groups\.1 = "team-b-ds": expected a group the proxy admits/),
    ]);
    // An empty allow-list (e-mail domains decide) admits every group.
    expect(envConfig("dev", teams()).auth.allowedGroups).toEqual([]);
  });

  it('refuses a group containing ","', () => {
    for (const [field, input] of [
      ["teams\\.0\\.groups\\.0", teams([{ name: "team-a", groups: ["a,b"] }])],
      ["teams\\.0\\.approversGroup", teams([{ name: "team-a", groups: ["a"], approversGroup: "x,y" }])],
      ["access\\.platformAdminsGroup", teams(TEAMS, { platformAdminsGroup: "admins,ops" })],
    ] as const) {
      expect(problems(input)).toEqual([
        expect.stringMatching(
          new RegExp(`field ${field} = ".*": expected a group name without ",": the proxy joins a caller's groups with commas`),
        ),
      ]);
    }
  });

  it('refuses a group or release identity with "\${" or "%{" (Terraform would interpolate it in the policy\'s ConfigMap)', () => {
    expect(problems(teams([{ name: "team-a", groups: ["\${var.x}"] }]))).toEqual([
      expect.stringMatching(/field teams\.0\.groups\.0 = ".*": expected a name without "\$\{" or "%\{"/),
    ]);
    expect(problems(teams(TEAMS, { ...ACCESS, releaseIdentities: ["%{x}@example.com"] }))).toEqual([
      expect.stringMatching(/field access\.releaseIdentities\.0 = ".*": expected a name without "\$\{" or "%\{"/),
    ]);
  });

  it("refuses duplicate team names", () => {
    expect(problems(teams([TEAMS[0], { name: "team-a", groups: ["x"], workspace: "other" }]))).toEqual([
      expect.stringMatching(
        /environment "dev": field teams\.1\.name = "team-a": expected a name no other team has \(teams\[0\] is also "team-a"\)/,
      ),
    ]);
  });

  it("refuses teams without access.platformAdminsGroup", () => {
    expect(problems(teams(TEAMS, null))).toEqual([
      expect.stringMatching(
        /environment "dev": field access\.platformAdminsGroup = nothing: expected the identity provider group of the platform's administrators when teams are set/,
      ),
    ]);
    expect(problems(teams(TEAMS, {}))).toEqual([expect.stringMatching(/field access\.platformAdminsGroup.*\(the field is required\)/)]);
  });

  it('refuses the "default" workspace and team name, which hold what existed before teams', () => {
    expect(problems(teams([{ name: "team-a", groups: ["a"], workspace: "default" }]))).toEqual([
      expect.stringMatching(/field teams\.0\.workspace = "default": expected a workspace other than "default"/),
    ]);
    expect(problems(teams([{ name: "default", groups: ["a"] }]))).toEqual(
      expect.arrayContaining([expect.stringMatching(/field teams\.0\.name = "default": expected a name other than "default"/)]),
    );
  });

  it("refuses release identities the guard could never match (upper-case e-mail, spaces, commas)", () => {
    for (const bad of ["Release@Example.com", "a b", "x,y"]) {
      expect(problems(teams(TEAMS, { ...ACCESS, releaseIdentities: [bad] }))).toEqual([
        expect.stringMatching(
          /field access\.releaseIdentities\.0 = .*: expected (a lower-case e-mail|an e-mail address or a token subject)/,
        ),
      ]);
    }
  });
});
