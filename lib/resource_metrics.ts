/**
 * The per-container resource families, named, labelled and typed as cAdvisor names them, so dashboards and
 * alerts built on cAdvisor keep working; and the collector's own families. Pure: every input is an argument.
 */
import type { ContainerRecord } from "./container_registry.ts";
import type { MetricFamily, Sample } from "./exposition.ts";
import { family } from "./metrics.ts";
import type { ContainerUsage, NetworkUsage } from "./resource_usage.ts";

type Labels = ReadonlyArray<readonly [string, string]>;

const NETWORK_COUNTERS: ReadonlyArray<readonly [keyof Omit<NetworkUsage, "interface">, string, string]> = [
  ["receiveBytes", "container_network_receive_bytes_total", "Cumulative count of bytes received."],
  ["receivePackets", "container_network_receive_packets_total", "Cumulative count of packets received."],
  [
    "receiveErrors",
    "container_network_receive_errors_total",
    "Cumulative count of errors encountered while receiving.",
  ],
  [
    "receiveDropped",
    "container_network_receive_packets_dropped_total",
    "Cumulative count of packets dropped while receiving.",
  ],
  ["transmitBytes", "container_network_transmit_bytes_total", "Cumulative count of bytes transmitted."],
  ["transmitPackets", "container_network_transmit_packets_total", "Cumulative count of packets transmitted."],
  [
    "transmitErrors",
    "container_network_transmit_errors_total",
    "Cumulative count of errors encountered while transmitting.",
  ],
  [
    "transmitDropped",
    "container_network_transmit_packets_dropped_total",
    "Cumulative count of packets dropped while transmitting.",
  ],
];

/**
 * The resource families for the containers in `containers` that are running or paused and have a reading
 * in `usage` (a container that stopped since the last collection leaves at once). Every series carries
 * `id` (the full container id), `name` and `image` (`Config.Image`). The CFS series and
 * `container_spec_cpu_quota`/`_period` are there only for containers with a CPU quota, as in cAdvisor.
 */
