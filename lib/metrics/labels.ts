/**
 * Container labels as label names and values: the Compose labels the compatibility series carries, the label-key
 * globs of EXPORTER_CONTAINER_LABELS, and which labels a record keeps. Pure.
 */
import { globMatches } from "../shared/mod.ts";

/**
 * The ten Docker Compose labels the compatibility series `start_time_seconds_container` carries, spelled as
 * Compose writes them; sanitized they give `container_label_com_docker_compose_config_hash` and so on.
 */
export const COMPOSE_LABEL_KEYS = [
  "config-hash",
  "container-number",
  "depends_on",
  "image",
  "oneoff",
  "project",
  "project.config_files",
  "project.working_dir",
  "service",
  "version",
].map((suffix) => `com.docker.compose.${suffix}`);

/**
 * The value of Compose label `key` (`com.docker.compose.<name>`), else of podman-compose's
 * `io.podman.compose.<name>`, else "". podman-compose writes its project and service under the Docker names too,
 * but its config hash and version only under its own.
 * @example composeLabel({ "io.podman.compose.version": "1.2.0" }, "com.docker.compose.version") // "1.2.0"
 */
export function composeLabel(labels: Readonly<Record<string, string>>, key: string): string {
  const value = labels[key];
  if (value !== undefined) return value;
  return labels[PODMAN_KEYS.get(key) ?? key.replace(/^com\.docker\.compose\./, "io.podman.compose.")] ?? "";
}

/** podman-compose's key for each Compose key, worked out once rather than per container and scrape. */
const PODMAN_KEYS = new Map(
  [...COMPOSE_LABEL_KEYS, "com.docker.compose.project", "com.docker.compose.service"].map((key) =>
    [key, key.replace(/^com\.docker\.compose\./, "io.podman.compose.")] as const
  ),
);

/** Every label key `composeLabel` reads: the Compose keys and podman-compose's twins of them. */
const COMPOSE_KEYS_READ: ReadonlySet<string> = new Set([...PODMAN_KEYS.keys(), ...PODMAN_KEYS.values()]);

/**
 * Whether some family exports container label `key`: the Compose labels (or their podman-compose twins) and those
 * `labelMatches` selects for `docker_container_info`. The tracker keeps only these labels in its records.
 * @example exportedLabel(labelKeyMatcher(["team"]))("com.docker.compose.project") // true
 */
export function exportedLabel(labelMatches: (key: string) => boolean): (key: string) => boolean {
  return (key) => COMPOSE_KEYS_READ.has(key) || labelMatches(key);
}

/** Makes a label key usable in a label name: `com.docker.compose.project` → `com_docker_compose_project`. */
export function sanitizeLabelName(key: string): string {
  const name = key.replace(/[^a-zA-Z0-9_]/g, "_");
  return /^[0-9]/.test(name) ? `_${name}` : name;
}

/**
 * Builds a matcher for label-key globs (`*` any run, `?` one character; everything else literal). Keys without a
 * wildcard are looked up in a set; the rest go through `globMatches`, never a regular expression, whose
 * backtracking on a glob with many `*` grows with a power of the key's length.
 */
export function labelKeyMatcher(globs: readonly string[]): (key: string) => boolean {
  if (globs.length === 0) return () => false;
  const exact = new Set(globs.filter((glob) => !/[*?]/.test(glob)));
  const patterns = globs.filter((glob) => /[*?]/.test(glob));
  return (key) => exact.has(key) || patterns.some((glob) => globMatches(glob, key));
}
