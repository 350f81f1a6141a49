/**
 * The per-container resource families, named, labelled and typed as cAdvisor names them, so dashboards and
 * alerts built on cAdvisor keep working; and the collector's own families. Pure: every input is an argument.
 */
import type { ContainerRecord } from "../engine/mod.ts";
import type { MetricFamily, Sample } from "./exposition.ts";
import { family, groupedFamily, sortById } from "./families.ts";
import type { BlockIoUsage, ContainerUsage, NetworkUsage } from "../resources/mod.ts";

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

const BLOCK_IO_COUNTERS: ReadonlyArray<readonly [keyof Omit<BlockIoUsage, "device">, string, string]> = [
  ["readBytes", "container_fs_reads_bytes_total", "Cumulative count of bytes read."],
  ["writeBytes", "container_fs_writes_bytes_total", "Cumulative count of bytes written."],
  ["reads", "container_fs_reads_total", "Cumulative count of reads completed."],
  ["writes", "container_fs_writes_total", "Cumulative count of writes completed."],
];

/** A container the resource families cover, with its reading. */
interface Covered {
  id: string;
  c: ContainerRecord;
  u: ContainerUsage;
}

/**
 * The resource families for the containers in `containers` that are running or paused and have a reading
 * in `usage` (a container that stopped since the last collection leaves at once). Every series carries
 * `id` (the full container id), `name` and `image` (`Config.Image`). The CFS series and
 * `container_spec_cpu_quota`/`_period` are there only for containers with a CPU quota, as in cAdvisor.
 * Each family is made a container at a time as it is formatted (see `groupedFamily`).
 */