export function resourceFamilies(
  containers: readonly ContainerRecord[],
  usage: ReadonlyMap<string, ContainerUsage>,
): MetricFamily[] {
  const s = {
    cpuTotal: [] as Sample[],
    cpuUser: [] as Sample[],
    cpuSystem: [] as Sample[],
    cfsPeriods: [] as Sample[],
    cfsThrottledPeriods: [] as Sample[],
    cfsThrottledSeconds: [] as Sample[],
    quota: [] as Sample[],
    period: [] as Sample[],
    memUsage: [] as Sample[],
    memWorkingSet: [] as Sample[],
    memRss: [] as Sample[],
    memCache: [] as Sample[],
    memFailcnt: [] as Sample[],
    memLimit: [] as Sample[],
    oom: [] as Sample[],
    fsReadBytes: [] as Sample[],
    fsWriteBytes: [] as Sample[],
    fsReads: [] as Sample[],
    fsWrites: [] as Sample[],
    threads: [] as Sample[],
    threadsMax: [] as Sample[],
  };
  const network = NETWORK_COUNTERS.map(() => [] as Sample[]);

  for (const c of containers) {
    if (c.state !== "running" && c.state !== "paused") continue;
    const u = usage.get(c.id);
    if (!u) continue;
    const labels: Labels = [["id", c.id], ["name", c.name], ["image", c.image]];
    const quota = c.cpuQuotaMicros ?? 0;
    if (u.cpu) {
      s.cpuTotal.push({ labels: [...labels, ["cpu", "total"]], value: u.cpu.totalSeconds });
      s.cpuUser.push({ labels, value: u.cpu.userSeconds });
      s.cpuSystem.push({ labels, value: u.cpu.systemSeconds });
      if (quota > 0 && u.cpu.periods !== undefined) {
        s.cfsPeriods.push({ labels, value: u.cpu.periods });
        s.cfsThrottledPeriods.push({ labels, value: u.cpu.throttledPeriods ?? 0 });
        s.cfsThrottledSeconds.push({ labels, value: u.cpu.throttledSeconds ?? 0 });
      }
    }
    if (quota > 0) {
      s.quota.push({ labels, value: quota });
      s.period.push({ labels, value: c.cpuPeriodMicros ?? 0 });
    }
    if (c.memoryLimitBytes !== undefined) s.memLimit.push({ labels, value: c.memoryLimitBytes });
    if (u.memory) {
      s.memUsage.push({ labels, value: u.memory.usageBytes });
      s.memWorkingSet.push({ labels, value: u.memory.workingSetBytes });
      s.memRss.push({ labels, value: u.memory.rssBytes });
      s.memCache.push({ labels, value: u.memory.cacheBytes });
      if (u.memory.failcnt !== undefined) s.memFailcnt.push({ labels, value: u.memory.failcnt });
      if (u.memory.oomKills !== undefined) s.oom.push({ labels, value: u.memory.oomKills });
    }
    for (const net of u.network) {
      const withInterface: Labels = [...labels, ["interface", net.interface]];
      NETWORK_COUNTERS.forEach(([field], i) => network[i].push({ labels: withInterface, value: net[field] }));
    }
    for (const io of u.blockIo) {
      const withDevice: Labels = [...labels, ["device", io.device]];
      s.fsReadBytes.push({ labels: withDevice, value: io.readBytes });
      s.fsWriteBytes.push({ labels: withDevice, value: io.writeBytes });
      s.fsReads.push({ labels: withDevice, value: io.reads });
      s.fsWrites.push({ labels: withDevice, value: io.writes });
    }
    if (u.tasks !== undefined) s.threads.push({ labels, value: u.tasks });
    if (u.tasksLimit !== undefined) s.threadsMax.push({ labels, value: u.tasksLimit });
  }

  return [
    family("container_cpu_usage_seconds_total", "counter", "Cumulative cpu time consumed in seconds.", s.cpuTotal),
    family("container_cpu_user_seconds_total", "counter", "Cumulative user cpu time consumed in seconds.", s.cpuUser),
    family(
      "container_cpu_system_seconds_total",
      "counter",
      "Cumulative system cpu time consumed in seconds.",
      s.cpuSystem,
    ),
    family(
      "container_cpu_cfs_periods_total",
      "counter",
      "Number of elapsed enforcement period intervals.",
      s.cfsPeriods,
    ),
    family(
      "container_cpu_cfs_throttled_periods_total",
      "counter",
      "Number of throttled period intervals.",
      s.cfsThrottledPeriods,
    ),
    family(
      "container_cpu_cfs_throttled_seconds_total",
      "counter",
      "Total time duration the container has been throttled.",
      s.cfsThrottledSeconds,
    ),
    family("container_spec_cpu_quota", "gauge", "CPU quota of the container, in microseconds per period.", s.quota),
    family("container_spec_cpu_period", "gauge", "CPU period of the container, in microseconds.", s.period),
    family(
      "container_memory_usage_bytes",
      "gauge",
      "Current memory usage in bytes, including all memory regardless of when it was accessed.",
      s.memUsage,
    ),
    family(
      "container_memory_working_set_bytes",
      "gauge",
      "Current working set in bytes (usage minus inactive page cache).",
      s.memWorkingSet,
    ),
    family("container_memory_rss", "gauge", "Size of RSS (anonymous memory) in bytes.", s.memRss),
    family("container_memory_cache", "gauge", "Number of bytes of page cache memory.", s.memCache),
    // A counter in cAdvisor; a gauge here because a counter's name must end in _total.
    family("container_memory_failcnt", "gauge", "Number of times memory usage hit the limit.", s.memFailcnt),
    family(
      "container_spec_memory_limit_bytes",
      "gauge",
      "Memory limit for the container in bytes (0: unlimited).",
      s.memLimit,
    ),
    family(
      "container_oom_events_total",
      "counter",
      "Count of out of memory kills observed for the container.",
      s.oom,
    ),
    ...NETWORK_COUNTERS.map(([, name, help], i) => family(name, "counter", help, network[i])),
    family("container_fs_reads_bytes_total", "counter", "Cumulative count of bytes read.", s.fsReadBytes),
    family("container_fs_writes_bytes_total", "counter", "Cumulative count of bytes written.", s.fsWriteBytes),
    family("container_fs_reads_total", "counter", "Cumulative count of reads completed.", s.fsReads),
    family("container_fs_writes_total", "counter", "Cumulative count of writes completed.", s.fsWrites),
    family(
      "container_threads",
      "gauge",
      "Number of threads (tasks) running inside the container.",
      s.threads,
    ),
    family(
      "container_threads_max",
      "gauge",
      "Maximum number of threads allowed inside the container (0: unlimited).",
      s.threadsMax,
    ),
  ];
}

/** What the collector reports about itself. */
export interface CollectorStatus {
  sourceName: "cgroup" | "api" | undefined;
  lastDurationMs: number | undefined;
  errors: number;
  usage: ReadonlyMap<string, unknown>;
}

/** The collector's own families: its source, the last collection's duration and size, failed readings. */
export function resourceCollectorFamilies(collector: CollectorStatus): MetricFamily[] {
  const one = (value: number): Sample[] => [{ labels: [], value }];
  return [
    family(
      "docker_exporter_resource_source_info",
      "gauge",
      "Always 1; source says where resource metrics come from: cgroup (files) or api (the engine's stats API).",
      collector.sourceName ? [{ labels: [["source", collector.sourceName]], value: 1 }] : [],
    ),
    family(
      "docker_exporter_resource_collection_duration_seconds",
      "gauge",
      "How long the last collection of resource metrics took.",
      collector.lastDurationMs === undefined ? [] : one(collector.lastDurationMs / 1000),
    ),
    family(
      "docker_exporter_resource_containers",
      "gauge",
      "Containers the last collection of resource metrics read.",
      collector.lastDurationMs === undefined ? [] : one(collector.usage.size),
    ),
    family(
      "docker_exporter_resource_read_errors_total",
      "counter",
      "Container readings that failed for a reason other than the container being gone.",
      one(collector.errors),
    ),
  ];
}
