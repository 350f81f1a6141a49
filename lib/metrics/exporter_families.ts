/**
 * The engine's families (`server_hostname`, `docker_engine_info`) and the exporter's own, the standard `process_*`
 * ones included. Pure: every input is an argument.
 */
import type { MetricFamily, Sample } from "./exposition.ts";
import type { EngineSummary, ExporterStats } from "../engine/mod.ts";
import { family } from "./families.ts";
import type { ProcessSample } from "./process.ts";

/**
 * `server_hostname`, `docker_engine_info`, and cAdvisor's `machine_cpu_cores` and `machine_memory_bytes` of the
 * engine's host; empty families while the engine was never reached (or, for the machine's, did not say).
 */
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
    family(
      "machine_cpu_cores",
      "gauge",
      "Number of logical CPU cores.",
      engine?.cpus === undefined ? [] : [{ labels: [], value: engine.cpus }],
    ),
    family(
      "machine_memory_bytes",
      "gauge",
      "Amount of memory installed on the machine.",
      engine?.memoryBytes === undefined ? [] : [{ labels: [], value: engine.memoryBytes }],
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
