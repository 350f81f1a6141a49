/**
 * The settings: one table of every setting with its default, help and parser, read from flags and the
 * environment; and the web config file (TLS and basic auth) with the files it names.
 *
 * May import `docker/` (the endpoint), `resources/` (the modes) and `shared/` (log levels).
 * @module
 */
export {
  commandFor,
  ENV_PERMISSION,
  IMAGE_MOUNTS,
  missingOf,
  needsOf,
  PermissionNeeded,
  permissionsOf,
  START_PERMISSIONS,
  unionOf,
  withRuntimeDir,
} from "./permissions.ts";
export type { Need, PermissionQuery, Permissions } from "./permissions.ts";
export { ConfigError, helpText, parseConfig, socketCandidates } from "./settings.ts";
export type { Sources } from "./settings.ts";
export type { Config } from "./settings.ts";
export { bcryptCost, loadWebConfig } from "./web_config.ts";
