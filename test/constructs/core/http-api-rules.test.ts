/**
 * API Gateway's rules for HTTP API parameter mapping (constructs/core/http-api-rules.ts, from
 * AWS's "Transform API requests and responses for HTTP APIs"): the table and the check built on it. The
 * check runs over every synthesized stack in test/stacks/aws-rules.test.ts.
 */
import { HTTP_API_RESERVED_HEADERS, isReservedHttpApiHeader, requestParameterProblems } from "../../../constructs/core/http-api-rules";

describe("HTTP API reserved headers", () => {
  test.each([
    "Authorization",
    "authorization",
    "Connection",
    "Content-Encoding",
    "Content-Length",
    "Content-Location",
    "Forwarded",
    "Keep-Alive",
    "Origin",
    "Proxy-Authenticate",
    "Proxy-Authorization",
    "TE",
    "Trailers",
    "Transfer-Encoding",
    "Upgrade",
    "X-Forwarded-For",
    "X-Forwarded-Host",
    "X-Forwarded-Proto",
    "Via",
    "Access-Control-Allow-Origin",
    "apigw-requestid",
    "X-Amz-Date",
    "x-amzn-trace-id",
  ])("%s is reserved", (h) => expect(isReservedHttpApiHeader(h)).toBe(true));

  test.each(["X-Caller-Id", "X-Model-Endpoint", "X-Request-Id", "X-Forwarded-Email", "X-Caller-Groups", "Accept"])(
    "%s may be mapped",
    (h) => {
      expect(isReservedHttpApiHeader(h)).toBe(false);
    },
  );

  test("the table holds the 18 names and 4 prefixes AWS lists", () => {
    expect(HTTP_API_RESERVED_HEADERS.exact).toHaveLength(18);
    expect(HTTP_API_RESERVED_HEADERS.prefixes).toHaveLength(4);
  });
});

describe("request parameter mapping", () => {
  test("the model API's mapping passes", () => {
    expect(
      requestParameterProblems({
        "overwrite:path": "/predict",
        "overwrite:header.X-Model-Endpoint": "iris",
        "overwrite:header.X-Caller-Id": "$context.authorizer.claims.sub",
        "overwrite:header.X-Request-Id": "$context.requestId",
        "append:querystring.v": "${request.path.v}-${stageVariables.suffix}",
        "overwrite:header.X-Original": "$request.header.X-Other",
      }),
    ).toEqual([]);
  });

  test.each([
    [{ "remove:header.Authorization": "''" }, /"remove:header.Authorization": Authorization is a reserved header/],
    [{ "overwrite:header.X-Forwarded-For": "$context.identity.sourceIp" }, /X-Forwarded-For is a reserved header/],
    [{ "append:header.x-amzn-foo": "1" }, /x-amzn-foo is a reserved header/],
    [
      { "overwrite:header.X-Token": "$request.header.Authorization" },
      /Authorization is a reserved header that HTTP API parameter mapping may not read/,
    ],
    [{ "replace:header.X-A": "1" }, /"replace:header.X-A" is not a request parameter mapping key/],
    [{ "remove:path": "''" }, /"remove:path" is not a request parameter mapping key/],
    [{ "overwrite:header.X A": "1" }, /is not a request parameter mapping key/],
    [{ "overwrite:header.X-Groups": "$context.authorizer.claims.cognito:groups" }, /is not a selection expression API Gateway knows/],
    [{ "overwrite:header.X-Groups": "$context.authorizer.claims.https://example.com/groups" }, /is not a selection expression/],
  ])("%j is refused", (params, message) => {
    const problems = requestParameterProblems(params);
    expect(problems.join("\n")).toMatch(message);
  });
});
