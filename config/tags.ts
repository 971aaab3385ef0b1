import type { EnvironmentConfig } from "./schema";

/**
 * The tags every AWS resource of an environment carries: the configured ones, then the three the stack
 * sets itself (STACK_TAGS in config/schema.ts), which configuration cannot override. The AWS provider's
 * default tags, and the tags annotation of the load balancers the controller creates, use this one map.
 */
export function defaultTags(config: EnvironmentConfig): Record<string, string> {
  return { ...config.tags, project: config.project, environment: config.name, "managed-by": "cdktf" };
}
