/**
 * Configuration: environment variables, each overridable by a command-line flag. Every setting is one row of
 * `SETTINGS`, with its variable, flag, default, help and parser; `parseConfig` and `helpText` come from the table.
 * Pure: `parseConfig(args, env)` never reads the process environment itself.
 */
import { type DockerEndpoint, parseDockerEndpoint } from "../docker/mod.ts";
import { type ContainerPattern, LOG_LEVELS, type LogLevel, parseContainerPatterns } from "../shared/mod.ts";
import { RESOURCE_MODES, type ResourceMode } from "../resources/mod.ts";
import {
  absoluteDirectory,
  boolean,
  ConfigError,
  duration,
  durationOrOff,
  formatDuration,
  integerIn,
  oneOf,
  optional,
  type Parser,
  refuse,
  timerDuration,
} from "./parsers.ts";

import { IMAGE_MOUNTS, STANDARD_SOCKETS } from "./permissions.ts";

export { ConfigError } from "./parsers.ts";

/** The exporter's validated settings. Durations are in milliseconds. */
export interface Config {
  port: number;
  host: string;
  docker: DockerEndpoint;
  refreshIntervalMs: number;
  staleAfterMs: number;
  logLevel: LogLevel;
  /** Container label keys (globs allowed) copied onto `docker_container_info`. */
  containerLabels: string[];
  /** The containers to follow: those matching one of these (all when there are none)... */
  includeContainers: ContainerPattern[];
  /** ...and none of these. */
  excludeContainers: ContainerPattern[];
  /** Whether those labels also go on every per-container and resource series, as cAdvisor puts them. */
  containerLabelsOnAllSeries: boolean;
  /** Path of the TLS/basic-auth web configuration file, or "" for plain HTTP. */
  webConfigFile: string;
  /** Where resource metrics come from: cgroup files, the engine's stats API, either (`auto`), or nowhere. */
  resourceMetrics: ResourceMode;
  /** How often to collect them; unset, it depends on the source (see `DEFAULT_RESOURCE_INTERVAL_MS`). */
  resourceIntervalMs: number | undefined;
  /** Where the host's /sys/fs/cgroup is mounted, without a trailing slash. */
  cgroupRoot: string;
  /** Where the host's /proc is mounted, without a trailing slash. */
  procRoot: string;
  /** How often to ask the engine for disk usage (`/system/df`); 0: never. */
  diskUsageIntervalMs: number;
  /** Where the engine's data root is visible to the exporter; unset, the path `/info` gives (`DockerRootDir`). */
  dataRoot: string | undefined;
  /** The most HTTP connections open at once. */
  maxConnections: number;
}

/**
 * Where each setting came from, as the user wrote it (`DOCKER_HOST=unix:///x`, `--port=9000`, or the default), for
 * messages that must name a setting; and, when `DOCKER_HOST` was unset, which sockets were looked for.
 */
export interface Sources {
  /** `VARIABLE=value` or `--flag=value`; the variable's name with the default when neither was set. */
  of: ReadonlyMap<keyof Config, string>;
  /** Set when `DOCKER_HOST` was unset: the sockets looked for, in order, and the one found, if any. */
  discovery?: { tried: readonly string[]; found: string | undefined };
}

/** What the command line asked for besides running. */
export type Command =
  | { kind: "run"; config: Config; sources: Sources }
  | { kind: "healthcheck"; config: Config; sources: Sources }
  | { kind: "help" }
  | { kind: "version" };

/**
 * What the rows of `SETTINGS` fill: a `Config` whose stale period and engine may be unset, for `parseConfig` to
 * settle.
 */
type Parsed = Omit<Config, "staleAfterMs" | "docker"> & {
  staleAfterMs: number | undefined;
  docker: DockerEndpoint | undefined;
};

/** One setting: where it is read from, what `--help` says of it, and how its text becomes the `Config` field. */
interface Setting<K extends keyof Parsed> {
  env: string;
  flag: string;
  /** The text used when neither the flag nor the variable is set; it goes through `parse` like any other. */
  default: string;
  help: string;
  field: K;
  parse: Parser<Parsed[K]>;
}

/** Any row of the table: the field names the row, and the parser must give that field's type. */
type AnySetting = { [K in keyof Parsed]: Setting<K> }[keyof Parsed];

/**
 * The shortest refresh and resource interval: each refresh lists every container, and each collection reads every
 * running one, so a shorter one would load the engine for nothing the event stream does not already bring.
 */
export const MIN_INTERVAL_MS = 1_000;

