/**
 * Configuration: environment variables, each overridable by a command-line flag.
 * Pure: `parseConfig(args, env)` never reads the process environment itself.
 */
import { type DockerEndpoint, parseDockerEndpoint } from "../docker/mod.ts";
import { LOG_LEVELS, type LogLevel } from "../shared/mod.ts";
import { RESOURCE_MODES, type ResourceMode } from "../resources/mod.ts";
import { ConfigError, formatDuration, parseDuration } from "./parsers.ts";

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
  /** Path of the TLS/basic-auth web configuration file, or "" for plain HTTP. */
  webConfigFile: string;
  /** Where resource metrics come from: cgroup files, the engine's stats API, either (`auto`), or nowhere. */
  resourceMetrics: ResourceMode;
  resourceIntervalMs: number;
  /** Where the host's /sys/fs/cgroup is mounted, without a trailing slash. */
  cgroupRoot: string;
  /** Where the host's /proc is mounted, without a trailing slash. */
  procRoot: string;
  /** The most HTTP connections open at once. */
  maxConnections: number;
}

/** What the command line asked for besides running. */
export type Command =
  | { kind: "run"; config: Config }
  | { kind: "healthcheck"; config: Config }
  | { kind: "help" }
  | { kind: "version" };

interface Setting {
  env: string;
  flag: string;
  default: string;
  help: string;
}

/** Every setting, in the order `--help` lists them. */
export const SETTINGS: readonly Setting[] = [
  { env: "EXPORTER_PORT", flag: "--port", default: "8000", help: "TCP port to serve /metrics on (1-65535)" },
  { env: "EXPORTER_HOST", flag: "--host", default: "0.0.0.0", help: "address to listen on" },
  {
    env: "DOCKER_HOST",
    flag: "--docker-host",
    default: "unix:///var/run/docker.sock",
    help: "Docker Engine API: unix:///path/to/socket or tcp://host:port",
  },
  {
    env: "EXPORTER_REFRESH_INTERVAL",
    flag: "--refresh-interval",
    default: "15s",
    help: "how often to reconcile with a full container list (at least 1s; e.g. 15s, 2m)",
  },
  {
    env: "EXPORTER_STALE_AFTER",
    flag: "--stale-after",
    // Empty: follows the refresh interval (see parseConfig).
    default: "",
    help: "drop a container not observed for this long; must exceed the refresh interval (unset: 30s, or twice " +
      "the refresh interval when that is longer)",
  },
  { env: "EXPORTER_LOG_LEVEL", flag: "--log-level", default: "info", help: "debug, info, warn or error" },
  {
    env: "EXPORTER_CONTAINER_LABELS",
    flag: "--container-labels",
    default: "",
    help: "comma-separated container label keys (globs: com.example.*) to add to docker_container_info",
  },
  {
    env: "EXPORTER_WEB_CONFIG_FILE",
    flag: "--web.config.file",
    default: "",
    help: "YAML file enabling TLS and/or basic auth (exporter-toolkit format)",
  },
  {
    env: "EXPORTER_RESOURCE_METRICS",
    flag: "--resource-metrics",
    default: "auto",
    help: "per-container CPU, memory, network, block I/O and threads: auto (cgroup files when readable and the " +
      "engine is on this host, else the engine's stats API), cgroup, api or off",
  },
  {
    env: "EXPORTER_RESOURCE_INTERVAL",
    flag: "--resource-interval",
    default: "15s",
    help: "how often to collect resource metrics, in the background (at least 1s)",
  },
  {
    env: "EXPORTER_CGROUP_ROOT",
    flag: "--cgroup-root",
    default: "/sys/fs/cgroup",
    help: "where the host's /sys/fs/cgroup is mounted (resource metrics from cgroup files)",
  },
  {
    env: "EXPORTER_PROC_ROOT",
    flag: "--proc-root",
    default: "/proc",
    help: "where the host's /proc is mounted (network counters, block device names)",
  },
  {
    env: "EXPORTER_MAX_CONNECTIONS",
    flag: "--max-connections",
    default: "128",
    help: "most HTTP connections open at once; keep it well below the open-files limit (ulimit -n)",
  },
];

