/**
 * Builds one exporter from its configuration: Docker access, registry, tracker, the background collectors, and the
 * HTTP handler. Nothing happens until `run` is called; main.ts adds the listening socket and signals, tests a fake
 * engine.
 */
import {
  apiSource,
  cgroupSource,
  DataRootReader,
  DENO_FILE_SYSTEM,
  DiskUsageCollector,
  type FileSystem,
  openCgroupReader,
  ResourceCollector,
  resourceTargets,
  type StatFileSystem,
} from "./resources/mod.ts";
import type { Config } from "./config/mod.ts";
import { ContainerRegistry, ContainerTracker, ExporterStats } from "./engine/mod.ts";
import { createDockerApi, type DockerodeConstructor, openEventStream } from "./docker/mod.ts";
import { ContainerFilter, type Logger, VERSION } from "./shared/mod.ts";
import {
  containerFamilies,
  ContainerLabels,
  ContainerLines,
  dataRootFamilies,
  diskUsageFamilies,
  engineFamilies,
  exportedLabel,
  exporterFamilies,
  labelKeyMatcher,
  type ProcessSample,
  resourceCollectorFamilies,
  resourceFamilies,
} from "./metrics/mod.ts";
import { ScrapeCache } from "./http/scrape/mod.ts";
import { createHandler } from "./http/mod.ts";

/** How long any single call to the engine may take. */
export const DOCKER_CALL_TIMEOUT_MS = 10_000;

/** The side of the world an exporter needs. */
export interface ExporterDeps {
  logger: Logger;
  now: () => number;
  readProcess: () => ProcessSample;
  /** Aborting it cancels engine calls in flight and ends `run`. */
  signal: AbortSignal;
  dockerCallTimeoutMs?: number;
  /** How long `/system/df` may take (default `DISK_USAGE_TIMEOUT_MS`). */
  diskUsageTimeoutMs?: number;
  /** The dockerode class, from `loadDockerode()`. */
  Docker: DockerodeConstructor;
  /** What the cgroup and /proc files are read through (default: Deno's file system). */
  fs?: FileSystem;
  /** What the data root's file system is read through (default: Deno's `statfs` and `stat`). */
  statFs?: StatFileSystem;
}

/** A wired exporter. */
export interface Exporter {
  handler: (request: Request) => Promise<Response>;
  registry: ContainerRegistry;
  stats: ExporterStats;
  tracker: ContainerTracker;
  /** The resource metrics collector; `undefined` when EXPORTER_RESOURCE_METRICS=off. */
  resources: ResourceCollector | undefined;
  /** The disk usage collector; `undefined` when EXPORTER_DISK_USAGE_INTERVAL=0. */
  diskUsage: DiskUsageCollector | undefined;
  /** Reads the file system of the engine's data root. */
  dataRoot: DataRootReader;
  /** Follows the engine (and runs the collectors) until the signal aborts. */
  run(): Promise<void>;
}

