/**
 * The bottom layer: structured logging and its rate-limited line, byte helpers, globs and the container filter built
 * on them, network addresses, the release version.
 *
 * Imports nothing of the exporter.
 * @module
 */
export { hostPort } from "./address.ts";
export { concatBytes } from "./bytes.ts";
export { ContainerFilter, IGNORE_LABEL, parseContainerPatterns } from "./container_filter.ts";
export type { ContainerPattern } from "./container_filter.ts";
export { globMatches } from "./glob.ts";
export { RateLimitedLog } from "./log_limiter.ts";
export { createLogger, LOG_LEVELS } from "./logger.ts";
export type { Logger, LogLevel } from "./logger.ts";
export { VERSION } from "./version.ts";