/** The longest delay a timer can hold (2^31 - 1 ms, about 24.8 days); a longer one fires at once. */
export const MAX_TIMER_MS = 2 ** 31 - 1;

/**
 * The shortest refresh and resource interval: each refresh lists every container, and each collection reads every
 * running one, so a shorter one would load the engine for nothing the event stream does not already bring.
 */
export const MIN_INTERVAL_MS = 1_000;

/** The most `EXPORTER_MAX_CONNECTIONS` may be; more would not fit any open-files limit with room to spare. */
export const MAX_CONNECTIONS_LIMIT = 100_000;

/** The stale period when none is set, unless twice the refresh interval is longer. */
export const DEFAULT_STALE_AFTER_MS = 30_000;

/** The environment the exporter reads, as the `start` task grants it: its settings, and the YAML parser's switches. */
export const ENV_PERMISSION = "--allow-env=DOCKER_HOST,EXPORTER_*,LOG_TOKENS,LOG_STREAM";

/**
 * `host:port` as URLs and Deno's `--allow-net` write it: an IPv6 address goes in brackets.
 * @example hostPort("::1", 8000) // "[::1]:8000"
 */
export function hostPort(host: string, port: number): string {
  return `${host.includes(":") && !host.startsWith("[") ? `[${host}]` : host}:${port}`;
}

/**
 * Reads the command line and environment into a `Command`.
 * Flags win over environment variables; `--flag value` and `--flag=value` both work.
 * @throws ConfigError naming the bad setting and what it accepts.
 */
