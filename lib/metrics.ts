/**
 * Turns what the exporter knows (registry, engine, its own stats) into metric families.
 * Pure: every input is an argument. Metric and label names are defined, and checked, here.
 */
import { CONTAINER_STATES, type ContainerRecord, HEALTH_STATES } from "./container_registry.ts";
import { formatSampleGroup, labelSortKey, type MetricFamily, type Sample } from "./exposition.ts";
import type { EngineSummary, ExporterStats } from "./exporter_stats.ts";
import type { ProcessSample } from "./process_metrics.ts";

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

const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

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

/**
 * Whether `text` matches `glob` (`*` any run of characters, `?` any one). Greedy, going back only to the character
 * after the last `*`'s match, so it takes at most about length(glob) × length(text) steps.
 * @example globMatches("com.example.*", "com.example.team") // true
 */
export function globMatches(glob: string, text: string): boolean {
  let g = 0;
  let t = 0;
  /** Where the last `*` seen is in the glob, and where in the text its match ends for now; -1 before any. */
  let star = -1;
  let starText = 0;
  while (t < text.length) {
    if (g < glob.length && (glob[g] === "?" || (glob[g] !== "*" && glob[g] === text[t]))) {
      g++;
      t++;
    } else if (g < glob.length && glob[g] === "*") {
      star = g++;
      starText = t;
    } else if (star >= 0) {
      // Let the last `*` take one more character, and try the rest of the glob from there.
      g = star + 1;
      t = ++starText;
    } else {
      return false;
    }
  }
  while (g < glob.length && glob[g] === "*") g++;
  return g === glob.length;
}

/** Builds a family after checking its metric and label names (and that a counter ends in `_total`). */
export function family(name: string, type: MetricFamily["type"], help: string, samples: Sample[]): MetricFamily {
  checkFamilyName(name, type);
  checkLabelNames(name, samples, new Set());
  return { name, type, help, samples };
}

function checkFamilyName(name: string, type: MetricFamily["type"]): void {
  if (!METRIC_NAME.test(name)) throw new Error(`invalid metric name ${name}`);
  if (type === "counter" && !name.endsWith("_total")) throw new Error(`counter ${name} must end in _total`);
}

/** Checks the label names of `samples`, skipping those in `checked` and adding the rest. */
function checkLabelNames(name: string, samples: readonly Sample[], checked: Set<string>): void {
  // Each distinct name is checked once: a family of 10,000 containers repeats the same few names.
  for (let i = 0; i < samples.length; i++) {
    const labels = samples[i].labels;
    for (let j = 0; j < labels.length; j++) {
      const label = labels[j][0];
      if (checked.has(label)) continue;
      if (!LABEL_NAME.test(label) || label.startsWith("__")) throw new Error(`invalid label name ${label} on ${name}`);
      checked.add(label);
    }
  }
}

/** Sorts items by their `id` as the lines of a family whose first label is `id` sort (see `labelSortKey`). */
export function sortById<T extends { readonly id: string }>(items: readonly T[]): T[] {
  const keyed = items.map((item) => ({ key: labelSortKey(item.id), item }));
  keyed.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  return keyed.map(({ item }) => item);
}

/**
 * A family with a group of samples per item, made only while it is formatted (`MetricFamily.groups`): at 10,000
 * containers all families' samples held at once take tens of MB. `sorted` must be in `sortById` order and every
 * sample must start with its item's `id` label. `samples` makes them all, for callers that want them at once.
 * `inputs` (see `MetricFamily.inputs`) must hold everything `samplesOf` reads besides what stays fixed for the
 * life of the process. With `keep`, the family is formatted from each item's lines as `keep` gives them
 * (`MetricFamily.blocks`), and `keep` calls the function it is given for the lines it does not have.
 */
export function groupedFamily<T extends { readonly id: string }>(
  name: string,
  type: MetricFamily["type"],
  help: string,
  sorted: readonly T[],
  samplesOf: (item: T) => Sample[],
  inputs?: readonly unknown[],
  keep?: (item: T, format: () => string) => string,
): MetricFamily {
  checkFamilyName(name, type);
  function* groups(checked = new Set<string>()): Generator<Sample[]> {
    for (const item of sorted) {
      const samples = samplesOf(item);
      if (samples.length === 0) continue;
      checkLabelNames(name, samples, checked);
      yield samples;
    }
  }
  const family: MetricFamily = {
    name,
    type,
    help,
    groups,
    get samples() {
      return Array.from(groups()).flat();
    },
    inputs,
  };
  if (keep) {
    family.blocks = function* () {
      const checked = new Set<string>();
      for (const item of sorted) {
        yield keep(item, () => {
          const samples = samplesOf(item);
          checkLabelNames(name, samples, checked);
          return formatSampleGroup(name, samples);
        });
      }
    };
  }
  return family;
}