/** The most `EXPORTER_MAX_CONNECTIONS` may be; more would not fit any open-files limit with room to spare. */
export const MAX_CONNECTIONS_LIMIT = 100_000;

/** The stale period when none is set, unless twice the refresh interval is longer. */
export const DEFAULT_STALE_AFTER_MS = 30_000;

/** The refresh and resource intervals: what a timer can hold, and no less than `MIN_INTERVAL_MS`. */
const interval = timerDuration(MIN_INTERVAL_MS, "the event stream brings changes at once");

/** Container name globs and `label:KEY=VALUE_GLOB` patterns, comma-separated (see `parseContainerPatterns`). */
const containerPatterns: Parser<ContainerPattern[]> = (value, source) => {
  const parsed = parseContainerPatterns(value);
  if ("patterns" in parsed) return parsed.patterns;
  throw new ConfigError(`${source} has ${JSON.stringify(parsed.bad)}, which ${parsed.why}`);
};

/**
 * The shortest disk usage interval: each collection has the engine walk every writable layer and volume, which on a
 * large host takes longer than this, so a shorter one would keep it walking without pause.
 */
export const MIN_DISK_USAGE_INTERVAL_MS = 10_000;

/** Every setting, in the order `--help` lists them and `parseConfig` reads them. */
export const SETTINGS: readonly AnySetting[] = [
  {
    env: "EXPORTER_PORT",
    flag: "--port",
    default: "8000",
    help: "TCP port to serve /metrics on (1-65535)",
    field: "port",
    parse: integerIn("a port", 1, 65535),
  },
  {
    env: "EXPORTER_HOST",
    flag: "--host",
    default: "0.0.0.0",
    help: "address to listen on",
    field: "host",
    parse: (value, source) => {
      if (/^[A-Za-z0-9.:\-\[\]]+$/.test(value)) return value;
      throw refuse(source, value, "is not a listen address; use an IP or host name such as 0.0.0.0");
    },
  },
  {
    env: "DOCKER_HOST",
    flag: "--docker-host",
    default: "",
    help: "Docker Engine API: unix:///path/to/socket or tcp://host:port (unset: the first socket that opens of " +
      `${STANDARD_SOCKETS.join(", ")})`,
    field: "docker",
    parse: (value, source) => {
      // Unset, parseConfig looks for the engine's socket.
      if (value.trim() === "") return undefined;
      const endpoint = parseDockerEndpoint(value.trim());
      if (endpoint) return endpoint;
      throw refuse(source, value, "is not a Docker address; use unix:///path/to/docker.sock or tcp://host:port");
    },
  },
  {
    env: "EXPORTER_REFRESH_INTERVAL",
    flag: "--refresh-interval",
    default: "15s",
    help: "how often to reconcile with a full container list (at least 1s; e.g. 15s, 2m)",
    field: "refreshIntervalMs",
    parse: interval,
  },
  {
    env: "EXPORTER_STALE_AFTER",
    flag: "--stale-after",
    default: "",
    help: "drop a container not observed for this long; must exceed the refresh interval (unset: 30s, or twice " +
      "the refresh interval when that is longer)",
    field: "staleAfterMs",
    // Unset, parseConfig derives it from the refresh interval.
    parse: optional(duration),
  },
  {
    env: "EXPORTER_LOG_LEVEL",
    flag: "--log-level",
    default: "info",
    help: "debug, info, warn or error",
    field: "logLevel",
    parse: oneOf("a log level", LOG_LEVELS),
  },
  {
    env: "EXPORTER_CONTAINER_LABELS",
    flag: "--container-labels",
    default: "",
    help: "comma-separated container label keys (globs: com.example.*) to add to docker_container_info",
    field: "containerLabels",
    parse: (value, source) => {
      const keys = value.split(",").map((s) => s.trim()).filter((s) => s !== "");
      const bad = keys.find((key) => !/^[A-Za-z0-9_.\-/*?]+$/.test(key));
      if (bad === undefined) return keys;
      throw new ConfigError(
        `${source} has ${
          JSON.stringify(bad)
        }, which is not a label key; use comma-separated keys of letters, digits, . _ - / with * and ? as globs`,
      );
    },
  },
  {
    env: "EXPORTER_CONTAINER_LABELS_ON_ALL_SERIES",
    flag: "--container-labels-on-all-series",
    default: "false",
    help: "true to put the labels EXPORTER_CONTAINER_LABELS selects on every per-container and resource series too, " +
      "as cAdvisor does (at most 32 distinct label names); false keeps them on docker_container_info alone",
    field: "containerLabelsOnAllSeries",
    parse: boolean,
  },
  {
    env: "EXPORTER_INCLUDE_CONTAINERS",
    flag: "--include-containers",
    default: "",
    help: "comma-separated container name globs (web-*) or label:KEY=VALUE_GLOB patterns; only the containers " +
      "matching one are followed (unset: all)",
    field: "includeContainers",
    parse: containerPatterns,
  },
  {
    env: "EXPORTER_EXCLUDE_CONTAINERS",
    flag: "--exclude-containers",
    default: "",
    help: "comma-separated container name globs or label:KEY=VALUE_GLOB patterns; the containers matching one are " +
      "left out, as is any labelled docker-exporter.ignore=true",
    field: "excludeContainers",
    parse: containerPatterns,
  },
  {
    env: "EXPORTER_WEB_CONFIG_FILE",
    flag: "--web.config.file",
    default: "",
    help: "YAML file enabling TLS and/or basic auth (exporter-toolkit format)",
    field: "webConfigFile",
    // Read and checked by loadWebConfig, which main.ts calls when it is set.
    parse: (value) => value.trim(),
  },
  {
    env: "EXPORTER_RESOURCE_METRICS",
    flag: "--resource-metrics",
    default: "auto",
    help: "per-container CPU, memory, network, block I/O and threads: auto (cgroup files when readable and the " +
      "engine is on this host, else the engine's stats API), cgroup, api or off",
    field: "resourceMetrics",
    parse: oneOf("a resource metrics source", RESOURCE_MODES),
  },
  {
    env: "EXPORTER_RESOURCE_INTERVAL",
    flag: "--resource-interval",
    default: "",
    help: "how often to collect resource metrics, in the background (at least 1s; unset: 5s from cgroup files, " +
      "15s from the stats API)",
    field: "resourceIntervalMs",
    parse: optional(interval),
  },
  {
    env: "EXPORTER_CGROUP_ROOT",
    flag: "--cgroup-root",
    default: "/sys/fs/cgroup",
    help: "where the host's /sys/fs/cgroup is mounted (resource metrics from cgroup files)",
    field: "cgroupRoot",
    parse: absoluteDirectory("/sys/fs/cgroup"),
  },
  {
    env: "EXPORTER_PROC_ROOT",
    flag: "--proc-root",
    default: "/proc",
    help: "where the host's /proc is mounted (network counters, block device names)",
    field: "procRoot",
    parse: absoluteDirectory("/proc"),
  },
  {
    env: "EXPORTER_DISK_USAGE_INTERVAL",
    flag: "--disk-usage-interval",
    default: "5m",
    help: "how often to ask the engine for disk usage (/system/df: images, writable layers, volumes, build cache), " +
      "in the background; 0 turns it off (unlike the other intervals, which refuse 0); else at least 10s",
    field: "diskUsageIntervalMs",
    parse: durationOrOff(MIN_DISK_USAGE_INTERVAL_MS, "the engine walks every layer and volume each time"),
  },
  {
    env: "EXPORTER_DATA_ROOT",
    flag: "--data-root",
    default: "",
    help: "where the engine's data root (DockerRootDir of docker info) is mounted, for the size and inodes of its " +
      "file system (unset: DockerRootDir itself, as on the engine's host)",
    field: "dataRoot",
    parse: optional(absoluteDirectory("/var/lib/docker", IMAGE_MOUNTS.dataRoot)),
  },
  {
    env: "EXPORTER_MAX_CONNECTIONS",
    flag: "--max-connections",
    default: "128",
    help: "most HTTP connections open at once; keep it well below the open-files limit (ulimit -n)",
    field: "maxConnections",
    parse: integerIn("a connection limit", 1, MAX_CONNECTIONS_LIMIT),
  },
];

/**
 * Reads the command line and environment into a `Command`.
 * Flags win over environment variables; `--flag value` and `--flag=value` both work. An empty variable is unset.
 * With `DOCKER_HOST` unset, the engine is the first of `socketCandidates` that `usable` says can be used (with
 * `$XDG_RUNTIME_DIR` read from `env`), else the first of them, for the engine may start after the exporter.
 * @throws ConfigError naming the bad setting and what it accepts.
 */
export function parseConfig(
  args: readonly string[],
  env: (name: string) => string | undefined,
  usable: (path: string) => boolean = () => false,
): Command {
  const line = readArgs(args);
  if (line.kind === "help" || line.kind === "version") return line;

  const parsed: Partial<Record<keyof Parsed, unknown>> = {};
  const source = new Map<keyof Parsed, string>();
  const written = new Map<keyof Config, string>();
  for (const setting of SETTINGS) {
    const flagged = line.flags.get(setting.flag);
    const from = flagged === undefined ? setting.env : setting.flag;
    const value = flagged ?? (env(setting.env) || setting.default);
    parsed[setting.field] = setting.parse(value, from);
    source.set(setting.field, from);
    written.set(setting.field, `${from}=${value}`);
  }
  const settings = parsed as Parsed;

  let docker = settings.docker;
  let discovery: Sources["discovery"];
  if (docker === undefined) {
    let xdg: string | undefined;
    try {
      xdg = env("XDG_RUNTIME_DIR");
    } catch (error) {
      // Not granted (an older command line): the rootless sockets are not looked for, and nothing else changes.
      if (!(error instanceof ConfigError)) throw error;
    }
    const tried = socketCandidates(xdg);
    const found = tried.find((path) => usable(path));
    discovery = { tried, found };
    docker = parseDockerEndpoint(`unix://${found ?? tried[0]}`)!;
    written.set("docker", `DOCKER_HOST unset, so ${docker.url}`);
  }

  const { refreshIntervalMs } = settings;
  // An unset stale period follows a longer refresh interval, so that raising one does not make the other refuse to
  // start.
  const staleAfterMs = settings.staleAfterMs ?? Math.max(DEFAULT_STALE_AFTER_MS, 2 * refreshIntervalMs);
  if (staleAfterMs <= refreshIntervalMs) {
    throw new ConfigError(
      `${source.get("staleAfterMs")}=${formatDuration(staleAfterMs)} must be longer than ${
        source.get("refreshIntervalMs")
      }=${formatDuration(refreshIntervalMs)}, or every container would be dropped between refreshes`,
    );
  }
  return {
    kind: line.kind,
    config: { ...settings, docker, staleAfterMs },
    sources: { of: written, ...(discovery ? { discovery } : {}) },
  };
}

/**
 * The engine sockets looked for when `DOCKER_HOST` is unset, in order, with `$XDG_RUNTIME_DIR` replaced by `runtimeDir`
 * (and its sockets left out when it is unset).
 */
export function socketCandidates(runtimeDir: string | undefined): string[] {
  return STANDARD_SOCKETS.filter((path) => runtimeDir || !path.includes("$XDG_RUNTIME_DIR"))
    .map((path) => path.replace("$XDG_RUNTIME_DIR", runtimeDir ?? ""));
}

/** The command line split into what it asks for and the setting values its flags give, by flag. */
function readArgs(
  args: readonly string[],
): { kind: "help" } | { kind: "version" } | { kind: "run" | "healthcheck"; flags: Map<string, string> } {
  const flags = new Map<string, string>();
  let healthcheck = false;
  for (let i = 0; i < args.length; i++) {
    const arg = args[i];
    if (arg === "--help" || arg === "-h") return { kind: "help" };
    if (arg === "--version") return { kind: "version" };
    if (arg === "--healthcheck") {
      healthcheck = true;
      continue;
    }
    const [flag, inline] = arg.includes("=") ? [arg.slice(0, arg.indexOf("=")), arg.slice(arg.indexOf("=") + 1)] : [
      arg,
      undefined,
    ];
    const setting = SETTINGS.find((s) => s.flag === flag);
    if (!setting) throw new ConfigError(`Unknown argument ${JSON.stringify(arg)}; see --help`);
    const value = inline ?? args[++i];
    if (value === undefined) throw new ConfigError(`${flag} needs a value: ${setting.help}`);
    flags.set(flag, value);
  }
  return { kind: healthcheck ? "healthcheck" : "run", flags };
}

/** The `--help` text. */
export function helpText(version: string): string {
  const lines = [
    `docker-exporter ${version}: Prometheus metrics for the containers of one Docker engine.`,
    "",
    "Usage: docker-exporter [flags]",
    "",
    "Each setting is an environment variable or a flag (the flag wins):",
  ];
  for (const s of SETTINGS) {
    lines.push(`  ${s.flag.padEnd(20)} ${s.env.padEnd(27)} ${s.help} (default ${JSON.stringify(s.default)})`);
  }
  lines.push(
    "  --healthcheck                                    probe this exporter's /healthz on EXPORTER_PORT; exit 0 or 1",
    "  --help                                           print this text",
    "  --version                                        print the version",
  );
  return lines.join("\n");
}
