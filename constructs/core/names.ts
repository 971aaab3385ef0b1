/**
 * Name patterns shared by the constructs and the configuration schema, defined once.
 */

/**
 * An RFC 1123 DNS label, as Kubernetes requires for namespace names and (here) service account
 * names: 1-63 lower-case letters, digits and '-', starting and ending with a letter or digit.
 */
export const DNS_LABEL = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;

/** An e-mail address, loosely: something, '@', a domain with a dot; no white space, one '@'. */
export const EMAIL = /^[^@\s]+@[^@\s]+\.[^@\s]+$/;