/**
 * Each container's sample lines in each container family, kept for as long as its record lives. The registry
 * replaces a record rather than change it, so a record's lines stay right: after an event only the changed
 * container's lines are formatted, and a family is the kept lines joined. (At 200 containers, formatting the
 * container families made up 7-9 of the 16 ms from `docker run` returning to the series on /metrics, and
 * 13-18 of 24 with gzip, deflating included.) They take as much memory as the families' text, 2-3 KiB a
 * container, so they are kept only up to `maxContainers` (at 10,000 containers, RSS after the gzip scrapes went
 * from 82 to 158 MiB).
 */
export class ContainerLines {
  #byRecord = new WeakMap<ContainerRecord, string[]>();
  #labelMatches: ((key: string) => boolean) | undefined;

  /**
   * `maxContainers`: the most containers whose lines are kept (default 2,000: some 6 MiB, more for a while when
   * records are replaced, until the records they replaced are collected).
   */
  constructor(readonly maxContainers = 2_000) {}

  /**
   * Whether lines are kept for `count` containers formatted with `labelMatches`. Over `maxContainers` it drops those
   * it kept, and so it does for another label matcher than before: the lines depend on it too.
   */
  keepsFor(count: number, labelMatches: (key: string) => boolean): boolean {
    const keeps = count <= this.maxContainers;
    if (keeps && labelMatches === this.#labelMatches) return true;
    // Nothing kept is of use now: too many containers, or lines made with another matcher.
    this.#byRecord = new WeakMap();
    this.#labelMatches = keeps ? labelMatches : undefined;
    return keeps;
  }

  /** The lines of the family at `index` in `containerFamilies` for `record`, from `format` when not kept. */
  get(record: ContainerRecord, index: number, format: () => string): string {
    let kept = this.#byRecord.get(record);
    if (!kept) this.#byRecord.set(record, kept = []);
    return kept[index] ??= format();
  }
}

/** The compatibility series' compose labels: the key read and the label name written. */
const COMPAT_LABELS = COMPOSE_LABEL_KEYS.map((key) => [key, sanitizeLabelName(`container_label_${key}`)] as const);
/** The label pair of each state and health series, shared by every container's samples. */
const STATE_LABELS = CONTAINER_STATES.map((s) => ["state", s] as const);
const HEALTH_LABELS = HEALTH_STATES.map((h) => ["status", h] as const);

/** Containers `docker ps` lists (without `-a`): the ones the compatibility series covers. */
function listedByDockerPs(record: ContainerRecord): boolean {
  return record.state === "running" || record.state === "paused" || record.state === "restarting";
}

type Label = readonly [string, string];
const idName = (c: ContainerRecord): Label[] => [["id", c.id], ["name", c.name]];
/** One sample labelled with the container's id and name, or none when `value` is undefined. */
const one = (c: ContainerRecord, value: number | undefined): Sample[] =>
  value === undefined ? [] : [{ labels: idName(c), value }];
/** One sample per possible value of an enum label: 1 for `current`, 0 for the others. */
const oneOf = (c: ContainerRecord, pairs: readonly Label[], current: string): Sample[] =>
  pairs.map((pair) => ({ labels: [...idName(c), pair], value: current === pair[1] ? 1 : 0 }));

/**
 * The per-container families, made a container at a time as they are formatted (see `groupedFamily`), from the
 * lines `lines` keeps when it is given and keeps lines for as many containers (and into it).
 * `labelMatches` picks which container labels go on `docker_container_info`.
 * When two selected keys sanitize to the same label name, the alphabetically first key wins.
 */
export function containerFamilies(
  containers: readonly ContainerRecord[],
  labelMatches: (key: string) => boolean,
  lines?: ContainerLines,
): MetricFamily[] {
  const sorted = sortById(containers);
  // Records are replaced, never changed in place, so the same records mean the same lines. The label matcher is
  // an input too: it decides docker_container_info's labels (and is the same function for a process's life).
  const inputs = [labelMatches, ...sorted];
  const kept = lines?.keepsFor(sorted.length, labelMatches) ? lines : undefined;
  let index = 0;
  const perContainer = (
    name: string,
    type: MetricFamily["type"],
    help: string,
    samplesOf: (c: ContainerRecord) => Sample[],
  ) => {
    const at = index++;
    const keep = kept && ((c: ContainerRecord, format: () => string) => kept.get(c, at, format));
    return groupedFamily(name, type, help, sorted, samplesOf, inputs, keep);
  };

  return [
    perContainer(
      "start_time_seconds_container",
      "gauge",
      "Start time of a running, paused or restarting container in Unix seconds (compatible with decustom_go).",
      (c) => {
        if (!listedByDockerPs(c) || c.startedSeconds === undefined) return [];
        const labels: Label[] = [...idName(c), ["image", c.image]];
        for (const [key, label] of COMPAT_LABELS) labels.push([label, composeLabel(c.labels, key)]);
        return [{ labels, value: c.startedSeconds }];
      },
    ),
    perContainer(
      "docker_container_info",
      "gauge",
      "Always 1; labels describe the container (image, compose project and service, selected container labels).",
      (c) => {
        const extra = new Map<string, string>();
        // Sorting only the selected keys keeps "alphabetically first wins" without sorting every label.
        for (const key of Object.keys(c.labels).filter((key) => labelMatches(key)).sort()) {
          const label = sanitizeLabelName(`container_label_${key}`);
          if (!extra.has(label)) extra.set(label, c.labels[key]);
        }
        return [{
          labels: [
            ...idName(c),
            ["image", c.image],
            ["image_id", c.imageId],
            ["compose_project", composeLabel(c.labels, "com.docker.compose.project")],
            ["compose_service", composeLabel(c.labels, "com.docker.compose.service")],
            ...extra,
          ],
          value: 1,
        }];
      },
    ),
    perContainer(
      "docker_container_state",
      "gauge",
      "1 for the container's current state, 0 for the others.",
      (c) => oneOf(c, STATE_LABELS, c.state),
    ),
    perContainer(
      "docker_container_start_time_seconds",
      "gauge",
      "When the container last started, in Unix seconds.",
      (c) => one(c, c.startedSeconds),
    ),
    perContainer(
      "docker_container_finished_time_seconds",
      "gauge",
      "When the container last stopped, in Unix seconds.",
      (c) => one(c, c.finishedSeconds),
    ),
    perContainer(
      "docker_container_created_seconds",
      "gauge",
      "When the container was created, in Unix seconds.",
      (c) => one(c, c.createdSeconds),
    ),
    perContainer(
      "docker_container_restarts_total",
      "counter",
      "Times the engine restarted the container under its restart policy (RestartCount).",
      (c) => one(c, c.restartCount),
    ),
    perContainer(
      "docker_container_exit_code",
      "gauge",
      "Exit code of the container's last run; 0 while it runs and if it never exited.",
      (c) => one(c, c.exitCode),
    ),
    perContainer(
      "docker_container_oom_killed",
      "gauge",
      "1 if the container's last run was killed for lack of memory.",
      (c) => one(c, c.oomKilled ? 1 : 0),
    ),
    perContainer(
      "docker_container_health_status",
      "gauge",
      "1 for the container's current health (none: no HEALTHCHECK), 0 for the others.",
      (c) => oneOf(c, HEALTH_LABELS, c.health),
    ),
    perContainer(
      "docker_container_health_failing_streak",
      "gauge",
      "Consecutive failed health checks, as of the last health status change (the engine sends no event per check).",
      (c) => one(c, c.health === "none" ? undefined : c.failingStreak),
    ),
  ];
}

/** `server_hostname` and `docker_engine_info`; empty families while the engine was never reached. */
export function engineFamilies(engine: EngineSummary | undefined): MetricFamily[] {
  return [
    family(
      "server_hostname",
      "gauge",
      "Always 1; the hostname label is the Docker host's name (compatible with decustom_go).",
      engine ? [{ labels: [["hostname", engine.hostname]], value: 1 }] : [],
    ),
    family(
      "docker_engine_info",
      "gauge",
      "Always 1; labels describe the Docker engine.",
      engine
        ? [{
          labels: [
            ["version", engine.version],
            ["api_version", engine.apiVersion],
            ["os", engine.os],
            ["kernel_version", engine.kernelVersion],
            ["hostname", engine.hostname],
          ],
          value: 1,
        }]
        : [],
    ),
  ];
}

/** Static facts about this build, for `docker_exporter_build_info`. */
export interface BuildInfo {
  version: string;
  denoVersion: string;
}

/**
 * The exporter's own families, including the standard `process_*` ones: rendered again whenever one of their values
 * changed, at most every 100 ms for the process's (see the live revision in exporter.ts).
 */
export function exporterFamilies(
  stats: ExporterStats,
  containersTracked: number,
  build: BuildInfo,
  process: ProcessSample,
): MetricFamily[] {
  const byKey = (label: string, map: ReadonlyMap<string, number>): Sample[] =>
    Array.from(map, ([key, value]) => ({ labels: [[label, key]] as const, value }));
  const one = (value: number): Sample[] => [{ labels: [], value }];
  const families = [
    family(
      "docker_up",
      "gauge",
      "1 if the Docker engine answered the exporter's last call, else 0.",
      one(stats.engineUp ? 1 : 0),
    ),
    family(
      "docker_exporter_build_info",
      "gauge",
      "Always 1; labels describe the exporter build.",
      [{ labels: [["version", build.version], ["deno_version", build.denoVersion]], value: 1 }],
    ),
    family(
      "docker_exporter_events_total",
      "counter",
      "Container events received from the engine, by action: each action the exporter follows, and other for " +
        "the rest.",
      byKey("action", stats.eventsByAction),
    ),
    family(
      "docker_exporter_event_decode_errors_total",
      "counter",
      "Pieces of the event stream that were not usable container events.",
      one(stats.eventDecodeErrors),
    ),
    family(
      "docker_exporter_event_stream_reconnects_total",
      "counter",
      "Attempts to open the event stream again after it ended, failed or could not be opened.",
      one(stats.eventStreamReconnects),
    ),
    family(
      "docker_exporter_engine_api_errors_total",
      "counter",
      "Failed calls to the Docker Engine API, by operation.",
      byKey("operation", stats.apiErrorsByOperation),
    ),
    family(
      "docker_exporter_last_event_timestamp_seconds",
      "gauge",
      "Engine time of the last container event received, in Unix seconds.",
      stats.lastEventMs === undefined ? [] : one(stats.lastEventMs / 1000),
    ),
    family(
      "docker_exporter_refresh_duration_seconds",
      "gauge",
      "How long the last full refresh (list and inspects) took.",
      stats.lastRefreshDurationMs === undefined ? [] : one(stats.lastRefreshDurationMs / 1000),
    ),
    family(
      "docker_exporter_http_auth_failures_total",
      "counter",
      "Requests refused for missing or wrong basic-auth credentials.",
      one(stats.authFailures),
    ),
    family(
      "docker_exporter_http_refusals_total",
      "counter",
      "Connections and requests the HTTP server turned away, by reason: connection_limit, evicted, header_timeout, " +
        "write_timeout, bad_request, auth_busy.",
      byKey("reason", stats.httpRefusals),
    ),
    family(
      "docker_exporter_http_accept_errors_total",
      "counter",
      "Failed accepts on the listening socket, such as running out of file descriptors.",
      one(stats.httpAcceptErrors),
    ),
    family(
      "docker_exporter_http_connections",
      "gauge",
      "HTTP connections open now.",
      one(stats.httpConnections),
    ),
    family(
      "docker_exporter_containers_tracked",
      "gauge",
      "Containers in the exporter's registry.",
      one(containersTracked),
    ),
    family(
      "process_resident_memory_bytes",
      "gauge",
      "Resident memory size in bytes.",
      one(process.residentMemoryBytes),
    ),
    family(
      "process_cpu_seconds_total",
      "counter",
      "Total user and system CPU time spent in seconds.",
      one(process.cpuSeconds),
    ),
    family(
      "process_start_time_seconds",
      "gauge",
      "Start time of the process since unix epoch in seconds.",
      one(process.startTimeSeconds),
    ),
  ];
  if (process.openFds !== undefined) {
    families.push(family("process_open_fds", "gauge", "Number of open file descriptors.", one(process.openFds)));
  }
  if (process.maxFds !== undefined) {
    families.push(family("process_max_fds", "gauge", "Maximum number of open file descriptors.", one(process.maxFds)));
  }
  return families;
}
