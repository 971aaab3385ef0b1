import { shared } from "../fixtures/environments";
import { resolveEnvironments } from "../../config/load";
import { deepMerge } from "../../config/merge";
import { certificateCovers } from "../../config/schema";
import { configProblems as problems, entry, envConfig } from "../helpers/synth";

describe("auth and ingress configuration: bad input is a clear error before synthesis", () => {
  it("refuses a plain-HTTP issuer outside a local test profile", () => {
    expect(problems({ auth: { issuerUrl: "http://login.example.com/realms/ml" } })).toEqual([
      expect.stringMatching(
        /environment "dev": field auth\.issuerUrl = "http:\/\/login\.example\.com\/realms\/ml": expected an https:\/\/ issuer URL \(plain HTTP is only allowed with auth\.localTestProfile\)/,
      ),
    ]);
  });

  it("accepts a plain-HTTP issuer in a local test profile, never in production", () => {
    expect(envConfig("dev", { auth: { issuerUrl: "http://127.0.0.1:8080/oidc", localTestProfile: true } }).auth.issuerUrl).toBe(
      "http://127.0.0.1:8080/oidc",
    );
    expect(problems({ auth: { issuerUrl: "http://127.0.0.1:8080/oidc", localTestProfile: true } }, "prod")).toEqual([
      expect.stringMatching(/environment "prod": field auth\.localTestProfile = true: expected false in a production environment/),
    ]);
  });

  it("refuses something that is not a URL as issuer", () => {
    expect(problems({ auth: { issuerUrl: "login.example.com" } })[0]).toMatch(
      /field auth\.issuerUrl = "login\.example\.com": expected an absolute URL/,
    );
  });

  it("refuses a plain-HTTP extra JWT issuer outside a local test profile", () => {
    expect(problems({ auth: { extraJwtIssuers: [{ issuer: "http://ci.example.com", audience: "mlflow" }] } })).toEqual([
      expect.stringMatching(/field auth\.extraJwtIssuers\.0\.issuer = "http:\/\/ci\.example\.com": expected an https:\/\/ issuer URL/),
    ]);
  });

  it("refuses an environment that allows nobody (empty e-mail domains and groups)", () => {
    expect(problems({ auth: { allowedEmailDomains: [], allowedGroups: [] } })).toEqual([
      expect.stringMatching(
        /field auth\.allowedEmailDomains = \[\]: expected at least one allowed e-mail domain or group \(auth\.allowedGroups\): access is denied by default, say who may sign in/,
      ),
    ]);
  });

  it("accepts groups alone only with the named choice allowAnyEmailDomain, or domains alone", () => {
    expect(
      envConfig("dev", { auth: { allowedEmailDomains: [], allowedGroups: ["ml"], allowAnyEmailDomain: true } }).auth.allowedGroups,
    ).toEqual(["ml"]);
    expect(envConfig("dev").auth.allowedEmailDomains).toEqual(["example.com"]);
    expect(envConfig("dev").auth.allowAnyEmailDomain).toBe(false);
  });

  it("never opens the e-mail domain list as the result of a value: groups alone without allowAnyEmailDomain are refused", () => {
    for (const env of ["dev", "prod"] as const) {
      expect(problems({ auth: { allowedEmailDomains: [], allowedGroups: ["ml"] } }, env)).toEqual([
        expect.stringMatching(
          new RegExp(
            `environment "${env}": field auth\\.allowedEmailDomains = \\[\\]: expected at least one e-mail domain, or auth\\.allowAnyEmailDomain: true`,
          ),
        ),
      ]);
    }
  });

  it('refuses a wildcard written as a domain ("*", "*@x", "**"): the named choice is allowAnyEmailDomain', () => {
    for (const bad of ["*", "**", "*example.com", "a b.com", "@example.com", "exa_mple.com"]) {
      const p = problems({ auth: { allowedEmailDomains: [bad] } });
      expect(p).toHaveLength(1);
      expect(p[0]).toMatch(/environment "dev": field auth\.allowedEmailDomains\.0 = .*: expected a domain such as "example\.com"/);
    }
    expect(problems({ auth: { allowedEmailDomains: ["*"] } })[0]).toMatch(/set auth\.allowAnyEmailDomain: true/);
    expect(
      envConfig("dev", { auth: { allowedEmailDomains: [".example.com", "*.corp.example", "Example.ORG"] } }).auth.allowedEmailDomains,
    ).toHaveLength(3);
  });

  it("refuses allowAnyEmailDomain without groups (anyone at the issuer) and together with a domain list", () => {
    for (const env of ["dev", "prod"] as const) {
      expect(problems({ auth: { allowedEmailDomains: [], allowAnyEmailDomain: true } }, env)).toEqual(
        expect.arrayContaining([
          expect.stringMatching(
            new RegExp(`environment "${env}": field auth\\.allowAnyEmailDomain = true: expected used with auth\\.allowedGroups`),
          ),
        ]),
      );
    }
    expect(problems({ auth: { allowAnyEmailDomain: true, allowedGroups: ["ml"] } })).toEqual([
      expect.stringMatching(/field auth\.allowAnyEmailDomain = true: expected false when auth\.allowedEmailDomains is set/),
    ]);
  });

  it("refuses a hostname the certificate does not cover", () => {
    expect(problems({ hostname: "mlflow.example.org" })).toEqual([
      expect.stringMatching(
        /field hostname = "mlflow\.example\.org": expected a name covered by ingress\.certificateDomains \(\*\.example\.com\)/,
      ),
    ]);
  });

  it("refuses a name two levels below a wildcard certificate (a wildcard covers one label)", () => {
    expect(problems({ hostname: "mlflow.dev.example.com" })[0]).toMatch(
      /field hostname = "mlflow\.dev\.example\.com": expected a name covered by ingress\.certificateDomains/,
    );
    expect(certificateCovers("*.example.com", "mlflow.example.com")).toBe(true);
    expect(certificateCovers("*.example.com", "example.com")).toBe(false);
    expect(certificateCovers("*.example.com", "a.b.example.com")).toBe(false);
    expect(certificateCovers("mlflow.example.com", "mlflow.example.com")).toBe(true);
  });

  it("accepts an exact certificate domain", () => {
    expect(envConfig("dev", { hostname: "mlflow.example.org", ingress: { certificateDomains: ["mlflow.example.org"] } }).hostname).toBe(
      "mlflow.example.org",
    );
  });

  it("refuses a refresh interval as long as the cookie lifetime (the session would expire before any refresh)", () => {
    expect(problems({ auth: { cookieExpireHours: 1, cookieRefreshMinutes: 60 } })).toEqual([
      expect.stringMatching(/field auth\.cookieRefreshMinutes = 60: expected shorter than the cookie lifetime \(60 minutes\)/),
    ]);
    expect(problems({ auth: { cookieExpireHours: 2, cookieRefreshMinutes: 180 } })[0]).toMatch(
      /auth\.cookieRefreshMinutes = 180: expected shorter than the cookie lifetime \(120 minutes\)/,
    );
    expect(envConfig("dev", { auth: { cookieExpireHours: 2, cookieRefreshMinutes: 119 } }).auth.cookieRefreshMinutes).toBe(119);
  });

  it("refuses a cookie lifetime beyond 30 days", () => {
    expect(problems({ auth: { cookieExpireHours: 721 } })[0]).toMatch(
      /field auth\.cookieExpireHours = 721: expected hours: a whole number from 1 to 720/,
    );
  });

  it("refuses gateway-api without a Gateway", () => {
    expect(problems({ ingress: { kind: "gateway-api" } })).toEqual([
      expect.stringMatching(/field ingress\.gatewayRef = nothing: expected the Gateway \(namespace and name\) the HTTPRoute attaches to/),
    ]);
  });

  it("refuses an ALB certificate from another region", () => {
    expect(
      problems({ ingress: { certificateArn: "arn:aws:acm:us-east-1:111111111111:certificate/00000000-0000-0000-0000-000000000001" } }),
    ).toEqual([
      expect.stringMatching(
        /field ingress\.certificateArn = "arn:aws:acm:us-east-1:[^:]*:certificate\/[0-9-]*\.\.\.: expected the ARN of an ACM certificate, .*: it is in us-east-1, not the environment's region \(eu-west-1\): an ALB can only use certificates from its own region/,
      ),
    ]);
  });

  it("refuses a VPC CIDR that is not a CIDR, and an empty list", () => {
    expect(problems({ ingress: { vpcCidrs: ["10.0.0.0"] } })[0]).toMatch(
      /field ingress\.vpcCidrs\.0 = "10\.0\.0\.0": expected an IPv4 VPC CIDR block such as "10\.0\.0\.0\/16"/,
    );
    expect(() =>
      resolveEnvironments(shared, [{ ...deepMerge(entry("dev"), {}), ingress: { ...entry("dev").ingress, vpcCidrs: [] } }]),
    ).toThrow(/ingress\.vpcCidrs/);
  });

  it("refuses a floating oauth2-proxy version", () => {
    expect(problems({ auth: { proxyVersion: "latest" } })[0]).toMatch(
      /field auth\.proxyVersion = "latest": expected an exact oauth2-proxy 7\.x version/,
    );
  });
});
