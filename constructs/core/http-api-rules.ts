/**
 * API Gateway's own rules for HTTP API (API Gateway v2) settings that a synthesis accepts and AWS refuses
 * at deploy time, written down once with their sources, as pure functions. ModelApi calls them before it
 * creates anything, and the tests run them over every synthesized stack, so a value AWS would refuse
 * fails at synth instead of in the middle of a first apply. No resources, no provider imports.
 */

/** Where each rule below comes from. */
export const HTTP_API_SOURCES = {
  parameterMapping:
    'https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-parameter-mapping.html (Transform API requests and responses for HTTP APIs: keys, values, "Reserved headers"); awsdocs/amazon-api-gateway-developer-guide doc_source/http-api-parameter-mapping.md',
  jwtAuthorizer:
    'https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-jwt-authorizer.html ("iss - Must match the issuer that is configured for the authorizer")',
  stageRouteSettings:
    'CreateStage answers NotFoundException "Unable to find Route by key <key> within the provided RouteSettings" for a route that does not exist yet (https://github.com/terraform-aws-modules/terraform-aws-apigateway-v2/pull/80; https://github.com/aws/serverless-application-model/issues/2479): the stage must be created after its routes',
} as const;

/**
 * Headers HTTP API parameter mapping may not touch, in requests or responses (AWS: "You can't configure
 * request or response mappings for these headers"). Names compare case-insensitively; the `*` entries are
 * prefixes.
 */
export const HTTP_API_RESERVED_HEADERS = {
  exact: [
    "authorization",
    "connection",
    "content-encoding",
    "content-length",
    "content-location",
    "forwarded",
    "keep-alive",
    "origin",
    "proxy-authenticate",
    "proxy-authorization",
    "te",
    "trailers",
    "transfer-encoding",
    "upgrade",
    "x-forwarded-for",
    "x-forwarded-host",
    "x-forwarded-proto",
    "via",
  ],
  prefixes: ["access-control-", "apigw-", "x-amz-", "x-amzn-"],
} as const;

/** True when parameter mapping may not name `header` (HTTP_API_RESERVED_HEADERS). */
export function isReservedHttpApiHeader(header: string): boolean {
  const h = header.toLowerCase();
  return (
    (HTTP_API_RESERVED_HEADERS.exact as readonly string[]).includes(h) || HTTP_API_RESERVED_HEADERS.prefixes.some((p) => h.startsWith(p))
  );
}

/** A request parameter mapping key: `append|overwrite|remove:header.<name>`, `...:querystring.<name>`, `overwrite:path`. */
const REQUEST_KEY = /^(?:(append|overwrite|remove):(header|querystring)\.([^\s.]+)|overwrite:path)$/;
/** An HTTP header name (RFC 9110 token). */
const HEADER_NAME = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
/**
 * A selection expression of a mapping value: `$request.header|querystring|body|path.<name>`, `$request.path`,
 * `$context.<variable>` (only `.` and `_` as special characters), `$stageVariables.<name>`, each also as
 * `${...}` inside a longer string.
 */
const VARIABLE =
  /^(request\.(header|querystring|path)\.[A-Za-z0-9_.-]+|request\.body(\.[A-Za-z0-9_.[\]'"-]+)?|request\.path|context\.[A-Za-z0-9_.]+|stageVariables\.[A-Za-z0-9_]+)$/;

/**
 * What is wrong with an integration's `request_parameters` in AWS's eyes (empty when nothing is). Each
 * problem names the key and what AWS accepts instead.
 */
export function requestParameterProblems(params: Readonly<Record<string, string>>): string[] {
  const problems: string[] = [];
  for (const [key, value] of Object.entries(params)) {
    const m = REQUEST_KEY.exec(key);
    if (!m) {
      problems.push(
        `"${key}" is not a request parameter mapping key (append|overwrite|remove:header.<name>, append|overwrite|remove:querystring.<name>, or overwrite:path)`,
      );
      continue;
    }
    if (m[2] === "header") {
      if (!HEADER_NAME.test(m[3])) problems.push(`"${key}": "${m[3]}" is not an HTTP header name`);
      else if (isReservedHttpApiHeader(m[3]))
        problems.push(`"${key}": ${m[3]} is a reserved header that HTTP API parameter mapping may not append, overwrite or remove`);
    }
    for (const expr of selectionExpressions(value)) {
      if (!VARIABLE.test(expr))
        problems.push(
          `"${key}": the value's "$${expr}" is not a selection expression API Gateway knows ($request.header|querystring|body|path..., $context.<variable> with only '.' and '_', $stageVariables.<name>)`,
        );
      const header = /^request\.header\.(.+)$/.exec(expr);
      if (header && isReservedHttpApiHeader(header[1]))
        problems.push(`"${key}": ${header[1]} is a reserved header that HTTP API parameter mapping may not read`);
    }
  }
  return problems;
}

/** The variables a mapping value refers to: `$a.b` as the whole value, or each `${a.b}` inside it. */
function selectionExpressions(value: string): string[] {
  const braced = [...value.matchAll(/\$\{([^}]*)\}/g)].map((m) => m[1]);
  if (braced.length > 0) return braced;
  return value.startsWith("$") ? [value.slice(1)] : [];
}
