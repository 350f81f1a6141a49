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

/** A label name and its value. */
type Label = readonly [string, string];

const NO_LABELS: readonly Label[] = [];

/**
 * The most distinct `container_label_<key>` names put on every series when they go there
 * (`EXPORTER_CONTAINER_LABELS_ON_ALL_SERIES`). Each is a label on every series of every container that has it, and a
 * glob such as `*` selects every label of every image; `docker_container_info` carries them all regardless.
 */
export const MAX_SERIES_LABEL_KEYS = 32;

/** What `ContainerLabels` is told besides which keys are selected. */
export interface ContainerLabelsOptions {
  /** Also put the selected labels on every per-container and resource series, as cAdvisor does (default false). */
  onAllSeries?: boolean;
  /** The most distinct label names put on every series (default `MAX_SERIES_LABEL_KEYS`). */
  maxSeriesKeys?: number;
  /** Told once, the first time a label name is left off the series for being one too many. */
  onLeftOff?: (label: string, maxSeriesKeys: number) => void;
}

/**
 * Which container labels become `container_label_<key>` labels, and on which series: every selected one on
 * `docker_container_info`, and with `onAllSeries` also on every other series of the container, as cAdvisor writes
 * them. One per process: families take it as an input (their lines depend on it), and it keeps the pairs for every
 * series of each container while its labels live.
 *
 * On every series go at most `maxSeriesKeys` distinct label names: the first met (at start, in container id order),
 * for the life of the process. A name met once the cap is reached is left off every series but
 * `docker_container_info`, for good, so that no series changes its labels as containers come and go. Because a
 * name's fate is settled the first time it is met, lines made earlier stay right.
 */
export class ContainerLabels {
  readonly matches: (key: string) => boolean;
  readonly onAllSeries: boolean;
  readonly #maxSeriesKeys: number;
  readonly #onLeftOff: ContainerLabelsOptions["onLeftOff"];
  /** The label names that go on every series; no other will once it holds `maxSeriesKeys`. */
  readonly #admitted = new Set<string>();
  #toldLeftOff = false;
  readonly #series = new WeakMap<Readonly<Record<string, string>>, readonly Label[]>();

  constructor(matches: (key: string) => boolean, options: ContainerLabelsOptions = {}) {
    this.matches = matches;
    this.onAllSeries = options.onAllSeries ?? false;
    this.#maxSeriesKeys = options.maxSeriesKeys ?? MAX_SERIES_LABEL_KEYS;
    this.#onLeftOff = options.onLeftOff;
  }

  /**
   * The `container_label_<key>` pairs of `docker_container_info`: one for each selected label, sorted by key; when
   * two keys sanitize to the same name, the alphabetically first key's value is kept.
   */
  info(labels: Readonly<Record<string, string>>): readonly Label[] {
    const byName = new Map<string, string>();
    // Sorting only the selected keys keeps "alphabetically first wins" without sorting every label.
    for (const key of Object.keys(labels).filter((key) => this.matches(key)).sort()) {
      const name = sanitizeLabelName(`container_label_${key}`);
      if (!byName.has(name)) byName.set(name, labels[key]);
    }
    return byName.size === 0 ? NO_LABELS : [...byName];
  }

  /** The pairs every other series of a container with `labels` carries: none unless `onAllSeries`. */
  series(labels: Readonly<Record<string, string>>): readonly Label[] {
    if (!this.onAllSeries) return NO_LABELS;
    let pairs = this.#series.get(labels);
    if (pairs === undefined) {
      const info = this.info(labels);
      pairs = info.every(([name]) => this.#admits(name)) ? info : info.filter(([name]) => this.#admits(name));
      this.#series.set(labels, pairs);
    }
    return pairs;
  }

  /** Whether label `name` goes on every series, settling it the first time it is asked about. */
  #admits(name: string): boolean {
    if (this.#admitted.has(name)) return true;
    if (this.#admitted.size < this.#maxSeriesKeys) {
      this.#admitted.add(name);
      return true;
    }
    if (!this.#toldLeftOff) this.#onLeftOff?.(name, this.#maxSeriesKeys);
    this.#toldLeftOff = true;
    return false;
  }
}