/** Wires an exporter for `config`. */
export function buildExporter(config: Config, deps: ExporterDeps): Exporter {
  const timeoutMs = deps.dockerCallTimeoutMs ?? DOCKER_CALL_TIMEOUT_MS;
  const stats = new ExporterStats();
  // Tombstones live as long as the stale period: a late answer about a removed container is older than that.
  const registry = new ContainerRegistry(config.staleAfterMs);
  const filter = new ContainerFilter(config.includeContainers, config.excludeContainers);
  const api = createDockerApi(config.docker, {
    Docker: deps.Docker,
    timeoutMs,
    diskUsageTimeoutMs: deps.diskUsageTimeoutMs,
    signal: deps.signal,
    // The filters decide from the list entry: it keeps the labels they read.
    listLabelKeys: filter.labelKeys,
  });
  const labelMatches = labelKeyMatcher(config.containerLabels);
  const labels = new ContainerLabels(labelMatches, {
    onAllSeries: config.containerLabelsOnAllSeries,
    onLeftOff: (label, max) =>
      deps.logger.warn("a container label is left off all series but docker_container_info: too many label names", {
        label,
        max_label_names: max,
      }),
  });
  const tracker = new ContainerTracker({
    api,
    openEvents: (options) => openEventStream(config.docker, { ...options, headTimeoutMs: timeoutMs }),
    registry,
    stats,
    logger: deps.logger,
    now: deps.now,
    refreshIntervalMs: config.refreshIntervalMs,
    staleAfterMs: config.staleAfterMs,
    // Records keep only the labels the families export.
    keepLabel: exportedLabel(labelMatches),
    filter,
  });
  // Collected in the background on its own interval; a scrape only renders the last collection.
  const resources = config.resourceMetrics === "off" ? undefined : new ResourceCollector({
    mode: config.resourceMetrics,
    remoteEngine: config.docker.kind === "tcp",
    openCgroup: () =>
      cgroupSource(openCgroupReader({
        fs: deps.fs ?? DENO_FILE_SYSTEM,
        cgroupRoot: config.cgroupRoot,
        procRoot: config.procRoot,
        onWarning: (message, error) => deps.logger.warn(message, { error }),
      })),
    openApi: () => apiSource((id) => api.containerStats(id)),
    targets: () => resourceTargets(registry.containers()),
    intervalMs: config.resourceIntervalMs,
    logger: deps.logger,
    now: deps.now,
    ready: () => stats.synced,
  });
  // Asked of the engine on a slow interval of its own (it walks every layer and volume), never during a scrape.
  const diskUsage = config.diskUsageIntervalMs === 0 ? undefined : new DiskUsageCollector({
    diskUsage: () => api.diskUsage(),
    intervalMs: config.diskUsageIntervalMs,
    onError: () => ExporterStats.increment(stats.apiErrorsByOperation, "df"),
    logger: deps.logger,
    now: deps.now,
    ready: () => stats.synced,
  });
  const dataRoot = new DataRootReader({
    configured: config.dataRoot,
    engineDataRoot: () => stats.engine?.dataRoot,
    remoteEngine: config.docker.kind === "tcp",
    procRoot: config.procRoot,
    fs: deps.statFs,
    logger: deps.logger,
    ready: () => stats.synced,
  });
  const containerLines = new ContainerLines();
  const build = { version: VERSION, denoVersion: Deno.version.deno };
  let processReading: ProcessSample | undefined;
  const scrape = new ScrapeCache({
    revision: () =>
      `${registry.version}/${stats.engineRevision}/${resources?.generation ?? 0}/${diskUsage?.generation ?? 0}/` +
      dataRoot.generation,
    stableFamilies: () => {
      const containers = registry.containers();
      return [
        ...containerFamilies(containers, labels, containerLines),
        ...engineFamilies(stats.engine),
        ...(resources
          ? [
            ...resourceFamilies(containers, resources.usage, { labels, lastSeen: resources.lastSeen }),
            ...resourceCollectorFamilies(resources),
          ]
          : []),
        ...(diskUsage
          ? diskUsageFamilies(containers, diskUsage.reading, diskUsage.lastDurationMs, dataRoot.reading?.device)
          : []),
        ...dataRootFamilies(containers, dataRoot.reading),
      ];
    },
    // Everything exporterFamilies() reads. The process is read here once, and the families are made from that same
    // reading (the cache asks for them right after, while their revision is new); it is reused for 100 ms.
    liveRevision: () => {
      const p = processReading = deps.readProcess();
      return [stats.fingerprint(), registry.size, p.residentMemoryBytes, p.cpuSeconds, p.openFds, p.maxFds].join(";");
    },
    liveFamilies: () => exporterFamilies(stats, registry.size, build, processReading ?? deps.readProcess()),
  });
  const handler = createHandler({ scrape, ready: () => stats.synced && stats.engineUp, version: VERSION });
  const run = async () => {
    try {
      await Promise.all([
        tracker.run(deps.signal),
        resources?.run(deps.signal),
        diskUsage?.run(deps.signal),
        dataRoot.run(deps.signal),
      ]);
    } finally {
      api.close();
    }
  };
  return { handler, registry, stats, tracker, resources, diskUsage, dataRoot, run };
}
