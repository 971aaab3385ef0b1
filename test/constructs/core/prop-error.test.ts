/** PropError: one message style for every prop a construct refuses, the value rendered safely. */
import { App, TerraformStack, Token } from "cdktf";
import { Construct } from "constructs";
import { constructPathOf, fieldOfProp, MAX_RENDERED_VALUE, PropError, REDACTED, renderValue } from "../../../constructs/core/prop-error";

describe("PropError", () => {
  const stack = new TerraformStack(new App(), "mlflow-dev");
  const store = new Construct(stack, "backend_store");

  it("says construct path, prop, value and what is expected, in one style", () => {
    const err = new PropError(store, "instanceClass", "m5.large", 'an RDS instance class such as "db.t4g.micro"');
    expect(err).toBeInstanceOf(Error);
    expect(err.name).toBe("PropError");
    expect(err.message).toBe(
      'mlflow-dev/backend_store: instanceClass is "m5.large": expected an RDS instance class such as "db.t4g.micro"',
    );
    expect(err).toMatchObject({ constructPath: "mlflow-dev/backend_store", prop: "instanceClass", value: "m5.large", secret: false });
  });

  it('takes a path instead of a construct, and names a "Default" child by its parent', () => {
    expect(new PropError("releaseTag", "version", "x", "a version").message).toBe('releaseTag: version is "x": expected a version');
    const role = new Construct(store, "Default");
    expect(new PropError(role, "roleName", "", "a role name").constructPath).toBe("mlflow-dev/backend_store");
    expect(constructPathOf("a/b/Default/Default")).toBe("a/b");
    expect(constructPathOf("a/Defaults")).toBe("a/Defaults");
  });

  it("redacts a prop that can carry a secret: neither in the message nor on the error", () => {
    const hook = "https://hooks.slack.com/services/T000/B000/abcdefsecret";
    const err = new PropError(store, "alarmWebhookUrl", hook, "an https:// URL", { secret: true });
    expect(err.message).toBe(`mlflow-dev/backend_store: alarmWebhookUrl is ${REDACTED}: expected an https:// URL`);
    expect(JSON.stringify({ ...err, message: err.message, stack: err.stack })).not.toContain("abcdefsecret");
    expect(err.value).toBe(REDACTED);
    expect(err.secret).toBe(true);
  });
});

describe("renderValue", () => {
  it("renders JSON, nothing as unset", () => {
    expect(renderValue("a")).toBe('"a"');
    expect(renderValue(3)).toBe("3");
    expect(renderValue(["x", 1])).toBe('["x",1]');
    expect(renderValue({ min: 3, max: 2 })).toBe('{"min":3,"max":2}');
    expect(renderValue(undefined)).toBe("unset");
    expect(renderValue(null)).toBe("null");
    expect(renderValue(Number.NaN)).toBe("NaN");
    expect(renderValue(-Infinity)).toBe("-Infinity");
    expect(renderValue(10n)).toBe('"10"');
  });

  it("cuts a long value", () => {
    const shown = renderValue("x".repeat(500));
    expect(shown).toHaveLength(MAX_RENDERED_VALUE);
    expect(shown.endsWith("...")).toBe(true);
  });

  it("never throws: a cycle or a function is named, not serialised", () => {
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    expect(renderValue(cyclic)).toBe("an object");
    expect(renderValue(() => 1)).toBe("a function");
  });

  it("says a deploy-time value is one, rather than printing the token", () => {
    for (const t of [Token.asString({ a: 1 }), Token.asNumber({ a: 1 }), Token.asList({ a: 1 })]) {
      expect(renderValue(t)).toBe("a value known only at deploy time");
    }
  });
});

describe("fieldOfProp", () => {
  const map = {
    lifecycle: "artifacts",
    "archive.transitionDays": "registry.retention.graceDays",
    archive: null,
    bucketName: "artifacts.bucketName",
  };

  it("takes the longest listed prefix, with the rest of the prop nested under its field", () => {
    expect(fieldOfProp(map, "bucketName")).toEqual({ key: "bucketName", field: "artifacts.bucketName" });
    expect(fieldOfProp(map, "lifecycle.expireDays")).toEqual({ key: "lifecycle", field: "artifacts.expireDays" });
    expect(fieldOfProp(map, "archive.transitionDays")).toEqual({ key: "archive.transitionDays", field: "registry.retention.graceDays" });
    expect(fieldOfProp(map, "archive.tag.key")).toEqual({ key: "archive", field: null });
  });

  it("ignores list indices and map keys; undefined when nothing is listed", () => {
    expect(fieldOfProp(map, "lifecycle[2].days")).toEqual({ key: "lifecycle", field: "artifacts.days" });
    expect(fieldOfProp(map, "prefix")).toBeUndefined();
    expect(fieldOfProp(map, "bucket")).toBeUndefined();
  });
});
