/**
 * The string fields several configuration sections share, defined once: an image reference, a DNS
 * label, a DNS hostname, an e-mail address. The patterns a construct checks too (DNS label, e-mail) live
 * in constructs/names.ts; config may import that, never the other way round.
 */
import { z } from "zod";
import { DNS_LABEL, EMAIL } from "../constructs/core/names";

/**
 * A container image reference with an exact tag or digest: `registry[:port]/path:tag` or
 * `...@sha256:<64 hex>`, lower-case repository. Never `latest` (a moving tag is never deployed).
 */
export const IMAGE_REF = /^[a-z0-9./_-]+(:[0-9]+)?\/?[a-z0-9./_-]*(:[A-Za-z0-9._-]{1,128}|@sha256:[a-f0-9]{64})$/;

/** A lower-case DNS hostname of at least two labels (no scheme, port or path). */
export const HOSTNAME = /^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)+$/;

/** An image with an exact tag or digest; `example` (quoted) is the one the error names for this field. */
export function imageRef(example: string) {
  return z
    .string()
    .regex(IMAGE_REF, { error: `an image reference with an exact tag or digest, such as ${example}` })
    .refine((v) => !/:latest$/.test(v), { error: 'an exact tag or digest, not "latest"' });
}

/** A DNS label: namespace, Secret, project and environment names. */
export const dnsLabel = z.string().regex(DNS_LABEL, { error: "a DNS label: lower-case letters, digits and '-', at most 63 characters" });

/** A lower-case DNS hostname; `example` (quoted) is the one the error names, with `detail` after it. */
export function hostname(example: string, detail = "") {
  return z.string().regex(HOSTNAME, { error: `a lower-case DNS hostname such as ${example}${detail}` });
}

/** An e-mail address. */
export const email = z.string().regex(EMAIL, { error: 'an e-mail address such as "team@example.com"' });