export function resourceFamilies(
  containers: readonly ContainerRecord[],
  usage: ReadonlyMap<string, ContainerUsage>,
): MetricFamily[] {
  const covered: Covered[] = [];
  for (const c of containers) {
    if (c.state !== "running" && c.state !== "paused") continue;
    const u = usage.get(c.id);
    if (u) covered.push({ id: c.id, c, u });
  }
  const sorted = sortById(covered);
  // Records and readings are replaced, never changed in place: the same ones in the same order give the same lines,
  // so a scrape cache keeps these families while only containers' other series change.
  const inputs = sorted.flatMap(({ c, u }) => [c, u]);
  const labelsOf = (c: ContainerRecord): Labels => [["id", c.id], ["name", c.name], ["image", c.image]];
  /** A family with at most one sample per container: `valueOf` gives its value, or undefined for none. */
  const perContainer = (
    name: string,
    type: MetricFamily["type"],
    help: string,
    valueOf: (c: ContainerRecord, u: ContainerUsage, quota: number) => number | undefined,
  ) =>
    groupedFamily(name, type, help, sorted, ({ c, u }): Sample[] => {
      const value = valueOf(c, u, c.cpuQuotaMicros ?? 0);
      return value === undefined ? [] : [{ labels: labelsOf(c), value }];
    }, inputs);
  /**
   * A family with one sample per item of `itemsOf`, labelled with `label` set to the item's `key`; an item whose
   * `value` is undefined (not known to the source) has none.
   */
  const perItem = <T>(
    name: string,
    help: string,
    itemsOf: (c: ContainerRecord, u: ContainerUsage) => readonly T[],
    label: string,
    key: (item: T) => string,
    value: (item: T) => number | undefined,
  ) =>
    groupedFamily(name, "counter", help, sorted, ({ c, u }): Sample[] => {
      const samples: Sample[] = [];
      for (const item of itemsOf(c, u)) {
        const v = value(item);
        if (v !== undefined) samples.push({ labels: [...labelsOf(c), [label, key(item)]], value: v });
      }
      return samples;
    }, inputs);
  /** A container in another's network namespace would repeat that one's counters, so it has none, as in cAdvisor. */
  const networkOf = (c: ContainerRecord, u: ContainerUsage) => c.sharesNetwork ? [] : u.network;
  /** CFS periods are read only where a quota is set, as in cAdvisor. */
  const cfs = (u: ContainerUsage, quota: number) => quota > 0 && u.cpu?.periods !== undefined ? u.cpu : undefined;

  return [
    groupedFamily(
      "container_cpu_usage_seconds_total",
      "counter",
      "Cumulative cpu time consumed in seconds.",
      sorted,
      ({ c, u }): Sample[] => u.cpu ? [{ labels: [...labelsOf(c), ["cpu", "total"]], value: u.cpu.totalSeconds }] : [],
      inputs,
    ),
    perContainer(
      "container_cpu_user_seconds_total",
      "counter",
      "Cumulative user cpu time consumed in seconds.",
      (_, u) => u.cpu?.userSeconds,
    ),
    perContainer(
      "container_cpu_system_seconds_total",
      "counter",
      "Cumulative system cpu time consumed in seconds.",
      (_, u) => u.cpu?.systemSeconds,
    ),
    perContainer(
      "container_cpu_cfs_periods_total",
      "counter",
      "Number of elapsed enforcement period intervals.",
      (_, u, quota) => cfs(u, quota)?.periods,
    ),
    perContainer(
      "container_cpu_cfs_throttled_periods_total",
      "counter",
      "Number of throttled period intervals.",
      (_, u, quota) => cfs(u, quota) && (u.cpu?.throttledPeriods ?? 0),
    ),
    perContainer(
      "container_cpu_cfs_throttled_seconds_total",
      "counter",
      "Total time duration the container has been throttled.",
      (_, u, quota) => cfs(u, quota) && (u.cpu?.throttledSeconds ?? 0),
    ),
    perContainer(
      "container_spec_cpu_quota",
      "gauge",
      "CPU quota of the container, in microseconds per period.",
      (_, __, quota) => quota > 0 ? quota : undefined,
    ),
    perContainer(
      "container_spec_cpu_period",
      "gauge",
      "CPU period of the container, in microseconds.",
      (c, _, quota) => quota > 0 ? c.cpuPeriodMicros ?? 0 : undefined,
    ),
    perContainer(
      "container_memory_usage_bytes",
      "gauge",
      "Current memory usage in bytes, including all memory regardless of when it was accessed.",
      (_, u) => u.memory?.usageBytes,
    ),
    perContainer(
      "container_memory_working_set_bytes",
      "gauge",
      "Current working set in bytes (usage minus inactive page cache).",
      (_, u) => u.memory?.workingSetBytes,
    ),
    perContainer(
      "container_memory_rss",
      "gauge",
      "Size of RSS (anonymous memory) in bytes.",
      (_, u) => u.memory?.rssBytes,
    ),
    perContainer(
      "container_memory_cache",
      "gauge",
      "Number of bytes of page cache memory.",
      (_, u) => u.memory?.cacheBytes,
    ),
    // A counter in cAdvisor; a gauge here because a counter's name must end in _total.
    perContainer(
      "container_memory_failcnt",
      "gauge",
      "Number of times memory usage hit the limit.",
      (_, u) => u.memory?.failcnt,
    ),
    perContainer(
      "container_spec_memory_limit_bytes",
      "gauge",
      "Memory limit for the container in bytes (0: unlimited).",
      (c) => c.memoryLimitBytes,
    ),
    perContainer(
      "container_oom_events_total",
      "counter",
      "Count of out of memory kills observed for the container.",
      (_, u) => u.memory?.oomKills,
    ),
    ...NETWORK_COUNTERS.map(([field, name, help]) =>
      perItem(name, help, networkOf, "interface", (net) => net.interface, (net) => net[field])
    ),
    ...BLOCK_IO_COUNTERS.map(([field, name, help]) =>
      perItem(name, help, (_, u) => u.blockIo, "device", (io) => io.device, (io) => io[field])
    ),
    perContainer(
      "container_threads",
      "gauge",
      "Number of threads (tasks) running inside the container.",
      (_, u) => u.tasks,
    ),
    perContainer(
      "container_threads_max",
      "gauge",
      "Maximum number of threads allowed inside the container (0: unlimited).",
      (_, u) => u.tasksLimit,
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