export function parseConfig(args: readonly string[], env: (name: string) => string | undefined): Command {
  const fromFlags = new Map<string, string>();
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
    fromFlags.set(setting.env, value);
  }
  const raw = (name: string): { value: string; source: string } => {
    const setting = SETTINGS.find((s) => s.env === name)!;
    if (fromFlags.has(name)) return { value: fromFlags.get(name)!, source: setting.flag };
    const fromEnv = env(name);
    if (fromEnv !== undefined && fromEnv !== "") return { value: fromEnv, source: name };
    return { value: setting.default, source: name };
  };

  const port = raw("EXPORTER_PORT");
  const portNumber = /^\d{1,5}$/.test(port.value.trim()) ? Number(port.value.trim()) : NaN;
  if (!(portNumber >= 1 && portNumber <= 65535)) {
    throw new ConfigError(`${port.source}=${JSON.stringify(port.value)} is not a port; use a number from 1 to 65535`);
  }

  const host = raw("EXPORTER_HOST");
  if (!/^[A-Za-z0-9.:\-\[\]]+$/.test(host.value)) {
    throw new ConfigError(
      `${host.source}=${JSON.stringify(host.value)} is not a listen address; use an IP or host name such as 0.0.0.0`,
    );
  }

  const dockerHost = raw("DOCKER_HOST");
  const docker = parseDockerEndpoint(dockerHost.value.trim());
  if (!docker) {
    throw new ConfigError(
      `${dockerHost.source}=${
        JSON.stringify(dockerHost.value)
      } is not a Docker address; use unix:///path/to/docker.sock or tcp://host:port`,
    );
  }

  const duration = (name: string): number => {
    const { value, source } = raw(name);
    const ms = parseDuration(value);
    if (ms === undefined) {
      throw new ConfigError(
        `${source}=${
          JSON.stringify(value)
        } is not a duration; use a positive number with a unit: 500ms, 15s, 2m, 1h30m`,
      );
    }
    return ms;
  };
  const interval = (name: string): number => {
    const ms = duration(name);
    const { value, source } = raw(name);
    if (ms > MAX_TIMER_MS) {
      throw new ConfigError(`${source}=${JSON.stringify(value)} is too long for a timer; use at most 24d`);
    }
    if (ms < MIN_INTERVAL_MS) {
      throw new ConfigError(
        `${source}=${JSON.stringify(value)} is too short; use at least 1s (the event stream brings changes at once)`,
      );
    }
    return ms;
  };
  const refreshIntervalMs = interval("EXPORTER_REFRESH_INTERVAL");
  // Unset, it follows a longer refresh interval, so that raising one setting does not make the other refuse to start.
  const staleAfterMs = raw("EXPORTER_STALE_AFTER").value === ""
    ? Math.max(DEFAULT_STALE_AFTER_MS, 2 * refreshIntervalMs)
    : duration("EXPORTER_STALE_AFTER");
  if (staleAfterMs <= refreshIntervalMs) {
    throw new ConfigError(
      `${raw("EXPORTER_STALE_AFTER").source}=${formatDuration(staleAfterMs)} must be longer than ${
        raw("EXPORTER_REFRESH_INTERVAL").source
      }=${formatDuration(refreshIntervalMs)}, or every container would be dropped between refreshes`,
    );
  }

  const level = raw("EXPORTER_LOG_LEVEL");
  const logLevel = level.value.trim().toLowerCase();
  if (!(LOG_LEVELS as readonly string[]).includes(logLevel)) {
    throw new ConfigError(
      `${level.source}=${JSON.stringify(level.value)} is not a log level; use ${LOG_LEVELS.join(", ")}`,
    );
  }

  const labels = raw("EXPORTER_CONTAINER_LABELS");
  const containerLabels = labels.value.split(",").map((s) => s.trim()).filter((s) => s !== "");
  const badLabel = containerLabels.find((key) => !/^[A-Za-z0-9_.\-/*?]+$/.test(key));
  if (badLabel !== undefined) {
    throw new ConfigError(
      `${labels.source} has ${
        JSON.stringify(badLabel)
      }, which is not a label key; use comma-separated keys of letters, digits, . _ - / with * and ? as globs`,
    );
  }

  const mode = raw("EXPORTER_RESOURCE_METRICS");
  const resourceMetrics = mode.value.trim().toLowerCase();
  if (!(RESOURCE_MODES as readonly string[]).includes(resourceMetrics)) {
    throw new ConfigError(
      `${mode.source}=${JSON.stringify(mode.value)} is not a resource metrics source; use ${RESOURCE_MODES.join(", ")}`,
    );
  }
  const resourceIntervalMs = interval("EXPORTER_RESOURCE_INTERVAL");
  const directory = (name: string, what: string): string => {
    const { value, source } = raw(name);
    const path = value.trim();
    if (!path.startsWith("/")) {
      throw new ConfigError(
        `${source}=${JSON.stringify(value)} is not an absolute path; use the directory where the host's ${what} ` +
          `is mounted, such as /host${what}`,
      );
    }
    return path.length > 1 ? path.replace(/\/+$/, "") : path;
  };
  const cgroupRoot = directory("EXPORTER_CGROUP_ROOT", "/sys/fs/cgroup");
  const procRoot = directory("EXPORTER_PROC_ROOT", "/proc");

  const connections = raw("EXPORTER_MAX_CONNECTIONS");
  const maxConnections = /^\d{1,6}$/.test(connections.value.trim()) ? Number(connections.value.trim()) : NaN;
  if (!(maxConnections >= 1 && maxConnections <= MAX_CONNECTIONS_LIMIT)) {
    throw new ConfigError(
      `${connections.source}=${
        JSON.stringify(connections.value)
      } is not a connection limit; use a number from 1 to ${MAX_CONNECTIONS_LIMIT}`,
    );
  }

  return {
    kind: healthcheck ? "healthcheck" : "run",
    config: {
      port: portNumber,
      host: host.value,
      docker,
      refreshIntervalMs,
      staleAfterMs,
      logLevel: logLevel as LogLevel,
      containerLabels,
      webConfigFile: raw("EXPORTER_WEB_CONFIG_FILE").value.trim(),
      resourceMetrics: resourceMetrics as ResourceMode,
      resourceIntervalMs,
      cgroupRoot,
      procRoot,
      maxConnections,
    },
  };
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
